"""Reuse a trained network for a new task: `freeze`, `add_task_head`, `transfer_task`.

Following Driscoll, Shenoy & Sussillo (2024) — a network that learned a set
of tasks transfers fast to a new task made of familiar computations by reusing
its dynamical motifs — a new task is added as a new context channel (a new
row of the input kernel) and, if it writes outputs the suite does not have, a
new readout head. The recurrent core, the old input rows and the old readout
stay frozen (through the CTRNN's plasticity masks, so they remain
bit-identical under any optimizer), and only the new rows and head learn. Old
trials carry 0 on the new channels, so every old task's outputs are unchanged.

```python
model, card = ctxrnn.load("jarne_context4")
suite = ctxrnn.zoo.suite_from_card(card)
result = transfer_task(model, "xor", suite, epochs=20)
result.accuracy, result.epochs_to_criterion
```
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn import seeding
from ctxrnn.layers import CTRNN, find_ctrnn
from ctxrnn.stacked import StackedDense
from ctxrnn.tasks.datasets import TrialDataset
from ctxrnn.metrics import decision_accuracy
from ctxrnn.readout import find_readouts

DEFAULT_CRITERION = 0.9  # per-task accuracy that counts as "learned"
# Only a few hundred entries learn in a transfer (the new rows), so a larger step
# than the 2e-3 of full training is safe; measured in experiments/RESULTS_transfer.md.
DEFAULT_TRANSFER_LEARNING_RATE = 1e-2
TRANSFER_CONTEXTS = ("one_hot", "pulse", "none")


# ------------------------------------------------------------------- freeze
def _freezable_heads(model: keras.Model) -> list[keras.layers.Layer]:
    """The readout layers `freeze` acts on: the `Dense` heads (`find_readouts`), and
    the `StackedDense` ones of a stacked model."""
    return find_readouts(model) + [layer for layer in model.layers
                                   if isinstance(layer, StackedDense)]


def freeze(model: keras.Model, recurrent: bool = True, inputs: bool | Sequence[int] = False,
           readout: bool | Sequence[str] = False, *, bias: bool | None = None) -> keras.Model:
    """Sets which parts of a ctxrnn model learn; returns the same model.

    Kernels are frozen through the CTRNN's plasticity masks (a frozen entry
    stays bit-identical under any optimizer); the bias, `tau` and the initial
    state (vectors without masks) and readout layers through `trainable`.
    Recompile the model after calling this.

    Args:
        model: a model with one `ctxrnn.CTRNN` layer (a stacked one too: the
            same entries are frozen in every network).
        recurrent: bool, freeze the recurrent kernel. Default: `True`.
        inputs: `True` freezes the whole input kernel, `False` none of it, or a
            sequence of input-channel indices whose rows are frozen (the others
            learn). Default: `False`.
        readout: `True`/`False` for every `Dense` layer of the model, or the
            names of the `Dense` layers to freeze. Default: `False`.
        bias: freeze the CTRNN's bias, `tau` and initial state; `None` follows
            `recurrent` (they are part of the recurrent core). Default: `None`.

    Returns:
        `model`, modified in place.
    """
    layer = find_ctrnn(model)
    cell = layer.cell
    n_in, units = tuple(cell.kernel.shape)[-2:]  # a stacked kernel is (K, n_in, units)
    if isinstance(inputs, bool):
        frozen_rows = list(range(n_in)) if inputs else []
    else:
        frozen_rows = [int(i) for i in inputs]
        bad = [i for i in frozen_rows if not 0 <= i < n_in]
        if bad:
            raise ValueError(f"Argument `inputs` holds channel indices {bad} outside [0, {n_in}); "
                             f"the model has {n_in} input channels.")
    kernel_plasticity = np.ones((n_in, units), np.float32)
    kernel_plasticity[frozen_rows] = 0.0
    layer.set_masks(
        recurrent_plasticity=np.full((units, units), 0.0 if recurrent else 1.0, np.float32),
        kernel_plasticity=kernel_plasticity,
    )
    core_frozen = recurrent if bias is None else bias
    if cell.bias is not None:
        cell.bias.trainable = not core_frozen
    if cell.initial_state is not None:
        cell.initial_state.trainable = not core_frozen
    if cell.tau_trainable:
        cell.tau_weight.trainable = not core_frozen
    heads = _freezable_heads(model)
    names = [head.name for head in heads]
    if isinstance(readout, bool):
        frozen_heads = set(names) if readout else set()
    else:
        frozen_heads = set(readout)
        unknown = frozen_heads - set(names)
        if unknown:
            raise ValueError(f"Argument `readout` names unknown layers {sorted(unknown)}; the "
                             f"readout layers are {names}.")
    for head in heads:
        head.trainable = head.name not in frozen_heads
    return model


def frozen_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """Copies of the frozen values of a model, keyed by weight path (for checks).

    The frozen entries of the CTRNN kernels (plasticity 0; other entries are
    set to 0 in the copy) and every non-trainable weight of the core and the
    readout layers, masks excluded.
    """
    layer = find_ctrnn(model)
    cell = layer.cell
    out = {}
    for kernel, plasticity in ((cell.kernel, cell.kernel_plasticity),
                               (cell.recurrent_kernel, cell.recurrent_plasticity)):
        mask = keras.ops.convert_to_numpy(plasticity) == 0
        out[kernel.path] = np.where(mask, keras.ops.convert_to_numpy(kernel), 0.0)
    for weight in [cell.bias, cell.tau_weight, cell.initial_state]:
        if weight is not None and not weight.trainable:
            out[weight.path] = keras.ops.convert_to_numpy(weight).copy()
    for head in _freezable_heads(model):
        if not head.trainable:
            for weight in head.weights:
                out[weight.path] = keras.ops.convert_to_numpy(weight).copy()
    return out


# -------------------------------------------------------------- growing
def _glorot_rows(rng, n_rows, fan_in, units):
    limit = np.sqrt(6.0 / (fan_in + units))
    return rng.uniform(-limit, limit, size=(n_rows, units)).astype(np.float32)


def _check_canonical(model, layer):
    heads = find_readouts(model)
    others = [lyr for lyr in model.layers
              if lyr is not layer and lyr not in heads
              and not isinstance(lyr, (keras.layers.InputLayer, keras.layers.Concatenate))]
    if len(model.inputs) != 1 or not heads or others:
        raise ValueError(
            f"add_task_head grows models built as Input -> CTRNN -> Dense readout(s) "
            f"(`ctxrnn.models.context_multitask`, or a model grown by add_task_head); "
            f"{model.name!r} has inputs {len(model.inputs)} and layers "
            f"{[type(lyr).__name__ for lyr in model.layers]}."
        )
    return heads


def add_task_head(model: keras.Model, task, suite, *, seed: int = 0,
                  freeze_old: bool = True) -> tuple[keras.Model, Any]:
    """Grows a context multitask model for a new task; returns `(model, suite)`.

    The new suite is `suite`'s tasks plus `task` (same context encoding). The
    input kernel gains a row for each new input channel — the new task's
    context channel and any stimulus channel the old suite lacks — matched by
    channel name, so every old row is copied exactly; new rows are drawn
    Glorot-uniform from `seed`. If the new task writes outputs the old suite
    does not have, a new `Dense` head `readout_<task>` computes them; old heads
    are copied. Every other weight (recurrent kernel, bias, tau, masks, ...)
    is copied exactly. The given model is not changed.

    With `freeze_old=True` (default) the recurrent core, the old input rows and
    the old readout are frozen (see `freeze`), so the new model computes the
    old tasks' outputs exactly as before on trials that carry 0 on the new
    channels, however the new parts are trained.

    Args:
        model: an `Input -> CTRNN -> Dense` model (e.g. from `ctxrnn.load`).
        task: a task name or `Task` (built with `suite.dt` when a name).
        suite: the `TaskSuite` the model was trained on
            (`ctxrnn.zoo.suite_from_card(card)`).
        seed: seed of the new rows and head.
        freeze_old: freeze what was there before. Default: `True`.

    Returns:
        `(grown_model, grown_suite)`; the model is uncompiled.

    Raises:
        ValueError: the task is already in the suite, the context encoding is
            `"scalar"` (its levels depend on the number of tasks, so old trials
            would change), or the model's channels do not match the suite.
    """
    from ctxrnn import tasks as tasks_lib

    layer = find_ctrnn(model)
    heads = _check_canonical(model, layer)
    if suite.context not in TRANSFER_CONTEXTS:
        raise ValueError(
            f"add_task_head needs a suite whose context is one of {TRANSFER_CONTEXTS}; received "
            f"context={suite.context!r} (scalar context levels change with the number of tasks)."
        )
    n_in, units = tuple(layer.cell.kernel.shape)
    if n_in != suite.n_inputs or model.outputs[0].shape[-1] != suite.n_outputs:
        raise ValueError(
            f"The model reads {n_in} inputs and writes {model.outputs[0].shape[-1]} outputs, the "
            f"suite has {suite.n_inputs} and {suite.n_outputs}; pass the suite the model was "
            "trained on."
        )
    if isinstance(task, str):
        task = tasks_lib.make(task, dt=suite.dt)
    if task.name in suite.task_names:
        raise ValueError(f"Task {task.name!r} is already in the suite {list(suite.task_names)}.")
    grown = tasks_lib.TaskSuite(list(suite.tasks) + [task], context=suite.context,
                                mixing=suite.mixing, cue_ms=suite.cue_steps * suite.dt,
                                seed=suite.seed)
    rng = np.random.default_rng(seed)
    old_rows = [grown.input_names.index(name) for name in suite.input_names]
    new_rows = [i for i in range(grown.n_inputs) if i not in old_rows]

    config = layer.get_config()
    for key in ("name", "trainable", "dtype"):
        config.pop(key, None)
    inputs = keras.Input((None, grown.n_inputs), name="inputs")
    new_layer = CTRNN(name=layer.name, **config)
    states = new_layer(inputs)
    new_heads = []
    for head in heads:
        clone = keras.layers.Dense.from_config(head.get_config())
        new_heads.append(clone)
    new_outputs = [name for name in grown.output_names if name not in suite.output_names]
    if new_outputs:
        new_heads.append(keras.layers.Dense(len(new_outputs), name=f"readout_{task.name}"))
    parts = [head(states) for head in new_heads]
    outputs = parts[0] if len(parts) == 1 else keras.layers.Concatenate(
        name=f"outputs_{len(parts)}")(parts)
    name = f"{model.name}_{task.name}"
    new_model = keras.Model(inputs, outputs, name=name)

    old_cell, cell = layer.cell, new_layer.cell
    by_name = {weight.name: keras.ops.convert_to_numpy(weight) for weight in old_cell.weights}
    for weight in cell.weights:
        value = by_name[weight.name]
        if tuple(weight.shape) != value.shape:  # an input-kernel-shaped weight
            grown_value = np.zeros(tuple(weight.shape), np.float32)
            grown_value[old_rows] = value
            if weight.name == "kernel":
                grown_value[new_rows] = _glorot_rows(rng, len(new_rows), grown.n_inputs, units)
            elif weight.name in ("kernel_connectivity", "kernel_plasticity"):
                grown_value[new_rows] = 1.0
            value = grown_value
        weight.assign(value)
    cell._commit_kernels()
    for old, new in zip(heads, new_heads):
        new.set_weights(old.get_weights())
    if new_outputs:
        head = new_heads[-1]
        head.kernel.assign(_glorot_rows(rng, units, units, len(new_outputs)).reshape(
            units, len(new_outputs)))
        head.bias.assign(np.zeros(len(new_outputs), np.float32))
    if freeze_old:
        freeze(new_model, recurrent=True, inputs=old_rows,
               readout=[head.name for head in new_heads[:len(heads)]])
    return new_model, grown


# ------------------------------------------------------------- training
def remap(batch, from_names: Sequence[str], to_names: Sequence[str], *, kind: str = "inputs"):
    """Copies the channels of `batch.<kind>` into a wider layout by channel name.

    Returns an array `(batch, time, len(to_names))`, zero on channels that
    `from_names` lacks.
    """
    array = getattr(batch, kind)
    out = np.zeros(array.shape[:2] + (len(to_names),), array.dtype)
    for i, name in enumerate(from_names):
        out[..., list(to_names).index(name)] = array[..., i]
    return out


def task_arrays(single, grown, batch):
    """`(inputs, targets, loss_mask)` of a single-task batch in the grown layout."""
    return (remap(batch, single.input_names, grown.input_names),
            remap(batch, single.output_names, grown.output_names, kind="targets"),
            remap(batch, single.output_names, grown.output_names, kind="loss_mask"))


def task_accuracy(model, single, grown, batch) -> float:
    """Accuracy of `model` (grown layout) on a single-task `batch`."""
    outputs = model.predict(remap(batch, single.input_names, grown.input_names),
                            batch_size=256, verbose=0)
    columns = [list(grown.output_names).index(name) for name in single.output_names]
    return decision_accuracy(outputs[..., columns], batch, single)


class _Accuracy(keras.callbacks.Callback):
    def __init__(self, single, grown, batch, criterion, stop):
        super().__init__()
        self.args = (single, grown, batch)
        self.criterion, self.stop = criterion, stop
        self.history: list[float] = []

    def on_train_begin(self, logs=None):
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        value = task_accuracy(self.model, *self.args)
        self.history.append(value)
        if logs is not None:
            logs["task_accuracy"] = value
        if self.stop and value >= self.criterion:
            self.model.stop_training = True


@dataclasses.dataclass
class TransferResult:
    """What `transfer` returns.

    Attributes:
        model: the trained grown model.
        suite: its `TaskSuite` (old tasks + the new one).
        task: the new task's name.
        accuracy: final accuracy on the new task (held-out trials).
        history: accuracy on the new task after each epoch.
        epochs_to_criterion: first epoch (1-based) at which `history` reached
            the criterion, or `None`.
        trainable_parameters: number of entries that learned.
    """

    model: keras.Model
    suite: Any
    task: str
    accuracy: float
    history: list[float]
    epochs_to_criterion: int | None
    trainable_parameters: int


def plastic_parameter_count(model: keras.Model) -> int:
    """Entries that training can change: plastic kernel entries plus trainable vectors/heads."""
    cell = find_ctrnn(model).cell
    count = 0
    for weight in model.trainable_weights:
        if weight is cell.kernel:
            count += int(np.sum(keras.ops.convert_to_numpy(
                cell.kernel_plasticity * cell.kernel_connectivity)))
        elif weight is cell.recurrent_kernel:
            count += int(np.sum(keras.ops.convert_to_numpy(
                cell.recurrent_plasticity * cell.recurrent_connectivity)))
        else:
            count += int(np.prod(weight.shape))
    return count


def fit_task(model: keras.Model, single, grown, *, epochs: int = 20, steps_per_epoch: int = 50,
             batch_size: int = 64, learning_rate: float = 2e-3, criterion: float = DEFAULT_CRITERION,
             stop_at_criterion: bool = False, validation_trials: int = 200, seed: int = 0,
             verbose: int = 0) -> tuple[list[float], int | None]:
    """Compiles `model` and trains it on trials of one task; returns (history, epochs_to_criterion).

    `single` is the one-task suite generating the trials, `grown` the suite
    whose channel layout the model reads (they may be the same).
    """
    from ctxrnn.models import compile_model

    compile_model(model, learning_rate=learning_rate, metrics=[])
    validation = single.validation_data(validation_trials,
                                        seed=seeding.derive(seed, "validation"))
    tracker = _Accuracy(single, grown, validation, criterion, stop_at_criterion)
    data = TrialDataset(single, batch_size, steps_per_epoch, seeding.derive(seed, "trials"),
                        to_arrays=functools.partial(task_arrays, single, grown))
    model.fit(data, epochs=epochs, callbacks=[tracker], verbose=verbose)
    reached = [i + 1 for i, value in enumerate(tracker.history) if value >= criterion]
    return tracker.history, (reached[0] if reached else None)


def transfer_task(model: keras.Model, task, suite, *, epochs: int = 20, steps_per_epoch: int = 50,
             batch_size: int = 64, learning_rate: float = DEFAULT_TRANSFER_LEARNING_RATE,
             criterion: float = DEFAULT_CRITERION, stop_at_criterion: bool = False,
             validation_trials: int = 200, test_trials: int = 400, seed: int = 0,
             verbose: int = 0) -> TransferResult:
    """Adds `task` to a trained model and trains only what is plastic on it.

    `add_task_head(model, task, suite, seed=seed)` (old parts frozen), then
    `fit` on trials of the new task alone (in the grown channel layout; old
    tasks need no rehearsal since nothing they use can change).

    Args:
        model, task, suite: as in `add_task_head`.
        epochs, steps_per_epoch, batch_size, learning_rate: optimisation (Adam,
            clipnorm 1, masked MSE — `ctxrnn.models.compile_model`). Default
            learning rate: `1e-2`.
        criterion: accuracy that counts as learned. Default: `0.9`.
        stop_at_criterion: stop once the criterion is reached. Default: `False`.
        validation_trials: trials of the per-epoch accuracy check.
        test_trials: trials of the final accuracy (another seed).
        seed: seed of new weights and trials.
        verbose: Keras verbosity.

    Returns:
        A `TransferResult`.
    """
    from ctxrnn import tasks as tasks_lib

    grown_model, grown = add_task_head(model, task, suite, seed=seed)
    new = grown.tasks[-1]
    single = tasks_lib.TaskSuite([new], context=suite.context, cue_ms=suite.cue_steps * suite.dt)
    history, reached = fit_task(
        grown_model, single, grown, epochs=epochs, steps_per_epoch=steps_per_epoch,
        batch_size=batch_size, learning_rate=learning_rate, criterion=criterion,
        stop_at_criterion=stop_at_criterion, validation_trials=validation_trials, seed=seed,
        verbose=verbose)
    test = single.validation_data(test_trials, seed=seeding.derive(seed, "test"))
    return TransferResult(
        model=grown_model, suite=grown, task=new.name,
        accuracy=task_accuracy(grown_model, single, grown, test), history=history,
        epochs_to_criterion=reached, trainable_parameters=plastic_parameter_count(grown_model))
