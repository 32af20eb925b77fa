"""Driscoll's 15 rules with Yang's encodings (Yang et al. 2019; Driscoll, Shenoy & Sussillo 2024).

Read from `gyyang/multitask` and `lauradriscoll/flexible_multitask` (`task.py`;
`shared/tasks.md` sections 3 and 5), written anew. At the default `dt = 20` ms:

- **Inputs**: `fixation` (1 while the fixation point is shown), two rings of
  `n_ring` (default 32) stimulus units, `mod1_<i>` and `mod2_<i>`, with
  preferred angles `2 pi i / n_ring`. A stimulus at angle `theta` of strength
  `s` drives unit `i` with `s * 0.8 * exp(-d_i^2 / 2)`, `d_i` = circular
  distance to the preferred angle in units of `pi / 8`. The rule inputs (one
  per task, on for the whole trial) are the `TaskSuite`'s one-hot context
  channels, so each rule has its own row of the input kernel.
- **Outputs**: `fixation` (target 0.8 while fixating, 0.05 after) and a ring of
  `n_ring` response units `out_<i>` (0.05 + the bump of the response angle
  after the go cue, 0.05 before).
- **Loss mask** (Yang's cost mask): 0 for the first 100 ms of the task, then
  weight 1 until the go cue, 0 for 100 ms after it, 5 afterwards; the fixation
  output counts twice. Yang's loss is `mean((err * c_mask)^2)`, so the weight
  of an entry is `c_mask^2`: the loss mask holds `c_mask^2` (1, 25; 4, 100 on
  the fixation output), which is what `MaskedMSE` multiplies by.
- **Decision** (Yang's `get_perf`): at the last step only, the network
  fixates if its fixation output is > 0.5; the response angle is the
  population vector of the response ring. A trial that asks for a response
  is correct if the network does not fixate and the angle is within
  `0.2 pi` (`tolerance`) of the target; a no-go trial is correct if it fixates.
- **Input noise**: Yang's `sigma_x = 0.01` scaled by `sqrt(2 / alpha)` at
  `alpha = 0.2`, i.e. std `0.0316` per 20 ms step, on every input.
- **Epochs** carry Yang's names (`fix1`, `stim1`, `delay1`, `stim2`,
  `delay2`, `go1`) so that task periods are known (`TrialBatch.epochs`).
- **Timing**: the class defaults are Driscoll's `'random'` mode (continuous
  uniform ranges, ms). `FAST_TIMING` holds shorter ranges (about half) used
  for CPU training; pass `timing=FAST_TIMING[name]` (or `fast_timing(name)`).
- **Test mode**: `task.grid()` returns a deterministic grid of stimulus
  conditions with fixed epoch durations (the middle of each range) and no
  input noise, the trials Yang's and Driscoll's variance analyses use
  (`TaskSuite.grid(name)` gives them in the suite's channel layout, with the
  rule input).

ctxrnn's choices: the modality of a go/anti trial and the timing are drawn
per trial (the reference draws them per batch); trials end with the response
and shorter trials start with blank lead-in steps (`Task`); DMC locations are
Yang's ten category-typical angles (0.1 pi ... 1.9 pi, none at the boundary;
Driscoll draws them uniformly).

MoLaP tasks (`ctxrnn.tasks.molap`) that are the same trial logic with
MoLaP's `(cos, sin)` stimulus coding and no rule input (`MOLAP_EQUIVALENTS`):
`fdgo`~`delay_pro`, `fdanti`~`delay_anti`, `delaygo`~`mem_pro`,
`delayanti`~`mem_anti`, `delaydm1/2`~`mem_dm1/2`,
`contextdelaydm1/2`~`context_mem_dm1/2`, `multidelaydm`~`multi_mem`. The
MoLaP generators are not reused as code: their encoding (two channels, not a
ring), their fixed 110-step layout and their DM decision variable (the larger
cos/sin *value* of two angles, not the stronger of two stimuli) differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ctxrnn.checks import positive_int
from ctxrnn.tasks.base import Task

YANG_DT = 20.0  # ms; tau = 100 ms gives alpha = 0.2
N_RING = 32  # units per stimulus ring and in the response ring (Yang)
BUMP = 0.8  # peak of a ring bump and the fixation target
BUMP_WIDTH = np.pi / 8  # ring tuning width
BASELINE = 0.05  # target of every output outside its response
YANG_TOLERANCE = 0.2 * np.pi  # Yang's get_perf
FIX_THRESHOLD = 0.5  # fixation output above this = fixating
YANG_INPUT_NOISE = 0.01 * np.sqrt(2 / 0.2)  # sigma_x * sqrt(2 / alpha), per 20 ms step
UNCHECKED_MS = 100.0  # Yang's cost mask: first 100 ms and 100 ms after go are not checked
POST_WEIGHT, FIX_WEIGHT = 5.0, 2.0
DMC_ANGLES = np.arange(0.1, 2.0, 0.2) * np.pi  # Yang's dmc_ locations

YANG_RULES = ("fdgo", "reactgo", "delaygo", "fdanti", "reactanti", "delayanti",
              "delaydm1", "delaydm2", "contextdelaydm1", "contextdelaydm2", "multidelaydm",
              "dmsgo", "dmsnogo", "dmcgo", "dmcnogo")
PAPER_NAMES = {  # Driscoll et al. 2024's labels
    "fdgo": "DelayPro", "reactgo": "ReactPro", "delaygo": "MemoryPro", "fdanti": "DelayAnti",
    "reactanti": "ReactAnti", "delayanti": "MemoryAnti", "delaydm1": "DelayDM1",
    "delaydm2": "DelayDM2", "contextdelaydm1": "ContextDelayDM1",
    "contextdelaydm2": "ContextDelayDM2", "multidelaydm": "MultiDelayDM", "dmsgo": "DMS",
    "dmsnogo": "DNMS", "dmcgo": "DMC", "dmcnogo": "DNMC",
}
MOLAP_EQUIVALENTS = {
    "fdgo": "delay_pro", "fdanti": "delay_anti", "delaygo": "mem_pro", "delayanti": "mem_anti",
    "delaydm1": "mem_dm1", "delaydm2": "mem_dm2", "contextdelaydm1": "context_mem_dm1",
    "contextdelaydm2": "context_mem_dm2", "multidelaydm": "multi_mem",
}

_GO = {"fix1": (300.0, 700.0), "stim1": (200.0, 1500.0), "go1": (300.0, 700.0)}
_REACT = {"fix1": (500.0, 2500.0), "go1": (300.0, 1700.0)}
_MEMORY = {"fix1": (300.0, 700.0), "stim1": (200.0, 1600.0), "delay1": (200.0, 1600.0),
           "go1": (300.0, 700.0)}
_DM = {"fix1": (200.0, 600.0), "stim1": (200.0, 1600.0), "delay1": (200.0, 1600.0),
       "stim2": (200.0, 1600.0), "delay2": (100.0, 300.0), "go1": (300.0, 700.0)}
_DMS = {"fix1": (200.0, 600.0), "stim1": (200.0, 1600.0), "delay1": (200.0, 1600.0),
        "go1": (300.0, 700.0)}
_DMC = {**_DMS, "stim1": (200.0, 600.0)}
# About half of Driscoll's ranges: trials of 0.7-2.3 s instead of 1.3-6.4 s, for CPU training.
_FAST = {
    "go": {"fix1": (100.0, 300.0), "stim1": (100.0, 600.0), "go1": (200.0, 400.0)},
    "react": {"fix1": (200.0, 800.0), "go1": (200.0, 600.0)},
    "memory": {"fix1": (100.0, 300.0), "stim1": (100.0, 500.0), "delay1": (100.0, 600.0),
               "go1": (200.0, 400.0)},
    "dm": {"fix1": (100.0, 300.0), "stim1": (100.0, 400.0), "delay1": (100.0, 400.0),
           "stim2": (100.0, 400.0), "delay2": (100.0, 300.0), "go1": (200.0, 400.0)},
    "dms": {"fix1": (100.0, 300.0), "stim1": (100.0, 400.0), "delay1": (100.0, 600.0),
            "go1": (200.0, 400.0)},
}


def circular_distance(a, b) -> np.ndarray:
    """Absolute angular distance in [0, pi] between angles (radians), element-wise."""
    d = np.mod(np.asarray(a) - np.asarray(b), 2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


def ring_preferences(n_ring: int = N_RING) -> np.ndarray:
    """Preferred angles `2 pi i / n_ring` of a ring's units."""
    return np.arange(n_ring) * (2 * np.pi / n_ring)


