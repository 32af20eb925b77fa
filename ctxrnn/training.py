"""The main job: train a context multitask network and write its run directory.

`train_run` is what `ctxrnn train` calls; `prune_run` what `ctxrnn prune` calls.
A run directory (layout: `ctxrnn.runs`) holds everything needed to rebuild the
task suite, reload the model and write the report.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn.callbacks import PruningSweep, TaskAccuracy, WeightStatistics
from ctxrnn.models import compile_model, context_multitask
from ctxrnn.runs import RunDirectory, is_run_directory

DEFAULT_TASKS = ("and", "or", "xor", "not", "time_reproduction")


@dataclasses.dataclass
class TrainConfig:
    """Configuration of a context multitask training run (saved as `config.json`).

    Args:
        tasks: task names (see `ctxrnn.tasks.list_tasks()`).
        units: recurrent units.
        dt: Euler step (ms), shared by tasks and network.
        tau: time constant (ms); `None` means `2 * dt`.
        context: context encoding of the suite (`"one_hot"`, ...).
        epochs, steps_per_epoch, batch_size, learning_rate: optimisation.
        input_noise, recurrent_noise: noise standard deviations of the cell.
        recurrent_initializer: initializer of W_rec (`"orthogonal"`,
            `"gain_normal"` or any Keras initializer name, e.g.
            `"glorot_uniform"`).
        validation_trials: trials per task of the fixed validation set (used
            for per-task accuracy during training and for pruning).
        test_trials: trials per task of the final test set.
        seed: seed of weights, noise and trials.
    """

    tasks: Sequence[str] = DEFAULT_TASKS
    units: int = 100
    dt: float = 5.0
    tau: float | None = None
    context: str = "one_hot"
    epochs: int = 30
    steps_per_epoch: int = 50
    batch_size: int = 64
    learning_rate: float = 2e-3
    input_noise: float = 0.01
    recurrent_noise: float = 0.0
    recurrent_initializer: str = "orthogonal"
    validation_trials: int = 100
    test_trials: int = 400
    seed: int = 0

    def __post_init__(self):
        self.tasks = list(self.tasks)
        for name in ("units", "epochs", "steps_per_epoch", "batch_size", "validation_trials",
                     "test_trials"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Argument `{name}` must be a positive integer; received {value!r}.")
        if not self.tasks:
            raise ValueError("Argument `tasks` must name at least one task; received [].")


def make_suite(config: TrainConfig):
    from ctxrnn import tasks

    return tasks.TaskSuite([tasks.make(name, dt=config.dt) for name in config.tasks],
                           context=config.context, seed=config.seed)


def save_model_atomic(model: keras.Model, path: os.PathLike) -> pathlib.Path:
    """`model.save` to a temporary `.keras` file beside `path`, then rename."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(suffix=".keras", dir=path.parent)
    os.close(handle)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def evaluate_run(model, suite, batch) -> tuple[dict[str, Any], np.ndarray]:
    """Per-task accuracy and output-target distance on `batch`; returns (evaluation, outputs)."""
    from ctxrnn.metrics import accuracy_summary, output_target_distance

    outputs = model.predict(batch.inputs, batch_size=256, verbose=0)
    summary = accuracy_summary(outputs, batch, suite.correct)
    distance = {}
    for index, name in enumerate(batch.task_names):
        chosen = batch.task_ids == index
        distance[name] = float(output_target_distance(
            outputs[chosen], batch.targets[chosen], batch.loss_mask[chosen]))
    evaluation = {"per_task_accuracy": summary["per_task_accuracy"],
                  "accuracy": summary["accuracy"], "per_task_distance": distance,
                  "n_trials": int(len(batch.task_ids))}
    return evaluation, outputs


def _example_arrays(suite, batch, outputs, per_task: int = 2) -> dict[str, Any]:
    chosen = np.concatenate([np.flatnonzero(batch.task_ids == i)[:per_task]
                             for i in range(len(batch.task_names))])
    return {
        "inputs": batch.inputs[chosen], "targets": batch.targets[chosen],
        "outputs": outputs[chosen], "loss_mask": batch.loss_mask[chosen],
        "task_ids": batch.task_ids[chosen], "task_names": np.asarray(batch.task_names),
        "input_names": np.asarray(suite.input_names), "output_names": np.asarray(suite.output_names),
        "dt": np.float64(batch.dt),
    }


def train_run(run_dir: os.PathLike, config: TrainConfig | None = None, *,
              verbose: int = 1, report: bool = True) -> RunDirectory:
    """Trains a context multitask network and fills `run_dir`.

    Writes `config.json`, `model.keras`, `history.json`, the weight statistics
    and spectra, `pruning.json`, `evaluation.json`, `examples.npz` and (with
    `report=True`) the report.

    Args:
        run_dir: output directory (created).
        config: a `TrainConfig`; defaults to `TrainConfig()`.
        verbose: Keras verbosity (1: progress bar).
        report: write `report.html` at the end.

    Returns:
        The `RunDirectory`.
    """
    config = config or TrainConfig()
    run = RunDirectory(run_dir, create=True)
    keras.utils.set_random_seed(config.seed)
    suite = make_suite(config)
    run.write_config({**dataclasses.asdict(config), "n_inputs": suite.n_inputs,
                      "n_outputs": suite.n_outputs})
    model = context_multitask(
        suite, config.units, tau=config.tau, seed=config.seed,
        input_noise=config.input_noise, recurrent_noise=config.recurrent_noise,
        recurrent_initializer=config.recurrent_initializer)
    compile_model(model, learning_rate=config.learning_rate)
    validation = suite.validation_data(config.validation_trials, seed=config.seed + 1)
    callbacks = [
        WeightStatistics(run),
        TaskAccuracy(validation, suite.correct),
        PruningSweep(validation, suite.correct, run_dir=run),
    ]
    history = model.fit(
        suite.dataset(batch_size=config.batch_size, steps_per_epoch=config.steps_per_epoch,
                      seed=config.seed),
        epochs=config.epochs, callbacks=callbacks, verbose=verbose,
    )
    save_model_atomic(model, run.model_path)
    run.write_history(history.history)
    test = suite.validation_data(config.test_trials, seed=config.seed + 2)
    evaluation, outputs = evaluate_run(model, suite, test)
    run.write_evaluation(evaluation)
    run.save_examples(**_example_arrays(suite, test, outputs))
    if report:
        from ctxrnn.report import write_report

        write_report(run)
    return run


def load_run(run_dir: os.PathLike):
    """Returns `(run, config, suite, model)` of an existing run directory."""
    if not is_run_directory(run_dir):
        raise FileNotFoundError(
            f"{str(run_dir)!r} is not a ctxrnn run directory (no config.json); create one with "
            "`ctxrnn train --out DIR`."
        )
    run = RunDirectory(run_dir)
    saved = run.load_config()
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in saved.items() if k in fields})
    return run, config, make_suite(config), run.load_model()


def prune_run(run_dir: os.PathLike, **sweep_options: Any) -> dict[str, Any]:
    """Recomputes `pruning.json` of a run from its saved model; returns the result."""
    from ctxrnn.analysis.pruning import pruning_sweep

    run, config, suite, model = load_run(run_dir)
    validation = suite.validation_data(config.validation_trials, seed=config.seed + 1)
    result = pruning_sweep(model, validation, suite.correct, **sweep_options)
    run.write_pruning(result)
    return result
