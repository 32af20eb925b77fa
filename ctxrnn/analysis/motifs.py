"""Shared dynamical motifs: fixed points per task period and their reuse across tasks.

Driscoll, Shenoy & Sussillo (2024) find the fixed points of a multitask
network under the constant input of every task period (the input at the
period's first step, `transfer_learn/tf_fixed_pts_manytrials.py`) and call a
structure *reused* when two tasks' period inputs give the same one. Two
measures here, both on `ctxrnn.analysis.dynamics.find_fixed_points`:

- **matching** (`reuse_matrix`): a stable point of one `(task, period)` is
  shared with another when that one has a stable point within `tolerance`;
  the reuse of two conditions is the mean of the shared fractions both ways
  (1: the same stable structure, 0: none in common).
- **interpolation** (`interpolate`): the input moves in a straight line from
  one condition's input to the other's; the stable points at each step are
  grouped into attractors (`stable_components`) and tracked step to step. A
  change in the number of attractors (a bifurcation: one is born or lost)
  means the two inputs are not two views of one motif; the same number all
  the way means they are (Driscoll et al.'s interpolation without a
  bifurcation).

Example:

```python
batch = clusters.noise_free_suite(suite).validation_data(16, seed=0)
points = motifs.period_fixed_points(model, batch, n_initial=128)
tolerance = 0.1 * motifs.state_scale(hidden_states(model, batch.inputs))
keys, reuse = motifs.reuse_matrix(points, tolerance)
```
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ctxrnn.analysis.clusters import SKIP_PERIODS, period_steps, task_periods
from ctxrnn.analysis.dynamics import (
    FixedPoints,
    _unique,
    as_network,
    find_fixed_points,
    sample_states,
)

NOISE_SCALE = 0.05  # Driscoll's NOISE_SCALE: sd added to the sampled initial states
MATCH_FRACTION = 0.1  # default tolerance: this fraction of the activity's RMS spread
DEFAULT_TOL_UNIQUE = inspect.signature(find_fixed_points).parameters["tol_unique"].default
FREE_RUN_STEPS = 200  # free runs that add candidates near attractors the trials do not reach


def state_scale(states) -> float:
    """RMS distance of `(..., units)` states to their centroid (a length scale for tolerances)."""
    flat = np.asarray(states, np.float64).reshape(-1, np.shape(states)[-1])
    return float(np.sqrt(np.mean(np.sum((flat - flat.mean(0)) ** 2, axis=1))))


def period_inputs(batch, *, skip: Sequence[str] = SKIP_PERIODS,
                  rows: Mapping[str, int] | None = None) -> dict[tuple[str, str], np.ndarray]:
    """The input at the first step of every `(task, period)` of a multitask batch.

    Args:
        batch: a `TrialBatch` (ideally noise-free).
        skip: substrings of period names to leave out (as in `clusters`).
        rows: `{task: trial index}` of the trial to read each task's inputs
            from. Default: the first trial of each task that has the period.

    Returns:
        `{(task, period): (inputs,) array}`, in task then period order.
    """
    out = {}
    for task, period, candidates in task_periods(batch, skip):
        if rows is not None and task in rows:
            candidates = candidates[candidates == rows[task]]
        if candidates.size:
            trial = candidates[0]
            out[(task, period)] = np.asarray(batch.inputs[trial, batch.epochs[period][trial, 0]],
                                             np.float64)
    return out


def _concat(a: FixedPoints, b: FixedPoints) -> FixedPoints:
    fields = {}
    for field in dataclasses.fields(FixedPoints):
        first, second = getattr(a, field.name), getattr(b, field.name)
        per_point = isinstance(first, np.ndarray) and field.name != "alpha"
        fields[field.name] = np.concatenate([first, second]) if per_point else first
    fields["n_candidates"] = (a.n_candidates or 0) + (b.n_candidates or 0)
    return FixedPoints(**fields)


def _free_run_candidates(network, x, h0, steps: int) -> np.ndarray:
    """`h0` plus the end states of its first half run `steps` steps under `x` (a run
    that diverges keeps its start), which land near attractors far from the trials."""
    if steps == 0:
        return h0
    starts = h0[: max(1, len(h0) // 2)]
    with np.errstate(all="ignore"):
        ends = network.simulate(starts, x, steps)[:, -1]
    ends = np.where(np.all(np.isfinite(ends), axis=1, keepdims=True), ends, starts)
    return np.concatenate([h0, ends])


def fixed_points_by_input(model, inputs: Mapping[Any, np.ndarray],
                          initial_states: Mapping[Any, np.ndarray], *,
                          free_run_steps: int = FREE_RUN_STEPS, include_slow: bool = True,
                          **finder) -> dict[Any, FixedPoints]:
    """Fixed (and slow) points under several constant inputs in one batched search.

    Each key's candidates are its `initial_states` plus the end states of
    their first half free-run `free_run_steps` steps under the key's input.
    Conditions with identical inputs and candidates are searched once.

    Args:
        model: a ctxrnn model or a `NetworkMap`.
        inputs: `{key: (inputs,) constant input}`.
        initial_states: `{key: (n, units) candidates}`, the same `n` for every key.
        free_run_steps: length of the candidates' free runs (0: none). Default: `200`.
        include_slow: also return the slow points (`tol_q <= q < slow_q`),
            e.g. along a ring of memory states. Default: `True`.
        **finder: arguments of `find_fixed_points` (`tol_q`, `max_iters`, ...).

    Returns:
        `{key: FixedPoints}`.
    """
    network = as_network(model)
    keys = list(inputs)
    if set(keys) != set(initial_states):
        raise ValueError(f"Arguments `inputs` and `initial_states` must have the same keys; "
                         f"received {keys} and {list(initial_states)}.")
    if isinstance(free_run_steps, bool) or not isinstance(free_run_steps, int) or (
            free_run_steps < 0):
        raise ValueError(f"Argument `free_run_steps` must be a non-negative integer; received "
                         f"{free_run_steps!r}.")
    unique: dict[bytes, int] = {}
    index_of, conditions, starts = {}, [], []
    for key in keys:
        x = np.asarray(inputs[key], np.float64)
        h0 = np.asarray(initial_states[key], np.float64)
        signature = x.tobytes() + h0.tobytes()
        if signature not in unique:
            unique[signature] = len(conditions)
            conditions.append(x)
            starts.append(_free_run_candidates(network, x, h0, free_run_steps))
        index_of[key] = unique[signature]
    fixed, slow = find_fixed_points(network, np.stack(conditions),
                                    initial_states=np.stack(starts), **finder)
    if not include_slow:
        return {key: fixed.select(fixed.condition == index_of[key]) for key in keys}
    found, out = _concat(fixed, slow), {}
    tol_unique = finder.get("tol_unique", DEFAULT_TOL_UNIQUE)
    for key in keys:
        points = found.select(found.condition == index_of[key])
        # a slow point within tol_unique of a fixed one is that point, not another
        out[key] = points.select(np.sort(_unique(points.states, points.inputs, points.q,
                                                 tol_unique)))
    return out


def period_fixed_points(model, batch, *, states=None, n_initial: int = 256,
                        noise: float = NOISE_SCALE, skip: Sequence[str] = SKIP_PERIODS,
                        seed: int = 0, **finder) -> dict[tuple[str, str], FixedPoints]:
    """Fixed points of the network under the input of every task period.

    Candidates for `(task, period)` are drawn from that task's noise-free
    states in that period, plus Gaussian noise of sd `noise` (Driscoll: 0.05).

    Args:
        model: a ctxrnn model (one `CTRNN`).
        batch: a `TrialBatch` of its suite (ideally noise-free).
        states: its `(trials, time, units)` hidden states. Default: computed.
        n_initial: candidates per condition.
        noise: sd of the noise added to the candidates.
        skip: substrings of period names to leave out.
        seed: seed of the candidates.
        **finder: arguments of `find_fixed_points`.

    Returns:
        `{(task, period): FixedPoints}`.
    """
    from ctxrnn.layers import hidden_states

    states = hidden_states(model, batch.inputs) if states is None else np.asarray(states)
    inputs = period_inputs(batch, skip=skip)
    seeds = dict(zip(inputs, np.random.SeedSequence(seed).spawn(len(inputs))))
    initial = {}
    for task, period, rows in task_periods(batch, skip):
        if (task, period) in inputs:
            initial[(task, period)] = sample_states(
                states, n_initial, noise=noise, mask=period_steps(batch, period, rows),
                seed=seeds[(task, period)])
    return fixed_points_by_input(model, inputs, initial, **finder)


def match_points(a: np.ndarray, b: np.ndarray, tolerance: float) -> list[tuple[int, int, float]]:
    """One-to-one pairs of `(n_a, units)` and `(n_b, units)` points closer than `tolerance`.

    Returns:
        `[(index in a, index in b, distance)]`: the one-to-one assignment with
        the most pairs within `tolerance` (and among those the smallest total
        distance), keeping those pairs.
    """
    from scipy.optimize import linear_sum_assignment

    if not tolerance > 0:
        raise ValueError(f"Argument `tolerance` must be positive; received {tolerance!r}.")
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if len(a) == 0 or len(b) == 0:
        return []
    distance = np.linalg.norm(a[:, None] - b[None], axis=-1)
    # a pair beyond the tolerance costs more than all pairs within it together, so the
    # assignment first maximises the number of close pairs, then minimises their distance
    too_far = tolerance * (min(len(a), len(b)) + 1)
    rows, cols = linear_sum_assignment(np.where(distance <= tolerance, distance, too_far))
    return [(int(i), int(j), float(distance[i, j])) for i, j in zip(rows, cols)
            if distance[i, j] <= tolerance]


def _covered(a: np.ndarray, b: np.ndarray, tolerance: float) -> float:
    """Fraction of the points `a` with a point of `b` within `tolerance`."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    distance = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return float(np.mean(distance.min(axis=1) <= tolerance))


