"""CTRNN with a Keras mask equals `keras.layers.RNN(CTRNNCell)` with the same mask:
outputs, final state and every gradient."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ctxrnn import CTRNN

UNITS, CHANNELS, STEPS, BATCH = 5, 3, 10, 4
DT = 10.0


def _padded_inputs(pattern):
    """Inputs with zeroed (masked) steps and the matching (batch, time) mask.

    `"right"`: each sequence right-padded by a different length (25-60 %);
    `"interior"`: holes in the middle and a masked first step.
    """
    rng = np.random.default_rng(3)
    x = rng.normal(size=(BATCH, STEPS, CHANNELS)).astype("float32")
    mask = np.ones((BATCH, STEPS), bool)
    if pattern == "right":
        for row, length in enumerate((STEPS, 7, 5, 4)):
            mask[row, length:] = False
    else:
        mask[0, [0, 4, 5]] = False
        mask[1, [2, 3, 8]] = False
        mask[2, [1, 9]] = False
        mask[3, [0, 1, 6]] = False
    x[~mask] = 0.0
    return x, mask


def _layer(x, **options):
    layer = CTRNN(UNITS, dt=DT, initial_state_trainable=True, seed=0, **options)
    layer.build(x.shape)
    rng = np.random.default_rng(1)
    layer.kernel.assign(rng.normal(0.0, 0.6, size=(CHANNELS, UNITS)))
    layer.recurrent_kernel.assign(rng.normal(0.0, 0.5, size=(UNITS, UNITS)))
    layer.bias.assign(rng.normal(0.0, 0.3, size=(UNITS,)))
    layer.initial_state.assign(rng.normal(0.0, 0.5, size=(UNITS,)))
    return layer


def _values_and_gradients(run, x, variables, weights):
    """Outputs and d(sum(outputs * weights))/d(variables + [x])."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = run(x)
        flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        loss = sum(tf.reduce_sum(o * w) for o, w in zip(flat, weights))
    grads = tape.gradient(loss, list(variables) + [x])
    return [np.asarray(o) for o in flat], [np.asarray(tf.convert_to_tensor(g)) for g in grads]


CELLS = {
    "leaky-tau-trainable": {"tau": [10.0, 20.0, 30.0, 50.0, 100.0], "tau_trainable": True},
    "leaky": {"tau": 40.0},
    "discrete": {"tau": DT},
}


@pytest.mark.parametrize("pattern", ["right", "interior"])
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("how", ["masking-layer", "mask-argument"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_masked_outputs_and_gradients_equal_keras_rnn(pattern, cell, how, return_sequences):
    x, mask = _padded_inputs(pattern)
    layer = _layer(x, return_sequences=return_sequences, return_state=True, **CELLS[cell])
    reference = keras.layers.RNN(layer.cell, return_sequences=return_sequences,
                                 return_state=True)
    masking = keras.layers.Masking(0.0)
    if how == "masking-layer":
        fast = lambda v: layer(masking(v), training=True)  # noqa: E731
        slow = lambda v: reference(masking(v), training=True)  # noqa: E731
    else:
        fast = lambda v: layer(v, mask=mask, training=True)  # noqa: E731
        slow = lambda v: reference(v, mask=mask, training=True)  # noqa: E731
    rng = np.random.default_rng(4)
    out_shape = (BATCH, STEPS, UNITS) if return_sequences else (BATCH, UNITS)
    weights = [rng.normal(size=out_shape).astype("float32"),
               rng.normal(size=(BATCH, UNITS)).astype("float32")]
    variables = layer.trainable_weights
    names = [v.name for v in variables] + ["inputs"]
    assert {"kernel", "recurrent_kernel", "bias", "initial_state"} <= set(names)
    assert ("tau" in names) == CELLS[cell].get("tau_trainable", False)
    outputs, grads = _values_and_gradients(fast, x, variables, weights)
    expected_outputs, expected_grads = _values_and_gradients(slow, x, variables, weights)
    for got, expected in zip(outputs, expected_outputs):
        assert np.abs(got - expected).max() < 1e-5
    for name, got, expected in zip(names, grads, expected_grads):
        assert np.abs(expected).max() > 1e-3, name  # the comparison is not vacuous
        assert np.abs(got - expected).max() < 1e-5, name
    # The mask matters: an unmasked run over the zero-padded inputs differs.
    unmasked = np.asarray(layer(x)[1])
    assert np.abs(unmasked - outputs[1]).max() > 1e-3


def test_padding_does_not_change_the_final_state():
    x, mask = _padded_inputs("right")
    layer = _layer(x, tau=30.0, return_sequences=False)
    model = keras.Sequential([keras.Input((STEPS, CHANNELS)), keras.layers.Masking(0.0), layer])
    final = np.asarray(model(x))
    for row, length in enumerate(mask.sum(axis=1)):
        alone = np.asarray(layer(x[row:row + 1, :length]))
        np.testing.assert_allclose(final[row], alone[0], rtol=1e-6, atol=1e-6)


def test_compute_mask_like_keras_rnn():
    x, mask = _padded_inputs("right")
    mask = tf.constant(mask)
    for return_sequences in (True, False):
        for return_state in (True, False):
            layer = CTRNN(UNITS, return_sequences=return_sequences, return_state=return_state)
            rnn = keras.layers.RNN(keras.layers.SimpleRNNCell(UNITS),
                                   return_sequences=return_sequences, return_state=return_state)
            got, expected = layer.compute_mask(x, mask), rnn.compute_mask(x, mask)
            got = got if isinstance(got, list) else [got]
            expected = expected if isinstance(expected, list) else [expected]
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert CTRNN(UNITS).supports_masking


def test_masked_model_trains_without_the_masking_warning(recwarn):
    x, mask = _padded_inputs("interior")
    model = keras.Sequential([keras.Input((STEPS, CHANNELS)), keras.layers.Masking(0.0),
                              CTRNN(UNITS, tau=30.0, seed=0), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, np.ones((BATCH, STEPS, 1), "float32"), epochs=1, verbose=0)
    assert not [w for w in recwarn if "mask" in str(w.message).lower()]


def test_mask_of_wrong_rank_fails_early():
    x, mask = _padded_inputs("right")
    layer = _layer(x)
    with pytest.raises(ValueError, match="mask"):
        layer(x, mask=mask[:, :, None])
