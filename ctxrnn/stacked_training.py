"""Training runs that differ only in their seed, stacked into one `fit`.

`train_stacked_runs` is `ctxrnn.training.train_run` for K configurations that
differ only in `seed`: one `StackedModel` holds the K networks (network k
initialised from seed k, fed seed k's trials and noise), one `fit` trains them,
and each run directory ends as a `train_run` leaves it (`config.json`,
`history.json`, statistics and spectra per epoch, `pruning.json`,
`evaluation.json`, `examples.npz`, `model.keras`, status `complete`). The
per-epoch records come from the same callbacks as `train_run`'s, each acting on
an ordinary model that holds network k's weights.

Network k starts from the weights `train_run` draws for seed k and sees seed
k's trials and noise, so the stack trains what K separate runs would, up to
float32 rounding (batched matmuls round differently from single ones;
`tests/test_stacked_training.py` compares a stack with `train_run`). What
differs, so a stacked run is its own configuration (`ctxrnn sweep` keys it
with the seeds of its stack):

- that rounding, which training amplifies: the numbers agree closely, not bit
  for bit (trials of unequal length would also be padded to the stack's
  longest, and the noise drawn at that length);
- a stack killed midway starts again from its first epoch (no checkpoints):
  it is deterministic, so the rerun ends where an uninterrupted one would;
- the saved models carry no optimizer state;
- `history.json` has no `decision_accuracy` (the training batches' accuracy,
  a compiled metric that K copies would make slow to trace); `val_accuracy`
  and the per-task validation accuracies are there.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import keras
import numpy as np
from keras import ops

from ctxrnn import seeding
from ctxrnn.callbacks import PruningSweep, WeightStatistics, validation_logs
from ctxrnn.losses import MaskedMSE
from ctxrnn.models import DEFAULT_CLIPNORM, compile_model
from ctxrnn.runs import RunDirectory
from ctxrnn.training import (TrainConfig, TrainingDivergedError, _prepare_directory,
                             build_model, finish_run, make_suite)


def check_stackable(configs: Sequence[TrainConfig]) -> None:
    """Raises `ValueError` unless `configs` can train as one stack.

    They must be two or more full-rank `TrainConfig`s with distinct seeds that
    are otherwise equal.
    """
    if len(configs) < 2:
        raise ValueError(f"Argument `configs` must hold at least 2 configurations to stack; "
                         f"received {len(configs)}.")
    if not all(isinstance(c, TrainConfig) for c in configs):
        raise ValueError("Argument `configs` must hold `TrainConfig`s; received "
                         f"{[type(c).__name__ for c in configs]}.")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"Stacked runs need distinct seeds; received seeds={seeds}.")
    first = configs[0]
    for other in configs[1:]:
        changed = {k: v for k, v in first.differences(other).items() if k != "seed"}
        if changed:
            raise ValueError(f"Stacked runs may differ only in `seed`; received configurations "
                             f"that differ in {changed}.")
    if first.rank:
        raise ValueError(f"Low-rank networks do not stack yet; received rank={first.rank}.")


class _NetworkLosses(keras.metrics.Metric):
    """Each network's `MaskedMSE`, averaged over the epoch's batches: what Keras logs
    as `loss` for a model trained alone, here `loss_0` ... `loss_{K-1}` (one vectorised
    metric, cheap to trace, where K `MaskedMSE` metrics are not)."""

    def __init__(self, networks: int, name: str = "network_losses"):
        super().__init__(name=name)
        self.networks = networks
        self.total = self.add_variable(shape=(networks,), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = ops.square(y_pred - ops.cast(y_true, y_pred.dtype))
        mask = (ops.ones_like(error) if sample_weight is None
                else ops.broadcast_to(ops.cast(sample_weight, error.dtype), ops.shape(error)))
        axes = (0, *range(2, len(error.shape)))
        losses = ops.sum(mask * error, axis=axes) / ops.maximum(ops.sum(mask, axis=axes), 1.0)
        self.total.assign_add(losses)
        self.count.assign_add(1.0)

    def result(self):
        losses = self.total / ops.maximum(self.count, 1.0)
        return {f"loss_{k}": losses[k] for k in range(self.networks)}

    def reset_state(self):
        self.total.assign(ops.zeros_like(self.total))
        self.count.assign(0.0)


def _stack_time(arrays):
    """`(batch, K, time, ...)` of K `(batch, time_k, ...)` arrays, each left-padded with
    zeros to the longest time (the suite's convention: responses stay at the end)."""
    steps = max(array.shape[1] for array in arrays)
    padded = []
    for array in arrays:
        pad = [(0, 0)] * array.ndim
        pad[1] = (steps - array.shape[1], 0)
        padded.append(np.pad(array, pad))
    return np.stack(padded, axis=1)


class _StackedTrials(keras.utils.PyDataset):
    """K trial streams side by side: batches `(inputs, targets, loss_mask)` of shape
    `(batch, K, time, ...)` (see `_stack_time`)."""

    def __init__(self, datasets):
        super().__init__()
        self.datasets = list(datasets)

    def __len__(self):
        return len(self.datasets[0])

    def __getitem__(self, index):
        parts = [dataset[index] for dataset in self.datasets]
        return tuple(_stack_time([part[i] for part in parts]) for i in range(3))

    def on_epoch_end(self):
        for dataset in self.datasets:
            dataset.on_epoch_end()


def _network_outputs(model, batches):
    """Each network's outputs on its own batch, from one prediction of the stack."""
    predict = getattr(model, "_any_shape_predict", None)
    if predict is None:
        import tensorflow as tf

        # One trace for every batch and trial length (validation and test differ in
        # both), where `model.predict` traces each new shape again.
        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:2], None, model.inputs[0].shape[-1]))
        predict = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        model._any_shape_predict = predict
    inputs = _stack_time([batch.inputs for batch in batches]).astype("float32")
    outputs = np.asarray(predict(inputs))
    return [outputs[:, k, outputs.shape[2] - batch.inputs.shape[1]:]
            for k, batch in enumerate(batches)]


