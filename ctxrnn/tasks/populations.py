"""Population-structure tasks of Dubreuil, Valente et al. 2022 (`shared/tasks.md` section 4).

Timings and input scales follow the reference code (adrian-valente/
populations_paper_code, `low_rank_rnns/{rdm,mante,dms}.py`) at its
`dt = 20` ms. Every target is `+1`/`-1` on the decision epoch only, and the
loss mask is the decision epoch only (the code's convention). A decision is
correct when the sign of the mean output over the decision epoch is the
sign of the target. ctxrnn's choices:

- Decision epochs end the trial; DMS trials with a shorter delay start with
  blank lead-in steps (no input, no noise, no loss) instead of the code's
  trailing zeros.
- No catch trials (the code can add zero-coherence trials; a `coherences`
  argument containing 0 brings them back: their target is 0 and they count
  as correct only if the output's sign is 0, so leave them out of accuracy).
"""

from __future__ import annotations

import numpy as np

from ctxrnn.tasks.base import Task, sign_choice

DUBREUIL_DT = 20.0  # ms (tau = 100 ms, alpha = 0.2 in the reference code)
COHERENCES = (-16.0, -8.0, -4.0, -2.0, -1.0, 1.0, 2.0, 4.0, 8.0, 16.0)  # rdm.py / mante.py
DM_SCALE = 3.2 / 100  # rdm.py: input = coherence * 3.2 / 100 during the stimulus
DM_NOISE = 0.03  # rdm.py / dms.py input noise std per step
CDM_SCALE = 0.1  # mante.py: input = coherence * 0.1 during the stimulus
CDM_NOISE = 0.1  # mante.py sensory noise std per step


class _SignTask(Task):
    default_dt = DUBREUIL_DT
    output_names = ("out",)

    def __init__(self, coherences=COHERENCES, **kwargs):
        super().__init__(**kwargs)
        self.coherences = np.asarray(coherences, dtype=np.float64)
        if self.coherences.ndim != 1 or self.coherences.size == 0:
            raise ValueError(f"Argument `coherences` must be a non-empty list of numbers; "
                             f"received {coherences!r}.")

    def _mask_decision(self, batch, epochs):
        batch["loss_mask"][...] = self.window(epochs, "response")[..., None]

    def correct(self, outputs, batch):
        return sign_choice(outputs, batch)

    def get_config(self):
        return {**super().get_config(), "coherences": self.coherences.tolist()}


class PerceptualDecision(_SignTask):
    """Perceptual decision making (DM, "RDM"): report the sign of a noisy evidence input.

    Input `stimulus`: `coherence * 3.2 / 100` during the 800 ms stimulus,
    plus N(0, 0.03^2) noise on every step; output `out`: `sign(coherence)`
    during the 300 ms decision epoch after a 300 ms delay (tasks.md 4, RDM).

    Args:
        coherences: coherence values drawn uniformly. Default: `+-1, 2, 4, 8, 16`.
        **kwargs: `Task` arguments (`dt`, `timing`, `input_noise`).
    """

    name = "dm"
    input_names = ("stimulus",)
    timing = {"fixation": 100.0, "stimulus": 800.0, "delay": 300.0, "response": 300.0}
    default_input_noise = DM_NOISE

    def _trials(self, rng, n):
        coherence = rng.choice(self.coherences, size=n)
        return {"coherence": coherence, "choice": np.sign(coherence)}

    def _fill(self, batch, epochs, truth):
        truth["choice"][:] = np.sign(truth["coherence"])
        stimulus = self.window(epochs, "stimulus")
        batch["inputs"][..., 0] = stimulus * (DM_SCALE * truth["coherence"])[:, None]
        batch["targets"][..., 0] = self.window(epochs, "response") * truth["choice"][:, None]
        self._mask_decision(batch, epochs)


