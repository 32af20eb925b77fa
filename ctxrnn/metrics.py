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

RULES = ("value", "angle")
DEFAULT_WINDOW = 30  # MoLaP: mean of the last 30 steps
DEFAULT_DELTA = 0.1  # MoLaP paper A.3
ANGLE_TOLERANCE = 0.1 * np.pi  # Duncker / Driscoll


@keras.saving.register_keras_serializable(package="ctxrnn")
class DecisionAccuracy(keras.metrics.Metric):
    """Fraction of correct decisions, read from the last `window` steps of each trial.

    `rule="value"` (MoLaP, paper A.3): per output channel, the mean output over
    the window is correct if within `delta` of the target's mean; a trial's
    score is the fraction of its used channels that are correct (channels whose
    `sample_weight` is 0 over the whole window are not used).
    `rule="angle"`: the angle `atan2(sin, cos)` of the output channels
    `angle_channels` must be within `tolerance` radians of the target's.

    Args:
        window: int, number of final steps averaged. Default: `30`.
        delta: float, tolerance of the value rule. Default: `0.1`.
        rule: `"value"` or `"angle"`.
        angle_channels: `(cos, sin)` output channels of the angle rule.
        tolerance: angular tolerance (radians). Default: `0.1 * pi`.
    """

    def __init__(self, window: int = DEFAULT_WINDOW, delta: float = DEFAULT_DELTA,
                 rule: str = "value", angle_channels=(1, 2), tolerance: float = ANGLE_TOLERANCE,
                 name: str = "decision_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"Argument `window` must be a positive integer; received {window!r}.")
        if rule not in RULES:
            raise ValueError(f"Argument `rule` must be one of {RULES}; received {rule!r}.")
        if not delta > 0 or not tolerance > 0:
            raise ValueError(f"Arguments `delta` and `tolerance` must be positive; received "
                             f"delta={delta!r}, tolerance={tolerance!r}.")
        self.window, self.delta, self.rule = window, float(delta), rule
        self.angle_channels, self.tolerance = tuple(angle_channels), float(tolerance)
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
            valid = ops.ones_like(score)
        else:
            hit = ops.cast(ops.abs(out - target) < self.delta, self.dtype) * used
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
                "tolerance": self.tolerance}


@keras.saving.register_keras_serializable(package="ctxrnn")
class OutputTargetDistance(keras.metrics.Metric):
    """Jarne's output-target distance: the Euclidean norm over a trial of
    `(target - output)` (masked by `sample_weight`), averaged over trials."""

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
    """Mean over trials of `||target - output||` over the trial (masked entries only)."""
    error = (np.asarray(outputs, np.float64) - np.asarray(targets, np.float64)) ** 2
    if mask is not None:
        mask = np.asarray(mask, np.float64)
        error = error * (mask[..., None] if mask.ndim == error.ndim - 1 else mask)
    if error.shape[0] == 0:
        return float("nan")
    return float(np.sqrt(error.reshape(len(error), -1).sum(axis=1)).mean())


def decision_accuracy(outputs, batch, correct: Callable) -> float:
    """Mean per-trial score of `correct(outputs, batch)` (a task's or suite's rule)."""
    return float(np.mean(correct(np.asarray(outputs), batch)))


def per_task_accuracy(outputs, batch, correct: Callable) -> dict[str, float]:
    """Accuracy of each task in `batch` (by `batch.task_ids`) under `correct`."""
    scores = np.asarray(correct(np.asarray(outputs), batch), dtype=np.float64)
    return {name: float(scores[batch.task_ids == k].mean())
            for k, name in enumerate(batch.task_names) if np.any(batch.task_ids == k)}
