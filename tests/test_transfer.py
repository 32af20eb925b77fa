"""`freeze`, `add_task_head`, `transfer` and the `transfer` command, on a shipped model."""

import argparse

import keras
import numpy as np
import pytest

from ctxrnn import tasks, zoo
from ctxrnn.cli import zoo as zoo_cli
from ctxrnn import transfer as tr
from ctxrnn.layers import find_ctrnn
from ctxrnn.tasks.base import Task, binary_choice

BASE = "jarne_context4"
QUICK = {"epochs": 2, "steps_per_epoch": 4, "batch_size": 16, "validation_trials": 20,
         "test_trials": 20}


class Copy(Task):
    """A task with an output channel the Jarne suite lacks: copy pulse `A` to `copy`."""

    name = "copy_pulse"
    input_names = ("A",)
    output_names = ("copy",)
    timing = {"fixation": 30.0, "stimulus": 20.0, "response": 30.0}

    def _trials(self, rng, n):
        return {"value": rng.integers(0, 2, size=n).astype(np.float32)}

    def _fill(self, batch, epochs, truth):
        batch["inputs"][..., 0] = self.window(epochs, "stimulus") * truth["value"][:, None]
        batch["targets"][..., 0] = self.window(epochs, "response") * truth["value"][:, None]

    def correct(self, outputs, batch):
        return binary_choice(outputs, batch, threshold=0.5)


@pytest.fixture(scope="module")
def base():
    model, card = zoo.load(BASE)
    return model, zoo.suite_from_card(card)


def _weights(model):
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.weights}


def _old_outputs(model, suite, grown_model, grown, seed=5):
    batch = suite.validation_data(20, seed=seed)
    old = model.predict(batch.inputs, verbose=0)
    new = grown_model.predict(tr.remap(batch, suite.input_names, grown.input_names), verbose=0)
    columns = [grown.output_names.index(name) for name in suite.output_names]
    return old, new[..., columns]


# -------------------------------------------------------------------- freeze
def test_freeze_sets_masks_and_trainable_flags(base):
    model = keras.models.clone_model(base[0])
    layer = find_ctrnn(model)
    tr.freeze(model, recurrent=True, inputs=[0, 2], readout=True)
    masks = layer.get_masks()
    assert not masks["recurrent_plasticity"].any()
    assert not masks["kernel_plasticity"][[0, 2]].any() and masks["kernel_plasticity"][[1, 3]].all()
    assert not layer.cell.bias.trainable and not model.get_layer("readout").trainable
    tr.freeze(model, recurrent=False, inputs=True, readout=False)
    masks = layer.get_masks()
    assert masks["recurrent_plasticity"].all() and not masks["kernel_plasticity"].any()
    assert layer.cell.bias.trainable and model.get_layer("readout").trainable


def test_freeze_rejects_bad_channels_and_heads(base):
    model = keras.models.clone_model(base[0])
    with pytest.raises(ValueError, match="outside"):
        tr.freeze(model, inputs=[99])
    with pytest.raises(ValueError, match="nope"):
        tr.freeze(model, readout=["nope"])


# ------------------------------------------------------------- add_task_head
def test_new_context_row_copies_every_old_weight_exactly(base):
    model, suite = base
    before = _weights(model)
    grown_model, grown = tr.add_task_head(model, "xor", suite, seed=1)
    assert list(grown.task_names) == list(suite.task_names) + ["xor"]
    assert grown.input_names == suite.input_names + ["context_xor"]
    old_cell, cell = find_ctrnn(model).cell, find_ctrnn(grown_model).cell
    kernel = keras.ops.convert_to_numpy(cell.kernel)
    np.testing.assert_array_equal(kernel[:-1], keras.ops.convert_to_numpy(old_cell.kernel))
    assert np.abs(kernel[-1]).max() > 0  # the new row is initialised
    for name in ("recurrent_kernel", "bias", "tau_weight", "recurrent_connectivity"):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(getattr(cell, name)),
                                      keras.ops.convert_to_numpy(getattr(old_cell, name)))
    for old, new in zip(model.get_layer("readout").weights, grown_model.get_layer("readout").weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(old), keras.ops.convert_to_numpy(new))
    masks = cell.get_masks()
    assert not masks["recurrent_plasticity"].any()
    assert not masks["kernel_plasticity"][:-1].any() and masks["kernel_plasticity"][-1].all()
    assert all(np.array_equal(before[k], v) for k, v in _weights(model).items())  # untouched
    old, new = _old_outputs(model, suite, grown_model, grown)
    assert np.array_equal(old, new)


