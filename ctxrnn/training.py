"""The main job: train a context multitask network and write its run directory.

`train_run` is what `ctxrnn train` calls; `prune_run` what `ctxrnn prune` calls.
A run directory (layout: `ctxrnn.runs`) holds everything needed to rebuild the
task suite, reload the model and write the report.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn import io, seeding
from ctxrnn.callbacks import PruningSweep, TaskAccuracy, WeightStatistics
from ctxrnn.checks import positive_int
from ctxrnn.models import DEFAULT_TAU_STEPS, compile_model, context_multitask
from ctxrnn.runs import RunDirectory, is_run_directory

DEFAULT_TASKS = ("and", "or", "xor", "not", "time_reproduction")
CHECKPOINT_STATE = "state.json"


class TrainingDivergedError(RuntimeError):
    """Raised by `train_run` when the training loss becomes NaN or infinite."""


@dataclasses.dataclass
class TrainConfig:
    """Configuration of a context multitask training run (saved as `config.json`).

    Args:
        tasks: task names (see `ctxrnn.tasks.list_tasks()`).
        units: recurrent units.
        dt: Euler step (ms), shared by tasks and network.
        tau: time constant (ms); `None` resolves to `2 * dt` (the value saved).
        context: context encoding of the suite (`"one_hot"`, ...).
        epochs, steps_per_epoch, batch_size, learning_rate: optimisation.
        input_noise: std of the cell's input noise (scaled by `sqrt(2 / alpha)`,
            see `ctxrnn.CTRNNCell`), drawn afresh in every training step.
        task_input_noise: std of the noise the tasks add to their inputs, at each
            task's reference step (`Task.noise_dt`; per-step std
            `task_input_noise * sqrt(noise_dt / dt)`); `None` keeps every task's
            default (Jarne's tasks: 0.1 at 1 ms). Part of the trials, so also of
            validation and test sets.
        recurrent_noise: std of the cell's recurrent noise.
        recurrent_initializer: initializer of W_rec (`"orthogonal"`,
            `"gain_normal"`, `"standard_normal"` or any Keras initializer name,
            e.g. `"glorot_uniform"`); with `rank`, of the loadings. `None`
            resolves to `"orthogonal"`, with `rank` to `"standard_normal"`
            (the value saved).
        rank: `0` (full-rank W_rec) or R >= 1: a low-rank network with
            `W_rec = n m^T / N` (`ctxrnn.CTRNNCell(rank=R)`).
        kernel_initializer: initializer of W_in: `"standard_normal"` (N(0, 1),
            the inputs of Dubreuil et al.) or a Keras identifier.
        validation_trials: trials per task of the fixed validation set (used
            for per-task accuracy during training and for pruning).
        test_trials: trials per task of the final test set.
        seed: seed of weights, noise and trials (streams: `ctxrnn.seeding`).
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
    task_input_noise: float | None = None
    recurrent_noise: float = 0.0
    recurrent_initializer: str | None = None
    validation_trials: int = 100
    test_trials: int = 400
    seed: int = 0
    rank: int = 0
    kernel_initializer: str = "glorot_uniform"

    def __post_init__(self):
        self.tasks = [self.tasks] if isinstance(self.tasks, str) else list(self.tasks)
        for name in ("units", "epochs", "steps_per_epoch", "batch_size", "validation_trials",
                     "test_trials"):
            value = getattr(self, name)
            setattr(self, name, positive_int(name, value))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"Argument `seed` must be a non-negative integer; received "
                             f"seed={self.seed!r}.")
        if not self.tasks:
            raise ValueError("Argument `tasks` must name at least one task; received [].")
        for name in ("dt", "learning_rate"):
            _check_number(name, getattr(self, name), positive=True)
        for name in ("input_noise", "recurrent_noise"):
            _check_number(name, getattr(self, name), positive=False)
        if self.task_input_noise is not None:
            _check_number("task_input_noise", self.task_input_noise, positive=False)
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or not (
                0 <= self.rank <= self.units):
            raise ValueError(f"Argument `rank` must be 0 (full rank) or an integer in [1, units="
                             f"{self.units}]; received rank={self.rank!r}.")
        if self.recurrent_initializer is None:
            self.recurrent_initializer = "standard_normal" if self.rank else "orthogonal"
        if self.tau is None:
            self.tau = DEFAULT_TAU_STEPS * float(self.dt)
        _check_number("tau", self.tau, positive=True)
        # Floats however they were spelled (`tau = 10` in a TOML file): the same run
        # gets the same config.json and the same sweep key.
        for name in ("dt", "learning_rate", "input_noise", "recurrent_noise", "tau"):
            setattr(self, name, float(getattr(self, name)))
        if self.task_input_noise is not None:
            self.task_input_noise = float(self.task_input_noise)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> "TrainConfig":
        """Rebuilds a config from `config.json` (keys that are not fields are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in saved.items() if key in names})

    def differences(self, other: "TrainConfig") -> dict[str, tuple[Any, Any]]:
        """`{field: (self's value, other's value)}` for the fields that differ."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return {key: (mine[key], theirs[key]) for key in mine if mine[key] != theirs[key]}


