"""Each perturbation changes exactly what it claims; batched equals one-at-a-time."""

import keras
import numpy as np
import pytest
from molap_fake_tasks import NAMES, make_all

from ctxrnn import masks, perturb, seeding
from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import network as net
from ctxrnn.molap import training as tr

SIZES = (12, 8)


@pytest.fixture(scope="module")
def kernel():
    return tr.initial_recurrent_kernel(sum(SIZES), seed=0)


@pytest.mark.parametrize("kind,module", [("module", 0), ("module", 1), ("inter_module", 0),
                                         ("global", 0)])
def test_lesion_removes_exact_fraction_inside_region_only(kernel, kind, module):
    region = perturb.region_mask(kind, 20, SIZES, module)
    lesioned = perturb.lesion_kernels(kernel, 0.3, 5, region=region, seed=1)
    expected = round(0.3 * region.sum())
    for draw in lesioned:
        removed = (draw == 0) & (kernel != 0)
        assert removed.sum() == expected
        assert not np.any(removed & ~region)
        np.testing.assert_array_equal(draw[~removed], kernel[~removed])
    assert not np.array_equal(lesioned[0], lesioned[1])  # independent draws
    if kind == "module":
        np.testing.assert_array_equal(region, masks.intra_module_mask(SIZES, module) > 0)


def test_noise_has_the_claimed_sigma(kernel):
    noisy = perturb.noise_kernels(kernel, 0.03, 30, seed=2)
    delta = noisy - kernel[None]
    assert delta.std() == pytest.approx(0.03, rel=0.03)
    assert abs(delta.mean()) < 0.002
    np.testing.assert_array_equal(perturb.noise_kernels(kernel, 0.0, 2)[1], kernel)


def test_silence_masks_count(kernel):
    unit_masks = perturb.silence_masks(20, 0.25, 7, seed=3)
    assert unit_masks.shape == (7, 20)
    assert np.all((unit_masks == 0).sum(axis=1) == 5)


def test_errors_name_the_argument(kernel):
    with pytest.raises(ValueError, match="fraction"):
        perturb.lesion_kernels(kernel, 1.5, 2)
    with pytest.raises(ValueError, match="draws"):
        perturb.silence_masks(20, 0.1, 0)
    with pytest.raises(ValueError, match="module_sizes"):
        perturb.region_mask("module", 20, (5, 5))
    with pytest.raises(ValueError, match="kind"):
        perturb.variants("bogus", kernel, 0.1, 2)


@pytest.fixture(scope="module")
def trained():
    tasks = make_all()
    layout = net.HeadLayout.from_tasks(tasks, NAMES)
    kernel = tr.initial_recurrent_kernel(sum(SIZES), seed=0)
    heads = tr.fit_multihead(net.build_network(layout, sum(SIZES), recurrent_kernel=kernel,
                                               seed=0), tasks, layout,
                             tr.HeadConfig.fast(5, batch_size=8))
    return tasks, layout, heads.model


def test_batched_equals_one_model_at_a_time(trained):
    tasks, layout, model = trained
    stacked = tr.stacked_batch(tasks, layout, 16, seed=5)
    core = find_ctrnn(model)
    kernel = keras.ops.convert_to_numpy(core.recurrent_kernel)
    kernels = perturb.lesion_kernels(kernel, 0.4, 3, seed=4)
    batched = perturb.evaluate_variants(model, layout, tasks, stacked, recurrent_kernels=kernels)
    for draw, variant in enumerate(kernels):
        core.cell.recurrent_kernel.assign(variant)
        outputs = model.predict(stacked.inputs, verbose=0)
        for index, (task, out) in enumerate(zip(tasks, layout.split_outputs(outputs, stacked))):
            expected = np.mean(task.correct(out, stacked.batches[index]))
            assert batched[draw, index] == pytest.approx(expected)
    core.cell.recurrent_kernel.assign(kernel)


