"""Config round trips and `.keras` save/load with masks, Dale's law, trainable tau and h0."""

import keras
import numpy as np
import pytest

from ctxrnn import CTRNN, CTRNNCell, GainNormal, find_ctrnn, masks
from ctxrnn.constraints import MinValue

UNITS, CHANNELS, STEPS = 6, 3, 12

CELL_OPTIONS = dict(
    dt=5.0, tau=[5.0, 10.0, 20.0, 40.0, 80.0, 160.0], tau_trainable=True,
    activation="softplus", use_bias=False, kernel_initializer="he_normal",
    recurrent_initializer="gain_normal", gain=1.5,
    kernel_regularizer=keras.regularizers.L2(1e-3), recurrent_regularizer="l1",
    recurrent_constraint=keras.constraints.MaxNorm(2.0), input_noise=0.05,
    recurrent_noise=0.1, scale_noise=False, noise_at_inference=True, noise_sampler="exact",
    initial_state_trainable=True, dale=True, seed=9,
)


def _round_trip(cls, obj):
    config = obj.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    return clone


def test_cell_config_round_trip_keeps_every_argument():
    cell = CTRNNCell(UNITS, name="my_cell", **CELL_OPTIONS)
    clone = _round_trip(CTRNNCell, cell)
    config = clone.get_config()
    for key in ("dt", "tau", "tau_trainable", "use_bias", "gain", "input_noise",
                "recurrent_noise", "scale_noise", "noise_at_inference", "noise_sampler",
                "initial_state_trainable", "dale", "seed"):
        assert config[key] == CELL_OPTIONS[key], key
    assert config["activation"] == "softplus" and config["name"] == "my_cell"
    assert config["recurrent_initializer"] == "gain_normal"
    assert isinstance(clone.recurrent_constraint, keras.constraints.MaxNorm)
    # same seed, same config -> same initial weights
    cell.build((None, CHANNELS))
    clone.build((None, CHANNELS))
    for a, b in zip(cell.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_cell_config_with_default_arguments_and_initializer_objects():
    _round_trip(CTRNNCell, CTRNNCell(4))
    cell = CTRNNCell(4, recurrent_initializer=GainNormal(gain=1.2, seed=3),
                     kernel_initializer=keras.initializers.Constant(0.3))
    clone = _round_trip(CTRNNCell, cell)
    assert isinstance(clone.recurrent_initializer, GainNormal)
    assert clone.recurrent_initializer.gain == 1.2


def test_layer_config_round_trip():
    layer = CTRNN(UNITS, return_sequences=False, return_state=True, name="core", **CELL_OPTIONS)
    clone = _round_trip(CTRNN, layer)
    assert clone.name == "core" and clone.cell.name == "cell"
    assert clone.return_state and not clone.return_sequences
    assert clone.cell.get_config() == layer.cell.get_config()


def test_registered_names():
    for obj in (CTRNN(3), CTRNNCell(3), GainNormal(1.5), MinValue(2.0)):
        serialized = keras.saving.serialize_keras_object(obj)
        assert serialized["registered_name"] == f"ctxrnn>{type(obj).__name__}"
        restored = keras.saving.deserialize_keras_object(serialized)
        assert type(restored) is type(obj)
        assert restored.get_config() == obj.get_config()


def test_gain_normal_and_min_value_round_trip():
    init = _round_trip(GainNormal, GainNormal(gain=1.5, seed=4))
    np.testing.assert_array_equal(np.asarray(init((5, 5))),
                                  np.asarray(GainNormal(gain=1.5, seed=4)((5, 5))))
    constraint = _round_trip(MinValue, MinValue(10.0))
    np.testing.assert_array_equal(np.asarray(constraint(np.array([5.0, 10.0, 12.5], "float32"))),
                                  [10.0, 10.0, 12.5])


def _data(batch=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, STEPS, CHANNELS)).astype("float32"),
            rng.normal(size=(batch, STEPS, 1)).astype("float32"))


def test_save_and_load_model_with_masks_dale_tau_and_initial_state(tmp_path):
    plasticity = masks.random_mask((UNITS, UNITS), 0.5, seed=1)
    connectivity = masks.random_mask((UNITS, UNITS), 0.7, seed=2)
    kernel_plasticity = masks.random_mask((CHANNELS, UNITS), 0.5, seed=3)
    inputs = keras.Input((STEPS, CHANNELS))
    states = CTRNN(UNITS, dt=10.0, tau=[20.0, 30.0, 40.0, 50.0, 60.0, 70.0],
                   tau_trainable=True, initial_state_trainable=True,
                   recurrent_signs=masks.dale_signs(UNITS, 0.5, seed=0),
                   recurrent_noise=0.1, input_noise=0.1, seed=1, name="core",
                   recurrent_connectivity=connectivity, recurrent_plasticity=plasticity,
                   kernel_plasticity=kernel_plasticity)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="readout")(states))
    model.compile(keras.optimizers.AdamW(1e-2, weight_decay=0.1), "mse")
    x, y = _data()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)  # moments and masks both non-trivial
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    layer, restored = find_ctrnn(model), find_ctrnn(loaded)
    assert restored.cell.dale and restored.cell.tau_trainable
    for name, mask in layer.get_masks().items():
        np.testing.assert_array_equal(restored.get_masks()[name], mask, err_msg=name)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    # training the reloaded model keeps frozen entries, signs and connectivity
    recurrent, kernel = np.asarray(restored.recurrent_kernel), np.asarray(restored.kernel)
    loaded.fit(x, y, batch_size=4, epochs=2, verbose=0)
    recurrent_after = np.asarray(restored.recurrent_kernel)
    frozen = plasticity == 0
    np.testing.assert_array_equal(recurrent_after[frozen], recurrent[frozen])
    np.testing.assert_array_equal(recurrent_after[connectivity == 0], 0.0)
    assert np.all(recurrent_after * np.asarray(restored.recurrent_signs)[:, None] >= 0)
    np.testing.assert_array_equal(np.asarray(restored.kernel)[kernel_plasticity == 0],
                                  kernel[kernel_plasticity == 0])
    assert not np.array_equal(recurrent_after, recurrent)


def test_save_and_load_cell_inside_keras_rnn(tmp_path):
    inputs = keras.Input((STEPS, CHANNELS))
    cell = CTRNNCell(UNITS, dt=10.0, tau=30.0, seed=3, recurrent_noise=0.1,
                     initial_state_trainable=True,
                     recurrent_connectivity=masks.no_self_connections(UNITS))
    states = keras.layers.RNN(cell, return_sequences=True)(inputs)
    model = keras.Model(inputs, states)
    model.get_layer(index=1).cell.initial_state.assign(np.linspace(-0.3, 0.3, UNITS))
    path = tmp_path / "rnn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    restored = loaded.get_layer(index=1).cell
    assert isinstance(restored, CTRNNCell)
    np.testing.assert_array_equal(restored.get_masks()["recurrent_connectivity"],
                                  masks.no_self_connections(UNITS))
    x, _ = _data()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("return_state", [False, True])
def test_save_and_load_layer_variants(tmp_path, return_state):
    inputs = keras.Input((STEPS, CHANNELS))
    outputs = CTRNN(UNITS, return_sequences=False, return_state=return_state, seed=2,
                    activation="relu")(inputs)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x, _ = _data()
    for a, b in zip(keras.tree.flatten(model.predict(x, verbose=0)),
                    keras.tree.flatten(loaded.predict(x, verbose=0))):
        np.testing.assert_array_equal(a, b)
