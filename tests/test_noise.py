"""Noise: documented stationary statistics, training-only, seeded; the table sampler."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from ctxrnn import CTRNN, CTRNNCell
from ctxrnn.cells import stationary_noise_std
from ctxrnn.noise import quantile_table, standard_normal

SIGMA = 0.2
TAU = 100.0
BURN_IN_TAUS = 8  # (1 - alpha)^(8 / alpha) < e^-8 of the initial state is left


def _noise_only(layer_cls, dt, steps, batch, units=16, **noise):
    """A layer with zero weights and a linear activation: h is pure filtered noise."""
    kwargs = dict(dt=dt, tau=TAU, activation="linear", kernel_initializer="zeros",
                  recurrent_initializer="zeros", seed=11, **noise)
    x = np.zeros((batch, steps, 2), "float32")
    if layer_cls is CTRNN:
        layer = CTRNN(units, **kwargs)
    else:
        layer = keras.layers.RNN(CTRNNCell(units, **kwargs), return_sequences=True)
    return layer, x


def _stationary_std(states, alpha):
    burn_in = int(np.ceil(BURN_IN_TAUS / alpha))
    assert states.shape[1] > burn_in + 50
    return np.asarray(states)[:, burn_in:].std()


@pytest.mark.parametrize("dt", [10.0, 50.0])  # alpha = 0.1 and 0.5
def test_stationary_std_of_recurrent_noise_matches_formula(dt):
    alpha = dt / TAU
    layer, x = _noise_only(CTRNN, dt, steps=int(BURN_IN_TAUS / alpha) + 400, batch=128,
                           recurrent_noise=SIGMA)
    measured = _stationary_std(layer(x, training=True), alpha)
    assert measured == pytest.approx(stationary_noise_std(SIGMA, alpha), rel=0.012)
    # and not the unscaled value (sigma enters once per step without sqrt(2 / alpha))
    assert abs(measured - SIGMA * np.sqrt(alpha / (2 - alpha))) > 0.5 * SIGMA


def test_stationary_std_does_not_depend_on_dt_much():
    # sigma / sqrt(1 - alpha / 2): 0.2052 at alpha 0.1 and 0.2309 at alpha 0.5, vs
    # sigma * sqrt(alpha / (2 - alpha)) = 0.046 and 0.115 without the scaling.
    assert stationary_noise_std(SIGMA, 0.1) / SIGMA == pytest.approx(1.0259783520851542)
    assert stationary_noise_std(SIGMA, 0.5) / SIGMA == pytest.approx(1.1547005383792515)


def test_input_noise_through_identity_kernel_matches_formula():
    dt, units = 20.0, 8
    alpha = dt / TAU
    layer = CTRNN(units, dt=dt, tau=TAU, activation="linear", recurrent_initializer="zeros",
                  kernel_initializer="identity", input_noise=SIGMA, seed=2)
    x = np.zeros((128, int(BURN_IN_TAUS / alpha) + 400, units), "float32")
    measured = _stationary_std(layer(x, training=True), alpha)
    assert measured == pytest.approx(stationary_noise_std(SIGMA, alpha), rel=0.012)


def test_cell_in_keras_rnn_has_the_same_noise_statistics():
    dt = 50.0
    alpha = dt / TAU
    layer, x = _noise_only(CTRNNCell, dt, steps=int(BURN_IN_TAUS / alpha) + 150, batch=64,
                           recurrent_noise=SIGMA)
    measured = _stationary_std(layer(x, training=True), alpha)
    assert measured == pytest.approx(stationary_noise_std(SIGMA, alpha), rel=0.02)


def test_unscaled_noise_is_added_as_given():
    dt = 50.0
    alpha = dt / TAU
    layer, x = _noise_only(CTRNN, dt, steps=int(BURN_IN_TAUS / alpha) + 400, batch=128,
                           recurrent_noise=SIGMA, scale_noise=False)
    measured = _stationary_std(layer(x, training=True), alpha)
    assert measured == pytest.approx(SIGMA * np.sqrt(alpha / (2 - alpha)), rel=0.012)


@pytest.mark.parametrize("sampler", ["table", "exact"])
def test_noise_only_in_training_unless_asked(sampler):
    x = np.random.default_rng(0).normal(size=(4, 20, 2)).astype("float32")
    quiet = CTRNN(6, seed=3)
    noisy = CTRNN(6, seed=3, recurrent_noise=0.1, input_noise=0.1, noise_sampler=sampler)
    always = CTRNN(6, seed=3, recurrent_noise=0.1, noise_at_inference=True,
                   noise_sampler=sampler)
    reference = np.asarray(quiet(x))
    np.testing.assert_array_equal(np.asarray(noisy(x)), reference)
    np.testing.assert_array_equal(np.asarray(noisy(x, training=False)), reference)
    assert np.abs(np.asarray(noisy(x, training=True)) - reference).max() > 1e-2
    first, second = np.asarray(always(x)), np.asarray(always(x))
    assert np.abs(first - reference).max() > 1e-2
    assert not np.array_equal(first, second)  # fresh noise on every call

    inputs = keras.Input((20, 2))
    model = keras.Model(inputs, CTRNN(6, seed=3, recurrent_noise=0.1)(inputs))
    np.testing.assert_array_equal(model.predict(x, verbose=0), reference)


@pytest.mark.parametrize("sampler", ["table", "exact"])
def test_same_seed_same_noise_different_seed_different(sampler):
    x = np.zeros((3, 15, 2), "float32")

    def run(seed):
        layer = CTRNN(5, seed=seed, recurrent_noise=0.1, input_noise=0.1,
                      noise_sampler=sampler)
        return np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True))

    a_first, a_second = run(7)
    b_first, b_second = run(7)
    c_first, _ = run(8)
    np.testing.assert_array_equal(a_first, b_first)
    np.testing.assert_array_equal(a_second, b_second)
    assert not np.array_equal(a_first, a_second)
    assert not np.allclose(a_first, c_first)


def test_quantile_table():
    table = quantile_table()
    assert table.shape == (65536,) and table.dtype == np.float32
    assert np.all(np.diff(table) > 0)
    assert abs(table.mean()) < 1e-6
    assert np.mean(table.astype(np.float64) ** 2) == pytest.approx(1.0, abs=1e-6)
    assert np.abs(table).max() <= 4.34
    np.testing.assert_allclose(table, -table[::-1], atol=1e-6)  # symmetric


@pytest.mark.parametrize("sampler,max_abs", [("table", 4.34), ("exact", None)])
def test_sampler_statistics(sampler, max_abs):
    samples = np.asarray(
        standard_normal([1000, 1001], tf.constant([3, 4]), sampler=sampler)
    ).ravel()  # odd last dimension: the table sampler draws pairs and trims
    assert samples.size == 1001000 and samples.dtype == np.float32
    assert abs(samples.mean()) < 0.005  # 5 standard errors
    assert samples.std() == pytest.approx(1.0, abs=0.004)
    assert stats.kstest(samples, "norm").statistic < 0.002  # 1e6 samples: ~0.0009 typical
    assert abs(stats.skew(samples)) < 0.015
    assert abs(stats.kurtosis(samples)) < 0.03
    if max_abs is not None:
        assert np.abs(samples).max() <= max_abs


@pytest.mark.parametrize("sampler", ["table", "exact"])
def test_sampler_is_seeded_and_respects_dtype_and_shape(sampler):
    a = standard_normal(tf.constant([7, 5, 3]), tf.constant([1, 2]), sampler=sampler)
    b = standard_normal(tf.constant([7, 5, 3]), tf.constant([1, 2]), sampler=sampler)
    c = standard_normal(tf.constant([7, 5, 3]), tf.constant([1, 3]), sampler=sampler)
    assert a.shape == (7, 5, 3)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    half = standard_normal([4, 6], tf.constant([1, 2]), dtype=tf.float16, sampler=sampler)
    assert half.dtype == tf.float16


def test_unknown_sampler_raises():
    with pytest.raises(ValueError, match="`sampler`"):
        standard_normal([2, 2], tf.constant([0, 0]), sampler="fast")
