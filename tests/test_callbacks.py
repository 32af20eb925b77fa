"""WeightStatistics inside fit: History scalars, run-directory records, scipy equality."""

import json

import keras
import numpy as np
import pytest
from scipy import stats

import ctxrnn
from ctxrnn.callbacks import WeightStatistics, model_weights
from ctxrnn.runs import RunDirectory


def _model(units=16):
    inputs = keras.Input((10, 2))
    states = ctxrnn.CTRNN(units, dt=10.0, tau=20.0, seed=0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="readout")(states))
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 10, 2)).astype("float32"), rng.normal(size=(32, 10, 1)).astype("float32")


def test_scalars_reach_history_and_match_scipy(data, tmp_path):
    model = _model()
    callback = WeightStatistics(tmp_path / "run", every=1)
    history = model.fit(*data, epochs=3, batch_size=16, verbose=0, callbacks=[callback])
    for key in ("wrec_mean", "wrec_std", "wrec_skewness", "wrec_kurtosis",
                "wrec_spectral_radius", "wrec_n_outside_unit_circle"):
        assert len(history.history[key]) == 3
    w = model_weights(model)["recurrent_kernel"].ravel()
    # moments are formed in float32: near-zero skewness needs an absolute tolerance
    assert history.history["wrec_skewness"][-1] == pytest.approx(stats.skew(w), rel=1e-5,
                                                                 abs=1e-6)
    assert history.history["wrec_kurtosis"][-1] == pytest.approx(stats.kurtosis(w), rel=1e-5,
                                                                 abs=1e-6)
    assert history.history["wrec_std"][-1] == pytest.approx(w.std(), rel=1e-5)
    radius = np.abs(np.linalg.eigvals(w.reshape(16, 16))).max()
    assert history.history["wrec_spectral_radius"][-1] == pytest.approx(radius, rel=1e-4)


def test_run_directory_records_initial_and_final(data, tmp_path):
    model = _model()
    initial = model_weights(model)["recurrent_kernel"]
    run_path = tmp_path / "run"
    model.fit(*data, epochs=2, verbose=0, callbacks=[WeightStatistics(run_path, every=1)])
    run = RunDirectory(run_path, create=True)
    records = run.load_statistics()
    assert [r["epoch"] for r in records] == [0, 1, 2]
    np.testing.assert_array_equal(run.load_weights("initial")["recurrent_kernel"], initial)
    np.testing.assert_array_equal(run.load_weights("final")["recurrent_kernel"],
                                  model_weights(model)["recurrent_kernel"])
    eigs = run.load_eigenvalues(2, "recurrent_kernel")
    assert eigs.shape == (16,) and np.iscomplexobj(eigs)
    json.loads(run.statistics_path.read_text())
    # A second fit continues the record instead of restarting it.
    model.fit(*data, epochs=1, verbose=0, callbacks=[WeightStatistics(run_path)])
    assert [r["epoch"] for r in run.load_statistics()] == [0, 1, 2, 3]
    np.testing.assert_array_equal(run.load_weights("initial")["recurrent_kernel"], initial)


def test_statistics_use_existing_connections_only(data):
    model = _model()
    layer = ctxrnn.find_ctrnn(model)
    connectivity = ctxrnn.masks.module_mask((8, 8), inter_density=0.0)
    layer.set_masks(recurrent_connectivity=connectivity)
    callback = WeightStatistics(every=1)
    model.fit(*data, epochs=1, verbose=0, callbacks=[callback])
    w = model_weights(model)["recurrent_kernel"]
    existing = w[connectivity > 0]
    assert callback.records[-1]["mean"] == pytest.approx(existing.mean(), rel=1e-5, abs=1e-7)
    assert np.all(w[connectivity == 0] == 0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="every"):
        WeightStatistics(every=0)
    with pytest.raises(ValueError, match="weights"):
        WeightStatistics(weights=("gates",))
