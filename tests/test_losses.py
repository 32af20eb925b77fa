"""MaskedMSE: the masked mean of squared errors, ignoring masked-out entries."""

import keras
import numpy as np
import pytest

from ctxrnn.losses import MaskedMSE

SHAPE = (4, 7, 3)


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=SHAPE).astype(np.float32)
    y_pred = rng.normal(size=SHAPE).astype(np.float32)
    mask = (rng.uniform(size=SHAPE) < 0.4).astype(np.float32)
    return y_true, y_pred, mask


def _numpy_masked_mse(y_true, y_pred, mask):
    mask = np.broadcast_to(mask[..., None] if mask.ndim == 2 else mask, y_true.shape)
    error = (np.float64(y_pred) - y_true) ** 2
    return (error * mask).sum() / max(mask.sum(), 1.0)


def test_equals_numpy_masked_mean(arrays):
    y_true, y_pred, mask = arrays
    loss = float(MaskedMSE()(y_true, y_pred, sample_weight=mask))
    assert loss == pytest.approx(_numpy_masked_mse(y_true, y_pred, mask), rel=1e-5)


def test_time_mask_applies_to_every_output(arrays):
    y_true, y_pred, mask = arrays
    time_mask = mask[..., 0]
    loss = float(MaskedMSE()(y_true, y_pred, sample_weight=time_mask))
    assert loss == pytest.approx(_numpy_masked_mse(y_true, y_pred, time_mask), rel=1e-5)


def test_masked_entries_are_ignored(arrays):
    y_true, y_pred, mask = arrays
    corrupted = np.where(mask > 0, y_pred, 1e6).astype(np.float32)
    loss = MaskedMSE()
    assert float(loss(y_true, corrupted, sample_weight=mask)) == pytest.approx(
        float(loss(y_true, y_pred, sample_weight=mask)), rel=1e-6)


def test_mask_does_not_dilute_the_mean():
    y_true = np.zeros(SHAPE, np.float32)
    y_pred = np.full(SHAPE, 2.0, np.float32)
    mask = np.zeros(SHAPE, np.float32)
    mask[0, 0, 0] = 1.0
    assert float(MaskedMSE()(y_true, y_pred, sample_weight=mask)) == pytest.approx(4.0)


def test_all_zero_mask_gives_zero_not_nan(arrays):
    y_true, y_pred, _ = arrays
    loss = float(MaskedMSE()(y_true, y_pred, sample_weight=np.zeros(SHAPE, np.float32)))
    assert loss == 0.0


def test_without_mask_is_plain_mse(arrays):
    y_true, y_pred, _ = arrays
    expected = np.mean((np.float64(y_pred) - y_true) ** 2)
    assert float(MaskedMSE()(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)


def test_config_round_trip():
    loss = MaskedMSE(name="trial_loss")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(restored, MaskedMSE) and restored.name == "trial_loss"


def test_masked_targets_do_not_move_the_weights_in_fit():
    """Inside `model.fit`, targets under a zero loss mask change nothing."""
    from ctxrnn import tasks

    batch = tasks.make("dm", input_noise=0.0).generate(8, seed=0)
    wild = batch.targets + 1000.0 * (1.0 - batch.loss_mask)
    weights = []
    for targets in (batch.targets, wild):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((None, 1))
        hidden = keras.layers.SimpleRNN(4, return_sequences=True)(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(optimizer=keras.optimizers.SGD(1e-2), loss=MaskedMSE())
        model.fit(batch.inputs, targets, sample_weight=batch.loss_mask, batch_size=8, epochs=2,
                  shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for before, after in zip(*weights):
        np.testing.assert_allclose(before, after, atol=1e-6)
