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
