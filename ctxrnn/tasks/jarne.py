"""Jarne's temporal tasks (Jarne & Laje 2019; C. Jarne's context-multitask poster).

Timings follow the reference code (katejarne/RNN_study_with_keras, see
`shared/tasks.md` section 2) in ms, with `dt` a parameter (the code uses 1 ms
steps). Choices where the code is ambiguous or degenerate:

- Pulses are square (the code smooths some with a Hann/Gaussian window, which
  only rounds their edges); the target baseline is 0 (the code uses 0.01).
- Input noise: std 0.1 per step on every task (the poster's "noisy inputs"; the
  code's XOR/NOT copies use 0.1).
- Oscillation: a clean sinusoid after the delay (the literal code construction
  can give an all-zero target, tasks.md 2.4).
- All tasks share input channel names (`A`, `B`) and the output `out`, so a
  `TaskSuite` of them is Jarne's context network: shared stimulus inputs, one
  output, plus context channels.
"""

from __future__ import annotations

import numpy as np

from ctxrnn.checks import positive_int
from ctxrnn.tasks.base import THRESHOLD, Task, TrialBatch, binary_choice

JARNE_INPUT_NOISE = 0.1  # std per step (reference code, XOR/NOT top-level copies)
JARNE_DT = 1.0  # ms per step in the reference code
OSCILLATION_AMPLITUDE = 0.5
OSCILLATION_PERIOD_MS = 50.0
OSCILLATION_TOLERANCE = 0.5  # correct if RMS error < this fraction of the signal's RMS

# Pulse pairs (A, B) drawn uniformly: trial types 0..3 of the reference code.
_PAIRS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)


class _JarneTask(Task):
    output_names = ("out",)
    default_dt = JARNE_DT
    default_input_noise = JARNE_INPUT_NOISE


class LogicGate(_JarneTask):
    """Logic gate on two temporal pulses with a delayed, sustained answer.

    Inputs `A`, `B`: square pulses of height 0 or 1 during `stimulus`
    (30-50 ms); output `out`: 0 until the end of the 20 ms `delay`, then the
    gate's value to the end of the trial (tasks.md 2.1). Decision: the mean
    output over the last 50 ms is above 0.5 iff the answer is 1.
    """

    input_names = ("A", "B")
    timing = {"fixation": 30.0, "stimulus": 20.0, "delay": 20.0, "response": 130.0}
    default_decision_ms = 50.0
    truth_table = (0, 0, 0, 0)  # value for (A, B) = (0,0), (1,0), (0,1), (1,1)

    def _trials(self, rng, n):
        kind = rng.integers(0, 4, size=n)
        a, b = _PAIRS[kind].T
        return {"a": a, "b": b, "value": np.asarray(self.truth_table, np.float32)[kind]}

    def _fill(self, batch, epochs, truth):
        stimulus = self.window(epochs, "stimulus")
        index = (truth["a"] + 2 * truth["b"]).astype(int)  # pinned a/b still give the right value
        truth["value"][:] = np.asarray(self.truth_table, np.float32)[index]
        batch["inputs"][..., 0] = stimulus * truth["a"][:, None]
        batch["inputs"][..., 1] = stimulus * truth["b"][:, None]
        batch["targets"][..., 0] = self.window(epochs, "response") * truth["value"][:, None]

    def correct(self, outputs, batch: TrialBatch):
        return binary_choice(outputs, batch, threshold=THRESHOLD)


class And(LogicGate):
    """AND of two temporal pulses (see `LogicGate`)."""

    name = "and"
    truth_table = (0, 0, 0, 1)


class Or(LogicGate):
    """OR of two temporal pulses (see `LogicGate`)."""

    name = "or"
    truth_table = (0, 1, 1, 1)


class Xor(LogicGate):
    """XOR of two temporal pulses (see `LogicGate`)."""

    name = "xor"
    truth_table = (0, 1, 1, 0)


class Not(_JarneTask):
    """NOT of one temporal pulse: answer 1 when no pulse came (tasks.md 2.2).

    The network must answer at the right time even when nothing happened.
    """

    name = "not"
    input_names = ("A",)
    timing = {"fixation": 30.0, "stimulus": 20.0, "delay": 20.0, "response": 130.0}
    default_decision_ms = 50.0

    def _trials(self, rng, n):
        a = rng.integers(0, 2, size=n).astype(np.float32)
        return {"a": a, "value": 1.0 - a}

    def _fill(self, batch, epochs, truth):
        batch["inputs"][..., 0] = self.window(epochs, "stimulus") * truth["a"][:, None]
        truth["value"][:] = 1.0 - truth["a"]  # pinned `a` still gives the right value
        batch["targets"][..., 0] = self.window(epochs, "response") * truth["value"][:, None]

    def correct(self, outputs, batch):
        return binary_choice(outputs, batch, threshold=THRESHOLD)


class TimeReproduction(_JarneTask):
    """Reproduce an input pulse after a fixed delay (tasks.md 2.3).

    Input `A`: a 20 ms pulse of height 0 or 1; output `out`: the same pulse
    20 ms after the input pulse ended. The reproduced pulse is the `response`
    epoch and ends the trial (the code keeps 10 more baseline steps after it;
    ctxrnn drops them so that every response ends its trial). Decision: the
    mean output over the response is above 0.5 iff a pulse came, and the mean
    output over the delay stayed below 0.5 (no early answer).
    """

    name = "time_reproduction"
    input_names = ("A",)
    timing = {"fixation": 30.0, "stimulus": 20.0, "delay": 20.0, "response": 20.0}

    def _trials(self, rng, n):
        return {"value": rng.integers(0, 2, size=n).astype(np.float32)}

    def _fill(self, batch, epochs, truth):
        value = truth["value"][:, None]
        batch["inputs"][..., 0] = self.window(epochs, "stimulus") * value
        batch["targets"][..., 0] = self.window(epochs, "response") * value

    def correct(self, outputs, batch):
        reproduced = binary_choice(outputs, batch, threshold=THRESHOLD)
        delay = self.window(batch.epochs, "delay")
        early = (outputs[..., 0] * delay).sum(1) / np.maximum(delay.sum(1), 1) > THRESHOLD
        return reproduced * (~early)


