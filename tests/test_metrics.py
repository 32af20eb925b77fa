"""DecisionAccuracy / OutputTargetDistance against NumPy references, inside a real fit."""

import keras
import numpy as np
import pytest

import ctxrnn
from ctxrnn import tasks
from ctxrnn.losses import MaskedMSE
from ctxrnn.metrics import (
    DecisionAccuracy,
    OutputTargetDistance,
    decision_accuracy,
    output_target_distance,
    per_task_accuracy,
)

SHAPE = (16, 12, 3)
WINDOW = 4


@pytest.fixture
def arrays():
    rng = np.random.default_rng(1)
    y_true = rng.choice([0.0, 1.0], size=SHAPE).astype(np.float32)
    y_pred = (y_true + rng.normal(0, 0.15, SHAPE)).astype(np.float32)
    mask = np.ones(SHAPE, np.float32)
    mask[::3, :, 2] = 0.0  # some trials do not use output 2
    mask[:, :2] = 0.0
    return y_true, y_pred, mask


def _reference_accuracy(y_true, y_pred, mask, rule, window=WINDOW, delta=0.1, threshold=0.5,
                        channels=(1, 2), tolerance=0.1 * np.pi):
    out = np.float64(y_pred)[:, -window:].mean(axis=1)
    target = np.float64(y_true)[:, -window:].mean(axis=1)
    used = mask[:, -window:].sum(axis=1) > 0
    if rule == "angle":
        c, s = channels
        error = np.arctan2(out[:, s], out[:, c]) - np.arctan2(target[:, s], target[:, c])
        error = np.angle(np.exp(1j * error))
        valid = used[:, c] & used[:, s]
        return float(np.mean((np.abs(error) < tolerance)[valid]))
    hit = np.abs(out - target) < delta if rule == "value" else (out > threshold) == (
        target > threshold)
    n_used = used.sum(axis=1)
    score = (hit & used).sum(axis=1) / np.maximum(n_used, 1)
    return float(score[n_used > 0].mean())


def _metric_value(metric, y_true, y_pred, mask=None):
    metric.update_state(y_true, y_pred, sample_weight=mask)
    return float(metric.result())


@pytest.mark.parametrize("rule", ["value", "choice", "angle"])
def test_decision_accuracy_equals_numpy(arrays, rule):
    y_true, y_pred, mask = arrays
    metric = DecisionAccuracy(window=WINDOW, rule=rule)
    expected = _reference_accuracy(y_true, y_pred, mask, rule)
    assert _metric_value(metric, y_true, y_pred, mask) == pytest.approx(expected, abs=1e-6)


def test_decision_accuracy_accumulates_and_resets(arrays):
    y_true, y_pred, mask = arrays
    metric = DecisionAccuracy(window=WINDOW)
    half = len(y_true) // 2
    metric.update_state(y_true[:half], y_pred[:half], sample_weight=mask[:half])
    metric.update_state(y_true[half:], y_pred[half:], sample_weight=mask[half:])
    assert float(metric.result()) == pytest.approx(
        _reference_accuracy(y_true, y_pred, mask, "value"), abs=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_decision_accuracy_perfect_on_targets(arrays):
    y_true, _, mask = arrays
    assert _metric_value(DecisionAccuracy(window=WINDOW), y_true, y_true, mask) == 1.0


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"rule": "vote"}, {"delta": 0.0},
                                    {"angle_channels": (1,)}])
def test_decision_accuracy_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        DecisionAccuracy(**kwargs)


@pytest.mark.parametrize("masked", [False, True])
def test_output_target_distance_equals_numpy(arrays, masked):
    y_true, y_pred, mask = arrays
    weight = mask if masked else None
    error = (np.float64(y_pred) - y_true) ** 2 * (1.0 if weight is None else weight)
    expected = np.sqrt(error.reshape(len(error), -1).sum(axis=1)).mean()
    assert _metric_value(OutputTargetDistance(), y_true, y_pred, weight) == pytest.approx(
        expected, rel=1e-5)
    assert output_target_distance(y_pred, y_true, weight) == pytest.approx(expected, rel=1e-12)


def test_output_target_distance_time_mask(arrays):
    y_true, y_pred, mask = arrays
    time_mask = mask[..., 0]
    assert output_target_distance(y_pred, y_true, time_mask) == pytest.approx(
        output_target_distance(y_pred, y_true, np.broadcast_to(time_mask[..., None], SHAPE)))


def test_output_target_distance_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        output_target_distance(np.zeros((2, 3, 1)), np.zeros((2, 4, 1)))


def test_plain_functions_use_the_task_rule():
    suite = tasks.TaskSuite(["and", "xor"], dt=10.0)
    batch = suite.validation_data(50)
    assert decision_accuracy(batch.targets, batch, suite.correct) == 1.0
    flipped = 1.0 - batch.targets
    scores = per_task_accuracy(flipped, batch, suite.correct)
    assert set(scores) == {"and", "xor"}
    for name, value in scores.items():
        assert value == pytest.approx(
            float(np.mean(suite.correct(flipped, batch)[batch.task_ids == suite.task_names.index(
                name)])))


def _tiny_model(n_inputs, n_outputs, recurrent):
    inputs = keras.Input((None, n_inputs))
    if recurrent == "ctrnn":
        hidden = ctxrnn.CTRNN(8, dt=10.0, tau=50.0)(inputs)
    else:
        hidden = keras.layers.SimpleRNN(8, return_sequences=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(n_outputs)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=MaskedMSE(),
                  metrics=[DecisionAccuracy(window=3, rule="choice"), OutputTargetDistance()])
    return model


@pytest.mark.parametrize("recurrent", ["simple_rnn", "ctrnn"])
def test_metrics_in_fit_evaluate_and_reload(tmp_path, recurrent):
    keras.utils.set_random_seed(0)
    suite = tasks.TaskSuite(["and", "or"], dt=10.0)
    model = _tiny_model(suite.n_inputs, suite.n_outputs, recurrent)
    history = model.fit(suite.dataset(batch_size=16, steps_per_epoch=3, seed=0), epochs=2,
                        verbose=0)
    for key in ("loss", "decision_accuracy", "output_target_distance"):
        assert len(history.history[key]) == 2 and np.all(np.isfinite(history.history[key]))

    inputs, targets, mask = suite.generate(32, seed=5).as_keras()
    evaluated = model.evaluate(inputs, targets, sample_weight=mask, batch_size=32, verbose=0,
                               return_dict=True)
    outputs = model.predict(inputs, verbose=0)
    assert evaluated["loss"] == pytest.approx(
        float(MaskedMSE()(targets, outputs, sample_weight=mask)), rel=1e-4)
    assert evaluated["decision_accuracy"] == pytest.approx(
        _reference_accuracy(targets, outputs, mask, "choice", window=3), abs=1e-6)
    assert evaluated["output_target_distance"] == pytest.approx(
        output_target_distance(outputs, targets, mask), rel=1e-4)

    path = tmp_path / "x.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.loss, MaskedMSE)
    again = loaded.evaluate(inputs, targets, sample_weight=mask, batch_size=32, verbose=0,
                            return_dict=True)
    for key, value in evaluated.items():
        assert again[key] == pytest.approx(value, rel=1e-5), key
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), outputs, atol=1e-6)
