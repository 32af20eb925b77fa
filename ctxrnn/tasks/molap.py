"""The nine MoLaP tasks (Marton et al.; code dashirn/MoLaP, `shared/tasks.md` section 1).

Trial layout of the code at the default `dt = 10` ms (110 steps): `blank`
100 ms (everything 0, no noise, no loss), `fixation` 250 ms, `stimulus` 500 ms,
`response` 250 ms. The fixation input is 1 during fixation and stimulus; the
fixation target equals it (noise-free). Stimuli are `(cos theta, sin theta)`;
targets are 0 until the response.

ctxrnn's choices (tasks.md, "ctxrnn's choices"):
- input noise std 0.002 (the paper; the code's value is 0.02: `input_noise=0.02`);
- Mem Pro/Anti: the stimulus turns off after a variable 100-300 ms and the
  network must remember it through the rest of the stimulus epoch (the paper's
  text); `memory_delay=False` gives the code's stimulus on for all 500 ms;
- angles from 0 to 350 deg in 10 deg steps (the code), an `angles` argument;
- the 10 blank steps are out of the loss (`mask_blank=False`: the code's loss
  over all 110 steps);
- decision (paper A.3): per output unit, the mean over the last 30 steps is
  within 0.1 of the target's mean; the trial's score is the fraction of units
  that are; `rule="angle"` instead checks the decoded angle of the `(cos, sin)`
  outputs within 0.1 pi (Pro/Anti tasks).
"""

from __future__ import annotations

import numpy as np

from ctxrnn.tasks.base import ANGLE_TOLERANCE, DELTA, Task, decision_means, within_delta

MOLAP_DT = 10.0  # ms; T = 1 s over the code's 100 steps
MOLAP_INPUT_NOISE = 0.002  # paper; code: 0.002 / sqrt(0.01) = 0.02
DECISION_MS = 300.0  # last 30 steps at dt = 10 ms
MEMORY_STIMULUS_MS = (100.0, 300.0)  # variable stimulus duration of Mem Pro/Anti
DM_STIMULUS_MS = 100.0  # Mem DM: stim1 100 ms, gap 200 ms, stim2 100 ms, delay 100 ms
DM_GAP_MS = 200.0
CODE_ANGLES = np.arange(0.0, 360.0, 10.0)
RULES = ("delta", "angle")


