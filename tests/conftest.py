"""Shared test helpers."""

import numpy as np
import pytest

import ctxrnn  # noqa: F401  (sets KERAS_BACKEND=tensorflow before keras is imported)


def _ctrnn_reference(x_btc, kernel, recurrent_kernel, bias=None, *, dt, tau,
                     activation=np.tanh, h0=None):
    """NumPy Euler simulator of `tau dh/dt = -h + f(h W_rec + x W_in + b)`, float64.

    Returns the states `h_1..h_T`, shape `(batch, time, units)`.
    """
    x_btc = np.asarray(x_btc, np.float64)
    kernel = np.asarray(kernel, np.float64)
    recurrent_kernel = np.asarray(recurrent_kernel, np.float64)
    bias = np.zeros(kernel.shape[1]) if bias is None else np.asarray(bias, np.float64)
    alpha = dt / np.asarray(tau, np.float64)
    batch, steps, _ = x_btc.shape
    h = np.zeros((batch, kernel.shape[1])) if h0 is None else np.broadcast_to(
        np.asarray(h0, np.float64), (batch, kernel.shape[1]))
    states = []
    for t in range(steps):
        z = x_btc[:, t] @ kernel + h @ recurrent_kernel + bias
        h = (1.0 - alpha) * h + alpha * activation(z)
        states.append(h)
    return np.stack(states, axis=1)


@pytest.fixture
def ctrnn_reference():
    """The NumPy reference simulator of a CTRNN (see `_ctrnn_reference`)."""
    return _ctrnn_reference