def ring_bump(angles, n_ring: int = N_RING) -> np.ndarray:
    """`(n, n_ring)` ring activity `0.8 exp(-d^2 / 2)`, `d` = distance / (pi / 8)."""
    d = circular_distance(np.asarray(angles, dtype=np.float64)[:, None], ring_preferences(n_ring))
    return BUMP * np.exp(-0.5 * (d / BUMP_WIDTH) ** 2)


def population_vector(ring) -> np.ndarray:
    """Angle in [0, 2 pi) of the population vector of `(..., n_ring)` ring activity."""
    ring = np.asarray(ring, dtype=np.float64)
    pref = ring_preferences(ring.shape[-1])
    return np.mod(np.arctan2(ring @ np.sin(pref), ring @ np.cos(pref)), 2 * np.pi)


def yang_correct(outputs: np.ndarray, respond: np.ndarray, target_angle: np.ndarray,
                 tolerance: float = YANG_TOLERANCE) -> np.ndarray:
    """Yang's decision rule on the last step of `(batch, time, 1 + n_ring)` outputs.

    Args:
        outputs: fixation output first, then the response ring.
        respond: `(batch,)`, 1 where the trial asks for a response, 0 for no-go.
        target_angle: `(batch,)` response angles (radians; ignored on no-go).
        tolerance: largest angular error of a correct response.

    Returns:
        `(batch,)` float32, 1 = correct.
    """
    last = np.asarray(outputs)[:, -1]
    fixating = last[:, 0] > FIX_THRESHOLD
    close = circular_distance(population_vector(last[:, 1:]), target_angle) < tolerance
    respond = np.asarray(respond) > 0.5
    return np.where(respond, ~fixating & close, fixating).astype(np.float32)


