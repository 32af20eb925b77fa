"""Driscoll, Shenoy & Sussillo (2024)'s multitask network: build it and `fit` it on the 15 rules.

The network (`shared/analysis.md` section 2; `lauradriscoll/flexible_multitask`,
`transfer_learn/network.py`): a leaky rate network
`h <- (1 - alpha) h + alpha softplus(W_rec h + W_in x + b + noise)` with
`alpha = dt / tau = 20 / 100 = 0.2`, 256 units, recurrent noise
`0.05 * sqrt(2 / alpha)` inside the nonlinearity (`CTRNNCell`'s `scale_noise`),
the "diag" start `W_rec = 0.6 I` (Driscoll's value for softplus),
`W_in ~ N(0, 1 / n_inputs)`, and a linear readout. Driscoll splits the input
kernel into a stimulus block and one `1 x N` row per rule; in ctxrnn every rule is
its own one-hot context channel of the `TaskSuite`, so its row of the one input
kernel is that rule's row (`rule_rows`), and `ctxrnn.freeze(model, inputs=...)`
trains a single row, as Driscoll's rule-input-only transfer does.

```python
from ctxrnn import motifs

suite = motifs.motif_suite()                   # the 15 rules, fast CPU timing
result = motifs.fit(suite, steps=20000, seed=0)
result.accuracy, result.steps_to_criterion
```
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn import seeding, zoo
from ctxrnn.callbacks import TaskAccuracy
from ctxrnn.checks import positive_int
from ctxrnn.models import compile_model, context_multitask
from ctxrnn.tasks import TaskSuite, make
from ctxrnn.tasks.yang import YANG_DT, YANG_RULES, fast_timing
from ctxrnn.transfer import DEFAULT_CRITERION

DRISCOLL_UNITS = 256
DRISCOLL_TAU = 100.0  # ms; alpha = 0.2 at dt = 20 ms
DRISCOLL_RECURRENT_NOISE = 0.05  # sigma_rec of Driscoll's hp (not the knee tolerance)
DRISCOLL_DIAGONAL = 0.6  # W_rec = 0.6 I for softplus ("diag" init)
DEFAULT_LEARNING_RATE = 1e-3  # Yang's Adam step; Driscoll's nets used 10**-3.5


def motif_suite(rules: Sequence[str] = YANG_RULES, *, fast: bool = True, dt: float = YANG_DT,
                seed: int = 0, **task_options: Any) -> TaskSuite:
    """The rules as one `TaskSuite` with one-hot rule inputs (one input row per rule).

    Args:
        rules: rule names (`ctxrnn.tasks.YANG_RULES` or a subset). Default: all 15.
        fast: use the shorter CPU timing (`ctxrnn.tasks.yang.FAST_TIMING`);
            `False` keeps Driscoll's ranges.
        dt: step (ms). Default: `20`.
        seed: the suite's default trial seed.
        **task_options: further arguments of every task (`n_ring`, `tolerance`, ...).

    Returns:
        A `TaskSuite` (context `"one_hot"`, trials mixed per trial).
    """
    rules = [rules] if isinstance(rules, str) else list(rules)
    unknown = [r for r in rules if r not in YANG_RULES]
    if unknown or not rules:
        raise ValueError(f"Argument `rules` must name rules among {list(YANG_RULES)}; received "
                         f"{rules!r}.")
    built = [make(rule, dt=dt, **({"timing": fast_timing(rule)} if fast else {}), **task_options)
             for rule in rules]
    return TaskSuite(built, context="one_hot", seed=seed)


def rule_rows(suite: TaskSuite, rules: Sequence[str] | None = None) -> list[int]:
    """Rows of the input kernel that carry the given rules' inputs (default: all rules)."""
    rules = suite.task_names if rules is None else rules
    missing = [r for r in rules if r not in suite.task_names]
    if missing:
        raise ValueError(f"Rules {missing} are not in the suite {list(suite.task_names)}.")
    return [suite.input_names.index(f"context_{rule}") for rule in rules]


def build_network(suite: TaskSuite, units: int = DRISCOLL_UNITS, *, seed: int = 0,
                  activation: str = "softplus", tau: float = DRISCOLL_TAU,
                  recurrent_noise: float = DRISCOLL_RECURRENT_NOISE,
                  diagonal: float = DRISCOLL_DIAGONAL, **cell_options: Any) -> keras.Model:
    """Driscoll's network for `suite`: `Input -> CTRNN("ctrnn") -> Dense("readout")`, uncompiled.

    Args:
        suite: the `TaskSuite` (e.g. `motif_suite()`).
        units: number of units. Default: `256`.
        seed: seed of the weights and the noise.
        activation: Default: `"softplus"`.
        tau: time constant (ms). Default: `100` (alpha = 0.2 at dt = 20 ms).
        recurrent_noise: std of the recurrent noise, scaled by `sqrt(2 / alpha)`.
            Default: `0.05`.
        diagonal: `W_rec` starts as `diagonal * I`. Default: `0.6`.
        **cell_options: other `CTRNNCell` arguments.

    Returns:
        A `keras.Model` (built by `ctxrnn.models.context_multitask`).
    """
    if not diagonal > 0:
        raise ValueError(f"Argument `diagonal` must be positive; received {diagonal!r}.")
    options = {
        "activation": activation, "recurrent_noise": recurrent_noise, "input_noise": 0.0,
        "recurrent_initializer": {"class_name": "Identity", "config": {"gain": float(diagonal)}},
        "kernel_initializer": {"class_name": "RandomNormal",
                               "config": {"stddev": 1.0 / np.sqrt(suite.n_inputs)}},
        **cell_options,
    }
    return context_multitask(suite, units, tau=tau, seed=seed, name="driscoll_multitask",
                             **options)