def _check_number(name: str, value: Any, *, positive: bool) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and np.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        expected = "a positive number" if positive else "a non-negative number"
        raise ValueError(f"Argument `{name}` must be {expected}; received {name}={value!r}.")


def make_suite(config: TrainConfig):
    from ctxrnn import tasks

    options = {} if config.task_input_noise is None else {"input_noise": config.task_input_noise}
    return tasks.TaskSuite([tasks.make(name, dt=config.dt, **options) for name in config.tasks],
                           context=config.context, seed=seeding.derive(config.seed, "trials"))


def build_model(config: TrainConfig, suite) -> keras.Model:
    """The uncompiled network of a run (`context_multitask` with the config's settings),
    drawn as `train_run` draws it: right after `keras.utils.set_random_seed(config.seed)`."""
    return context_multitask(
        suite, config.units, tau=config.tau, seed=config.seed,
        input_noise=config.input_noise, recurrent_noise=config.recurrent_noise,
        recurrent_initializer=config.recurrent_initializer,
        kernel_initializer=config.kernel_initializer,
        **({"rank": config.rank} if config.rank else {}))


def resolved_settings(saved: dict[str, Any]) -> dict[str, Any]:
    """The settings a run actually used, from its `config.json`.

    Every `TrainConfig` field with defaults resolved (`tau`), then the noise
    as the network sees it per Euler step: the cell's input and recurrent
    noise (`sigma * sqrt(2 / alpha)`) and each task's input noise
    (`Task.input_noise_std`). Keys of `saved` that are not fields (e.g.
    `n_inputs`) are kept.

    Args:
        saved: the content of a run's `config.json`.

    Returns:
        An ordered dict of setting -> value.
    """
    try:
        config = TrainConfig.from_dict(saved)
    except (TypeError, ValueError):  # not a TrainConfig run: show it as saved
        return dict(saved)
    resolved = dataclasses.asdict(config)
    settings = {key: resolved.get(key, value) for key, value in saved.items()}
    if "dt" not in saved:
        return settings
    scale = float(np.sqrt(2.0 * config.tau / config.dt))
    settings["alpha"] = config.dt / config.tau
    settings["cell_input_noise_per_step"] = config.input_noise * scale
    settings["cell_recurrent_noise_per_step"] = config.recurrent_noise * scale
    try:
        suite = make_suite(config)
    except ValueError:  # a task this version no longer knows: show the rest
        return settings
    settings["task_input_noise"] = {t.name: t.input_noise for t in suite.tasks}
    settings["task_input_noise_per_step"] = {t.name: t.input_noise_std for t in suite.tasks}
    return settings


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
    outputs = model.predict(batch.inputs, batch_size=256, verbose=0)
    return evaluation_of(outputs, suite, batch), outputs


def evaluation_of(outputs, suite, batch) -> dict[str, Any]:
    """`evaluation.json`'s content for a model's `outputs` on `batch`."""
    from ctxrnn.metrics import accuracy_summary, output_target_distance

    summary = accuracy_summary(outputs, batch, suite.correct)
    distance = {}
    for index, name in enumerate(batch.task_names):
        chosen = batch.task_ids == index
        distance[name] = float(output_target_distance(
            outputs[chosen], batch.targets[chosen], batch.loss_mask[chosen]))
    evaluation = {"per_task_accuracy": summary["per_task_accuracy"],
                  "accuracy": summary["accuracy"], "per_task_distance": distance,
                  "n_trials": int(len(batch.task_ids))}
    return evaluation


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