def fast_timing(name: str) -> dict[str, tuple[float, float]]:
    """The shorter CPU-training timing of rule `name` (see `FAST_TIMING`)."""
    if name not in FAST_TIMING:
        raise ValueError(f"Unknown rule {name!r}; expected one of {list(YANG_RULES)}.")
    return dict(FAST_TIMING[name])


class _YangTask(Task):
    """Yang-encoded task: fixation, two stimulus rings, fixation output, response ring.

    Subclasses set `timing`, `go_epoch` (whose start is the go cue),
    `fixation_epochs` (where the fixation input is on; `None`: the whole
    trial), and implement `_trials`, `_derive(truth)` (the response:
    `respond`, `target_angle`), `_stimuli(epochs, truth)` (a list of
    `(window, modality, angle, strength)`) and `_grid(n_angles)`.

    Args:
        n_ring: units per ring. Default: `32`.
        tolerance: largest angular error (radians) of a correct response.
            Default: `0.2 pi` (Yang).
        **kwargs: `Task` arguments (`dt`, `timing`, `input_noise`).
    """

    default_dt = YANG_DT
    default_input_noise = YANG_INPUT_NOISE
    noise_dt = YANG_DT
    go_epoch = "go1"
    fixation_epochs: tuple[str, ...] | None = None

    def __init__(self, n_ring: int = N_RING, tolerance: float = YANG_TOLERANCE, **kwargs):
        if isinstance(n_ring, bool) or not isinstance(n_ring, (int, np.integer)) or n_ring < 3:
            raise ValueError(f"Argument `n_ring` must be an integer >= 3; received {n_ring!r}.")
        if not 0 < tolerance <= np.pi:
            raise ValueError(f"Argument `tolerance` must be in (0, pi]; received {tolerance!r}.")
        self.n_ring, self.tolerance = int(n_ring), float(tolerance)
        self.input_names = ("fixation", *(f"mod{m}_{i}" for m in (1, 2) for i in range(n_ring)))
        self.output_names = ("fixation", *(f"out_{i}" for i in range(n_ring)))
        super().__init__(**kwargs)
        if kwargs.get("decision_ms") is None:
            self.decision_ms = self.dt  # Yang reads the decision at the last step only

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_ring": self.n_ring, "tolerance": self.tolerance}

    # ------------------------------------------------------------- filling
    def _fill(self, batch, epochs, truth):
        truth.update(self._derive(truth))  # pinned variables change the response too
        n, steps = len(truth["respond"]), self.n_steps
        start = epochs["fix1"][:, :1]
        t = np.arange(steps)[None, :]
        go = epochs[self.go_epoch][:, :1]
        inputs, targets = batch["inputs"], batch["targets"]
        if self.fixation_epochs is None:
            inputs[..., 0] = t >= start
        else:
            inputs[..., 0] = self.window(epochs, *self.fixation_epochs)
        for window, modality, angle, strength in self._stimuli(epochs, truth):
            bump = ring_bump(angle, self.n_ring) * np.asarray(strength, np.float64)[:, None]
            rings = np.zeros((n, 2, self.n_ring))
            rings[np.arange(n), np.asarray(modality, int) - 1] = bump
            inputs[..., 1:] += window[..., None] * rings.reshape(n, 1, -1).astype(np.float32)
        respond = truth["respond"][:, None] > 0.5
        fixating = (t >= start) & ((t < go) | ~respond)
        targets[...] = BASELINE
        targets[..., 0] = np.where(fixating, BUMP, BASELINE)
        response = (t >= go) & respond
        targets[..., 1:] += (response[..., None]
                             * ring_bump(truth["target_angle"], self.n_ring)[:, None, :])
        weight = np.zeros((n, steps), np.float32)
        weight[(t >= start + self._steps(UNCHECKED_MS)) & (t < go)] = 1.0
        weight[t >= go + self._steps(UNCHECKED_MS)] = POST_WEIGHT
        mask = np.repeat(weight[..., None], 1 + self.n_ring, axis=2)
        mask[..., 0] *= FIX_WEIGHT
        batch["loss_mask"][...] = mask ** 2

    def correct(self, outputs, batch):
        return yang_correct(outputs, batch.truth["respond"], batch.truth["target_angle"],
                            self.tolerance)

    # ------------------------------------------------------------ test mode
    def grid(self, n_angles: int = 16, timing: Mapping[str, float] | None = None):
        """The test-mode grid: every stimulus condition once, fixed timing, no noise.

        Epochs last the middle of their ranges (or `timing`); the stimulus
        conditions are a deterministic grid (`n_angles` evenly spaced angles
        crossed with the task's other variables: modality, strengths,
        match/non-match), as in the reference code's `mode='test'`.

        Args:
            n_angles: angles of the grid. Default: `16`.
            timing: fixed epoch durations (ms) replacing the midpoints.

        Returns:
            A `TrialBatch` whose trials all have the same epochs.
        """
        positive_int("n_angles", n_angles)
        fixed = {name: float(np.mean(value)) for name, value in self.timing.items()}
        fixed.update(timing or {})
        config = {**self.get_config(), "timing": fixed, "input_noise": 0.0}
        config.pop("name")
        fixed_task = type(self)(**config)
        variables = self._grid(int(n_angles))
        n = len(next(iter(variables.values())))
        return fixed_task.generate(n, seed=0, **variables)

    # -------------------------------------------------------------- helpers
    @staticmethod
    def _angles(rng, n):
        return rng.uniform(0.0, 2 * np.pi, size=n)

    @staticmethod
    def _grid_angles(n_angles):
        return 2 * np.pi * np.arange(n_angles) / n_angles


