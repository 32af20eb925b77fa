"""Populations: mixtures on planted loadings, resampling statistics, exact rank truncation."""

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score

from ctxrnn import CTRNN, tasks
from ctxrnn.analysis import populations as pop
from ctxrnn.analysis import populations_figures as pf

FAST = {"n_init": 3}


def _planted(n=1000, seed=0, two=True):
    """Zero-mean (m, n, w_in1, w_in2): population 1 has cov(n, w_in1) = 0.8 and w_in2 ~ 0,
    population 2 the mirror (analysis.md 5.3.1); `two=False` gives one Gaussian."""
    rng = np.random.default_rng(seed)
    first = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.8, 0.0],
                      [0.0, 0.8, 1.0, 0.0], [0.0, 0.0, 0.0, 0.01**2]])
    second = first[:, [0, 1, 3, 2]][[0, 1, 3, 2]]
    half = n // 2
    labels = np.repeat([0, 1], [half, n - half])
    if not two:
        return rng.multivariate_normal(np.zeros(4), first, size=n), np.zeros(n, int)
    points = np.concatenate([rng.multivariate_normal(np.zeros(4), first, size=half),
                             rng.multivariate_normal(np.zeros(4), second, size=n - half)])
    return points, labels


def test_bayesian_mixture_recovers_planted_populations():
    points, truth = _planted()
    found = pop.fit_populations(points, 2, seed=0, **FAST)
    assert adjusted_rand_score(truth, found.labels) > 0.9
    assert sorted(found.counts) == pytest.approx([500, 500], abs=30)
    em = pop.fit_populations(points, 2, algorithm="em", seed=0, **FAST)
    assert adjusted_rand_score(truth, em.labels) > 0.9


def test_stability_is_high_for_planted_split_and_not_for_one_gaussian():
    points, _ = _planted(n=600)
    two = pop.clustering_stability(points, 2, n_boot=5, seed=1, **FAST)
    three = pop.clustering_stability(points, 3, n_boot=5, seed=1, control=False, **FAST)
    assert two["ari"] > 0.9 and two["ari"] > two["control_ari"] + 0.3
    assert three["ari"] < two["ari"]
    single, _ = _planted(n=600, two=False)
    one = pop.clustering_stability(single, 2, n_boot=5, seed=1, **FAST)
    assert one["ari"] < 0.9 * two["ari"]
    assert abs(one["ari"] - one["control_ari"]) < 0.3  # no better than the i.i.d. control


def test_resampling_keeps_proportions_and_covariances_converge_with_size():
    points, truth = _planted(n=1000)
    truth[:300] = 0
    truth[300:] = 1
    fitted = pop.Populations.from_labels(points, truth)
    np.testing.assert_array_equal(fitted.counts, [300, 700])
    errors = {}
    for size in (1000, 16000):
        per_draw = []
        for draw in range(4):
            vectors, labels = pop.resample_loadings(fitted, size, seed=draw)
            assert vectors.shape == (size, 4)
            np.testing.assert_array_equal(np.bincount(labels), [0.3 * size, 0.7 * size])
            per_draw.append(sum(np.linalg.norm(np.cov(vectors[labels == k], rowvar=False)
                                               - fitted.covariances[k]) for k in (0, 1)))
        errors[size] = np.mean(per_draw)
    # error ~ 1/sqrt(N): 16x the units, ~4x smaller
    assert 2.0 < errors[1000] / errors[16000] < 8.0
    means, _ = pop.resample_loadings(fitted, 20000, seed=0, take_means=True)
    assert np.abs(means[:6000].mean(axis=0) - fitted.means[0]).max() < 0.05


def _full_rank_model(units=20, seed=0, channels=2):
    inputs = keras.Input((None, channels))
    states = CTRNN(units, dt=20.0, tau=100.0, seed=seed, name="ctrnn")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="readout")(states))


def test_rank_one_truncation_is_exact_and_reproduces_the_network():
    units = 20
    rng = np.random.default_rng(0)
    w_init = rng.normal(0.0, 0.1 / np.sqrt(units), (units, units))
    u, v, u2, v2 = (rng.normal(size=units) for _ in range(4))
    m, n = pop.low_rank_factors(w_init + np.outer(u, v) - w_init, 1)
    np.testing.assert_allclose(n @ m.T / units, np.outer(u, v), atol=1e-12)
    second = 1e-3 * np.outer(u2, v2)
    m, n = pop.low_rank_factors(np.outer(u, v) + second, 1)
    s2 = np.linalg.svd(np.outer(u, v) + second, compute_uv=False)[1]
    residual = np.outer(u, v) + second - n @ m.T / units
    assert np.linalg.norm(residual, 2) == pytest.approx(s2, rel=1e-9)

    model = _full_rank_model(units)
    layer = model.get_layer("ctrnn")
    layer.recurrent_kernel.assign((w_init + np.outer(u, v) / units).astype("float32"))
    points = pop.loadings(model, rank=1, initial_kernel=w_init)
    truncated = pop.NetworkBuilder(model, points, base_kernel=w_init).build(points.vectors)
    x = rng.normal(size=(3, 15, 2)).astype("float32")
    np.testing.assert_allclose(truncated.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)


def _low_rank_model(units=24, seed=0):
    inputs = keras.Input((None, 2))
    states = CTRNN(units, rank=1, dt=20.0, tau=100.0, seed=seed, name="ctrnn",
                   kernel_initializer="standard_normal")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="readout")(states))


