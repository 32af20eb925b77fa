"""Dynamical regime per constant input (Jarne): fixed point, limit cycle or neither.

A network is free-run from given states under a constant input for `steps`
steps; the last `tail` steps decide:

- `"fixed_point"`: the state moves less than `fixed_tol` per step;
- `"limit_cycle"`: some whole number of steps brings every tail state back
  within `cycle_tol` times the tail's extent plus half the largest step; the
  period (ms, from the spacing of the crossings of the tail's mean along its
  first principal axis, so it need not be a whole number of steps) and the amplitude (half
  the peak-to-peak range along the tail's first principal axis, and of each
  readout channel) are reported;
- `"irregular"`: neither (chaotic, quasi-periodic or still transient).

`eigen_dominance` measures Jarne's "a few eigenvalues of W_rec outside the
unit circle dominate": the share of the activity's variance that lies in the
span of those eigenvalues' eigenvectors, against the share `dim / units` a
random subspace of the same dimension would hold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ctxrnn.analysis.dynamics import as_network
from ctxrnn.analysis.statistics import UNIT_CIRCLE_TOLERANCE

REGIMES = ("fixed_point", "limit_cycle", "irregular")


def _crossing_period(signal: np.ndarray) -> float | None:
    """Mean spacing (steps, interpolated) of the upward zero crossings of `signal`."""
    up = np.flatnonzero((signal[:-1] < 0) & (signal[1:] >= 0))
    if len(up) < 2:
        return None
    times = up + signal[up] / (signal[up] - signal[up + 1])
    return float(np.mean(np.diff(times)))


def _classify_run(tail: np.ndarray, fixed_tol: float, cycle_tol: float, max_period: int):
    moves = np.linalg.norm(np.diff(tail, axis=0), axis=1)
    if np.max(moves) < fixed_tol:
        return "fixed_point", None, 0.0
    centred = tail - tail.mean(0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    projection = centred @ axis
    amplitude = 0.5 * float(np.ptp(projection))
    extent = float(np.max(np.linalg.norm(centred, axis=1))) or 1.0
    # A cycle sampled every dt returns, at the nearest whole number of steps, to
    # within half a step's move of where it was.
    allowed = cycle_tol * extent + 0.5 * float(np.max(moves))
    for period in range(1, min(max_period, len(tail) // 2) + 1):
        error = np.max(np.linalg.norm(tail[period:] - tail[:-period], axis=1))
        if error < allowed:
            return "limit_cycle", _crossing_period(projection) or float(period), amplitude
    return "irregular", None, amplitude


def regime(model, inputs, initial_states, *, steps: int = 2000, tail: int | None = None,
           fixed_tol: float = 1e-6, cycle_tol: float = 1e-2, max_period: int | None = None
           ) -> dict[str, Any]:
    """The regime the network settles into under one constant input.

    Args:
        model: a Keras model with one `ctxrnn.CTRNN` layer, or a `NetworkMap`.
        inputs: `(inputs,)` the constant input.
        initial_states: `(n, units)` states to start from (e.g. trial end states).
        steps: free-run length (steps).
        tail: the last steps that decide the regime. Default: `min(400, steps // 2)`.
        fixed_tol: largest per-step move of a fixed point.
        cycle_tol: largest return error of a cycle, relative to the tail's extent.
        max_period: longest period tried (steps). Default: `tail // 2`.

    Returns:
        A dict: `regime` (the most common over the runs), `regimes` (one per
        run), `period_ms` and `period_steps` (median over cycling runs, or
        `None`), `amplitude` (median, state units along the first principal
        axis), `readout_amplitude` (median half peak-to-peak per readout channel,
        or `None`) and `final_states` `(n, units)`.

    Example:

    ```python
    regime(model, context_input, end_states)["regime"]  # "fixed_point"
    ```
    """
    network = as_network(model)
    h0 = np.asarray(initial_states, np.float64)
    if h0.ndim != 2 or h0.shape[1] != network.n_units:
        raise ValueError(f"Argument `initial_states` must have shape (n, {network.n_units}); "
                         f"received shape {h0.shape}.")
    tail = min(400, steps // 2) if tail is None else tail
    if not 2 <= tail <= steps:
        raise ValueError(f"Arguments `tail` and `steps` need 2 <= tail <= steps; received "
                         f"tail={tail}, steps={steps}.")
    runs = network.simulate(h0, np.asarray(inputs, np.float64), steps)[:, -tail:]
    labels, periods, amplitudes, readout = [], [], [], []
    for run in runs:
        label, period, amplitude = _classify_run(run, fixed_tol, cycle_tol,
                                                 max_period or tail // 2)
        labels.append(label)
        amplitudes.append(amplitude)
        if period is not None:
            periods.append(period)
        out = network.read_out(run)
        if out is not None:
            readout.append(0.5 * np.ptp(out, axis=0))
    values, counts = np.unique(labels, return_counts=True)
    period = float(np.median(periods)) if periods else None
    return {
        "regime": str(values[np.argmax(counts)]),
        "regimes": labels,
        "period_steps": period,
        "period_ms": None if period is None else period * network.dt,
        "amplitude": float(np.median(amplitudes)),
        "readout_amplitude": np.median(readout, axis=0).tolist() if readout else None,
        "final_states": runs[:, -1],
    }


def eigen_dominance(model, trajectories, *, tolerance: float = UNIT_CIRCLE_TOLERANCE
                    ) -> dict[str, Any]:
    """Share of the activity's variance in the eigen-directions of W_rec outside the unit circle.

    Args:
        model: a Keras model with one `ctxrnn.CTRNN` layer, or a `NetworkMap`.
        trajectories: `(batch, time, units)` (or `(samples, units)`) hidden states.
        tolerance: `|lambda| > 1 + tolerance` counts as outside.

    Returns:
        A dict: `n_outside` eigenvalues, `dimension` of the real subspace their
        eigenvectors span, `variance_fraction` of the centred activity inside it,
        `chance_fraction` (`dimension / units`), their `ratio`, and the
        `eigenvalues` (sorted by decreasing modulus).
    """
    network = as_network(model)
    states = np.asarray(trajectories, np.float64).reshape(-1, network.n_units)
    # State-space dynamics are h -> W^T h in the column convention.
    values, vectors = np.linalg.eig(network.recurrent_kernel.T)
    order = np.argsort(-np.abs(values), kind="stable")
    values, vectors = values[order], vectors[:, order]
    outside = np.abs(values) > 1 + tolerance
    centred = states - states.mean(0)
    total = float(np.sum(centred ** 2))
    span = np.concatenate([vectors[:, outside].real, vectors[:, outside].imag], axis=1)
    if span.size:
        u, s, _ = np.linalg.svd(span, full_matrices=False)
        basis = u[:, s > s.max() * 1e-10]
    else:
        basis = np.zeros((network.n_units, 0))
    inside = float(np.sum((centred @ basis) ** 2))
    dimension = basis.shape[1]
    fraction = inside / total if total > 0 else float("nan")
    chance = dimension / network.n_units
    return {"n_outside": int(outside.sum()), "dimension": int(dimension),
            "variance_fraction": fraction, "chance_fraction": chance,
            "ratio": fraction / chance if chance > 0 else None, "eigenvalues": values}


def context_inputs(suite) -> np.ndarray:
    """The constant input of each task's context with every stimulus at 0.

    Args:
        suite: a `ctxrnn.tasks.TaskSuite`.

    Returns:
        `(n_tasks, n_inputs)`: one-hot / scalar encodings hold the context value;
        pulse encodings (a cue only at trial start) and `"none"` give zeros.
    """
    inputs = np.zeros((len(suite.task_names), suite.n_inputs))
    channels = suite.context_channels
    for k in range(len(suite.task_names)):
        if suite.context == "one_hot":
            inputs[k, channels[k]] = 1.0
        elif suite.context == "scalar":
            inputs[k, channels[0]] = suite.levels[k]
    return inputs
