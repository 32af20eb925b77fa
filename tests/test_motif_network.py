"""Driscoll's network (`ctxrnn.motifs`) and rule-input-only transfer on the Yang rules."""

import keras
import numpy as np
import pytest

from ctxrnn import motifs, transfer
from ctxrnn.layers import find_ctrnn
from ctxrnn.tasks import make
from ctxrnn.tasks.yang import fast_timing


@pytest.fixture(scope="module")
def suite():
    return motifs.motif_suite(["delaygo", "fdanti"])


def test_network_is_driscolls(suite):
    model = motifs.build_network(suite, units=24, seed=0)
    cell = find_ctrnn(model).cell
    assert np.isclose(cell.alpha, 0.2) and cell.activation is keras.activations.softplus
    assert np.allclose(keras.ops.convert_to_numpy(cell.recurrent_kernel), 0.6 * np.eye(24))
    kernel = keras.ops.convert_to_numpy(cell.kernel)
    assert kernel.shape == (suite.n_inputs, 24)
    assert 0.5 / np.sqrt(suite.n_inputs) < kernel.std() < 1.5 / np.sqrt(suite.n_inputs)
    # recurrent noise 0.05 scaled by sqrt(2 / alpha)
    assert np.isclose(float(cell.noise_std(cell.recurrent_noise)), 0.05 * np.sqrt(10))
    assert motifs.rule_rows(suite) == [65, 66]
    assert suite.input_names[65] == "context_delaygo"
    with pytest.raises(ValueError, match="not in the suite"):
        motifs.rule_rows(suite, ["dmsgo"])
    with pytest.raises(ValueError, match="rules"):
        motifs.motif_suite(["go"])


def test_saved_network_gives_identical_outputs(suite, tmp_path):
    model = motifs.build_network(suite, units=16, seed=1)
    batch = suite.validation_data(3, seed=0)
    before = model.predict(batch.inputs, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(batch.inputs, verbose=0), before)


def test_fit_records_curves_and_learns(suite):
    result = motifs.fit(suite, steps=20, eval_every=10, units=16, seed=0, validation_trials=20,
                        test_trials=20, stop_at_criterion=False)
    assert result.steps == 20 and [h["step"] for h in result.history] == [10, 20]
    assert set(result.accuracy) == {"delaygo", "fdanti"}
    assert {"val_accuracy_delaygo", "loss", "seconds"} <= set(result.history[0])
    assert result.history[-1]["loss"] < result.history[0]["loss"] * 1.5
    with pytest.raises(ValueError, match="steps"):
        motifs.fit(suite, steps=0)
    with pytest.raises(ValueError, match="build a new network"):
        motifs.fit(suite, result.model, units=8)


def test_transfer_trains_only_the_new_rule_row(suite):
    model = motifs.build_network(suite, units=16, seed=2)
    target = make("delayanti", timing=fast_timing("delayanti"))
    grown, grown_suite = transfer.add_task_head(model, target, suite, seed=0)
    frozen = transfer.frozen_weights(grown)
    cell = find_ctrnn(grown).cell
    kernel_before = keras.ops.convert_to_numpy(cell.kernel).copy()
    single = type(suite)([target], context="one_hot")
    history, _ = transfer.fit_task(grown, single, grown_suite, epochs=1, steps_per_epoch=5,
                                   learning_rate=1e-2, validation_trials=10)
    assert len(history) == 1
    for path, value in transfer.frozen_weights(grown).items():
        np.testing.assert_array_equal(value, frozen[path])
    changed = np.flatnonzero(np.any(keras.ops.convert_to_numpy(cell.kernel) != kernel_before, 1))
    assert changed.tolist() == motifs.rule_rows(grown_suite, ["delayanti"])
    assert transfer.plastic_parameter_count(grown) == 16