class _CriterionStop(TaskAccuracy):
    """`TaskAccuracy` that records every evaluation and stops when every task reaches `criterion`."""

    def __init__(self, batch, correct, criterion, stop, every, steps_per_epoch):
        super().__init__(batch, correct, every=every)
        self.criterion, self.stop, self.steps_per_epoch = criterion, stop, steps_per_epoch
        self.history: list[dict[str, float]] = []
        self.reached: int | None = None
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if (epoch + 1) % self.every:
            return
        step = (epoch + 1) * self.steps_per_epoch
        record = {"step": step, "seconds": time.perf_counter() - self.start,
                  "loss": float((logs or {}).get("loss", np.nan)), **self.last}
        self.history.append(record)
        worst = min(v for k, v in self.last.items() if k.startswith("val_accuracy_"))
        if worst >= self.criterion and self.reached is None:
            self.reached = step
            if self.stop:
                self.model.stop_training = True


@dataclasses.dataclass
class FitResult:
    """What `fit` returns.

    Attributes:
        model: the trained model.
        suite: its `TaskSuite`.
        accuracy: `{rule: accuracy}` on held-out trials after training.
        history: one record per evaluation: `step`, `seconds`, `loss`,
            `val_accuracy` and `val_accuracy_<rule>`.
        steps_to_criterion: first evaluated step at which every rule reached
            the criterion, or `None`.
        steps: training steps done.
        seconds: wall time of training.
    """

    model: keras.Model
    suite: TaskSuite
    accuracy: dict[str, float]
    history: list[dict[str, float]]
    steps_to_criterion: int | None
    steps: int
    seconds: float


def fit(suite: TaskSuite, model: keras.Model | None = None, *, steps: int = 20000,
        batch_size: int = 64, learning_rate: float = DEFAULT_LEARNING_RATE,
        criterion: float = DEFAULT_CRITERION, stop_at_criterion: bool = True,
        eval_every: int = 500, validation_trials: int = 100, test_trials: int = 200,
        seed: int = 0, callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int = 0,
        compile: bool = True, **network_options: Any) -> FitResult:  # noqa: A002
    """Trains Driscoll's network (or `model`) on `suite` with `model.fit`; stops at criterion.

    Trials are drawn afresh for every step (`suite.dataset`); every
    `eval_every` steps the per-rule accuracy (`suite.correct`, Yang's rule)
    is measured on a fixed validation set and training stops once every
    rule is at `criterion` (Driscoll's `target_perf` rule: the minimum over
    rules). Adam with clipnorm 1 and the masked MSE (`compile_model`).

    Args:
        suite: the rules (`motif_suite`).
        model: a model to continue training; default a new `build_network`.
        steps: most training steps. Default: `20000`.
        batch_size: trials per step. Default: `64`.
        learning_rate: Adam's step. Default: `1e-3`.
        criterion: accuracy every rule must reach. Default: `0.9`.
        stop_at_criterion: stop when it is reached. Default: `True`.
        eval_every: steps between evaluations. Default: `500`.
        validation_trials: trials per rule of the validation set.
        test_trials: trials per rule of the final accuracy (another seed).
        seed: seed of the weights, noise and trials (`ctxrnn.seeding` streams).
        callbacks: more Keras callbacks.
        verbose: Keras verbosity.
        compile: compile `model` (a new model is always compiled); `False`
            keeps a given model's optimizer and what it may learn.
        **network_options: `build_network` arguments.

    Returns:
        A `FitResult`.

    Example:

    ```python
    result = fit(motif_suite(["fdgo", "delaygo"]), steps=2000, units=64)
    ```
    """
    for name, value in (("steps", steps), ("eval_every", eval_every)):
        positive_int(name, value)
    if model is None:
        keras.utils.set_random_seed(seed)  # the readout initializer (as train_run)
        model = build_network(suite, seed=seed, **network_options)
        compile = True
    elif network_options:
        raise ValueError(f"Arguments {sorted(network_options)} build a new network; they "
                         "cannot apply to a given `model`.")
    if compile:
        compile_model(model, learning_rate=learning_rate, metrics=[])
    validation = suite.validation_data(validation_trials,
                                       seed=seeding.derive(seed, "validation"))
    tracker = _CriterionStop(validation, suite.correct, criterion, stop_at_criterion,
                             every=1, steps_per_epoch=eval_every)
    epochs = -(-int(steps) // int(eval_every))
    data = suite.dataset(batch_size=batch_size, steps_per_epoch=int(eval_every),
                         seed=seeding.derive(seed, "trials"))
    start = time.perf_counter()
    model.fit(data, epochs=epochs, shuffle=False, callbacks=[tracker, *callbacks],
              verbose=verbose)
    seconds = time.perf_counter() - start
    accuracy = zoo.evaluate(model, suite, n_per_task=test_trials,
                            seed=seeding.derive(seed, "test"))
    done = tracker.history[-1]["step"] if tracker.history else 0
    return FitResult(model=model, suite=suite, accuracy=accuracy, history=tracker.history,
                     steps_to_criterion=tracker.reached, steps=done, seconds=seconds)
