"""CTRNN (fast path): forward equals the reference, gradient equals autodiff, it learns."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import ctxrnn
from ctxrnn import CTRNN

UNITS, CHANNELS, STEPS, BATCH = 6, 3, 9, 4
DT = 10.0
TAU = [10.0, 20.0, 25.0, 40.0, 50.0, 100.0]

NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "softplus": lambda z: np.log1p(np.exp(z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
}


def _inputs(seed=1, steps=STEPS, batch=BATCH):
    return np.random.default_rng(seed).normal(size=(batch, steps, CHANNELS)).astype("float32")


def _layer(x, seed=0, **kwargs):
    """A built CTRNN with random kernel, recurrent kernel, bias (and h0 if trainable)."""
    kwargs = {"dt": DT, "tau": TAU, **kwargs}
    layer = CTRNN(UNITS, **kwargs)
    layer.build(x.shape)
    rng = np.random.default_rng(seed)
    layer.kernel.assign(rng.normal(0.0, 0.6, size=(CHANNELS, UNITS)))
    layer.recurrent_kernel.assign(rng.normal(0.0, 0.5, size=(UNITS, UNITS)))
    layer.bias.assign(rng.normal(0.0, 0.3, size=(UNITS,)))
    if layer.initial_state is not None:
        layer.initial_state.assign(rng.normal(0.0, 0.3, size=(UNITS,)))
    return layer


def _weights(layer):
    h0 = None if layer.initial_state is None else np.asarray(layer.initial_state)
    return (np.asarray(layer.kernel), np.asarray(layer.recurrent_kernel),
            np.asarray(layer.bias)), h0


@pytest.mark.parametrize("activation", sorted(NUMPY_ACTIVATIONS))
def test_forward_equals_numpy_reference(ctrnn_reference, activation):
    x = _inputs()
    layer = _layer(x, activation=activation, initial_state_trainable=True)
    weights, h0 = _weights(layer)
    expected = ctrnn_reference(x, *weights, dt=DT, tau=TAU,
                               activation=NUMPY_ACTIVATIONS[activation], h0=h0)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-6)


def test_forward_equals_cell_in_keras_rnn():
    x = _inputs()
    layer = _layer(x, tau=35.0, initial_state_trainable=True)
    rnn = keras.layers.RNN(layer.cell, return_sequences=True)
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(rnn(x)), rtol=1e-5, atol=1e-6)


def test_return_options_and_initial_state_argument(ctrnn_reference):
    x = _inputs()
    full = _layer(x)
    h0 = np.random.default_rng(7).normal(size=(BATCH, UNITS)).astype("float32")
    weights, _ = _weights(full)
    expected = ctrnn_reference(x, *weights, dt=DT, tau=TAU, h0=h0)
    np.testing.assert_allclose(np.asarray(full(x, initial_state=h0)), expected, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(full(x, initial_state=[h0])), expected, rtol=1e-5,
                               atol=1e-6)
    last = _layer(x, return_sequences=False, return_state=True)  # same weights as `full`
    output, state = last(x, initial_state=h0)
    assert output.shape == (BATCH, UNITS)
    np.testing.assert_allclose(np.asarray(output), expected[:, -1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(output), np.asarray(state))
    assert last.compute_output_shape((None, STEPS, CHANNELS)) == ((None, UNITS), (None, UNITS))
    assert full.compute_output_shape((None, STEPS, CHANNELS)) == (None, STEPS, UNITS)


def test_alpha_one_equals_simple_rnn():
    x = _inputs()
    layer = _layer(x, tau=DT)
    simple = keras.layers.SimpleRNN(UNITS, return_sequences=True)
    simple.build(x.shape)
    simple.set_weights(list(_weights(layer)[0]))
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(simple(x)), rtol=1e-5, atol=1e-6)


def _gradients(layer_or_rnn, variables, x, readout):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer_or_rnn(x, training=True) * readout)
    return [g if g is None else tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]


@pytest.mark.parametrize(
    "options",
    [
        {"activation": "tanh"},
        {"activation": "tanh", "tau": 30.0, "tau_trainable": True},
        {"activation": "tanh", "tau_trainable": True, "initial_state_trainable": True},
        {"activation": "softplus", "tau_trainable": True},
        {"activation": "relu"},
        {"activation": "sigmoid", "tau": 30.0},
        {"activation": "tanh", "tau": DT},  # not leaky: alpha == 1
        {"activation": keras.activations.elu, "tau_trainable": True},  # custom callable
    ],
    ids=["tanh", "tanh-tau-scalar", "tanh-tau-h0", "softplus-tau", "relu", "sigmoid", "alpha1",
         "elu"],
)
def test_hand_written_gradient_equals_autodiff(options):
    x = _inputs(steps=12)
    layer = _layer(x, **options)
    connectivity = np.ones((UNITS, UNITS), "float32")
    connectivity[0, 1] = connectivity[3, 2] = 0.0
    layer.set_masks(recurrent_connectivity=connectivity)
    readout = np.random.default_rng(5).normal(size=(BATCH, 12, UNITS)).astype("float32")
    variables = layer.trainable_weights
    names = [v.name for v in variables]
    if options.get("tau_trainable"):
        assert "tau" in names
    fast = _gradients(layer, variables, x, readout)
    reference = _gradients(keras.layers.RNN(layer.cell, return_sequences=True), variables, x,
                           readout)
    for name, a, b in zip(names, fast, reference):
        assert a is not None and b is not None, name
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-6,
                                   err_msg=name)
        assert np.abs(np.asarray(b)).max() > 1e-4, name  # the comparison is not vacuous
    rec = np.asarray(fast[names.index("recurrent_kernel")])
    assert rec[0, 1] == 0.0 and rec[3, 2] == 0.0  # absent entries get no gradient


def test_effective_weights_are_masked():
    x = _inputs()
    layer = _layer(x)
    connectivity = np.ones((CHANNELS, UNITS), "float32")
    connectivity[1] = 0.0
    layer.set_masks(kernel_connectivity=connectivity)
    effective = layer.effective_weights()
    np.testing.assert_array_equal(effective["kernel"][1], np.zeros(UNITS))
    np.testing.assert_array_equal(effective["kernel"], np.asarray(layer.kernel))
    np.testing.assert_array_equal(effective["tau"], TAU)
    assert set(effective) == {"kernel", "recurrent_kernel", "tau", "bias"}


def test_find_ctrnn_and_hidden_states():
    inputs = keras.Input((STEPS, CHANNELS))
    states = CTRNN(UNITS, name="core", seed=0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(states))
    assert ctxrnn.find_ctrnn(model).name == "core"
    x = _inputs()
    h = ctxrnn.hidden_states(model, x)
    assert h.shape == (BATCH, STEPS, UNITS)
    np.testing.assert_allclose(h, np.asarray(model.get_layer("core")(x)), rtol=1e-6, atol=1e-7)
    plain = keras.Sequential([keras.Input((STEPS, CHANNELS)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="exactly one ctxrnn.CTRNN"):
        ctxrnn.find_ctrnn(plain)


def _pulse_task(batch, steps=25, seed=0):
    """Remember the sign of a pulse at steps 2-3; answer it in the last 5 steps."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=batch).astype("float32")
    x = np.zeros((batch, steps, 1), "float32")
    x[:, 2:4, 0] = sign[:, None]
    y = np.zeros((batch, steps, 1), "float32")
    y[:, -5:, 0] = sign[:, None]
    return x, y


