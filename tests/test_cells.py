"""CTRNNCell: the Euler step against a NumPy reference, inside `keras.layers.RNN`."""

import keras
import numpy as np
import pytest

from ctxrnn import CTRNNCell, GainNormal
from ctxrnn.cells import stationary_noise_std

UNITS, CHANNELS, STEPS, BATCH = 5, 3, 8, 4
DT = 10.0
TAU = [10.0, 20.0, 25.0, 50.0, 100.0]  # per unit; alpha = 1, 0.5, 0.4, 0.2, 0.1


def _random_weights(seed=0, units=UNITS, channels=CHANNELS):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0.0, 0.6, size=(channels, units)).astype("float32")
    recurrent = rng.normal(0.0, 0.5, size=(units, units)).astype("float32")
    bias = rng.normal(0.0, 0.3, size=(units,)).astype("float32")
    return kernel, recurrent, bias


def _inputs(seed=1, steps=STEPS, batch=BATCH, channels=CHANNELS):
    return np.random.default_rng(seed).normal(size=(batch, steps, channels)).astype("float32")


def _assign(cell, kernel, recurrent, bias, h0=None):
    cell.kernel.assign(kernel)
    cell.recurrent_kernel.assign(recurrent)
    cell.bias.assign(bias)
    if h0 is not None:
        cell.initial_state.assign(h0)