class _GoFamily(_YangTask):
    """One stimulus, respond to its angle (pro) or the opposite (anti)."""

    anti = False
    stimulus_epochs: tuple[str, ...] = ()

    def _trials(self, rng, n):
        return {"angle": self._angles(rng, n), "modality": rng.integers(1, 3, size=n)}

    def _derive(self, truth):
        n = len(truth["angle"])
        return {"target_angle": np.mod(truth["angle"] + np.pi * self.anti, 2 * np.pi),
                "respond": np.ones(n)}

    def _stimuli(self, epochs, truth):
        ones = np.ones(len(truth["angle"]))
        return [(self.window(epochs, *self.stimulus_epochs), truth["modality"], truth["angle"],
                 ones)]

    def _grid(self, n_angles):
        angle, modality = np.meshgrid(self._grid_angles(n_angles), [1, 2], indexing="ij")
        return {"angle": angle.ravel(), "modality": modality.ravel()}


class FdGo(_GoFamily):
    """DelayPro (`fdgo`): the stimulus stays on; respond to it when the fixation point goes off."""

    name = "fdgo"
    timing = _GO
    fixation_epochs = ("fix1", "stim1")
    stimulus_epochs = ("stim1", "go1")


class FdAnti(FdGo):
    """DelayAnti (`fdanti`): as DelayPro, respond to the opposite angle."""

    name = "fdanti"
    anti = True


class ReactGo(_GoFamily):
    """ReactPro (`reactgo`): respond as soon as the stimulus appears (the fixation point stays)."""

    name = "reactgo"
    timing = _REACT
    stimulus_epochs = ("go1",)