class FlipFlop(_JarneTask):
    """Flip-flop memory: hold the index of the last channel that pulsed (tasks.md 2.5).

    Every `turn_ms` a 20 ms pulse arrives on `S` (set: hold 1) or `R` (reset:
    hold 0), chosen at random; the output holds the state from 20 ms after a
    pulse ends until the same point after the next pulse. Decision: the state
    held over the last 50 ms (after the last pulse).

    Args:
        n_turns: number of pulses. Default: `8` (reference code).
        turn_ms: time between pulses. Default: `120`.
        **kwargs: `Task` arguments.
    """

    name = "flip_flop"
    input_names = ("S", "R")
    pulse_ms = 20.0
    gap_ms = 20.0
    hold_ms = 100.0
    default_decision_ms = 50.0

    def __init__(self, n_turns: int = 8, turn_ms: float = 120.0, **kwargs):
        positive_int("n_turns", n_turns)
        self.n_turns, self.turn_ms = n_turns, float(turn_ms)
        super().__init__(**kwargs)

    def _default_timing(self):
        return {"wait": 50.0, "turns": (self.n_turns - 1) * self.turn_ms,
                "response": self.pulse_ms + self.gap_ms + self.hold_ms}

    def get_config(self):
        return {**super().get_config(), "n_turns": self.n_turns, "turn_ms": self.turn_ms}

    def _trials(self, rng, n):
        channels = rng.integers(0, 2, size=(n, self.n_turns))
        return {"channels": channels, "value": (channels[:, -1] == 0).astype(np.float32)}

    def _fill(self, batch, epochs, truth):
        turn, pulse = int(self._steps(self.turn_ms)), int(self._steps(self.pulse_ms))
        lag = int(self._steps(self.pulse_ms + self.gap_ms))
        elapsed = np.arange(self.n_steps)[None] - epochs["wait"][:, 1:2]  # steps since turn 0
        current = elapsed // turn  # index of the turn whose pulse window holds this step
        on = (current >= 0) & (current < self.n_turns) & (elapsed % turn < pulse)
        fired = np.take_along_axis(truth["channels"], np.clip(current, 0, self.n_turns - 1), 1)
        batch["inputs"][..., 0] = on & (fired == 0)
        batch["inputs"][..., 1] = on & (fired == 1)
        held = np.minimum((elapsed - lag) // turn, self.n_turns - 1)  # last turn already held
        state = np.take_along_axis(truth["channels"], np.clip(held, 0, None), 1) == 0
        batch["targets"][..., 0] = state & (held >= 0)
        truth["value"][:] = truth["channels"][:, -1] == 0

    def correct(self, outputs, batch):
        return binary_choice(outputs, batch, threshold=THRESHOLD)


class Oscillation(_JarneTask):
    """Stimulus-triggered oscillation of a given duration (tasks.md 2.4, clean form).

    Input `A`: a 20 ms pulse of height 0 or 1; output `out`: after a 20 ms
    delay, `amplitude * sin(2 pi (t - t0) / period)` for the `response` epoch
    if a pulse came, 0 otherwise. Decision: the RMS error over the response is
    below half the RMS of the oscillation.

    Args:
        amplitude: oscillation amplitude. Default: `0.5`.
        period_ms: oscillation period. Default: `50`.
        **kwargs: `Task` arguments.
    """

    name = "oscillation"
    input_names = ("A",)
    timing = {"fixation": 100.0, "stimulus": 20.0, "delay": 20.0, "response": 200.0}

    def __init__(self, amplitude: float = OSCILLATION_AMPLITUDE,
                 period_ms: float = OSCILLATION_PERIOD_MS, **kwargs):
        super().__init__(**kwargs)
        if not amplitude > 0 or not period_ms >= 4 * self.dt:
            raise ValueError(
                f"Arguments `amplitude` > 0 and `period_ms` >= 4 dt ({4 * self.dt} ms) are "
                f"needed; received amplitude={amplitude}, period_ms={period_ms}."
            )
        self.amplitude, self.period_ms = float(amplitude), float(period_ms)

    def get_config(self):
        return {**super().get_config(), "amplitude": self.amplitude, "period_ms": self.period_ms}

    def _trials(self, rng, n):
        return {"value": rng.integers(0, 2, size=n).astype(np.float32)}

    def _fill(self, batch, epochs, truth):
        value = truth["value"][:, None]
        batch["inputs"][..., 0] = self.window(epochs, "stimulus") * value
        elapsed = (np.arange(self.n_steps)[None] - epochs["response"][:, :1]) * self.dt
        wave = self.amplitude * np.sin(2 * np.pi * elapsed / self.period_ms)
        batch["targets"][..., 0] = self.window(epochs, "response") * wave * value

    def correct(self, outputs, batch):
        response = self.window(batch.epochs, "response")
        error = ((outputs[..., 0] - batch.targets[..., 0]) ** 2 * response).sum(1)
        rms = np.sqrt(error / response.sum(1))
        return (rms < OSCILLATION_TOLERANCE * self.amplitude / np.sqrt(2)).astype(np.float32)


JARNE_TASKS = ("time_reproduction", "and", "or", "xor", "not", "flip_flop", "oscillation")