def shared_fraction(a: FixedPoints, b: FixedPoints, tolerance: float) -> float:
    """How much of two sets' stable structure is shared, in [0, 1] (nan if both are empty).

    The mean of the fraction of `a`'s stable points that have a stable point of
    `b` within `tolerance` and the same from `b` to `a`: 1 when each set lies on
    the other (whatever the number of points a slow manifold was sampled
    with), 0 when nothing is shared.
    """
    stable_a, stable_b = a.states[a.is_stable], b.states[b.is_stable]
    if len(stable_a) + len(stable_b) == 0:
        return float("nan")
    return 0.5 * (_covered(stable_a, stable_b, tolerance) + _covered(stable_b, stable_a,
                                                                      tolerance))


def stable_components(points: FixedPoints, tolerance: float) -> np.ndarray:
    """Labels of the stable points grouped into attractors (chains closer than `tolerance`).

    Stable points found along one slow manifold (a ring of memory states) form
    one component; isolated attractors form one each.

    Returns:
        `(n_stable,)` int component labels of `points.states[points.is_stable]`.
    """
    from scipy.sparse.csgraph import connected_components

    stable = points.states[points.is_stable]
    if len(stable) == 0:
        return np.zeros(0, int)
    near = np.linalg.norm(stable[:, None] - stable[None], axis=-1) <= tolerance
    return connected_components(near, directed=False)[1]