class ContextDecision(_SignTask):
    """Context-dependent decision making (CDM, Mante et al.): report the sign of the cued input.

    Inputs `color`, `motion`: `coherence * 0.1` during the 800 ms stimulus
    (independent coherences) plus N(0, 0.1^2) noise; `context_color`,
    `context_motion`: one-hot, on from the end of fixation until the decision
    (noise-free). Output `out`: the sign of the attended coherence on the
    single 20 ms decision step (tasks.md 4, Mante). The 350 ms context-only
    epoch is 17.5 steps at 20 ms; ctxrnn rounds it to 18 (79 steps a trial),
    the reference code truncates to 17 (78 steps).

    The reference code's own values differ from these defaults in three places;
    `ContextDecision(**ContextDecision.REFERENCE)` takes them: coherences
    `+-1, 2, 4` (`mante.py`), a 100 ms delay (`mante.py`) and context inputs of
    0.5 (`training_scripts/train_mante_main.py`, the network of the paper's
    Figs. 4-5, sets `SCALE_CTX = 0.5`; the module default is 0.1).

    Args:
        coherences: coherence values drawn uniformly. Default: `+-1, 2, 4, 8, 16`.
        context_strength: value of the cued context input. Default: `1.0`.
        **kwargs: `Task` arguments.
    """

    REFERENCE = {"coherences": (-4.0, -2.0, -1.0, 1.0, 2.0, 4.0), "context_strength": 0.5,
                 "timing": {"delay": 100.0}}

    name = "cdm"
    input_names = ("color", "motion", "context_color", "context_motion")
    noisy_inputs = ("color", "motion")
    timing = {"fixation": 100.0, "context": 350.0, "stimulus": 800.0, "delay": 300.0,
              "response": 20.0}
    default_input_noise = CDM_NOISE

    def __init__(self, coherences=COHERENCES, context_strength: float = 1.0, **kwargs):
        super().__init__(coherences, **kwargs)
        if (isinstance(context_strength, bool) or not isinstance(context_strength, (int, float))
                or not np.isfinite(context_strength) or context_strength <= 0):
            raise ValueError("Argument `context_strength` must be a positive number; "
                             f"received context_strength={context_strength!r}.")
        self.context_strength = float(context_strength)

    def get_config(self):
        return {**super().get_config(), "context_strength": self.context_strength}

    def _trials(self, rng, n):
        color, motion = rng.choice(self.coherences, size=(2, n))
        context = rng.integers(0, 2, size=n)  # 0: color, 1: motion
        choice = np.sign(np.where(context == 0, color, motion))
        return {"color": color, "motion": motion, "context": context, "choice": choice}

    def _fill(self, batch, epochs, truth):
        attended = np.where(truth["context"] == 0, truth["color"], truth["motion"])
        truth["choice"][:] = np.sign(attended)
        stimulus = self.window(epochs, "stimulus")
        batch["inputs"][..., 0] = stimulus * (CDM_SCALE * truth["color"])[:, None]
        batch["inputs"][..., 1] = stimulus * (CDM_SCALE * truth["motion"])[:, None]
        cued = self.window(epochs, "context", "stimulus", "delay")
        batch["inputs"][..., 2] = cued * (self.context_strength * (truth["context"] == 0))[:, None]
        batch["inputs"][..., 3] = cued * (self.context_strength * (truth["context"] == 1))[:, None]
        batch["targets"][..., 0] = self.window(epochs, "response") * truth["choice"][:, None]
        self._mask_decision(batch, epochs)


class DelayedMatch(_SignTask):
    """Delayed match-to-sample (DMS): +1 if two stimuli separated by a delay are the same.

    Inputs `A`, `B`: one-hot stimulus 1 (500 ms), a delay drawn uniformly from
    500-3000 ms, stimulus 2 (500 ms), plus N(0, 0.03^2) noise; output `out`:
    `+1` for a match (A-A, B-B), `-1` otherwise, during the 1000 ms decision
    epoch (tasks.md 4, DMS). Trials are sized for the longest delay.

    Args:
        **kwargs: `Task` arguments.
    """

    name = "dms"
    input_names = ("A", "B")
    timing = {"fixation": 100.0, "stimulus1": 500.0, "delay": (500.0, 3000.0),
              "stimulus2": 500.0, "response": 1000.0}
    default_input_noise = DM_NOISE

    def __init__(self, **kwargs):
        super().__init__(coherences=(1.0,), **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("coherences")
        return config

    def _trials(self, rng, n):
        first, second = rng.integers(0, 2, size=(2, n))
        match = (first == second).astype(np.float64)
        return {"stimulus1": first, "stimulus2": second, "choice": 2 * match - 1}

    def _fill(self, batch, epochs, truth):
        truth["choice"][:] = 2.0 * (truth["stimulus1"] == truth["stimulus2"]) - 1.0
        for epoch, key in (("stimulus1", "stimulus1"), ("stimulus2", "stimulus2")):
            shown = self.window(epochs, epoch)
            batch["inputs"][..., 0] += shown * (truth[key] == 0)[:, None]
            batch["inputs"][..., 1] += shown * (truth[key] == 1)[:, None]
        batch["targets"][..., 0] = self.window(epochs, "response") * truth["choice"][:, None]
        self._mask_decision(batch, epochs)


POPULATION_TASKS = ("dm", "cdm", "dms")
