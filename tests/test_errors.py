"""Bad input fails early with an error that names the argument."""

import keras
import numpy as np
import pytest

from ctxrnn import CTRNN, CTRNNCell, GainNormal


def _built(units=4, channels=3, **options):
    layer = CTRNN(units, **options)
    layer.build((None, 5, channels))
    return layer


def test_wrong_input_rank():
    layer = CTRNN(4)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(batch, time, channels\)"):
        layer.build((2, 3))


def test_wrong_channel_count_after_build():
    layer = CTRNN(4)
    layer(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match="axis -1 of input shape to have value 3"):
        layer(np.zeros((2, 5, 4), "float32"))


def test_unknown_channel_count():
    with pytest.raises(ValueError, match="channel"):
        CTRNNCell(4).build((None, None))


@pytest.mark.parametrize("dt", [0.0, -1.0, "10", None, True])
def test_dt_must_be_positive(dt):
    with pytest.raises(ValueError, match=r"`dt` must be a positive number; received dt="):
        CTRNNCell(4, dt=dt)


@pytest.mark.parametrize("tau", [5.0, [20.0, 20.0, 9.0, 20.0], float("nan"), float("inf")])
def test_tau_must_be_at_least_dt(tau):
    with pytest.raises(ValueError, match=r"`tau` must be finite and >= dt=10.0"):
        CTRNN(4, dt=10.0, tau=tau)


def test_tau_with_wrong_length():
    with pytest.raises(ValueError, match=r"`tau` must be a number or a sequence of 4"):
        CTRNNCell(4, tau=[20.0, 30.0])


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_units_must_be_a_positive_integer(units):
    with pytest.raises(ValueError, match="`units` must be a positive integer"):
        CTRNNCell(units)


def test_unknown_activation():
    with pytest.raises(ValueError, match="`activation` could not be interpreted: received 'tanhh'"):
        CTRNN(4, activation="tanhh")


@pytest.mark.parametrize("argument", ["kernel_initializer", "recurrent_initializer",
                                      "bias_initializer"])
def test_unknown_initializer(argument):
    with pytest.raises(ValueError, match=f"`{argument}` could not be interpreted"):
        CTRNN(4, **{argument: "glorot_sideways"})


def test_gain_only_with_gain_initializers():
    with pytest.raises(ValueError, match="`gain` applies to recurrent_initializer"):
        CTRNNCell(4, recurrent_initializer="glorot_uniform", gain=1.5)
    with pytest.raises(ValueError, match="`gain` must be a positive number"):
        CTRNNCell(4, gain=0.0)
    with pytest.raises(ValueError, match="`gain` must be a positive number"):
        GainNormal(gain=-1.0)


@pytest.mark.parametrize("argument", ["input_noise", "recurrent_noise"])
def test_noise_must_be_a_non_negative_std(argument):
    with pytest.raises(ValueError, match=f"`{argument}` must be a non-negative"):
        CTRNNCell(4, **{argument: -0.1})


def test_unknown_noise_sampler():
    with pytest.raises(ValueError, match="`noise_sampler` must be one of"):
        CTRNNCell(4, noise_sampler="fast")


@pytest.mark.parametrize("name,shape", [
    ("recurrent_connectivity", (4, 3)),
    ("recurrent_plasticity", (5, 5)),
    ("kernel_connectivity", (4, 3)),
    ("kernel_plasticity", (3,)),
])
def test_mask_of_wrong_shape(name, shape):
    expected = (4, 4) if name.startswith("recurrent") else (3, 4)
    message = f"`{name}` must have shape {expected}".replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=message):
        _built().set_masks(**{name: np.ones(shape)})
    with pytest.raises(ValueError, match=message):  # given to the constructor: at build
        _built(**{name: np.ones(shape)})


@pytest.mark.parametrize("value", [0.5, 2.0, -1.0, np.nan])
def test_non_binary_mask(value):
    mask = np.ones((4, 4))
    mask[1, 2] = value
    with pytest.raises(ValueError, match="`recurrent_plasticity` must hold only 0 and 1"):
        _built().set_masks(recurrent_plasticity=mask)


def test_nan_in_set_weights():
    layer = _built()
    weights = layer.get_weights()
    weights[1] = weights[1].copy()
    weights[1][0, 0] = np.nan
    with pytest.raises(ValueError, match="`weights` of ctrnn.*set_weights holds NaN or inf"):
        layer.set_weights(weights)
    assert np.all(np.isfinite(np.asarray(layer.recurrent_kernel)))  # nothing assigned
    cell = layer.cell
    weights[1][0, 0] = np.inf
    with pytest.raises(ValueError, match="`weights` of cell.set_weights holds NaN or inf"):
        cell.set_weights(weights)


@pytest.mark.parametrize("argument,weight", [
    ("kernel_initializer", "kernel"),
    ("recurrent_initializer", "recurrent_kernel"),
    ("bias_initializer", "bias"),
])
def test_nan_from_constant_initializer(argument, weight):
    with pytest.raises(ValueError, match=f"initial `{weight}` of .* holds NaN or inf"):
        _built(**{argument: keras.initializers.Constant(np.nan)})


def test_recurrent_signs_errors():
    with pytest.raises(ValueError, match="`recurrent_signs` must be 4 values of \\+1 or -1"):
        _built(recurrent_signs=[1, -1, 0, 1])
    with pytest.raises(ValueError, match="`recurrent_signs` must be 4 values"):
        _built(recurrent_signs=[1, -1])
    with pytest.raises(ValueError, match="without Dale's law; pass `dale=True`"):
        _built().set_recurrent_signs(np.ones(4))


@pytest.mark.parametrize("value", [0, -0.1, 1.5, True, "0.5", float("nan")])
def test_unit_fraction_names_the_argument_and_the_value(value):
    from ctxrnn.checks import unit_fraction

    with pytest.raises(ValueError, match=r"`stop_at` must be a number in \(0, 1\]; received "
                                         r"stop_at="):
        unit_fraction("stop_at", value)
    assert unit_fraction("stop_at", 1) == 1.0 and unit_fraction("stop_at", None,
                                                                   allow_none=True) is None
