"""Least-squares readout: the minimiser of the masked MSE in the readout weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ctxrnn
from ctxrnn.losses import masked_mse
from ctxrnn.readout import fit_readout


def _model(n_in=3, units=12, n_out=4, l2=0.0, seed=0):
    inputs = keras.Input((None, n_in))
    states = ctxrnn.CTRNN(units, dt=1.0, tau=1.0, seed=seed, name="ctrnn")(inputs)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    outputs = keras.layers.Dense(n_out, name="readout", kernel_regularizer=regularizer)(states)
    return keras.Model(inputs, outputs)


def _data(batch=40, steps=15, n_in=3, n_out=4, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, n_in)).astype(np.float32)
    y = rng.normal(size=(batch, steps, n_out)).astype(np.float32)
    mask = (rng.random((batch, steps, n_out)) < 0.7).astype(np.float32)
    return x, y, mask


def _objective(model, x, y, mask, l2):
    """Masked MSE + l2 * |W|^2 and its gradient in the readout weights."""
    readout = model.get_layer("readout")
    with tf.GradientTape() as tape:
        out = model(x)
        loss = masked_mse(np.concatenate([y, mask], -1), out) + l2 * tf.reduce_sum(
            tf.square(readout.kernel))
    grads = tape.gradient(loss, [readout.kernel, readout.bias])
    return float(loss), [g.numpy() for g in grads]


@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_solution_is_the_minimiser(l2):
    model, (x, y, mask) = _model(l2=l2), _data()
    packed = np.concatenate([y, mask], -1)
    data_before = float(masked_mse(packed, model(x)))
    before, _ = _objective(model, x, y, mask, l2)
    fit = fit_readout(model, x, y, mask, batch_size=7)  # several chunks
    after, grads = _objective(model, x, y, mask, l2)
    assert fit.l2 == pytest.approx(l2)  # read from the layer's regularizer
    assert after < before
    # a stationary point of the training objective: its gradient vanishes
    assert max(np.abs(g).max() for g in grads) < 1e-4
    # the reported losses are the masked MSE (data term) before and after
    assert fit.loss_before == pytest.approx(data_before, rel=1e-4)
    assert fit.loss_after == pytest.approx(float(masked_mse(packed, model(x))), rel=1e-4)


def test_matches_weighted_least_squares_on_the_states():
    model, (x, y, _) = _model(n_out=2), _data(n_out=2)
    mask = np.ones(y.shape[:2], np.float32)
    mask[:, :5] = 0.0  # (batch, time) mask: the first steps do not count
    fit = fit_readout(model, x, y, mask)
    h = ctxrnn.hidden_states(model, x)[:, 5:].reshape(-1, 12).astype(np.float64)
    design = np.concatenate([h, np.ones((len(h), 1))], 1)
    reference = np.linalg.lstsq(design, y[:, 5:].reshape(-1, 2), rcond=None)[0]
    np.testing.assert_allclose(fit.kernel, reference[:12], atol=1e-4)
    np.testing.assert_allclose(fit.bias, reference[12], atol=1e-4)


def test_columns_only_see_their_own_rows():
    """A multi-head layout: columns 0-1 belong to trials 0-19, columns 2-3 to the rest."""
    model, (x, y, _) = _model(), _data()
    mask = np.zeros_like(y)
    mask[:20, :, :2] = 1.0
    mask[20:, :, 2:] = 1.0
    fit = fit_readout(model, x, y, mask)
    first = _model()
    first.set_weights(model.get_weights())
    alone = fit_readout(first, x[:20], y[:20], mask[:20], l2=0.0)
    np.testing.assert_allclose(fit.kernel[:, :2], alone.kernel[:, :2], atol=1e-4)


def test_bad_inputs_raise():
    model, (x, y, mask) = _model(), _data()
    with pytest.raises(ValueError, match="targets"):
        fit_readout(model, x, y[..., :2], mask)
    with pytest.raises(ValueError, match="loss_mask"):
        fit_readout(model, x, y, mask[:, :3])
    with pytest.raises(ValueError, match="loss_mask"):
        fit_readout(model, x, y, -mask)
    with pytest.raises(ValueError, match="l2"):
        fit_readout(model, x, y, mask, l2=-1.0)
    inputs = keras.Input((None, 3))
    sigmoid = keras.Model(inputs, keras.layers.Dense(4, activation="sigmoid", name="readout")(
        ctxrnn.CTRNN(5)(inputs)))
    with pytest.raises(ValueError, match="linear"):
        fit_readout(sigmoid, x, y, mask)
