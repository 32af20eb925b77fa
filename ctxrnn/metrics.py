"""Decision accuracy and output-target distance: Keras metrics and plain functions.

The Keras metrics see only `(y_true, y_pred, sample_weight)`, so they read each
trial's response from its last `window` steps (every ctxrnn task ends with its
response) and use the loss mask (`sample_weight`) to ignore outputs a trial does
not use. The plain functions take a `TrialBatch` and use each task's own
decision rule and window (`task.correct`, `suite.correct`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from ctxrnn.checks import positive_int
from ctxrnn.tasks.base import ANGLE_TOLERANCE, DELTA, THRESHOLD

RULES = ("value", "angle", "choice")
DEFAULT_WINDOW = 30  # MoLaP: mean of the last 30 steps
DEFAULT_DELTA = DELTA  # the tasks' value rule (MoLaP paper A.3)
DEFAULT_THRESHOLD = THRESHOLD  # binary 0/1 targets (Jarne)


@keras.saving.register_keras_serializable(package="ctxrnn")
class DecisionAccuracy(keras.metrics.Metric):
    """Fraction of correct decisions, read from the last `window` steps of each trial.

    Every ctxrnn task ends with its response, so the metric needs only
    `(y_true, y_pred, sample_weight)`: it averages output and target over the
    last `window` steps of each trial. Output channels whose `sample_weight`
    (the loss mask) is 0 over the whole window are not used. Rules:

    - `"value"` (MoLaP, paper A.3): a used channel is correct if its mean
      output is within `delta` of the target's mean; a trial's score is the
      fraction of its used channels that are correct.
    - `"angle"` (Duncker / Driscoll): `atan2(sin, cos)` of the output channels
      `angle_channels` is within `tolerance` radians of the target's angle;
      trials that do not use both channels are not counted.
    - `"choice"`: per used channel, the mean output is on the same side of
      `threshold` as the mean target (binary choices: `threshold=0.5` for 0/1
      targets as in Jarne's tasks, `0.0` for +-1 targets as in Dubreuil's).

    Args:
        window: int, number of final steps averaged. Default: `30` (MoLaP).
        delta: float, tolerance of the value rule. Default: `0.1`.
        rule: `"value"`, `"angle"` or `"choice"`. Default: `"value"`.
        angle_channels: `(cos, sin)` output channel indices of the angle rule.
            Default: `(1, 2)` (after the fixation output).
        tolerance: angular tolerance in radians. Default: `0.1 * pi`.
        threshold: decision threshold of the choice rule. Default: `0.5`.
        name: metric name.
        dtype: metric dtype.

    Example:

    ```python
    model.compile(optimizer="adam", loss=MaskedMSE(),
                  metrics=[DecisionAccuracy(window=30)])
    model.fit(suite.dataset(batch_size=64, steps_per_epoch=50), epochs=5)
    ```
    """

    def __init__(self, window: int = DEFAULT_WINDOW, delta: float = DEFAULT_DELTA,
                 rule: str = "value", angle_channels: tuple[int, int] = (1, 2),
                 tolerance: float = ANGLE_TOLERANCE, threshold: float = DEFAULT_THRESHOLD,
                 name: str = "decision_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        positive_int("window", window)
        if rule not in RULES:
            raise ValueError(f"Argument `rule` must be one of {RULES}; received {rule!r}.")
        if not delta > 0 or not tolerance > 0:
            raise ValueError(f"Arguments `delta` and `tolerance` must be positive; received "
                             f"delta={delta!r}, tolerance={tolerance!r}.")
        if len(tuple(angle_channels)) != 2:
            raise ValueError(f"Argument `angle_channels` must be two output indices (cos, sin); "
                             f"received {angle_channels!r}.")
        self.window, self.delta, self.rule = int(window), float(delta), rule
        self.angle_channels, self.tolerance = tuple(int(c) for c in angle_channels), float(tolerance)
        self.threshold = float(threshold)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, self.dtype)[:, -self.window:, :]
        y_true = ops.cast(y_true, self.dtype)[:, -self.window:, :]
        if sample_weight is None:
            used = ops.ones_like(y_true[:, 0, :])
        else:
            weight = ops.cast(sample_weight, self.dtype)
            if len(weight.shape) == 2:
                weight = ops.expand_dims(weight, -1)
            weight = ops.broadcast_to(weight[:, -self.window:, :], ops.shape(y_true))
            used = ops.cast(ops.sum(weight, axis=1) > 0, self.dtype)
        out, target = ops.mean(y_pred, axis=1), ops.mean(y_true, axis=1)
        if self.rule == "angle":
            c, s = self.angle_channels
            error = ops.arctan2(out[:, s], out[:, c]) - ops.arctan2(target[:, s], target[:, c])
            error = ops.arctan2(ops.sin(error), ops.cos(error))
            score = ops.cast(ops.abs(error) < self.tolerance, self.dtype)
            valid = used[:, c] * used[:, s]
        else:
            if self.rule == "value":
                hit = ops.abs(out - target) < self.delta
            else:
                hit = ops.equal(out > self.threshold, target > self.threshold)
            hit = ops.cast(hit, self.dtype) * used
            n_used = ops.sum(used, axis=1)
            score = ops.sum(hit, axis=1) / ops.maximum(n_used, 1.0)
            valid = ops.cast(n_used > 0, self.dtype)
        self.total.assign_add(ops.sum(score * valid))
        self.count.assign_add(ops.sum(valid))

    def result(self):
        return self.total / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "window": self.window, "delta": self.delta,
                "rule": self.rule, "angle_channels": list(self.angle_channels),
                "tolerance": self.tolerance, "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="ctxrnn")
class OutputTargetDistance(keras.metrics.Metric):
    """Jarne's output-target distance: `||target - output||` over a trial, averaged over trials.

    The Euclidean norm runs over every step and output channel of a trial;
    `sample_weight` (the loss mask, `(batch, time, outputs)` or
    `(batch, time)`) restricts it to the masked-in entries.

    Args:
        name: metric name.
        dtype: metric dtype.

    Example:

    ```python
    model.compile(optimizer="adam", loss=MaskedMSE(), metrics=[OutputTargetDistance()])
    ```
    """

    def __init__(self, name: str = "output_target_distance", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = ops.square(ops.cast(y_pred, self.dtype) - ops.cast(y_true, self.dtype))
        if sample_weight is not None:
            weight = ops.cast(sample_weight, self.dtype)
            if len(weight.shape) == 2:
                weight = ops.expand_dims(weight, -1)
            error = error * weight
        per_trial = ops.sqrt(ops.sum(ops.reshape(error, (ops.shape(error)[0], -1)), axis=1))
        self.total.assign_add(ops.sum(per_trial))
        self.count.assign_add(ops.cast(ops.shape(per_trial)[0], self.dtype))

    def result(self):
        return self.total / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)


def output_target_distance(outputs, targets, mask=None) -> float:
    """Jarne's output-target distance on plain arrays.

    Args:
        outputs: `(batch, time, outputs)` model outputs.
        targets: `(batch, time, outputs)` targets.
        mask: optional loss mask, `(batch, time, outputs)` or `(batch, time)`.

    Returns:
        The mean over trials of the Euclidean norm of `target - output` over
        each trial's masked-in entries (`nan` for an empty batch).
    """
    if np.shape(outputs) != np.shape(targets):
        raise ValueError(f"Arguments `outputs` {np.shape(outputs)} and `targets` "
                         f"{np.shape(targets)} must have the same shape.")
    error = (np.asarray(outputs, np.float64) - np.asarray(targets, np.float64)) ** 2
    if mask is not None:
        mask = np.asarray(mask, np.float64)
        error = error * (mask[..., None] if mask.ndim == error.ndim - 1 else mask)
    if error.shape[0] == 0:
        return float("nan")
    return float(np.sqrt(error.reshape(len(error), -1).sum(axis=1)).mean())


def _scorer(correct) -> Callable:
    if correct is None:
        return default_correct
    if callable(correct):
        return correct
    if callable(getattr(correct, "correct", None)):
        return correct.correct
    raise TypeError(f"Argument `correct` must be a Task, a TaskSuite, a callable "
                    f"`correct(outputs, batch)` or None; received {correct!r}.")


def _check_outputs(outputs, batch, variants: bool = False) -> np.ndarray:
    outputs = np.asarray(outputs)
    target = tuple(np.shape(batch.targets))
    if outputs.shape != target and not (variants and outputs.shape[1:] == target):
        expected = f"{target} or (variants,) + {target}" if variants else f"{target}"
        raise ValueError(f"Argument `outputs` must have the targets' shape {expected}; "
                         f"received {outputs.shape}.")
    return outputs


def default_correct(outputs, batch, delta: float = DEFAULT_DELTA) -> np.ndarray:
    """MoLaP rule on each trial's decision window, for batches without their task objects.

    Per output channel used in the decision window (loss mask not all 0), the
    mean output is correct if within `delta` of the mean target; a trial's
    score is the fraction of its used channels that are correct.

    Args:
        outputs: `(batch, time, outputs)` model outputs.
        batch: the `TrialBatch` they answer.
        delta: tolerance. Default: `0.1` (MoLaP paper A.3).

    Returns:
        `(batch,)` float32 scores in [0, 1].
    """
    outputs = _check_outputs(outputs, batch)
    weight = np.asarray(batch.decision_mask, np.float64)[..., None]
    count = np.maximum(weight.sum(axis=1), 1.0)
    out = (outputs * weight).sum(axis=1) / count
    target = (np.asarray(batch.targets) * weight).sum(axis=1) / count
    used = (np.asarray(batch.loss_mask) * weight).sum(axis=1) > 0
    hits = (np.abs(out - target) < delta) & used
    return (hits.sum(axis=1) / np.maximum(used.sum(axis=1), 1)).astype(np.float32)


def score_trials(outputs, batch, correct=None) -> np.ndarray:
    """Per-trial decision scores in [0, 1], kept as fractions: the one scorer of ctxrnn.

    A task's rule may give a fraction (MoLaP: of the output units within
    delta), so scores are never cast to `bool`; every accuracy ctxrnn reports
    (callbacks, pruning, evaluation, transfer, MoLaP, perturbations) is a
    mean of these scores.

    Args:
        outputs: `(trials, time, outputs)` model outputs, or
            `(variants, trials, time, outputs)` for many weight variants of one
            model answering the same batch (`ctxrnn.simulate`).
        batch: the `TrialBatch` they answer.
        correct: whose decision rule: a `Task` or `TaskSuite` (its `correct`),
            any `correct(outputs, batch) -> (trials,)` callable, or `None` for
            `default_correct` (MoLaP rule on the decision windows).

    Returns:
        float64 scores, `(trials,)` or `(variants, trials)`.

    Example:

    >>> task = tasks.make("delay_pro")
    >>> batch = task.generate(8, seed=0)
    >>> score_trials(batch.targets, batch, task).mean()
    1.0
    """
    outputs = _check_outputs(outputs, batch, variants=True)
    rule = _scorer(correct)
    if outputs.ndim == 4:
        return np.stack([_rule_scores(rule, variant, batch) for variant in outputs]
                        ) if len(outputs) else np.zeros((0, len(batch.targets)))
    return _rule_scores(rule, outputs, batch)


def _rule_scores(rule, outputs, batch) -> np.ndarray:
    scores = np.asarray(rule(outputs, batch), dtype=np.float64)
    if scores.shape != (len(outputs),):
        raise ValueError(f"The decision rule {rule!r} must return one score per trial, "
                         f"shape ({len(outputs)},); returned shape {scores.shape}.")
    return scores


def accuracy_summary(outputs, batch, correct=None) -> dict:
    """Accuracy over all trials and per task, from `score_trials`.

    Args:
        outputs: `(trials, time, outputs)` model outputs.
        batch: the `TrialBatch` they answer (split by `batch.task_ids`).
        correct: as in `score_trials`; pass the suite to use every task's rule.

    Returns:
        `{"accuracy": mean score, "per_task_accuracy": {task: mean score}}`,
        tasks in `batch.task_names` order (tasks absent from `batch` left out).
    """
    scores = score_trials(_check_outputs(outputs, batch), batch, correct)
    ids = np.asarray(batch.task_ids)
    return {"accuracy": float(scores.mean()),
            "per_task_accuracy": {name: float(scores[ids == k].mean())
                                  for k, name in enumerate(batch.task_names) if np.any(ids == k)}}


def decision_accuracy(outputs, batch, correct=None) -> float:
    """Mean per-trial decision score of `outputs` on `batch` (see `score_trials`).

    Args:
        outputs: `(batch, time, outputs)` model outputs (numpy or tensor).
        batch: the `TrialBatch` they answer.
        correct: as in `score_trials`.

    Returns:
        Accuracy in [0, 1].

    Example:

    >>> task = tasks.make("xor", dt=5.0)
    >>> batch = task.generate(100, seed=0)
    >>> decision_accuracy(batch.targets, batch, task)
    1.0
    """
    return accuracy_summary(outputs, batch, correct)["accuracy"]


def per_task_accuracy(outputs, batch, correct=None) -> dict[str, float]:
    """Accuracy of each task present in `batch` (split by `batch.task_ids`).

    Args:
        outputs: `(batch, time, outputs)` model outputs.
        batch: a `TrialBatch`, e.g. `suite.validation_data(100)`.
        correct: as in `score_trials`; pass the suite to use every task's rule.

    Returns:
        `{task name: mean score in [0, 1]}` in `batch.task_names` order.
    """
    return accuracy_summary(outputs, batch, correct)["per_task_accuracy"]