def test_small_network_learns_to_remember_a_pulse():
    keras.utils.set_random_seed(0)
    x, y = _pulse_task(256)
    inputs = keras.Input((25, 1))
    states = CTRNN(16, dt=10.0, tau=50.0, seed=1, recurrent_noise=0.01)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(states))
    model.compile(keras.optimizers.Adam(0.02), "mse")
    x_test, y_test = _pulse_task(128, seed=1)
    initial = model.evaluate(x_test, y_test, verbose=0)
    model.fit(x, y, batch_size=32, epochs=12, verbose=0)
    final = model.evaluate(x_test, y_test, verbose=0)
    assert final < initial / 5, (initial, final)
    predictions = model.predict(x_test, verbose=0)[:, -1, 0]
    assert np.mean(np.sign(predictions) == y_test[:, -1, 0]) > 0.95


@pytest.mark.parametrize("activation", ["softsign", "tanh"])
def test_scalar_and_per_unit_tau_in_one_process(ctrnn_reference, activation):
    # The compiled loops are cached per activation and retraced with relaxed shapes: a
    # scalar alpha after a per-unit one must not break the loop (it once did).
    x = _inputs()
    numpy_activation = {"softsign": lambda z: z / (1 + np.abs(z)), "tanh": np.tanh}[activation]
    for tau in (TAU, 30.0, TAU, 20.0):
        layer = _layer(x, tau=tau, activation=activation, tau_trainable=True)
        with tf.GradientTape() as tape:
            states = layer(x)
            loss = tf.reduce_sum(states)
        assert all(g is not None for g in tape.gradient(loss, layer.trainable_weights))
        weights, _ = _weights(layer)
        expected = ctrnn_reference(x, *weights, dt=DT, tau=tau, activation=numpy_activation)
        np.testing.assert_allclose(np.asarray(states), expected, rtol=1e-5, atol=1e-6)


def test_activity_regularizer_applies_to_the_layer_states():
    layer = ctxrnn.CTRNN(6, dt=10.0, tau=20.0, seed=0, activity_regularizer=keras.regularizers.L2(0.5))
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype("float32")
    states = keras.ops.convert_to_numpy(layer(x))
    assert len(layer.losses) == 1
    expected = 0.5 * np.sum(states**2) / 3  # Keras divides activity penalties by the batch size
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-4)