def test_silencing_zeroes_the_units_and_no_perturbation_is_baseline(trained):
    tasks, layout, model = trained
    # tr.evaluate draws chunk k from the ("evaluation", start) stream of its seed
    stacked = tr.stacked_batch(tasks, layout, 16, seed=seeding.derive(5, "evaluation", 0))
    baseline = tr.evaluate(model, tasks, layout, n_trials=16, seed=5, chunk=16)
    none = perturb.evaluate_variants(model, layout, tasks, stacked,
                                     unit_masks=np.ones((2, 20), np.float32))
    np.testing.assert_allclose(none[0], [baseline[name] for name in NAMES])
    everything = perturb.silence_masks(20, 1.0, 1)
    from ctxrnn.simulate import run_variants
    states = run_variants(find_ctrnn(model), stacked.inputs[:4], unit_masks=everything)
    assert np.all(states == 0)


def test_sweep_rows_and_plot(trained, tmp_path):
    tasks, layout, model = trained
    rows = perturb.perturbation_sweep(model, layout, tasks, "noise", [0.0, 0.03], draws=3,
                                      n_trials=8)
    assert len(rows) == 2 * 3 * len(NAMES)
    assert set(rows[0]) == {"kind", "level", "draw", "task", "accuracy"}
    summary = perturb.summarize(rows)
    assert set(summary) == {0.0, 0.03} and summary[0.0][1] == pytest.approx(0.0)
    path = perturb.plot_sweeps({"molap": rows}, tmp_path / "noise.png")
    assert path.stat().st_size > 1000


def test_real_molap_tasks_fractional_scores():
    tasks_lib = pytest.importorskip("ctxrnn.tasks")
    names = ["delay_pro", "mem_dm1", "multi_mem"]
    tasks = [tasks_lib.make(name) for name in names]
    layout = net.HeadLayout.from_tasks(tasks, names)
    assert layout.names == tuple(names) and layout.n_inputs == (3, 2, 3)
    model = net.build_network(layout, 20, seed=0)
    stacked = tr.stacked_batch(tasks, layout, 24, seed=seeding.derive(3, "evaluation", 0))
    baseline = tr.evaluate(model, tasks, layout, n_trials=24, seed=3, chunk=24)
    batched = perturb.evaluate_variants(model, layout, tasks, stacked,
                                        unit_masks=np.ones((2, 20), np.float32))
    np.testing.assert_allclose(batched[1], [baseline[name] for name in names], atol=1e-12)
    assert all(0.0 <= value <= 1.0 for value in baseline.values())


def test_a_readout_without_bias_is_evaluated_too(trained):
    tasks, layout, model = trained
    config = model.get_config()
    for layer in config["layers"]:
        if layer["config"]["name"] == "readout":
            layer["config"]["use_bias"] = False
    plain = keras.Model.from_config(config)
    for layer in plain.layers:
        weights = model.get_layer(layer.name).get_weights()
        layer.set_weights(weights[:1] if layer.name == "readout" else weights)
    stacked = tr.stacked_batch(tasks, layout, 16, seed=5)
    batched = perturb.evaluate_variants(plain, layout, tasks, stacked,
                                        unit_masks=np.ones((1, 20), np.float32))
    outputs = plain.predict(stacked.inputs, verbose=0)
    for index, (task, out) in enumerate(zip(tasks, layout.split_outputs(outputs, stacked))):
        assert batched[0, index] == pytest.approx(np.mean(task.correct(out, stacked.batches[index])))


def test_summarize_seeds_averages_each_seed_then_spreads_over_seeds(tmp_path):
    rows = [{"kind": "noise", "level": level, "draw": draw, "task": task, "seed": seed,
             "accuracy": value}
            for seed, base in ((0, 0.9), (1, 0.5))
            for level in (0.0, 0.01) for draw in range(3)
            for task, value in (("a", base), ("b", base - 0.2 * level / 0.01))]
    summary = perturb.summarize_seeds(rows)
    mean, std, worst, n = summary[0.01]
    assert n == 2 and worst == pytest.approx(0.4)  # seed 1: (0.5 + 0.3) / 2
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.2)
    assert perturb.summarize_seeds(rows, task="a")[0.01][:3] == pytest.approx((0.7, 0.2, 0.5))
    path = perturb.plot_sweeps({"molap": rows}, tmp_path / "seeds.png", over="seeds")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="'seed' key"):
        perturb.summarize_seeds([{k: v for k, v in rows[0].items() if k != "seed"}])
    with pytest.raises(ValueError, match="`over`"):
        perturb.plot_sweeps({"molap": rows}, tmp_path / "x.png", over="tasks")
