"""Low-rank CTRNN (`rank=R`): W_rec = n m^T / N with the same dynamics, fast path and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ctxrnn import CTRNN
from ctxrnn.cells import CTRNNCell
from ctxrnn.training import TrainConfig

UNITS, CHANNELS, STEPS, BATCH, RANK = 12, 3, 8, 4, 2
DT, TAU = 20.0, 100.0


def _inputs(seed=1):
    return np.random.default_rng(seed).normal(size=(BATCH, STEPS, CHANNELS)).astype("float32")


def _layer(x, seed=0, **kwargs):
    layer = CTRNN(UNITS, rank=RANK, dt=DT, tau=TAU, seed=seed, **kwargs)
    layer.build(x.shape)
    layer.bias.assign(np.random.default_rng(seed).normal(0.0, 0.3, size=UNITS))
    return layer


def _model(seed=0, **kwargs):
    inputs = keras.Input((None, CHANNELS))
    states = CTRNN(UNITS, rank=RANK, dt=DT, tau=TAU, seed=seed, name="ctrnn", **kwargs)(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="readout")(states))


def test_kernel_is_n_m_transpose_over_n_and_has_rank_r():
    layer = _layer(_inputs())
    m, n = layer.recurrent_m.numpy(), layer.recurrent_n.numpy()
    kernel = keras.ops.convert_to_numpy(layer.effective_recurrent_kernel)
    np.testing.assert_allclose(kernel, n @ m.T / UNITS, rtol=1e-5, atol=1e-7)
    assert np.linalg.matrix_rank(kernel) == RANK
    assert layer.recurrent_kernel is None
    # unit i's recurrent input is m_i . kappa with kappa = n^T h / N
    h = np.random.default_rng(3).normal(size=(5, UNITS)).astype("float32")
    np.testing.assert_allclose(h @ kernel, (h @ n / UNITS) @ m.T, rtol=1e-4, atol=1e-6)


def test_loadings_are_standard_normal_seeded_and_distinct():
    a, b = _layer(_inputs(), seed=4), _layer(_inputs(), seed=4)
    m = a.recurrent_m.numpy()
    np.testing.assert_array_equal(m, b.recurrent_m.numpy())
    assert not np.allclose(m, a.recurrent_n.numpy())
    big = CTRNN(2000, rank=1, seed=0)
    big.build((None, None, 1))
    assert abs(np.std(big.recurrent_m.numpy()) - 1.0) < 0.05


def test_fast_path_equals_cell_stepped_by_keras_rnn(ctrnn_reference):
    x = _inputs()
    layer = _layer(x)
    fast = keras.ops.convert_to_numpy(layer(x))
    stepped = keras.ops.convert_to_numpy(keras.layers.RNN(layer.cell, return_sequences=True)(x))
    np.testing.assert_allclose(fast, stepped, rtol=1e-5, atol=1e-6)
    kernel = keras.ops.convert_to_numpy(layer.effective_recurrent_kernel)
    reference = ctrnn_reference(x, layer.kernel.numpy(), kernel, layer.bias.numpy(), dt=DT,
                                tau=TAU)
    np.testing.assert_allclose(fast, reference, rtol=1e-4, atol=1e-5)


def test_gradient_of_loadings_equals_autodiff_through_keras_rnn():
    x = tf.constant(_inputs())
    layer = _layer(x.numpy())
    rnn = keras.layers.RNN(layer.cell, return_sequences=True)
    weights = [layer.recurrent_m, layer.recurrent_n, layer.kernel]
    grads = []
    for run in (layer, rnn):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(run(x)))
        grads.append(tape.gradient(loss, weights))
    for fast, auto in zip(*grads):
        np.testing.assert_allclose(fast.numpy(), auto.numpy(), rtol=1e-4, atol=1e-6)


def test_save_and_load_give_identical_outputs(tmp_path):
    model = _model(seed=2, recurrent_noise=0.05)
    model.compile("adam", "mse")
    x = _inputs()
    model.fit(x, np.ones((BATCH, STEPS, 1), "float32"), epochs=2, verbose=0)
    path = tmp_path / "low_rank.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("ctrnn").rank == RANK
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_training_moves_loadings_and_frozen_loadings_stay_bit_identical():
    x, y = _inputs(), np.ones((BATCH, STEPS, 1), "float32")
    model = _model(seed=1)
    layer = model.get_layer("ctrnn")
    before = layer.recurrent_m.numpy().copy()
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(x, y, epochs=3, verbose=0)
    assert not np.allclose(before, layer.recurrent_m.numpy())

    frozen = _model(seed=1, frozen=("recurrent_kernel",))
    layer = frozen.get_layer("ctrnn")
    m, n = layer.recurrent_m.numpy().copy(), layer.recurrent_n.numpy().copy()
    frozen.compile(keras.optimizers.AdamW(0.05, weight_decay=0.1), "mse")
    frozen.fit(x, y, epochs=3, verbose=0)
    np.testing.assert_array_equal(m, layer.recurrent_m.numpy())
    np.testing.assert_array_equal(n, layer.recurrent_n.numpy())
    assert layer.cell.get_config()["frozen"] == ["recurrent_kernel"]


def test_connectivity_mask_removes_entries_of_the_low_rank_kernel():
    x = _inputs()
    layer = _layer(x)
    mask = np.ones((UNITS, UNITS), "float32")
    mask[0, :] = 0.0  # unit 0 feeds no one
    layer.set_masks(recurrent_connectivity=mask)
    kernel = keras.ops.convert_to_numpy(layer.effective_recurrent_kernel)
    assert np.all(kernel[0] == 0.0) and np.all(kernel[1:] != 0.0)
    assert set(layer.get_masks()) == {"recurrent_connectivity", "kernel_connectivity",
                                      "kernel_plasticity"}


def test_factored_and_masked_paths_match_keras_rnn_in_a_compiled_step():
    """Unmasked, the loops run on the factors n / N and m^T; with an entry masked, on the
    dense kernel. Both branches, traced in one tf.function, give the stepped cell's
    outputs and autodiff's gradients, and a mask set after tracing takes effect."""
    x = tf.constant(_inputs())
    layer = _layer(x.numpy())
    rnn = keras.layers.RNN(layer.cell, return_sequences=True)
    weights = [layer.recurrent_m, layer.recurrent_n, layer.kernel, layer.bias]

    @tf.function
    def fast_step(x):
        with tf.GradientTape() as tape:
            out = layer(x)
            loss = tf.reduce_sum(tf.square(out))
        return out, tape.gradient(loss, weights)

    def stepped():
        with tf.GradientTape() as tape:
            out = rnn(x)
            loss = tf.reduce_sum(tf.square(out))
        return out, tape.gradient(loss, weights)

    mask = np.ones((UNITS, UNITS), "float32")
    mask[2, 5] = mask[7, :] = 0.0
    results = []
    for connectivity in (np.ones_like(mask), mask):
        layer.set_masks(recurrent_connectivity=connectivity)
        results.append(fast_step(x))
        out, grads = results[-1]
        ref_out, ref_grads = stepped()
        np.testing.assert_allclose(out.numpy(), ref_out.numpy(), rtol=1e-5, atol=1e-6)
        for fast, auto in zip(grads, ref_grads):
            np.testing.assert_allclose(fast.numpy(), auto.numpy(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(results[0][0].numpy(), results[1][0].numpy())


@pytest.mark.parametrize("option", [
    {"rank": 0}, {"rank": UNITS + 1}, {"rank": 1.5}, {"rank": True},
    {"rank": 1, "dale": True},
    {"rank": 1, "recurrent_plasticity": np.ones((UNITS, UNITS))},
    {"rank": 1, "recurrent_constraint": "non_neg"},
])
def test_bad_low_rank_options_fail_early_naming_the_argument(option):
    name = "rank" if len(option) == 1 else next(k for k in option if k != "rank")
    with pytest.raises(ValueError, match=f"`{name}`"):
        CTRNNCell(UNITS, **option)


def test_plasticity_mask_is_refused_after_build():
    layer = _layer(_inputs())
    with pytest.raises(ValueError, match="recurrent_plasticity"):
        layer.set_masks(recurrent_plasticity=np.ones((UNITS, UNITS)))


def test_train_config_resolves_the_loading_initializer_and_checks_rank():
    assert TrainConfig(units=10, rank=1).recurrent_initializer == "standard_normal"
    assert TrainConfig(units=10).recurrent_initializer == "orthogonal"
    for bad in (11, -1, None):
        with pytest.raises(ValueError, match="`rank`"):
            TrainConfig(units=10, rank=bad)


def test_a_stack_of_low_rank_networks_is_refused_by_name():
    with pytest.raises(ValueError, match=r"rank=1, networks=3"):
        CTRNN(8, rank=1, networks=3)
