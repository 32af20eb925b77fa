"""Training population statistics: the loading gradient is exact, and a trained one-population
distribution does DM from a random start (Dubreuil: DM needs one population)."""

import keras
import numpy as np
import pytest

from ctxrnn import CTRNN, tasks
from ctxrnn.analysis import population_training as pt
from ctxrnn.analysis import populations as pop


def _model(units=16, seed=0, inputs=1, noise=0.0):
    x = keras.Input((None, inputs))
    states = CTRNN(units, rank=1, dt=20.0, tau=100.0, seed=seed, name="ctrnn",
                   recurrent_noise=noise, kernel_initializer="standard_normal")(x)
    model = keras.Model(x, keras.layers.Dense(1, name="readout")(states))
    model.get_layer("ctrnn").bias.assign(np.linspace(-0.3, 0.3, units).astype("float32"))
    return model


def test_loading_gradient_matches_finite_differences_in_every_column():
    model = _model()
    template = pop.loadings(model, include_bias=True)
    builder = pop.NetworkBuilder(model, template)
    network = builder.build(template.vectors)
    gradient = pt._LoadingGradient(network, template)
    batch = tasks.make("dm", input_noise=0.0).generate(8, seed=3)

    def loss_at(vectors):
        builder.build(vectors)
        return float(gradient.step(batch.inputs, batch.targets, batch.loss_mask)[0])

    vectors = template.vectors.astype(np.float64) * 1.5  # away from the trained point
    builder.build(vectors)
    _, analytic = gradient.step(batch.inputs, batch.targets, batch.loss_mask)
    analytic = analytic.numpy()
    eps = 1e-2
    for column, name in enumerate(template.names):  # m1, n1, in:0, out:0, bias
        for unit in (0, 7):
            up, down = vectors.copy(), vectors.copy()
            up[unit, column] += eps
            down[unit, column] -= eps
            numeric = (loss_at(up) - loss_at(down)) / (2 * eps)
            assert analytic[unit, column] == pytest.approx(numeric, rel=0.05, abs=2e-5), name


def test_trained_statistics_of_one_population_do_dm_from_a_random_start():
    task = tasks.make("dm")
    keras.utils.set_random_seed(2)  # the input kernel's initializer draws from it
    model = _model(units=32, seed=1, noise=0.05)
    template = pop.loadings(model)  # m1, n1, in, out, bias of an untrained net
    one = pop.fit_populations(template, 1)
    batch = task.generate(200, seed=11)
    before = pop.resampled_accuracy(model, one, batch, task, template=template, n_resamples=3,
                                    new_size=128, seed=5)
    fit = pt.fit_statistics(model, one, template, task, steps=300, batch_size=32,
                            learning_rate=2e-2, new_size=128, seed=0)
    after = pop.resampled_accuracy(model, fit.populations, batch, task, template=template,
                                   n_resamples=3, new_size=128, seed=5,
                                   take_means=fit.take_means)
    assert np.mean(before) < 0.7
    assert np.mean(after) >= 0.9, (before, after)
    assert len(fit.losses) == 300 and np.mean(fit.losses[-50:]) < np.mean(fit.losses[:50])
    assert not fit.take_means and np.all(fit.populations.means == 0)  # the reference's
    assert fit.populations.covariances.shape == one.covariances.shape
    np.testing.assert_allclose(fit.populations.covariances,
                               np.einsum("kij,klj->kil", fit.factors, fit.factors))


def test_fit_statistics_rejects_bad_arguments():
    model = _model()
    template = pop.loadings(model)
    one = pop.fit_populations(template, 1)
    task = tasks.make("dm")
    with pytest.raises(ValueError, match="steps"):
        pt.fit_statistics(model, one, template, task, steps=0)
    with pytest.raises(ValueError, match="learning_rate"):
        pt.fit_statistics(model, one, template, task, learning_rate=0.0)
    other = pop.loadings(model, include_bias=False)
    with pytest.raises(ValueError, match="columns"):
        pt.fit_statistics(model, pop.fit_populations(pop.loadings(model, include_bias=True), 1),
                          other, task, steps=1)


def test_one_count_alone_gives_what_the_whole_curve_gives_for_it():
    model = _model(units=12, noise=0.05)
    template = pop.loadings(model)
    task = tasks.make("dm")
    batch = task.generate(16, seed=1)
    options = dict(template=template, max_populations=2, steps=3, batch_size=8,
                   learning_rate=1e-2, n_resamples=1, new_size=24, seed=7, n_init=2)
    whole = pt.trained_statistics_curve(model, batch, task, task, **options)
    alone = pt.trained_statistics_curve(model, batch, task, task, counts=[2], **options)
    assert [row["requested"] for row in alone["populations"]] == [2]
    assert alone["populations"][0]["accuracies"] == whole["populations"][1]["accuracies"]
    assert alone["populations"][0]["loss_last"] == whole["populations"][1]["loss_last"]
    with pytest.raises(ValueError, match="counts"):
        pt.trained_statistics_curve(model, batch, task, task, counts=[0], **options)