def reuse_matrix(points: Mapping[Any, FixedPoints], tolerance: float):
    """Pairwise `shared_fraction` of every condition's stable points.

    Args:
        points: `{key: FixedPoints}` (`period_fixed_points`).
        tolerance: distance under which two stable points are the same.

    Returns:
        `(keys, (n, n) matrix)`; the diagonal is 1 where a condition has a
        stable point.
    """
    keys = list(points)
    matrix = np.full((len(keys), len(keys)), np.nan)
    for i, a in enumerate(keys):
        for j in range(i, len(keys)):
            matrix[i, j] = matrix[j, i] = shared_fraction(points[a], points[keys[j]], tolerance)
    return keys, matrix


@dataclasses.dataclass(frozen=True)
class Interpolation:
    """Attractors along a straight input path (`interpolate`).

    Attributes:
        fractions: `(steps,)` position along the path, 0 (`x_from`) to 1 (`x_to`).
        points: the `FixedPoints` found at each step.
        n_stable: `(steps,)` number of attractors (`stable_components`) at each step.
        tracked: `(steps - 1,)` bool: every stable point of a step has a stable
            point within `tolerance` at the next step, and vice versa.
        bifurcation: the first fraction where the number of attractors
            changes, or `None`.
    """

    fractions: np.ndarray
    points: tuple[FixedPoints, ...]
    n_stable: np.ndarray
    tracked: np.ndarray
    bifurcation: float | None

    @property
    def continuous(self) -> bool:
        """At least one attractor at every step and never a change in their number."""
        return self.bifurcation is None and bool(np.all(self.n_stable > 0))

    def to_dict(self) -> dict[str, Any]:
        return {"fractions": self.fractions.tolist(), "n_stable": self.n_stable.tolist(),
                "tracked": self.tracked.tolist(), "bifurcation": self.bifurcation,
                "continuous": self.continuous}


