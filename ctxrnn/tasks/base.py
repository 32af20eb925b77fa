"""Task base: epochs in ms, channels by name, vectorised trial batches.

A task declares, NeuroGym-style, its input and output channel names, its epochs
(durations in ms: a number, a `(low, high)` uniform range, or a list to choose
from) and a `_fill` rule that writes inputs and targets epoch by epoch for all
trials at once. Epochs are laid out in order from the start of the trial; the
last epoch (the response) runs to the end of a fixed-length trial, so every
task's decision is read at the end of the trial.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ctxrnn.tasks.datasets import TrialDataset, check_batch_size

# The decision rules' constants, defined once for the tasks and the Keras metric.
DELTA = 0.1  # MoLaP paper A.3: an output unit is right within 0.1 of its target
ANGLE_TOLERANCE = 0.1 * np.pi  # Duncker / Driscoll angular rule, radians
THRESHOLD = 0.5  # a binary 0/1 output is "1" above this level (Jarne)


@dataclasses.dataclass(frozen=True)
class TrialBatch:
    """A batch of trials.

    Attributes:
        inputs: `(batch, time, inputs)` float32.
        targets: `(batch, time, outputs)` float32.
        loss_mask: `(batch, time, outputs)` float32, 1 where the loss applies.
        decision_mask: `(batch, time)` float32, the steps whose mean output is
            the trial's response.
        epochs: epoch name -> `(batch, 2)` int array of `[start, stop)` steps.
        truth: name -> `(batch, ...)` array of per-trial ground truth.
        task_ids: `(batch,)` int, index into `task_names`.
        task_names: names of the tasks in the batch.
        dt: step in ms.
    """

    inputs: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    decision_mask: np.ndarray
    epochs: Mapping[str, np.ndarray]
    truth: Mapping[str, np.ndarray]
    task_ids: np.ndarray
    task_names: tuple[str, ...]
    dt: float

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def n_steps(self) -> int:
        return self.inputs.shape[1]

    def select(self, index) -> TrialBatch:
        """The trials at `index`, with every per-trial field cut the same way.

        Args:
            index: an int array, a slice or a `(batch,)` boolean mask.

        Returns:
            A new `TrialBatch` (same `task_names` and `dt`).
        """
        return dataclasses.replace(
            self,
            inputs=self.inputs[index], targets=self.targets[index],
            loss_mask=self.loss_mask[index], decision_mask=self.decision_mask[index],
            epochs={k: v[index] for k, v in self.epochs.items()},
            truth={k: v[index] for k, v in self.truth.items()},
            task_ids=self.task_ids[index],
        )

    def as_keras(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`(inputs, targets, loss_mask)` for `model.fit` / `evaluate`."""
        return self.inputs, self.targets, self.loss_mask


def _check_duration(epoch: str, value) -> Any:
    values = [value] if np.isscalar(value) else list(value)
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise ValueError(
            f"Epoch {epoch!r} must last a non-negative number of ms, a (low, high) range or a "
            f"list of choices; received {value!r}."
        )
    if isinstance(value, tuple) and (len(value) != 2 or value[0] > value[1]):
        raise ValueError(f"Epoch {epoch!r} range must be (low, high) with low <= high; "
                         f"received {value!r}.")
    return value


def _config_duration(value):
    # JSON turns a (low, high) range into a list, which means "choose from": tag ranges.
    return {"uniform": list(value)} if isinstance(value, tuple) else value


def _from_config_duration(value):
    if isinstance(value, Mapping) and set(value) == {"uniform"}:
        return tuple(value["uniform"])
    return value