class _MolapTask(Task):
    timing = {"blank": 100.0, "fixation": 250.0, "stimulus": 500.0, "response": 250.0}
    blank_epoch = "blank"
    default_dt = MOLAP_DT
    default_input_noise = MOLAP_INPUT_NOISE
    default_decision_ms = DECISION_MS
    input_names = ("fixation", "cos", "sin")
    output_names = ("fixation", "response")

    def __init__(self, angles=None, rule: str = "delta", delta: float = DELTA,
                 mask_blank: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.mask_blank = bool(mask_blank)
        self.angles = np.asarray(CODE_ANGLES if angles is None else angles, dtype=np.float64)
        if self.angles.ndim != 1 or self.angles.size == 0:
            raise ValueError(f"Argument `angles` must be a non-empty list of degrees; "
                             f"received {angles!r}.")
        if rule not in RULES or (rule == "angle" and "cos" not in self.output_names):
            raise ValueError(f"Argument `rule` must be one of {RULES} ('angle' needs cos/sin "
                             f"outputs); received {rule!r} for {self.name!r}.")
        if not delta > 0:
            raise ValueError(f"Argument `delta` must be positive; received {delta!r}.")
        self.rule, self.delta = rule, float(delta)

    def get_config(self):
        return {**super().get_config(), "angles": self.angles.tolist(), "rule": self.rule,
                "delta": self.delta, "mask_blank": self.mask_blank}

    def _angle(self, rng, n):
        return np.deg2rad(rng.choice(self.angles, size=n))

    def _fixation(self, batch, epochs):
        fixating = self.window(epochs, "fixation", "stimulus")
        batch["inputs"][..., 0] = fixating
        batch["targets"][..., 0] = fixating

    def correct(self, outputs, batch):
        if self.rule == "angle":
            out, _ = decision_means(outputs, batch)
            decoded = np.arctan2(out[:, 2], out[:, 1])
            error = np.angle(np.exp(1j * (decoded - batch.truth["target_angle"])))
            return (np.abs(error) < ANGLE_TOLERANCE).astype(np.float32)
        return within_delta(outputs, batch, self.delta)


class _ProAnti(_MolapTask):
    output_names = ("fixation", "cos", "sin")
    anti = False
    memory = False

    def __init__(self, memory_delay: bool = True, **kwargs):
        self.memory_delay = bool(memory_delay)
        super().__init__(**kwargs)

    def get_config(self):
        return {**super().get_config(), "memory_delay": self.memory_delay}

    def _trials(self, rng, n):
        theta = self._angle(rng, n)
        truth = {"angle": theta, "target_angle": theta + np.pi * self.anti}
        if self.memory:
            stimulus_ms = (rng.uniform(*MEMORY_STIMULUS_MS, size=n) if self.memory_delay
                           else np.full(n, self.timing["stimulus"]))
            truth["stimulus_ms"] = stimulus_ms
        return truth

    def _fill(self, batch, epochs, truth):
        truth["target_angle"][:] = truth["angle"] + np.pi * self.anti  # pinned angles too
        self._fixation(batch, epochs)
        if self.memory:
            start = epochs["stimulus"][:, 0]
            stop = start + self._steps(truth["stimulus_ms"])
            epochs["memory"] = np.stack([stop, epochs["stimulus"][:, 1]], axis=1)
            t = np.arange(self.n_steps)[None]
            shown = (t >= start[:, None]) & (t < stop[:, None])
        else:
            shown = self.window(epochs, "stimulus", "response")
        theta, target = truth["angle"][:, None], truth["target_angle"][:, None]
        batch["inputs"][..., 1] = shown * np.cos(theta)
        batch["inputs"][..., 2] = shown * np.sin(theta)
        response = self.window(epochs, "response")
        batch["targets"][..., 1] = response * np.cos(target)
        batch["targets"][..., 2] = response * np.sin(target)


class DelayPro(_ProAnti):
    """Delay Pro (T1): report the stimulus angle; the stimulus stays on through the response."""

    name = "delay_pro"


class DelayAnti(_ProAnti):
    """Delay Anti (T2): report the opposite angle; the stimulus stays on."""

    name = "delay_anti"
    anti = True


class MemPro(_ProAnti):
    """Mem Pro (T3): report the angle of a stimulus that turned off 200-400 ms before."""

    name = "mem_pro"
    memory = True


class MemAnti(_ProAnti):
    """Mem Anti (T4): report the opposite angle of a remembered stimulus."""

    name = "mem_anti"
    anti = True
    memory = True


class _MemDecision(_MolapTask):
    """Two stimuli in sequence; the response is the larger of a value of the two.

    Within the stimulus epoch: stimulus 1 for 100 ms, a 200 ms gap, stimulus 2
    for 100 ms, then a 100 ms delay (tasks.md 1.3).
    """

    modalities = ("cos",)  # which stimulus channels are shown
    # Subclasses set `_value(theta)`: the quantity whose larger value is reported.

    @property
    def input_names(self):
        return ("fixation", *self.modalities)

    def _trials(self, rng, n):
        theta1, theta2 = self._angle(rng, n), self._angle(rng, n)
        value = np.maximum(self._value(theta1), self._value(theta2))
        return {"angle1": theta1, "angle2": theta2, "value": value}

    def _fill(self, batch, epochs, truth):
        truth["value"][:] = np.maximum(self._value(truth["angle1"]), self._value(truth["angle2"]))
        self._fixation(batch, epochs)
        t = np.arange(self.n_steps)[None]
        start = epochs["stimulus"][:, :1]
        first = (t >= start) & (t < start + self._steps(DM_STIMULUS_MS))
        second_start = start + self._steps(DM_STIMULUS_MS + DM_GAP_MS)
        second = (t >= second_start) & (t < second_start + self._steps(DM_STIMULUS_MS))
        for channel, modality in enumerate(self.modalities, start=1):
            wave = np.cos if modality == "cos" else np.sin
            batch["inputs"][..., channel] = (first * wave(truth["angle1"])[:, None]
                                             + second * wave(truth["angle2"])[:, None])
        batch["targets"][..., 1] = self.window(epochs, "response") * truth["value"][:, None]


class MemDm1(_MemDecision):
    """Mem Dm1 (T5): larger cosine of two remembered angles; only the cos channel is shown."""

    name = "mem_dm1"
    modalities = ("cos",)
    _value = staticmethod(np.cos)


class MemDm2(_MemDecision):
    """Mem Dm2 (T6): larger sine of two remembered angles; only the sin channel is shown."""

    name = "mem_dm2"
    modalities = ("sin",)
    _value = staticmethod(np.sin)


class ContextMemDm1(_MemDecision):
    """Context Mem Dm1 (T7): both modalities shown, report the larger cosine."""

    name = "context_mem_dm1"
    modalities = ("cos", "sin")
    _value = staticmethod(np.cos)


class ContextMemDm2(_MemDecision):
    """Context Mem Dm2 (T8): both modalities shown, report the larger sine."""

    name = "context_mem_dm2"
    modalities = ("cos", "sin")
    _value = staticmethod(np.sin)


class MultiMem(_MemDecision):
    """Multi Mem (T9): report the larger `cos + sin` of two remembered angles."""

    name = "multi_mem"
    modalities = ("cos", "sin")

    @staticmethod
    def _value(theta):
        return np.cos(theta) + np.sin(theta)


MOLAP_TASKS = ("delay_pro", "delay_anti", "mem_pro", "mem_anti", "mem_dm1", "mem_dm2",
               "context_mem_dm1", "context_mem_dm2", "multi_mem")