def interpolate(model, x_from, x_to, initial_states, *, tolerance: float, n_steps: int = 11,
                **finder) -> Interpolation:
    """Attractors along `x_from + f (x_to - x_from)`, `f` from 0 to 1, tracked step to step.

    Two batched searches over all steps: the first from `initial_states`, the
    second from those plus every stable point the first found at any step, so
    that an attractor missed at one step is searched for from its neighbours'.

    Args:
        model: a ctxrnn model or a `NetworkMap`.
        x_from, x_to: `(inputs,)` the two constant inputs.
        initial_states: `(n, units)` candidates (e.g. both conditions' states).
        tolerance: stable points closer than this form one attractor, and a
            tracked point moves less than this per step (make `n_steps` fine
            enough).
        n_steps: points on the path, both ends included. Default: `11`.
        **finder: arguments of `fixed_points_by_input`.

    Returns:
        An `Interpolation`.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 2:
        raise ValueError(f"Argument `n_steps` must be an integer >= 2; received {n_steps!r}.")
    x_from, x_to = np.asarray(x_from, np.float64), np.asarray(x_to, np.float64)
    if x_from.shape != x_to.shape:
        raise ValueError(f"Arguments `x_from` {x_from.shape} and `x_to` {x_to.shape} must have "
                         "the same shape.")
    fractions = np.linspace(0.0, 1.0, n_steps)
    inputs = {i: x_from + f * (x_to - x_from) for i, f in enumerate(fractions)}
    initial_states = np.asarray(initial_states, np.float64)
    first = fixed_points_by_input(model, inputs, {i: initial_states for i in inputs}, **finder)
    seen = np.concatenate([initial_states] + [p.states[p.is_stable] for p in first.values()])
    found = fixed_points_by_input(model, inputs, {i: seen for i in inputs}, **finder)
    points = tuple(found[i] for i in range(n_steps))
    stable = [p.states[p.is_stable] for p in points]
    n_stable = np.array([len(np.unique(stable_components(p, tolerance))) for p in points])
    tracked = np.array([_covered(a, b, tolerance) == 1.0 and _covered(b, a, tolerance) == 1.0
                        for a, b in zip(stable[:-1], stable[1:])], bool)
    changes = np.flatnonzero(np.diff(n_stable) != 0)
    bifurcation = float(fractions[changes[0] + 1]) if changes.size else None
    return Interpolation(fractions, points, n_stable, tracked, bifurcation)