class _RunProgress(keras.callbacks.Callback):
    """Checkpoints each completed epoch of a run; stops with an error on a NaN loss.

    After every epoch it saves the model (weights, optimizer and noise state)
    as `checkpoint/epoch_NNNN.keras`, then `checkpoint/state.json` naming it,
    the epoch count and the history so far: a run killed at any point resumes
    from the last state written. Raising on the first non-finite batch loss
    ends `fit` before any end-of-training callback writes results.
    """

    def __init__(self, run: RunDirectory, history: dict[str, list], epoch: int):
        super().__init__()
        self.run, self.history, self.epoch = run, history, epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            raise TrainingDivergedError(
                f"Training diverged: the loss became {float(loss)} in epoch {self.epoch + 1} "
                f"(batch {batch + 1}). Lower `learning_rate` or the noise and train again.")

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        directory = self.run.checkpoint_dir
        name = f"epoch_{epoch + 1:04d}.keras"
        save_model_atomic(self.model, directory / name)
        io.write_json(directory / CHECKPOINT_STATE,
                      {"epoch": epoch + 1, "model": name, "history": self.history})
        for old in directory.glob("epoch_*.keras"):
            if old.name != name:
                old.unlink()


def _load_checkpoint(run: RunDirectory) -> dict[str, Any] | None:
    state_path = run.checkpoint_dir / CHECKPOINT_STATE
    if not state_path.is_file():
        return None
    state = io.read_json(state_path)
    state["model"] = keras.saving.load_model(run.checkpoint_dir / state["model"])
    return state


def _prepare_directory(run_dir, config: TrainConfig | None, *, overwrite: bool,
                       resume: bool) -> tuple[RunDirectory, TrainConfig]:
    """Checks what `run_dir` holds against the request; returns the run and its config."""
    if overwrite and resume:
        raise ValueError("Arguments `overwrite` and `resume` exclude each other; received both.")
    path = pathlib.Path(run_dir)
    if resume:
        if not is_run_directory(path):
            raise FileNotFoundError(
                f"Cannot resume {str(path)!r}: it is not a ctxrnn run directory (no config.json).")
        run = RunDirectory(path)
        if run.is_complete:
            raise FileExistsError(
                f"Cannot resume {str(path)!r}: its training is complete. Pass overwrite=True "
                "(`--overwrite`) to train it again.")
        saved = TrainConfig.from_dict(run.load_config())
        if config is not None and (changed := saved.differences(config)):
            listed = ", ".join(f"{k}: saved {a!r}, given {b!r}" for k, (a, b) in changed.items())
            raise ValueError(f"Cannot resume {str(path)!r} with another configuration ({listed}).")
        return run, saved
    run = RunDirectory(path, create=True)
    if run.has_outputs():
        if not overwrite:
            raise FileExistsError(
                f"Run directory {str(path)!r} already holds a run; pass overwrite=True "
                "(`--overwrite`) to replace it, or resume=True (`--resume`) to continue an "
                "unfinished one.")
        run.clear()
    return run, config or TrainConfig()


