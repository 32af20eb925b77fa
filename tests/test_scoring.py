"""One scorer: every accuracy ctxrnn reports is the mean of fractional per-trial scores.

The constructed rule gives the scores 0, 1/2, 1/3, 1 in turn (a MoLaP trial
scores the fraction of its output units within delta), so the mean of a
batch whose size is a multiple of 4 is 11/24 ~ 0.458; a scorer that casts
scores to bool reports 0.75 instead.
"""

import types

import keras
import numpy as np
import pytest

import ctxrnn
from ctxrnn import metrics, perturb, tasks, transfer, zoo
from ctxrnn.analysis.pruning import pruning_sweep
from ctxrnn.callbacks import PruningSweep, TaskAccuracy
from ctxrnn.molap import network as net
from ctxrnn.molap import training as molap_training
from ctxrnn.tasks.base import TrialBatch
from ctxrnn.training import evaluate_run

PATTERN = np.array([0.0, 0.5, 1.0 / 3.0, 1.0])
MEAN = PATTERN.mean()  # 11/24
BOOL_MEAN = 0.75  # what a bool cast of PATTERN gives
STEPS, N_IN, N_OUT = 6, 2, 2


def fractional_rule(outputs, batch):
    """Scores 0, 1/2, 1/3, 1, ... by trial index, whatever the outputs."""
    return np.resize(PATTERN, len(outputs)).astype(np.float32)


def _batch(n_per_task=8, names=("a", "b")):
    n = n_per_task * len(names)
    rng = np.random.default_rng(0)
    return TrialBatch(
        inputs=rng.normal(size=(n, STEPS, N_IN)).astype("float32"),
        targets=rng.normal(size=(n, STEPS, N_OUT)).astype("float32"),
        loss_mask=np.ones((n, STEPS, N_OUT), "float32"),
        decision_mask=np.ones((n, STEPS), "float32"),
        epochs={}, truth={}, task_ids=np.repeat(np.arange(len(names)), n_per_task),
        task_names=tuple(names), dt=10.0)


def _model():
    inputs = keras.Input((STEPS, N_IN))
    states = ctxrnn.CTRNN(8, dt=10.0, tau=20.0, seed=0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(N_OUT, name="readout")(states))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


class _Suite:
    """The parts of a `TaskSuite` that the evaluators use, with the fractional rule."""

    input_names, output_names = ("x0", "x1"), ("y0", "y1")

    def __init__(self, batch):
        self.batch = batch

    def correct(self, outputs, batch):
        return fractional_rule(outputs, batch)

    def validation_data(self, n_per_task, seed=0):
        return self.batch


@pytest.fixture(scope="module")
def batch():
    return _batch()


@pytest.fixture(scope="module")
def model():
    return _model()


def test_scorer_keeps_fractions_per_task_and_for_variants(batch):
    scores = metrics.score_trials(batch.targets, batch, fractional_rule)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, np.resize(PATTERN, len(batch.targets)), rtol=1e-6)
    summary = metrics.accuracy_summary(batch.targets, batch, fractional_rule)
    assert summary["accuracy"] == pytest.approx(MEAN)
    assert summary["per_task_accuracy"] == pytest.approx({"a": MEAN, "b": MEAN})
    assert metrics.decision_accuracy(batch.targets, batch, fractional_rule) == pytest.approx(MEAN)
    assert metrics.per_task_accuracy(batch.targets, batch, fractional_rule) == pytest.approx(
        {"a": MEAN, "b": MEAN})
    variants = np.stack([batch.targets] * 3)
    batched = metrics.score_trials(variants, batch, fractional_rule)
    assert batched.shape == (3, len(batch.targets))
    np.testing.assert_allclose(batched.mean(axis=1), MEAN)


def test_scorer_rejects_bad_shapes_and_rules(batch):
    with pytest.raises(ValueError, match="outputs"):
        metrics.score_trials(batch.targets[:, :-1], batch, fractional_rule)
    with pytest.raises(ValueError, match="outputs"):
        metrics.accuracy_summary(np.stack([batch.targets] * 2), batch, fractional_rule)
    with pytest.raises(ValueError, match="one score per trial"):
        metrics.score_trials(batch.targets, batch, lambda outputs, b: np.ones(3))