def test_loadings_of_a_low_rank_net_rebuild_it_exactly():
    model = _low_rank_model()
    model.get_layer("ctrnn").bias.assign(np.linspace(-0.2, 0.2, 24).astype("float32"))
    points = pop.loadings(model, input_names=["a", "b"])
    assert points.names == ["m1", "n1", "in:a", "in:b", "out:0", "bias"]
    np.testing.assert_allclose(points.columns("out")[:, 0] / 24,
                               model.get_layer("readout").kernel.numpy()[:, 0], rtol=1e-6)
    rebuilt = pop.NetworkBuilder(model, points).build(points.vectors)
    x = np.random.default_rng(1).normal(size=(3, 12, 2)).astype("float32")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_population_curve_and_figures_on_an_untrained_net():
    model = _low_rank_model()
    task = tasks.make("dm")
    batch = task.generate(16, seed=0)
    inputs = keras.Input((None, 1))
    states = CTRNN(24, rank=1, dt=20.0, tau=100.0, seed=0, name="ctrnn")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="readout")(states))
    curve = pop.population_curve(model, batch, task, max_populations=2, n_resamples=2,
                                 new_size=32, seed=0, **FAST)
    assert [row["requested"] for row in curve["populations"]] == [1, 2]
    assert all(0.0 <= a <= 1.0 for row in curve["populations"] for a in row["accuracies"])
    points = pop.loadings(model)
    for figure in (pf.loadings_scatter(points.vectors, points.names,
                                       pop.fit_populations(points, 2, **FAST).labels),
                   pf.population_curve_figure([curve])):
        assert isinstance(figure, Figure)


def test_condition_accuracy_groups_trials_by_their_truth():
    batch = tasks.make("dms").generate(40, seed=1)
    first, second = batch.truth["stimulus1"], batch.truth["stimulus2"]
    scores = np.stack([(first == second).astype(float), np.ones(len(first))])  # two "draws"
    by = pop.condition_accuracy(scores, batch, ["stimulus1", "stimulus2"])
    assert by == {"stimulus1=0,stimulus2=0": 1.0, "stimulus1=0,stimulus2=1": 0.5,
                  "stimulus1=1,stimulus2=0": 0.5, "stimulus1=1,stimulus2=1": 1.0}
    with pytest.raises(ValueError, match="keys=\\['colour'\\]"):
        pop.condition_accuracy(scores, batch, ["colour"])
    model = _low_rank_model()  # two inputs, as DMS
    dms = tasks.make("dms")
    trials = dms.generate(8, seed=0)
    points = pop.loadings(model)
    fitted = pop.fit_populations(points, 1, **FAST)
    options = {"template": points, "n_resamples": 2, "new_size": 32, "seed": 3}
    scores = pop.resampled_scores(model, fitted, trials, dms, **options)
    assert scores.shape == (2, 8)
    assert pop.resampled_accuracy(model, fitted, trials, dms, **options) == \
        pytest.approx(scores.mean(axis=1).tolist())


def test_bad_arguments_fail_early_naming_them():
    points, _ = _planted(n=50)
    with pytest.raises(ValueError, match="`n_populations`"):
        pop.fit_populations(points, 0)
    with pytest.raises(ValueError, match="`algorithm`"):
        pop.fit_populations(points, 2, algorithm="kmeans")
    with pytest.raises(ValueError, match="`rank`"):
        pop.loadings(_full_rank_model())
    with pytest.raises(ValueError, match="`rank`"):
        pop.low_rank_factors(np.eye(3), 4)
    with pytest.raises(ValueError, match="`new_size`"):
        pop.resample_loadings(pop.Populations.from_labels(points, np.arange(50) % 2), 1)


def test_analyze_populations_of_a_low_rank_run_and_a_full_rank_model(tmp_path, capsys):
    import json

    import dataclasses

    from ctxrnn import cli
    from ctxrnn.models import context_multitask
    from ctxrnn.runs import RunDirectory
    from ctxrnn.training import TrainConfig, make_suite, save_model_atomic

    # A run directory as `ctxrnn train` leaves it, without paying for the training.
    config = TrainConfig(tasks=["dm"], context="none", units=10, dt=20.0, tau=100.0, rank=1)
    low = RunDirectory(tmp_path / "low", create=True)
    low.write_config(dataclasses.asdict(config))
    save_model_atomic(context_multitask(make_suite(config), 10, tau=100.0, rank=1, seed=0),
                      low.model_path)
    low.write_status("complete", epoch=0)
    assert cli.main(["analyze", str(low.path), "--populations", "--resamples", "2",
                     "--trials", "8", "--boot", "3", "--max-populations", "2",
                     "--fit-statistics", "3"]) == 0
    summary = json.loads((low.path / "populations.json").read_text())
    assert summary["rank"] == 1 and len(summary["curve"]["populations"]) == 2
    trained = summary["trained_statistics"]
    assert [row["requested"] for row in trained["populations"]] == [1, 2]
    assert trained["steps"] == 3 and all(len(r["accuracies"]) == 2 for r in trained["populations"])
    assert summary["loadings"][:3] == ["m1", "n1", "in:stimulus"]
    assert (low.path / "figures" / "populations_loadings.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "bootstrap ARI" in printed and "statistics trained" in printed

    model = _full_rank_model(10, channels=1)
    suite = tasks.TaskSuite(["dm"], context="none")
    w_init = keras.ops.convert_to_numpy(model.get_layer("ctrnn").recurrent_kernel)
    summary = pop.analyze(model, suite, tmp_path / "full", initial_kernel=w_init,
                          n_resamples=1, n_trials=8)
    assert summary["truncation"]["ranks"] == list(range(1, 10))
    assert (tmp_path / "full" / "populations.json").exists()