def train_run(run_dir: os.PathLike, config: TrainConfig | None = None, *,
              verbose: int = 1, report: bool = True, overwrite: bool = False,
              resume: bool = False, tensorboard: bool = False,
              callbacks: Sequence[keras.callbacks.Callback] = ()) -> RunDirectory:
    """Trains a context multitask network and fills `run_dir`.

    Writes `config.json` and `status.json` first, a checkpoint after every
    epoch, then `model.keras`, `history.json`, the weight statistics and
    spectra, `pruning.json`, `evaluation.json`, `examples.npz` and (with
    `report=True`) the report; `status.json` says `complete` only when all
    are written. A resumed run ends bit-identical to an uninterrupted one: the
    checkpoint holds the weights, the optimizer and the noise generator, and
    the trial stream is a function of (seed, epoch, batch).

    Args:
        run_dir: output directory (created).
        config: a `TrainConfig`; defaults to `TrainConfig()` (with `resume`,
            the saved one; a given config must equal it).
        verbose: Keras verbosity (1: progress bar).
        report: write `report.html` at the end.
        overwrite: replace a run already in `run_dir` (its files only).
        resume: continue the unfinished run in `run_dir` from its last
            completed epoch.
        tensorboard: also log to `run_dir/tensorboard` (losses, metrics, the
            W_rec statistics, histogram and eigenvalues); needs `tensorboard`.
        callbacks: further Keras callbacks, run after the run's own (so an
            epoch's checkpoint is written before they see the epoch end).

    Returns:
        The `RunDirectory`.

    Raises:
        FileExistsError: `run_dir` holds a run and neither `overwrite` nor
            `resume` was given, or `resume` on a complete run.
        FileNotFoundError: `resume` on a directory that holds no run.
        ValueError: `resume` with a config that differs from the saved one.
        TrainingDivergedError: the loss became NaN; `status.json` says
            `failed` with the epoch, and no model, evaluation or report is written.
    """
    run, config = _prepare_directory(run_dir, config, overwrite=overwrite, resume=resume)
    keras.utils.set_random_seed(config.seed)
    suite = make_suite(config)
    state = _load_checkpoint(run) if resume else None
    if state is None:
        if resume:  # killed before the first epoch ended: start again
            run.clear()
        run.write_config({**dataclasses.asdict(config), "n_inputs": suite.n_inputs,
                          "n_outputs": suite.n_outputs})
        model = build_model(config, suite)
        compile_model(model, learning_rate=config.learning_rate)
        initial_epoch, history = 0, {}
    else:
        model, initial_epoch, history = state["model"], state["epoch"], state["history"]
        _truncate_statistics(run, initial_epoch)
    run.write_status("training", epoch=initial_epoch)
    validation = suite.validation_data(config.validation_trials,
                                       seed=seeding.derive(config.seed, "validation"))
    progress = _RunProgress(run, history, initial_epoch)
    own = [
        WeightStatistics(run, log_dir=run.tensorboard_dir / "weights" if tensorboard else None),
        TaskAccuracy(validation, suite.correct),
        PruningSweep(validation, suite.correct, run_dir=run),
        progress,
    ]
    if tensorboard:
        own.append(keras.callbacks.TensorBoard(log_dir=str(run.tensorboard_dir)))
    dataset = suite.dataset(batch_size=config.batch_size, steps_per_epoch=config.steps_per_epoch,
                            seed=seeding.derive(config.seed, "trials"), epoch=initial_epoch)
    try:
        # shuffle=False: Keras would permute each epoch's batch indices with Python's
        # global `random`, whose state a resumed process does not share. The batches
        # are i.i.d. draws already, so the permutation adds nothing.
        model.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch, shuffle=False,
                  callbacks=[*own, *callbacks], verbose=verbose)
    except TrainingDivergedError as error:
        run.write_status("failed", epoch=progress.epoch, message=str(error))
        raise
    test = suite.validation_data(config.test_trials, seed=seeding.derive(config.seed, "test"))
    outputs = model.predict(test.inputs, batch_size=256, verbose=0)
    finish_run(run, model, history, suite, test, outputs, epochs=config.epochs, report=report)
    return run


def finish_run(run: RunDirectory, model, history, suite, test, outputs, *, epochs: int,
               report: bool) -> None:
    """Writes a trained run's model, history, evaluation on `test` (the model's
    `outputs` on it), examples and report, then marks it complete."""
    save_model_atomic(model, run.model_path)
    run.write_history(history)
    run.write_evaluation(evaluation_of(outputs, suite, test))
    run.save_examples(**_example_arrays(suite, test, outputs))
    if report:
        from ctxrnn.report import write_report

        write_report(run)
    run.write_status("complete", epoch=epochs)
    shutil.rmtree(run.checkpoint_dir, ignore_errors=True)


def _truncate_statistics(run: RunDirectory, epochs_done: int) -> None:
    """Drops statistics records written after the checkpoint (a kill between the two)."""
    if run.statistics_path.exists():
        records = [r for r in run.load_statistics() if r["epoch"] <= epochs_done]
        run.write_statistics(records)


def load_run(run_dir: os.PathLike):
    """Returns `(run, config, suite, model)` of an existing run directory."""
    if not is_run_directory(run_dir):
        raise FileNotFoundError(
            f"{str(run_dir)!r} is not a ctxrnn run directory (no config.json); create one with "
            "`ctxrnn train --out DIR`."
        )
    run = RunDirectory(run_dir).require_complete()
    config = TrainConfig.from_dict(run.load_config())
    return run, config, make_suite(config), run.load_model()


def prune_run(run_dir: os.PathLike, **sweep_options: Any) -> dict[str, Any]:
    """Recomputes `pruning.json` of a run from its saved model; returns the result."""
    from ctxrnn.analysis.pruning import pruning_sweep

    run, config, suite, model = load_run(run_dir)
    validation = suite.validation_data(config.validation_trials,
                                       seed=seeding.derive(config.seed, "validation"))
    result = pruning_sweep(model, validation, suite.correct, **sweep_options)
    run.write_pruning(result)
    return result