def test_hand_computed_regression_values():
    # alpha = 10 / 20 = 0.5, W_in = 0.5, W_rec = 0.25 everywhere, b = 0.1, x = 1:
    # h1 = 0.5 tanh(0.6); h2 = 0.5 h1 + 0.5 tanh(0.6 + 2 * 0.25 * h1); ...
    cell = CTRNNCell(
        2, dt=10.0, tau=20.0,
        kernel_initializer=keras.initializers.Constant(0.5),
        recurrent_initializer=keras.initializers.Constant(0.25),
        bias_initializer=keras.initializers.Constant(0.1),
    )
    states = keras.layers.RNN(cell, return_sequences=True)(np.ones((1, 3, 1), "float32"))
    expected = [0.26852478349901765, 0.4470954485809369, 0.5620458297845181]
    np.testing.assert_allclose(np.asarray(states)[0, :, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(states)[0, :, 1], expected, rtol=1e-6)


@pytest.mark.parametrize("activation", ["tanh", "softplus", "relu"])
def test_cell_in_rnn_equals_numpy_reference(ctrnn_reference, activation):
    numpy_activation = {
        "tanh": np.tanh, "softplus": lambda z: np.log1p(np.exp(z)),
        "relu": lambda z: np.maximum(z, 0.0),
    }[activation]
    cell = CTRNNCell(UNITS, dt=DT, tau=TAU, activation=activation, initial_state_trainable=True)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = _inputs()
    rnn.build(x.shape)
    kernel, recurrent, bias = _random_weights()
    h0 = np.linspace(-0.5, 0.5, UNITS).astype("float32")
    _assign(cell, kernel, recurrent, bias, h0)
    expected = ctrnn_reference(x, kernel, recurrent, bias, dt=DT, tau=TAU,
                               activation=numpy_activation, h0=h0)
    np.testing.assert_allclose(np.asarray(rnn(x)), expected, rtol=1e-5, atol=1e-6)


def test_scalar_tau_leaky_cell_equals_reference(ctrnn_reference):
    cell = CTRNNCell(UNITS, dt=DT, tau=40.0)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = _inputs()
    rnn.build(x.shape)
    kernel, recurrent, bias = _random_weights(seed=3)
    _assign(cell, kernel, recurrent, bias)
    expected = ctrnn_reference(x, kernel, recurrent, bias, dt=DT, tau=40.0)
    np.testing.assert_allclose(np.asarray(rnn(x)), expected, rtol=1e-5, atol=1e-6)
    assert float(cell.alpha) == pytest.approx(0.25)
    assert cell.leaky


def test_alpha_one_equals_simple_rnn():
    cell = CTRNNCell(UNITS, dt=DT, tau=DT)
    assert not cell.leaky
    rnn = keras.layers.RNN(cell, return_sequences=True)
    simple = keras.layers.SimpleRNN(UNITS, return_sequences=True)
    x = _inputs()
    rnn.build(x.shape)
    simple.build(x.shape)
    weights = _random_weights(seed=4)
    _assign(cell, *weights)
    simple.set_weights(list(weights))
    np.testing.assert_allclose(np.asarray(rnn(x)), np.asarray(simple(x)), rtol=1e-5, atol=1e-6)


def test_state_is_returned_in_the_form_it_was_given():
    cell = CTRNNCell(3, dt=10.0, tau=20.0)
    x = np.ones((2, 4), "float32")
    cell.build(x.shape)
    h = np.zeros((2, 3), "float32")
    output, state_list = cell(x, [h])
    _, state_bare = cell(x, h)
    assert isinstance(state_list, list) and len(state_list) == 1
    np.testing.assert_array_equal(np.asarray(state_list[0]), np.asarray(state_bare))
    np.testing.assert_array_equal(np.asarray(output), np.asarray(state_bare))
    assert cell.state_size == 3 and cell.output_size == 3


def test_initial_state_zero_or_trainable():
    cell = CTRNNCell(3)
    cell.build((None, 2))
    assert "initial_state" not in [w.name for w in cell.trainable_weights]
    np.testing.assert_array_equal(np.asarray(cell.get_initial_state(2)[0]), np.zeros((2, 3)))
    learned = CTRNNCell(3, initial_state_trainable=True)
    learned.build((None, 2))
    assert "initial_state" in [w.name for w in learned.trainable_weights]
    learned.initial_state.assign([0.1, -0.2, 0.3])
    np.testing.assert_allclose(np.asarray(learned.get_initial_state(2)[0]),
                               [[0.1, -0.2, 0.3]] * 2, rtol=1e-7)


def test_tau_trainable_only_when_asked():
    fixed = CTRNNCell(3, tau=[20.0, 30.0, 40.0])
    fixed.build((None, 2))
    assert "tau" not in [w.name for w in fixed.trainable_weights]
    np.testing.assert_allclose(np.asarray(fixed.alpha), [0.5, 1 / 3, 0.25], rtol=1e-6)
    learned = CTRNNCell(3, tau=30.0, tau_trainable=True)
    learned.build((None, 2))
    assert "tau" in [w.name for w in learned.trainable_weights]
    assert learned.leaky  # even at tau == dt a trainable tau keeps the leaky form
    assert CTRNNCell(3, dt=10.0, tau=10.0, tau_trainable=True).leaky


def test_stationary_noise_std_formula():
    assert stationary_noise_std(0.1, 0.5) == pytest.approx(0.1 / np.sqrt(0.75))
    assert stationary_noise_std(0.2, 1.0) == pytest.approx(0.2 * np.sqrt(2.0))
    assert stationary_noise_std(0.05, 1e-6) == pytest.approx(0.05, rel=1e-6)


def test_gain_normal_scale_and_seed():
    values = np.asarray(GainNormal(gain=1.5, seed=3)((400, 400)))
    assert values.std() == pytest.approx(1.5 / 20.0, rel=0.02)
    assert abs(values.mean()) < 0.002
    np.testing.assert_array_equal(values, np.asarray(GainNormal(gain=1.5, seed=3)((400, 400))))


def test_recurrent_initializers_take_gain():
    cell = CTRNNCell(50, recurrent_initializer="orthogonal", gain=1.3, seed=2)
    cell.build((None, 2))
    w = np.asarray(cell.recurrent_kernel)
    np.testing.assert_allclose(w.T @ w, 1.3**2 * np.eye(50), atol=1e-4)
    normal = CTRNNCell(200, recurrent_initializer="gain_normal", gain=1.5, seed=2)
    normal.build((None, 2))
    assert np.asarray(normal.recurrent_kernel).std() == pytest.approx(1.5 / np.sqrt(200), rel=0.03)


def test_seed_makes_weights_reproducible():
    def weights(seed):
        cell = CTRNNCell(6, seed=seed)
        cell.build((None, 3))
        return [np.asarray(cell.kernel), np.asarray(cell.recurrent_kernel)]

    for a, b in zip(weights(5), weights(5)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(weights(5)[1], weights(6)[1])
