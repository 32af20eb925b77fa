"""Batched weight variants equal the model run with those weights."""

import keras
import numpy as np
import pytest

import ctxrnn
from ctxrnn import masks, simulate


def _model(units=24, steps=15, tau=30.0, **options):
    inputs = keras.Input((steps, 3))
    states = ctxrnn.CTRNN(units, dt=10.0, tau=tau, seed=3, **options)(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="readout")(states))


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).normal(size=(12, 15, 3)).astype("float32")


def test_one_variant_equals_predict(inputs):
    model = _model(initial_state_trainable=True)
    np.testing.assert_allclose(simulate.predict_variants(model, inputs)[0],
                               model.predict(inputs, verbose=0), atol=1e-6)


def test_pruned_variants_equal_pruned_model(inputs):
    model = _model()
    layer = ctxrnn.find_ctrnn(model)
    weights = keras.ops.convert_to_numpy(layer.recurrent_kernel)
    fractions = [0.0, 0.2, 0.6]
    variants = masks.pruning_masks(weights, fractions)
    outputs = simulate.predict_variants(model, inputs, recurrent_kernels=variants * weights)
    assert outputs.shape == (3, 12, 15, 2)
    before = keras.ops.convert_to_numpy(layer.recurrent_kernel).copy()
    for k, mask in enumerate(variants):
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        ctxrnn.find_ctrnn(clone).set_masks(recurrent_connectivity=mask)
        np.testing.assert_allclose(outputs[k], clone.predict(inputs, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.recurrent_kernel), before)


def test_silenced_units_stay_zero_and_alpha_one(inputs):
    model = _model(tau=10.0)  # alpha = 1: the discrete network
    layer = ctxrnn.find_ctrnn(model)
    unit_masks = np.ones((2, 24), np.float32)
    unit_masks[1, :6] = 0.0
    states = simulate.run_variants(layer, inputs, unit_masks=unit_masks)
    assert np.all(states[1, :, :, :6] == 0.0)
    assert np.abs(states[1, :, :, 6:]).max() > 0
    np.testing.assert_allclose(states[0], ctxrnn.hidden_states(model, inputs), atol=1e-6)


def test_chunking_over_the_batch_gives_the_same_result(inputs, monkeypatch):
    model = _model()
    whole = simulate.predict_variants(model, inputs)
    calls = []
    original = simulate._variant_loop

    def counting(*args):
        loop = original(*args)

        def counted(u_tbn, *rest):
            calls.append(int(u_tbn.shape[1]))
            return loop(u_tbn, *rest)

        return counted

    monkeypatch.setattr(simulate, "_variant_loop", counting)
    monkeypatch.setattr(simulate, "_MAX_FLOATS_PER_CHUNK", 2 * 15 * 5)  # 5 trials of 2 outputs
    np.testing.assert_allclose(simulate.predict_variants(model, inputs), whole, atol=1e-6)
    assert calls == [5, 5, 2]


def test_readout_inside_the_loop_equals_projecting_the_states(inputs):
    model = _model()
    layer = ctxrnn.find_ctrnn(model)
    readout = np.random.default_rng(1).normal(size=(24, 3)).astype("float32")
    kernels = np.stack([keras.ops.convert_to_numpy(layer.recurrent_kernel)] * 2)
    kernels[1, :5] = 0.0
    states = simulate.run_variants(layer, inputs, recurrent_kernels=kernels)
    projected = simulate.run_variants(layer, inputs, recurrent_kernels=kernels,
                                      readout_kernel=readout)
    assert projected.shape == (2, 12, 15, 3)
    np.testing.assert_allclose(projected, states @ readout, atol=1e-5)
    with pytest.raises(ValueError, match="readout_kernel"):
        simulate.run_variants(layer, inputs, readout_kernel=readout[:5])


@pytest.mark.parametrize("tau", [10.0, 30.0])  # discrete and leaky
def test_silencing_with_a_readout_equals_projecting_the_silenced_states(inputs, tau):
    """With a readout the unit masks are folded into the kernels (no per-step product)."""
    layer = ctxrnn.find_ctrnn(_model(tau=tau))
    readout = np.random.default_rng(2).normal(size=(24, 3)).astype("float32")
    unit_masks = np.ones((3, 24), np.float32)
    unit_masks[1, :6] = 0.0
    unit_masks[2, ::3] = 0.0
    kernels = np.stack([keras.ops.convert_to_numpy(layer.recurrent_kernel)] * 3)
    kernels[2] *= 0.5
    states = simulate.run_variants(layer, inputs, kernels, unit_masks)
    projected = simulate.run_variants(layer, inputs, kernels, unit_masks, readout_kernel=readout)
    np.testing.assert_allclose(projected, states @ readout, atol=1e-5)
    assert np.abs(projected[1] - projected[0]).max() > 1e-3  # silencing changed the outputs


def test_bad_variant_shapes_are_named(inputs):
    model = _model()
    layer = ctxrnn.find_ctrnn(model)
    with pytest.raises(ValueError, match="recurrent_kernels"):
        simulate.run_variants(layer, inputs, recurrent_kernels=np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="unit_masks"):
        simulate.run_variants(layer, inputs, recurrent_kernels=np.zeros((2, 24, 24)),
                              unit_masks=np.ones((3, 24)))
    with pytest.raises(ValueError, match="inputs"):
        simulate.run_variants(layer, inputs[..., :2])
    with pytest.raises(ValueError, match="NaN"):
        simulate.run_variants(layer, np.where(inputs > 2, np.nan, inputs))