def test_new_outputs_get_their_own_head(base):
    model, suite = base
    grown_model, grown = tr.add_task_head(model, Copy(dt=suite.dt), suite)
    assert grown.output_names == ["out", "copy"] and grown.input_names[-1] == "context_copy_pulse"
    assert grown_model.output.shape[-1] == 2
    assert not grown_model.get_layer("readout").trainable
    assert grown_model.get_layer("readout_copy_pulse").trainable


@pytest.mark.parametrize("context", ["scalar"])
def test_scalar_context_and_repeated_task_are_refused(base, context):
    model, suite = base
    with pytest.raises(ValueError, match="already in the suite"):
        tr.add_task_head(model, "and", suite)
    scalar = tasks.TaskSuite(list(suite.tasks), context=context)
    with pytest.raises(ValueError, match="context"):
        tr.add_task_head(model, "xor", scalar)
    other = tasks.TaskSuite(["and", "or"], dt=suite.dt)
    with pytest.raises(ValueError, match="suite the model was trained on"):
        tr.add_task_head(model, "xor", other)


def test_non_canonical_models_are_refused(base):
    inputs = keras.Input((None, base[1].n_inputs))
    layer = find_ctrnn(base[0])
    config = {k: v for k, v in layer.get_config().items() if k not in ("name", "dtype", "trainable")}
    states = type(layer)(**config)(inputs)
    odd = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dropout(0.1)(states)))
    with pytest.raises(ValueError, match="Input -> CTRNN -> Dense"):
        tr.add_task_head(odd, "xor", base[1])


# ------------------------------------------------------------------ transfer
@pytest.mark.parametrize("task", ["xor", Copy(dt=5.0)], ids=["context_row", "new_head"])
def test_transfer_keeps_frozen_parts_and_old_outputs_bit_identical(base, task):
    model, suite = base
    grown_model, _ = tr.add_task_head(model, task, suite, seed=0)
    frozen = tr.frozen_weights(grown_model)
    learned = {k: v for k, v in _weights(grown_model).items()}
    result = tr.transfer_task(model, task, suite, seed=0, **QUICK)
    after = tr.frozen_weights(result.model)
    assert frozen.keys() == after.keys() and "ctrnn/cell/recurrent_kernel" in frozen
    for key in frozen:
        assert np.array_equal(frozen[key], after[key]), key
    kernel_path = find_ctrnn(result.model).cell.kernel.path
    new_kernel = keras.ops.convert_to_numpy(find_ctrnn(result.model).cell.kernel)
    assert not np.array_equal(new_kernel[-1], learned[kernel_path][-1])  # the new row learned
    old, new = _old_outputs(model, suite, result.model, result.suite)
    assert np.array_equal(old, new)
    assert len(result.history) == QUICK["epochs"] and 0.0 <= result.accuracy <= 1.0
    n_new_rows = len(result.suite.input_names) - len(suite.input_names)
    head = 0 if isinstance(task, str) else find_ctrnn(model).units + 1
    assert result.trainable_parameters == n_new_rows * find_ctrnn(model).units + head


# ---------------------------------------------------------------------- CLI
def test_transfer_command_saves_a_loadable_grown_model(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="ctxrnn")
    zoo_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["transfer", BASE, "--task", "xor", "--out", str(tmp_path),
                              "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "16"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "xor" in out and "saved" in out
    model, card = zoo.load(tmp_path / f"{BASE}+xor.keras")
    assert card["suite"]["task_names"][-1] == "xor" and card["training"]["base_model"] == BASE
    assert model.input.shape[-1] == len(card["suite"]["input_names"])


def test_transfer_command_reports_unknown_task(capsys):
    parser = argparse.ArgumentParser(prog="ctxrnn")
    zoo_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["transfer", BASE, "--task", "no_such_task", "--epochs", "1"])
    assert args.func(args) == 2
    assert "no_such_task" in capsys.readouterr().err