class ReactAnti(ReactGo):
    """ReactAnti (`reactanti`): as ReactPro, respond to the opposite angle."""

    name = "reactanti"
    anti = True


class DelayGo(_GoFamily):
    """MemoryPro (`delaygo`): a brief stimulus, a delay, respond to the remembered angle."""

    name = "delaygo"
    timing = _MEMORY
    fixation_epochs = ("fix1", "stim1", "delay1")
    stimulus_epochs = ("stim1",)


class DelayAnti(DelayGo):
    """MemoryAnti (`delayanti`): as MemoryPro, respond to the opposite of the remembered angle."""

    name = "delayanti"
    anti = True


def _strength_pair(rng, n):
    """Two strengths `mean +- coherence` (mean U(0.8, 1.2); Driscoll's 100 coherences)."""
    mean = rng.uniform(0.8, 1.2, size=n)
    coherence = rng.choice(rng.uniform(0.005, 0.8, size=100), size=n)
    sign = rng.choice([-1.0, 1.0], size=n)
    return mean + coherence * sign, mean - coherence * sign


class _DelayDecision(_YangTask):
    """Two stimuli in sequence at distinct angles; respond to the stronger one.

    `attend` is the modality (1, 2) whose strengths decide, or `"both"`
    (their sums); `shown` the modalities shown.
    """

    timing = _DM
    fixation_epochs = ("fix1", "stim1", "delay1", "stim2", "delay2")
    shown: tuple[int, ...] = (1,)
    attend: int | str = 1

    def _trials(self, rng, n):
        angle1 = self._angles(rng, n)
        distance = rng.uniform(0.5 * np.pi, 1.5 * np.pi, size=n) * rng.choice([-1.0, 1.0], size=n)
        truth = {"angle1": angle1, "angle2": np.mod(angle1 + distance, 2 * np.pi)}
        for m in self.shown:
            truth[f"strength1_mod{m}"], truth[f"strength2_mod{m}"] = _strength_pair(rng, n)
        return truth

    def _evidence(self, truth, which):
        mods = self.shown if self.attend == "both" else (self.attend,)
        return sum(truth[f"strength{which}_mod{m}"] for m in mods)

    def _derive(self, truth):
        first = self._evidence(truth, 1) > self._evidence(truth, 2)
        return {"target_angle": np.where(first, truth["angle1"], truth["angle2"]),
                "respond": np.ones(len(first))}

    def _stimuli(self, epochs, truth):
        n = len(truth["angle1"])
        return [(self.window(epochs, f"stim{k}"), np.full(n, m), truth[f"angle{k}"],
                 truth[f"strength{k}_mod{m}"]) for k in (1, 2) for m in self.shown]

    def _grid(self, n_angles):
        levels = np.linspace(0.8, 1.2, 4)  # strength of stimulus 1; stimulus 2 gets 2 - it
        axes = [self._grid_angles(n_angles)] + [levels] * len(self.shown)
        grid = [a.ravel() for a in np.meshgrid(*axes, indexing="ij")]
        truth = {"angle1": grid[0], "angle2": np.mod(grid[0] + np.pi, 2 * np.pi)}
        for m, level in zip(self.shown, grid[1:]):
            truth[f"strength1_mod{m}"], truth[f"strength2_mod{m}"] = level, 2.0 - level
        return truth


class DelayDm1(_DelayDecision):
    """DelayDM1 (`delaydm1`): two stimuli in modality 1; respond to the stronger."""

    name = "delaydm1"


class DelayDm2(_DelayDecision):
    """DelayDM2 (`delaydm2`): two stimuli in modality 2; respond to the stronger."""

    name = "delaydm2"
    shown = (2,)
    attend = 2


class ContextDelayDm1(_DelayDecision):
    """ContextDelayDM1 (`contextdelaydm1`): both modalities shown; modality 1 decides."""

    name = "contextdelaydm1"
    shown = (1, 2)
    attend = 1


class ContextDelayDm2(_DelayDecision):
    """ContextDelayDM2 (`contextdelaydm2`): both modalities shown; modality 2 decides."""

    name = "contextdelaydm2"
    shown = (1, 2)
    attend = 2


class MultiDelayDm(_DelayDecision):
    """MultiDelayDM (`multidelaydm`): both modalities; the larger summed strength decides."""

    name = "multidelaydm"
    shown = (1, 2)
    attend = "both"


