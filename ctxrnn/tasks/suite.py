"""`TaskSuite`: several tasks for one network, selected by a context signal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn.tasks.base import Task, TrialBatch, check_batch_size
from ctxrnn.tasks.datasets import TrialDataset  # noqa: F401  (re-exported)
from ctxrnn.tasks.registry import make

CONTEXTS = ("one_hot", "pulse", "scalar", "scalar_pulse", "none")
MIXINGS = ("per_trial", "per_batch")
DEFAULT_CUE_MS = 50.0  # length of the context cue for the pulse encodings


def _union(names_per_task: Sequence[Sequence[str]]) -> list[str]:
    union: list[str] = []
    for names in names_per_task:
        union += [name for name in names if name not in union]
    return union


class TaskSuite:
    """Mixes tasks for one network and adds the context signal.

    Channels are shared **by name**: the suite's stimulus inputs are the union
    of its tasks' input names (in order of first appearance), and so are its
    outputs; a task's trials have loss mask 0 on outputs it does not use. So
    Jarne's tasks share inputs `A`, `B` and the output `out`, and MoLaP's tasks
    share `fixation`, `cos`, `sin`. Trials shorter than the longest task are
    left-padded with blank steps (loss mask 0), so every response stays at the
    end of the trial. Context channels follow the stimulus inputs:

    - `"one_hot"`: one channel per task, 1 for the whole trial (default);
    - `"pulse"`: the same channels, on only for the first `cue_ms` of the trial
      (Jarne's cue);
    - `"scalar"`: one channel whose level is `levels[k]` for task `k` for the
      whole trial; default `(k + 1) / n_tasks` (a distinct non-zero code for
      every task, unlike Jarne's code whose XOR context is a 0 pulse);
    - `"scalar_pulse"`: that channel on only for the first `cue_ms` (Jarne's
      context-multitask input, with a non-zero level for every task);
    - `"none"`: no context input.

    Args:
        tasks: task names or `Task` objects (same `dt`).
        context: context encoding, one of `CONTEXTS`.
        mixing: `"per_trial"` (each trial draws its task) or `"per_batch"`.
        dt: step (ms) used to build tasks given by name.
        cue_ms: cue length (ms) for the pulse encodings. Default: `50`.
        levels: context level of each task for the scalar encodings (distinct,
            non-zero). Default: `(k + 1) / n_tasks`.
        seed: default seed of `dataset`.

    Example:

    ```python
    suite = TaskSuite(["and", "or", "xor"], dt=5.0)
    model.fit(suite.dataset(batch_size=64, steps_per_epoch=50, seed=0), epochs=10)
    accuracy = suite.correct(model.predict(val.inputs), val)
    ```
    """

    def __init__(self, tasks: Sequence[str | Task], *, context: str = "one_hot",
                 mixing: str = "per_trial", dt: float | None = None,
                 cue_ms: float = DEFAULT_CUE_MS, levels: Sequence[float] | None = None,
                 seed: int = 0):
        if isinstance(tasks, (str, Task)) or len(tasks) == 0:
            raise ValueError(f"Argument `tasks` must be a non-empty list of task names or Task "
                             f"objects; received {tasks!r}.")
        built = [make(t, **({} if dt is None else {"dt": dt})) if isinstance(t, str) else t
                 for t in tasks]
        for task in built:
            if not isinstance(task, Task):
                raise TypeError(f"Argument `tasks` holds {task!r}; expected names or Task objects.")
        names = [t.name for t in built]
        if len(set(names)) != len(names):
            raise ValueError(f"Argument `tasks` has repeated tasks: {names}.")
        dts = {t.dt for t in built}
        if len(dts) != 1:
            raise ValueError(f"All tasks of a suite must share one `dt`; received "
                             f"{ {t.name: t.dt for t in built} }. Build them with the same dt.")
        if context not in CONTEXTS:
            raise ValueError(f"Argument `context` must be one of {CONTEXTS}; received {context!r}.")
        default_levels = np.arange(1, len(built) + 1) / len(built)
        self.levels = np.asarray(default_levels if levels is None else levels, dtype=np.float32)
        if (self.levels.shape != (len(built),) or np.any(self.levels == 0)
                or len(set(self.levels.tolist())) != len(built)):
            raise ValueError(f"Argument `levels` must hold one distinct, non-zero level per task "
                             f"({len(built)}); received {levels!r}.")
        if not cue_ms > 0:
            raise ValueError(f"Argument `cue_ms` must be a positive number of ms; "
                             f"received cue_ms={cue_ms!r}.")
        if mixing not in MIXINGS:
            raise ValueError(f"Argument `mixing` must be one of {MIXINGS}; received {mixing!r}.")
        self.tasks = tuple(built)
        self.task_names = tuple(names)
        self.context, self.mixing, self.seed = context, mixing, seed
        self.dt = dts.pop()
        self.cue_steps = max(1, int(round(cue_ms / self.dt)))
        self.stimulus_names = _union([t.input_names for t in built])
        if context in ("one_hot", "pulse"):
            self.context_names = [f"context_{name}" for name in names]
        else:
            self.context_names = ["context"] if context.startswith("scalar") else []
        self.input_names = self.stimulus_names + self.context_names
        self.output_names = _union([t.output_names for t in built])
        self.n_steps = max(t.n_steps for t in built)
        self._inputs = [[self.input_names.index(n) for n in t.input_names] for t in built]
        self._outputs = [[self.output_names.index(n) for n in t.output_names] for t in built]

    n_inputs = property(lambda self: len(self.input_names))
    n_outputs = property(lambda self: len(self.output_names))
    context_channels = property(lambda self: list(range(len(self.stimulus_names),
                                                       len(self.input_names))))

    def __repr__(self) -> str:
        return (f"TaskSuite({list(self.task_names)}, context={self.context!r}, dt={self.dt}, "
                f"inputs={self.input_names}, outputs={self.output_names})")

    # ------------------------------------------------------------ generation
    def generate(self, batch_size: int, seed: int | None = None) -> TrialBatch:
        """A batch with tasks drawn per trial (or per batch); `task_ids` say which.

        Args:
            batch_size: number of trials (> 0).
            seed: seed of the task draw and of the trials; default the suite's.

        Returns:
            A `TrialBatch` over the suite's channels (`n_inputs`, `n_outputs`,
            `n_steps`), with `task_ids` and `task_names`.
        """
        n = check_batch_size(batch_size)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        if self.mixing == "per_trial":
            task_ids = rng.integers(0, len(self.tasks), size=n)
        else:
            task_ids = np.full(n, rng.integers(0, len(self.tasks)))
        return self._assemble(task_ids, rng)

    def validation_data(self, n_per_task: int, seed: int = 1) -> TrialBatch:
        """A fixed batch with `n_per_task` trials of every task, in task order.

        Args:
            n_per_task: trials per task (> 0).
            seed: seed of the trials (the same seed gives the same batch).

        Returns:
            A `TrialBatch` of `n_per_task * len(tasks)` trials.
        """
        n = check_batch_size(n_per_task)
        task_ids = np.repeat(np.arange(len(self.tasks)), n)
        return self._assemble(task_ids, np.random.default_rng(seed))

    def _assemble(self, task_ids: np.ndarray, rng: np.random.Generator) -> TrialBatch:
        seeds = rng.integers(0, 2**63, size=len(self.tasks))
        parts = {k: task.generate(int(np.sum(task_ids == k)), seed=int(seeds[k]))
                 for k, task in enumerate(self.tasks) if np.any(task_ids == k)}
        return self._place(task_ids, parts)

    def _place(self, task_ids: np.ndarray, parts: dict[int, TrialBatch]) -> TrialBatch:
        """Writes each task's trials into the suite's channels and time axis, adds context."""
        n, steps = len(task_ids), self.n_steps
        inputs = np.zeros((n, steps, self.n_inputs), np.float32)
        targets = np.zeros((n, steps, self.n_outputs), np.float32)
        loss_mask = np.zeros_like(targets)
        decision = np.zeros((n, steps), np.float32)
        epochs: dict[str, np.ndarray] = {}
        truth: dict[str, np.ndarray] = {}
        for k, part in parts.items():
            task = self.tasks[k]
            rows = np.flatnonzero(task_ids == k)
            pad = steps - part.n_steps
            time = np.arange(pad, steps)
            inputs[np.ix_(rows, time, self._inputs[k])] = part.inputs
            targets[np.ix_(rows, time, self._outputs[k])] = part.targets
            loss_mask[np.ix_(rows, time, self._outputs[k])] = part.loss_mask
            decision[np.ix_(rows, time)] = part.decision_mask
            for name, bounds in part.epochs.items():
                epochs.setdefault(name, np.full((n, 2), -1, dtype=int))[rows] = bounds + pad
            for key, value in part.truth.items():
                if key in truth and truth[key].shape[1:] != value.shape[1:]:
                    key = f"{task.name}/{key}"
                truth.setdefault(key, np.full((n,) + value.shape[1:], np.nan))[rows] = value
            self._add_context(inputs, rows, k, pad)
        return TrialBatch(inputs=inputs, targets=targets, loss_mask=loss_mask,
                          decision_mask=decision, epochs=epochs, truth=truth,
                          task_ids=np.asarray(task_ids, dtype=int), task_names=self.task_names,
                          dt=self.dt)

    def grid(self, task: str, **grid_options) -> TrialBatch:
        """The test-mode grid of one task (`Task.grid`) in the suite's layout, with its context.

        Args:
            task: the task's name (one of `task_names`); the task must have a
                `grid` method (the Yang/Driscoll rules do).
            **grid_options: passed to the task's `grid` (`n_angles`, `timing`).

        Returns:
            A `TrialBatch` of the suite's channels; trials shorter than the
            suite's longest task are left-padded with blank steps.

        Example:

        >>> suite = TaskSuite(["fdgo", "delaygo"])
        >>> batch = suite.grid("delaygo", n_angles=8)
        >>> batch.epochs["delay1"].shape
        (16, 2)
        """
        if task not in self.task_names:
            raise ValueError(f"Argument `task` must be one of {list(self.task_names)}; "
                             f"received {task!r}.")
        k = self.task_names.index(task)
        if not callable(getattr(self.tasks[k], "grid", None)):
            raise ValueError(f"Task {task!r} ({type(self.tasks[k]).__name__}) has no test-mode "
                             "grid (`grid` method).")
        part = self.tasks[k].grid(**grid_options)
        if part.n_steps > self.n_steps:
            raise ValueError(f"The grid trials of {task!r} last {part.n_steps} steps, longer "
                             f"than the suite's {self.n_steps}; pass a shorter `timing`.")
        return self._place(np.full(len(part), k), {k: part})

    def _add_context(self, inputs, rows, k, pad):
        if self.context == "none":
            return
        first = len(self.stimulus_names)
        if self.context == "scalar":
            inputs[rows, :, first] = self.levels[k]
        elif self.context == "scalar_pulse":
            inputs[rows, pad:pad + self.cue_steps, first] = self.levels[k]
        elif self.context == "one_hot":
            inputs[rows, :, first + k] = 1.0
        else:
            inputs[rows, pad:pad + self.cue_steps, first + k] = 1.0

    # --------------------------------------------------------------- scoring
    def task_batch(self, outputs: np.ndarray, batch: TrialBatch, k: int):
        """Outputs and trials of task `k` in that task's own channels and time axis."""
        task = self.tasks[k]
        rows = np.flatnonzero(batch.task_ids == k)
        pad = batch.n_steps - task.n_steps
        out_index = self._outputs[k]
        part = TrialBatch(
            inputs=batch.inputs[rows][:, pad:][..., self._inputs[k]],
            targets=batch.targets[rows][:, pad:][..., out_index],
            loss_mask=batch.loss_mask[rows][:, pad:][..., out_index],
            decision_mask=batch.decision_mask[rows][:, pad:],
            epochs={name: b[rows] - pad for name, b in batch.epochs.items() if np.all(b[rows] >= 0)},
            truth={key.split("/")[-1]: value[rows] for key, value in batch.truth.items()
                   if not np.any(np.isnan(value[rows])) and (
                       "/" not in key or key.startswith(task.name + "/"))},
            task_ids=np.zeros(rows.size, dtype=int), task_names=(task.name,), dt=batch.dt,
        )
        return rows, np.asarray(outputs)[rows][:, pad:][..., out_index], part

    def correct(self, outputs: np.ndarray, batch: TrialBatch) -> np.ndarray:
        """Per-trial score in [0, 1], each trial judged by its own task's rule.

        Args:
            outputs: `(batch, time, n_outputs)` outputs for a batch of this suite.
            batch: the suite's `TrialBatch`.

        Returns:
            `(batch,)` float32 scores (see `Task.correct`).
        """
        outputs = np.asarray(outputs)
        if outputs.shape != batch.targets.shape:
            raise ValueError(f"Argument `outputs` must have shape {batch.targets.shape}; "
                             f"received {outputs.shape}.")
        scores = np.zeros(len(batch), np.float32)
        for k, task in enumerate(self.tasks):
            rows, task_outputs, part = self.task_batch(outputs, batch, k)
            if rows.size:
                scores[rows] = task.correct(task_outputs, part)
        return scores

    # --------------------------------------------------------------- keras
    def dataset(self, batch_size: int, steps_per_epoch: int, seed: int | None = None,
                epoch: int = 0):
        """A seeded Keras `PyDataset` of `(inputs, targets, loss_mask)` batches.

        Every `(epoch, index)` gets its own batch derived from `seed`, so the
        stream never repeats within a run and the same seed gives the same stream.

        Args:
            batch_size: trials per batch.
            steps_per_epoch: batches per epoch (the dataset's `len`).
            seed: seed of the stream; default the suite's.
            epoch: the epoch the stream starts at (a resumed fit's `initial_epoch`).

        Returns:
            A `keras.utils.PyDataset` for `model.fit` (the loss mask arrives as
            `sample_weight`).
        """
        return TrialDataset(self, batch_size, steps_per_epoch,
                            self.seed if seed is None else seed, epoch=epoch)

    def get_config(self) -> dict[str, Any]:
        return {"tasks": [t.get_config() for t in self.tasks], "context": self.context,
                "cue_ms": self.cue_steps * self.dt, "levels": self.levels.tolist(),
                "mixing": self.mixing, "dt": self.dt, "seed": self.seed}