class _PerNetwork(keras.callbacks.Callback):
    """Each network's epoch logs and records, as `train_run`'s callbacks make them.

    Network k's logs get its `loss`, its validation accuracies (one prediction
    of the stack for all K) and what `WeightStatistics` and, at the end,
    `PruningSweep` add; those two act on `views[k]`, an ordinary model that is
    given network k's weights at every epoch's end.
    """

    def __init__(self, views, runs, suites, validations):
        super().__init__()
        self.views, self.suites, self.validations = views, suites, validations
        self.callbacks = [[WeightStatistics(run), PruningSweep(batch, suite.correct, run_dir=run)]
                          for run, suite, batch in zip(runs, suites, validations)]
        self.histories = [{} for _ in views]

    def on_train_begin(self, logs=None):
        for view, callbacks in zip(self.views, self.callbacks):
            for callback in callbacks:
                callback.set_model(view)
                callback.set_params(self.params)
                callback.on_train_begin()

    def on_epoch_begin(self, epoch, logs=None):
        for callbacks in self.callbacks:
            for callback in callbacks:
                callback.on_epoch_begin(epoch)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            raise TrainingDivergedError(
                f"Training diverged: the stack's loss became {float(loss)} (batch {batch + 1}). "
                "Lower `learning_rate` or the noise and train again.")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        outputs = _network_outputs(self.model, self.validations)
        for k, view in enumerate(self.views):
            self.model.copy_network(k, view)
            own = {"loss": logs[f"loss_{k}"],
                   **validation_logs(outputs[k], self.validations[k], self.suites[k].correct)}
            for callback in self.callbacks[k]:
                callback.on_epoch_end(epoch, own)
            for key, value in own.items():
                self.histories[k].setdefault(key, []).append(float(value))

    def on_train_end(self, logs=None):
        for callbacks in self.callbacks:
            for callback in callbacks:
                callback.on_train_end()