class _Match(_YangTask):
    """A sample, a delay, a test stimulus; respond to the test on (non-)match, else keep fixating.

    The fixation point stays on for the whole trial; the test's onset is the go
    cue. `go_on_match`: respond on match (DMS, DMC) or on non-match (DNMS, DNMC).
    """

    timing = _DMS
    go_on_match = True

    def _trials(self, rng, n):
        return {"angle1": self._angles(rng, n), "match": rng.integers(0, 2, size=n),
                "modality1": rng.integers(1, 3, size=n), "modality2": rng.integers(1, 3, size=n),
                **self._draw_test(rng, n)}

    def _derive(self, truth):
        match = self._is_match(truth)
        return {"target_angle": self._test_angle(truth),
                "respond": (match == self.go_on_match).astype(np.float64)}

    def _stimuli(self, epochs, truth):
        ones = np.ones(len(truth["angle1"]))
        return [(self.window(epochs, "stim1"), truth["modality1"], truth["angle1"], ones),
                (self.window(epochs, "go1"), truth["modality2"], self._test_angle(truth), ones)]

    def _grid(self, n_angles):
        angle, match, m1, m2 = (a.ravel() for a in np.meshgrid(
            self._grid_locations(n_angles), [0, 1], [1, 2], [1, 2], indexing="ij"))
        return {"angle1": angle, "match": match, "modality1": m1, "modality2": m2,
                **self._grid_test(angle, match)}


class _SampleMatch(_Match):
    timing = _DMS

    def _draw_test(self, rng, n):
        offset = rng.uniform(np.pi / 9, 17 * np.pi / 9, size=n) * rng.choice([-1.0, 1.0], size=n)
        return {"offset": offset}

    def _test_angle(self, truth):
        return np.mod(truth["angle1"] + (1 - truth["match"]) * truth["offset"], 2 * np.pi)

    @staticmethod
    def _is_match(truth):
        return truth["match"] > 0.5

    _grid_locations = staticmethod(_YangTask._grid_angles)

    @staticmethod
    def _grid_test(angle, match):
        return {"offset": np.full(len(angle), np.pi)}


class DmsGo(_SampleMatch):
    """DMS (`dmsgo`): respond to the test stimulus if it matches the sample's angle."""

    name = "dmsgo"


class DmsNoGo(_SampleMatch):
    """DNMS (`dmsnogo`): respond to the test stimulus if it does not match the sample."""

    name = "dmsnogo"
    go_on_match = False


class _CategoryMatch(_Match):
    """Categories: angles below pi and above pi; locations from Yang's ten angles."""

    timing = _DMC

    def _trials(self, rng, n):
        truth = super()._trials(rng, n)
        truth["angle1"] = rng.choice(DMC_ANGLES, size=n)
        return truth

    def _draw_test(self, rng, n):
        return {"angle2": rng.choice(DMC_ANGLES, size=n)}

    def _test_angle(self, truth):
        return truth["angle2"]

    @staticmethod
    def _is_match(truth):
        return (truth["angle1"] < np.pi) == (truth["angle2"] < np.pi)

    @staticmethod
    def _grid_locations(n_angles):
        return DMC_ANGLES

    @staticmethod
    def _grid_test(angle, match):
        return {"angle2": np.where(match > 0.5, angle, np.mod(angle + np.pi, 2 * np.pi))}


class DmcGo(_CategoryMatch):
    """DMC (`dmcgo`): respond to the test stimulus if it is in the sample's category."""

    name = "dmcgo"


class DmcNoGo(_CategoryMatch):
    """DNMC (`dmcnogo`): respond to the test stimulus if it is in the other category."""

    name = "dmcnogo"
    go_on_match = False


YANG_CLASSES = (FdGo, ReactGo, DelayGo, FdAnti, ReactAnti, DelayAnti, DelayDm1, DelayDm2,
                ContextDelayDm1, ContextDelayDm2, MultiDelayDm, DmsGo, DmsNoGo, DmcGo, DmcNoGo)
_FAMILY = {"fdgo": "go", "fdanti": "go", "reactgo": "react", "reactanti": "react",
           "delaygo": "memory", "delayanti": "memory", "dmsgo": "dms", "dmsnogo": "dms",
           "dmcgo": "dms", "dmcnogo": "dms"}
FAST_TIMING = {name: _FAST[_FAMILY.get(name, "dm")] for name in YANG_RULES}