class Task(abc.ABC):
    """Base class of all tasks: epochs in ms, channels by name, trials vectorised over a batch.

    Every trial of a task has `n_steps` steps. Epochs are laid out in the
    order of `timing`; random durations leave blank lead-in steps at the start
    (no input, no noise, loss mask 0), so the last epoch (the response) always
    ends the trial. Subclasses set `name`, `input_names`, `output_names`, `timing` (epoch name
    -> duration in ms, in order; the last epoch is the response) and implement
    `_trials(rng, n)` (per-trial variables, the ground truth) and
    `_fill(batch, epochs, truth)` (write `inputs`/`targets`/`loss_mask`), and
    `correct(outputs, batch)`.

    Args:
        dt: step in ms.
        timing: overrides of the default epoch durations (ms); a range may
            also be given as `{"uniform": [low, high]}` (the form `get_config`
            writes, which survives JSON).
        input_noise: std of the white Gaussian noise added to the inputs outside
            the blank epoch, per step of `noise_dt` ms (the reference code's
            step, `default_dt` unless a family sets it). At another `dt` the
            per-step std is `input_noise * sqrt(noise_dt / dt)`, so the noise's
            statistics over a fixed time window do not depend on `dt` — the rule
            of the cell's noise too (`CTRNNCell`: `sigma * sqrt(2 tau / dt)`).
        decision_ms: length (ms) of the window at the end of the trial whose
            mean output is the response; `None` uses the whole response epoch.

    Raises:
        ValueError: `dt` not positive, an unknown or malformed epoch, an epoch
            shorter than half a step, no response step, or a decision window
            longer than the trial.

    Example:

    >>> from ctxrnn import tasks
    >>> task = tasks.make("delay_pro")
    >>> batch = task.generate(32, seed=0)
    >>> batch.inputs.shape, float(task.correct(batch.targets, batch).mean())
    ((32, 110, 3), 1.0)
    """

    name = "task"
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    timing: dict[str, Any] = {}
    default_dt = 10.0
    default_input_noise = 0.0
    noise_dt: float | None = None  # ms of the step `input_noise` is given at; None: default_dt
    default_decision_ms: float | None = None
    blank_epoch: str | None = None  # an epoch without input or noise (and, by default, loss)
    mask_blank = True  # loss mask 0 on the blank epoch
    decision_epoch: str | None = None  # read the response here instead of at the end
    noisy_inputs: tuple[str, ...] | None = None  # input channels that get noise; None = all

    def _default_timing(self) -> dict[str, Any]:
        return dict(type(self).timing)

    def __init__(self, dt: float | None = None, timing: Mapping[str, Any] | None = None,
                 input_noise: float | None = None, decision_ms: float | None = None):
        dt = self.default_dt if dt is None else dt
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
            raise ValueError(f"Argument `dt` must be a positive number of ms; received dt={dt!r}.")
        self.dt = float(dt)
        self.timing = self._default_timing()
        unknown = set(timing or {}) - set(self.timing)
        if unknown:
            raise ValueError(
                f"Unknown epochs {sorted(unknown)} for task {self.name!r}; its epochs are "
                f"{list(self.timing)}."
            )
        self.timing.update({epoch: _from_config_duration(value)
                            for epoch, value in (timing or {}).items()})
        for epoch, value in self.timing.items():
            _check_duration(epoch, value)
        noise = self.default_input_noise if input_noise is None else input_noise
        if not noise >= 0:
            raise ValueError(f"Argument `input_noise` must be >= 0; received {input_noise!r}.")
        self.input_noise = float(noise)
        self.decision_ms = self.default_decision_ms if decision_ms is None else decision_ms
        for epoch, value in self.timing.items():
            if min(np.atleast_1d(value)) > 0 and self._min_steps(value) == 0:
                raise ValueError(
                    f"Epoch {epoch!r} of {self.name!r} ({value!r} ms) is shorter than half a step "
                    f"at dt={self.dt} ms; use a smaller `dt` or a longer epoch."
                )
        self.n_steps = sum(self._max_steps(v) for v in self.timing.values())
        if self._min_steps(list(self.timing.values())[-1]) <= 0:
            raise ValueError(f"Task {self.name!r} needs a response epoch of at least one step "
                             f"at dt={self.dt}; timing={self.timing}.")
        if self.decision_ms is not None and self.decision_steps > self.n_steps:
            raise ValueError(
                f"Argument `decision_ms`={self.decision_ms} is longer than the trials of "
                f"{self.name!r} ({self.n_steps * self.dt} ms)."
            )

    @property
    def n_inputs(self) -> int:
        """Number of input channels."""
        return len(self.input_names)

    @property
    def n_outputs(self) -> int:
        """Number of output channels."""
        return len(self.output_names)

    # ---------------------------------------------------------------- timing
    def _steps(self, ms) -> np.ndarray:
        return np.rint(np.asarray(ms, dtype=float) / self.dt).astype(int)

    def _max_steps(self, value) -> int:
        return int(self._steps(max(np.atleast_1d(value))))

    def _min_steps(self, value) -> int:
        return int(self._steps(min(np.atleast_1d(value))))

    @property
    def decision_steps(self) -> int:
        return max(1, int(self._steps(self.decision_ms))) if self.decision_ms else 0

    def _sample_epochs(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Draws every epoch's duration and lays the epochs out so the last one ends the trial.

        Trials shorter than `n_steps` (random durations) start with blank lead-in
        steps (no input, no noise, no loss), so the response always ends the trial.
        """
        durations = {}
        for name, value in self.timing.items():
            if isinstance(value, tuple):
                durations[name] = self._steps(rng.uniform(value[0], value[1], size=n))
            elif np.isscalar(value):
                durations[name] = np.full(n, int(self._steps(value)))
            else:
                durations[name] = self._steps(rng.choice(np.asarray(value, dtype=float), size=n))
        starts = self.n_steps - sum(durations.values())
        epochs = {}
        for name, duration in durations.items():
            epochs[name] = np.stack([starts, starts + duration], axis=1)
            starts = starts + duration
        return epochs

    def window(self, epochs: Mapping[str, np.ndarray], *names: str) -> np.ndarray:
        """`(batch, time)` bool mask of the steps inside any of the named epochs."""
        t = np.arange(self.n_steps)[None, :]
        mask = np.zeros((len(next(iter(epochs.values()))), self.n_steps), dtype=bool)
        for name in names:
            start, stop = epochs[name][:, :1], epochs[name][:, 1:]
            mask |= (t >= start) & (t < stop)
        return mask

    # ------------------------------------------------------------ generation
    @abc.abstractmethod
    def _trials(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Draws the per-trial variables (the ground truth) of `n` trials."""

    @abc.abstractmethod
    def _fill(self, batch: dict[str, np.ndarray], epochs, truth) -> None:
        """Writes `batch["inputs"]`, `batch["targets"]` (and `loss_mask`) in place."""

    @abc.abstractmethod
    def correct(self, outputs: np.ndarray, batch: TrialBatch) -> np.ndarray:
        """The task's decision rule, trial by trial.

        Args:
            outputs: `(batch, time, outputs)` numpy outputs for `batch`.
            batch: the `TrialBatch` (of this task) the outputs answer.

        Returns:
            `(batch,)` float32 scores in [0, 1]: 1 = correct. Binary rules give
            0 or 1; the MoLaP value rule gives the fraction of output units
            within delta (paper A.3 averages over units), so use
            `score == 1` for "every unit right".
        """

    def generate(self, batch_size: int, seed: int | np.random.SeedSequence | None = None,
                 **trial_overrides) -> TrialBatch:
        """Generates `batch_size` trials.

        Args:
            batch_size: number of trials (> 0).
            seed: seed of the trial variables, timing and noise.
            **trial_overrides: pin per-trial variables (arrays of length
                `batch_size` or scalars), e.g. `angle=0.0`.

        Returns:
            A `TrialBatch`.
        """
        n = check_batch_size(batch_size)
        rng = np.random.default_rng(seed)
        epochs = self._sample_epochs(rng, n)
        truth = self._trials(rng, n)
        for key, value in trial_overrides.items():
            if key not in truth:
                raise ValueError(f"Unknown trial variable {key!r} for {self.name!r}; expected "
                                 f"one of {sorted(truth)}.")
            truth[key] = np.broadcast_to(np.asarray(value, dtype=truth[key].dtype), (n,)).copy()
        shape = (n, self.n_steps)
        arrays = {
            "inputs": np.zeros(shape + (len(self.input_names),), np.float32),
            "targets": np.zeros(shape + (len(self.output_names),), np.float32),
            "loss_mask": np.ones(shape + (len(self.output_names),), np.float32),
        }
        self._fill(arrays, epochs, truth)
        started = np.arange(self.n_steps)[None, :] >= epochs[next(iter(epochs))][:, :1]
        active, scored = started, started
        if self.blank_epoch is not None:
            active = started & ~self.window(epochs, self.blank_epoch)
            scored = active if self.mask_blank else started
        if not scored.all():
            arrays["loss_mask"] *= scored[..., None]
        if not active.all():
            arrays["inputs"] *= active[..., None]
        if self.input_noise > 0:
            noise = rng.standard_normal(arrays["inputs"].shape, dtype=np.float32)
            noise *= np.float32(self.input_noise_std)
            if self.noisy_inputs is not None:
                noise *= np.isin(self.input_names, self.noisy_inputs)
            if not active.all():
                noise *= active[..., None]
            arrays["inputs"] += noise
        response = list(self.timing)[-1]
        decision = self.window(epochs, response)
        if self.decision_epoch is not None:
            decision = self.window(epochs, self.decision_epoch)
        elif self.decision_steps:
            decision = np.zeros(shape, dtype=bool)
            decision[:, -self.decision_steps:] = True
        return TrialBatch(
            inputs=arrays["inputs"], targets=arrays["targets"], loss_mask=arrays["loss_mask"],
            decision_mask=decision.astype(np.float32), epochs=epochs, truth=truth,
            task_ids=np.zeros(n, dtype=int), task_names=(self.name,), dt=self.dt,
        )

    @property
    def input_noise_std(self) -> float:
        """Per-step std of the input noise at this task's `dt` (see `input_noise`)."""
        reference = self.default_dt if self.noise_dt is None else self.noise_dt
        return self.input_noise * float(np.sqrt(reference / self.dt))

    def dataset(self, batch_size: int, steps_per_epoch: int, seed: int = 0, epoch: int = 0):
        """This task alone as a seeded Keras `PyDataset` (see `TaskSuite.dataset`).

        Args:
            batch_size: trials per batch.
            steps_per_epoch: batches per epoch.
            seed: seed of the stream.
            epoch: the epoch the stream starts at.

        Returns:
            A `keras.utils.PyDataset` of `(inputs, targets, loss_mask)` batches.
        """
        return TrialDataset(self, batch_size, steps_per_epoch, seed, epoch=epoch)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (and `name`); `tasks.from_config` rebuilds the task."""
        return {"name": self.name, "dt": self.dt,
                "timing": {epoch: _config_duration(v) for epoch, v in self.timing.items()},
                "input_noise": self.input_noise, "decision_ms": self.decision_ms}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(dt={self.dt}, inputs={list(self.input_names)}, "
                f"outputs={list(self.output_names)}, n_steps={self.n_steps})")


def decision_means(outputs: np.ndarray, batch: TrialBatch) -> tuple[np.ndarray, np.ndarray]:
    """Mean output and mean target over each trial's decision window: `(B, O)` each."""
    weight = np.asarray(batch.decision_mask)[:, None, :]  # (B, 1, T): one matmul per trial,
    count = np.maximum(weight.sum(axis=2), 1.0)            # many times faster than a
    return (np.matmul(weight, outputs)[:, 0] / count,     # product and a sum over time
            np.matmul(weight, batch.targets)[:, 0] / count)


def binary_choice(outputs: np.ndarray, batch: TrialBatch, channel: int = 0,
                  threshold: float = THRESHOLD) -> np.ndarray:
    """1 where the mean output over the decision window is on the target's side of `threshold`."""
    out, target = decision_means(outputs, batch)
    return ((out[:, channel] > threshold) == (target[:, channel] > threshold)).astype(np.float32)


def sign_choice(outputs: np.ndarray, batch: TrialBatch, channel: int = 0) -> np.ndarray:
    """1 where the sign of the mean output over the decision window is the target's sign."""
    out, target = decision_means(outputs, batch)
    return (np.sign(out[:, channel]) == np.sign(target[:, channel])).astype(np.float32)


def within_delta(outputs: np.ndarray, batch: TrialBatch, delta: float,
                 channels: Sequence[int] | None = None) -> np.ndarray:
    """MoLaP rule: fraction of output channels whose decision-window mean is within `delta`."""
    out, target = decision_means(outputs, batch)
    if channels is not None:
        out, target = out[:, list(channels)], target[:, list(channels)]
    return (np.abs(out - target) < delta).mean(axis=1).astype(np.float32)
