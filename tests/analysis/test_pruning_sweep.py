"""pruning_sweep: exact removal by magnitude, batched equals one-by-one, model untouched."""

import keras
import numpy as np
import pytest

import ctxrnn
from ctxrnn import masks, tasks
from ctxrnn.analysis.pruning import pruning_sweep
from ctxrnn.metrics import output_target_distance
from ctxrnn.models import context_multitask


@pytest.fixture(scope="module")
def setup():
    suite = tasks.TaskSuite(["and", "or"], dt=5.0)
    model = context_multitask(suite, units=24, seed=0)
    batch = suite.validation_data(20, seed=1)
    return suite, model, batch


def test_each_fraction_equals_a_pruned_copy_and_the_model_is_untouched(setup):
    suite, model, batch = setup
    layer = ctxrnn.find_ctrnn(model)
    weights = keras.ops.convert_to_numpy(layer.recurrent_kernel).copy()
    fractions = [0.0, 0.1, 0.3]
    result = pruning_sweep(model, batch, suite.correct, fractions=fractions,
                           families=("magnitude",))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.recurrent_kernel), weights)
    assert np.all(keras.ops.convert_to_numpy(layer.recurrent_connectivity) == 1)
    for k, fraction in enumerate(fractions):
        mask = masks.prune_lowest_magnitude(weights, fraction)
        assert (mask == 0).sum() == round(fraction * weights.size)
        removed = np.abs(weights[mask == 0])
        kept = np.abs(weights[mask == 1])
        assert removed.size == 0 or removed.max() <= kept.min()
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        ctxrnn.find_ctrnn(clone).set_masks(recurrent_connectivity=mask)
        outputs = clone.predict(batch.inputs, verbose=0)
        assert result["families"]["magnitude"]["distance"][k] == pytest.approx(
            output_target_distance(outputs, batch.targets, batch.loss_mask), rel=1e-4)
        assert result["families"]["magnitude"]["accuracy"][k] == pytest.approx(
            float(suite.correct(outputs, batch).mean()), abs=1e-6)


def test_families_and_padding(setup):
    suite, model, batch = setup
    result = pruning_sweep(model, batch, suite.correct, fractions=[0.0, 0.2, 0.9])
    assert set(result["families"]) == {"magnitude", "positive", "negative", "random"}
    assert np.isnan(result["families"]["positive"]["accuracy"][2])  # < 90 % are positive
    assert set(result["families"]["random"]["per_task_accuracy"]) == {"and", "or"}
    assert "knee" in result and "distance_knee" in result
    positive = result["families"]["positive"]
    assert positive["max_fraction"] == 0.2 and positive["knee"]["accuracy"] <= 0.2
    magnitude = result["families"]["magnitude"]
    assert magnitude["max_fraction"] == 0.9
    assert magnitude["knee"] == {"accuracy": result["knee"]["fraction"],
                                 "distance": result["distance_knee"]["fraction"]}


def test_bad_fractions_are_named(setup):
    suite, model, batch = setup
    with pytest.raises(ValueError, match="fractions"):
        pruning_sweep(model, batch, suite.correct, fractions=[0.1, 0.2])
    with pytest.raises(ValueError, match="families"):
        pruning_sweep(model, batch, suite.correct, families=("bands",))