def _stacked_model(single: keras.Model, config: TrainConfig, seeds: Sequence[int]):
    """A stack of K networks with the layers of `single` (a `build_model` network)."""
    from ctxrnn.layers import CTRNN
    from ctxrnn.stacked import StackedDense, StackedModel

    networks = len(seeds)
    layer, readout = single.get_layer("ctrnn"), single.get_layer("readout")
    inputs = keras.Input((networks, *single.inputs[0].shape[1:]), name="inputs")
    cell = {**layer.get_config(), "networks": networks, "seed": list(seeds)}
    states = CTRNN.from_config(cell)(inputs)
    outputs = StackedDense(readout.units, networks=networks, seed=list(seeds),
                           use_bias=readout.use_bias, name="readout")(states)
    model = StackedModel(inputs, outputs, name=single.name)
    model.compile(keras.optimizers.Adam(config.learning_rate), MaskedMSE(),
                  clipnorm=DEFAULT_CLIPNORM, metrics=[_NetworkLosses(networks)])
    return model


def train_stacked_runs(run_dirs: Sequence[os.PathLike], configs: Sequence[TrainConfig], *,
                       verbose: int = 0, report: bool = False,
                       callbacks: Sequence[keras.callbacks.Callback] = ()) -> list[RunDirectory]:
    """Trains K runs that differ only in their seed as one stack; fills each run directory.

    Each directory is (re)written from scratch and ends as `train_run` leaves
    one (see the module docstring for what differs from K separate runs).

    Args:
        run_dirs: K output directories (created; what they held is replaced).
        configs: K `TrainConfig`s, equal but for distinct seeds, full rank.
        verbose: Keras verbosity of the stack's `fit`.
        report: write each run's `report.html`.
        callbacks: further Keras callbacks of the stack's `fit`.

    Returns:
        The K `RunDirectory`s, complete.

    Raises:
        ValueError: `configs` cannot stack, or not one directory per config.
        TrainingDivergedError: the stack's loss became NaN; every run's status
            says `failed`.

    Example:

    ```python
    base = TrainConfig(tasks=["and"], units=32, epochs=3)
    configs = [dataclasses.replace(base, seed=s) for s in range(4)]
    runs = train_stacked_runs([f"runs/s{s}" for s in range(4)], configs)
    runs[2].load_evaluation()["accuracy"]
    ```
    """
    configs = list(configs)
    check_stackable(configs)
    if len(run_dirs) != len(configs):
        raise ValueError(f"Arguments `run_dirs` and `configs` must have the same length; "
                         f"received {len(run_dirs)} and {len(configs)}.")
    runs = [_prepare_directory(path, config, overwrite=True, resume=False)[0]
            for path, config in zip(run_dirs, configs)]
    first = configs[0]
    suites, singles = [], []
    for config in configs:  # each network drawn as `train_run` draws it
        keras.utils.set_random_seed(config.seed)
        suites.append(make_suite(config))
        singles.append(build_model(config, suites[-1]))
    for run, config, suite in zip(runs, configs, suites):
        run.write_config({**dataclasses.asdict(config), "n_inputs": suite.n_inputs,
                          "n_outputs": suite.n_outputs})
        run.write_status("training", epoch=0)
    model = _stacked_model(singles[0], first, [c.seed for c in configs])
    for k, single in enumerate(singles):
        model.set_network(k, single)
    views = model.unstack()
    validations = [suite.validation_data(config.validation_trials,
                                         seed=seeding.derive(config.seed, "validation"))
                   for config, suite in zip(configs, suites)]
    per_network = _PerNetwork(views, runs, suites, validations)
    dataset = _StackedTrials(
        suite.dataset(batch_size=config.batch_size, steps_per_epoch=config.steps_per_epoch,
                      seed=seeding.derive(config.seed, "trials"))
        for config, suite in zip(configs, suites))
    try:
        model.fit(dataset, epochs=first.epochs, shuffle=False, verbose=verbose,
                  callbacks=[per_network, *callbacks])
    except TrainingDivergedError as error:
        for run in runs:
            run.write_status("failed", epoch=0, message=str(error))
        raise
    tests = [suite.validation_data(config.test_trials, seed=seeding.derive(config.seed, "test"))
             for config, suite in zip(configs, suites)]
    for run, config, suite, view, history, test, outputs in zip(
            runs, configs, suites, views, per_network.histories, tests,
            _network_outputs(model, tests)):
        compile_model(view, learning_rate=config.learning_rate)
        finish_run(run, view, history, suite, test, outputs, epochs=config.epochs,
                   report=report)
    return runs
