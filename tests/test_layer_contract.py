"""CTRNN's Keras contract: exact resume with noise, subclassed models, documented
attributes."""

import keras
import numpy as np
import pytest

import ctxrnn
from ctxrnn import CTRNN

UNITS, CHANNELS, STEPS, BATCH = 8, 3, 12, 16


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, CHANNELS)).astype("float32")
    return x, (0.1 * np.cumsum(x[..., :1], axis=1)).astype("float32")


def _noisy_model():
    model = keras.Sequential([
        keras.Input((STEPS, CHANNELS)),
        CTRNN(UNITS, tau=30.0, recurrent_noise=0.2, input_noise=0.1, seed=0, name="ctrnn"),
        keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=1),
                           name="readout"),
    ], name="noisy")
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


def _fit(model, epochs, **kwargs):
    x, y = _data()
    model.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0, **kwargs)
    return model


def _assert_same_weights(model, other):
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


class _InterruptAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("Interrupting training.")


def test_interrupted_and_resumed_fit_equals_uninterrupted_with_noise(tmp_path):
    reference = _fit(_noisy_model(), 4)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="Interrupting"):
        _fit(_noisy_model(), 4, callbacks=[backup, _InterruptAfterEpoch(1)])
    resumed = _fit(_noisy_model(), 4, callbacks=[backup])
    _assert_same_weights(resumed, reference)
    # Without the saved noise state the resumed run would redraw epoch 1's noise.
    fresh = _fit(_noisy_model(), 2)
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(),
                                                        reference.get_weights()))


def test_reloaded_model_continues_with_the_same_noise(tmp_path):
    original = _fit(_noisy_model(), 2)
    path = str(tmp_path / "model.keras")
    original.save(path)
    reloaded = keras.models.load_model(path)
    _fit(original, 2)
    _fit(reloaded, 2)
    _assert_same_weights(reloaded, original)


def test_weights_saved_without_the_noise_state_still_load(tmp_path):
    """Files written before the noise state was saved (the shipped models) load."""
    model = _fit(_noisy_model(), 1)
    cell = model.layers[0].cell
    store = {}
    cell.save_own_variables(store)
    assert "noise_seed_state" in store
    old_store = {key: value for key, value in store.items() if key != "noise_seed_state"}
    other = _noisy_model()
    state = np.asarray(other.layers[0].cell.seed_generator.state)
    other.layers[0].cell.load_own_variables(old_store)
    np.testing.assert_array_equal(other.layers[0].cell.kernel, cell.kernel)
    np.testing.assert_array_equal(other.layers[0].cell.seed_generator.state, state)


@keras.saving.register_keras_serializable(package="ctxrnn_tests")
class SubclassedNetwork(keras.Model):
    def __init__(self, dale=False, triangular=False, **kwargs):
        super().__init__(**kwargs)
        self.dale, self.triangular = dale, triangular
        masks = {"recurrent_connectivity": np.triu(np.ones((UNITS, UNITS)))} if triangular else {}
        signs = {"recurrent_signs": np.repeat([1.0, -1.0], UNITS // 2)} if dale else {}
        self.rnn = CTRNN(UNITS, tau=30.0, seed=0, **masks, **signs)
        self.readout = keras.layers.Dense(1)

    def call(self, inputs, training=False):
        return self.readout(self.rnn(inputs, training=training))

    def get_config(self):
        return {**super().get_config(), "dale": self.dale, "triangular": self.triangular}


@pytest.mark.parametrize("options", [{}, {"dale": True}, {"triangular": True}],
                         ids=["plain", "dale", "masks"])
def test_subclassed_model_fits_saves_and_reloads(tmp_path, options):
    x, y = _data()
    model = SubclassedNetwork(**options)
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    history = model.fit(x, y, epochs=15, batch_size=8, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    kernel = np.asarray(model.rnn.recurrent_kernel)
    if options.get("dale"):
        signs = np.repeat([1.0, -1.0], UNITS // 2)[:, None]
        assert np.all(kernel * signs >= 0)
    if options.get("triangular"):
        assert np.all(np.tril(kernel, -1) == 0)
    path = str(tmp_path / "subclassed.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


CELL_ATTRIBUTES = (
    "kernel", "recurrent_kernel", "bias", "tau_weight", "initial_state", "recurrent_signs",
    "recurrent_connectivity", "recurrent_plasticity", "kernel_connectivity",
    "kernel_plasticity", "alpha", "dt", "tau", "effective_kernel",
    "effective_recurrent_kernel", "set_masks", "get_masks", "set_recurrent_signs",
)


def test_cell_attributes_are_documented_class_members():
    layer = CTRNN(4, dt=10.0, tau=20.0, dale=True)
    layer.build((None, 5, 2))
    for name in CELL_ATTRIBUTES:
        member = CTRNN.__dict__[name]
        assert (member.__doc__ or "").strip(), name
        if isinstance(member, property):
            ours, cells = getattr(layer, name), getattr(layer.cell, name)
            assert (ours is None) == (cells is None), name
            if ours is not None:
                np.testing.assert_array_equal(np.asarray(ours), np.asarray(cells), err_msg=name)
    masks = layer.get_masks()
    assert sorted(masks) == sorted(ctxrnn.cells.MASK_NAMES)
    layer.set_masks(kernel_connectivity=np.zeros((2, 4)))
    assert not np.any(np.asarray(layer.kernel))
    layer.set_recurrent_signs([1.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal(layer.recurrent_signs, [1.0, -1.0, 1.0, -1.0])
    assert layer.dt == 10.0 and layer.tau == 20.0