def test_task_accuracy_and_pruning_sweep_reach_history_inside_fit(batch):
    model = _model()
    accuracy = TaskAccuracy(batch, fractional_rule)
    sweep = PruningSweep(batch, fractional_rule, fractions=[0.0, 0.1, 0.2])
    history = model.fit(batch.inputs, batch.targets, epochs=2, verbose=0,
                        callbacks=[accuracy, sweep]).history
    assert history["val_accuracy"] == pytest.approx([MEAN, MEAN])
    assert history["val_accuracy_a"] == pytest.approx([MEAN, MEAN])
    assert history["val_accuracy_b"] == pytest.approx([MEAN, MEAN])
    # the rule ignores the outputs, so no fraction hurts: the knee is the grid's end
    assert history["pruning_knee"] == [pytest.approx(0.2)]
    assert sweep.result["baseline"]["accuracy"] == pytest.approx(MEAN)


def test_pruning_knee_reaches_history_after_an_early_stop(batch):
    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    sweep = PruningSweep(batch, fractional_rule, fractions=[0.0, 0.1])
    history = _model().fit(batch.inputs, batch.targets, epochs=5, verbose=0,
                           callbacks=[StopAfterFirstEpoch(), sweep]).history
    assert len(history["loss"]) == 1
    assert history["pruning_knee"] == [pytest.approx(0.1)]


def test_pruning_sweep_curves_are_means_of_fractions(batch, model):
    result = pruning_sweep(model, batch, fractional_rule, fractions=[0.0, 0.1, 0.2],
                           families=["magnitude", "random"])
    assert result["baseline"]["accuracy"] == pytest.approx(MEAN)
    for family in result["families"].values():
        np.testing.assert_allclose(family["accuracy"], MEAN)
        np.testing.assert_allclose(family["per_task_accuracy"]["a"], MEAN)


def test_evaluate_run_and_zoo_evaluate_report_the_mean(batch, model):
    suite = _Suite(batch)
    evaluation, outputs = evaluate_run(model, suite, batch)
    assert outputs.shape == batch.targets.shape
    assert evaluation["accuracy"] == pytest.approx(MEAN)
    assert evaluation["accuracy"] != pytest.approx(BOOL_MEAN)
    assert evaluation["per_task_accuracy"] == pytest.approx({"a": MEAN, "b": MEAN})
    assert evaluation["n_trials"] == len(batch.targets)
    assert zoo.evaluate(model, suite) == pytest.approx({"a": MEAN, "b": MEAN})


def test_transfer_task_accuracy_reports_the_mean(model):
    single = _batch(names=("a",))
    layout = types.SimpleNamespace(input_names=_Suite.input_names,
                                   output_names=_Suite.output_names, correct=fractional_rule)
    assert transfer.task_accuracy(model, layout, layout, single) == pytest.approx(MEAN)


@pytest.fixture(scope="module")
def molap_setup():
    names = ["delay_pro", "mem_dm1"]
    molap_tasks = [tasks.make(name) for name in names]
    for task in molap_tasks:
        task.correct = fractional_rule  # the instance's rule, read by both evaluators
    layout = net.HeadLayout.from_tasks(molap_tasks, names)
    return molap_tasks, layout, net.build_network(layout, 12, seed=0)


def test_molap_evaluate_and_perturbation_variants_report_the_mean(molap_setup):
    molap_tasks, layout, model = molap_setup
    accuracy = molap_training.evaluate(model, molap_tasks, layout, n_trials=8, seed=3, chunk=8)
    assert accuracy == pytest.approx({"delay_pro": MEAN, "mem_dm1": MEAN})
    stacked = molap_training.stacked_batch(molap_tasks, layout, 8, seed=3)
    variants = perturb.evaluate_variants(model, layout, molap_tasks, stacked,
                                         unit_masks=np.ones((3, 12), np.float32))
    np.testing.assert_allclose(variants, MEAN)


def test_decision_accuracy_metric_uses_the_tasks_value_rule():
    task = tasks.make("mem_dm1")  # outputs: fixation and response
    batch = task.generate(8, seed=0)
    outputs = batch.targets.copy()
    outputs[::2, :, 1] += 0.5  # every other trial: the response unit misses, fixation is right
    expected = task.correct(outputs, batch)
    np.testing.assert_allclose(expected, np.resize([0.5, 1.0], 8))
    metric = metrics.DecisionAccuracy(window=30)
    metric.update_state(batch.targets, outputs, sample_weight=batch.loss_mask)
    assert float(metric.result()) == pytest.approx(float(expected.mean()))
    assert float(metric.result()) == pytest.approx(metrics.decision_accuracy(outputs, batch, task))
