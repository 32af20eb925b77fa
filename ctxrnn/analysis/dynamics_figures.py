"""Figures of the dynamics analysis (`matplotlib.figure.Figure`, no pyplot) and PCA."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ctxrnn.analysis.figures import STYLE

STABILITY_COLORS = {"stable": "#1b9e77", "marginal": "#7570b3", "saddle": "#d95f02",
                    "unstable": "#e7298a"}


def fit_pca(trajectories, n_components: int = 3):
    """A scikit-learn `PCA` fitted on `(batch, time, units)` hidden states."""
    from sklearn.decomposition import PCA

    states = np.asarray(trajectories, np.float64)
    states = states.reshape(-1, states.shape[-1])
    return PCA(n_components=min(n_components, *states.shape)).fit(states)


def trajectories_figure(pca, mean_trajectories: Mapping[str, np.ndarray],
                        points: Sequence[tuple[str, np.ndarray, Sequence[str]]]) -> Figure:
    """Mean trajectories per task in PC1-PC2 with fixed points coloured by stability.

    Args:
        pca: a fitted `PCA`.
        mean_trajectories: task name -> `(time, units)` mean hidden state.
        points: `(task name, (n, units) states, (n,) stability labels)` per condition.
    """
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(6.0, 5.0), layout="constrained")
        axes = figure.add_subplot()
        colors = matplotlib.colormaps["tab10"]
        for k, (name, trajectory) in enumerate(mean_trajectories.items()):
            xy = pca.transform(trajectory)
            axes.plot(xy[:, 0], xy[:, 1], color=colors(k % 10), linewidth=1.2, label=name)
            axes.scatter(xy[:1, 0], xy[:1, 1], color=colors(k % 10), marker="o", s=12)
        seen = set()
        for _, states, labels in points:
            if len(states) == 0:
                continue
            xy = pca.transform(states)
            for label in STABILITY_COLORS:
                chosen = np.asarray(labels) == label
                if np.any(chosen):
                    axes.scatter(xy[chosen, 0], xy[chosen, 1], marker="x" if label != "stable"
                                 else "o", s=36, color=STABILITY_COLORS[label], zorder=3,
                                 label=None if label in seen else f"{label} point")
                    seen.add(label)
        ratio = pca.explained_variance_ratio_
        axes.set_xlabel(f"PC1 ({100 * ratio[0]:.0f} %)")
        axes.set_ylabel(f"PC2 ({100 * ratio[1]:.0f} %)" if len(ratio) > 1 else "PC2")
        axes.set_title("Mean trajectories per task and fixed points")
        axes.legend(fontsize=7, frameon=False, loc="best")
    return figure


def spectra_figure(spectra: Mapping[str, np.ndarray]) -> Figure:
    """Jacobian eigenvalues at the fixed points of each condition, with the unit circle.

    Args:
        spectra: condition name -> `(n, units)` complex eigenvalues.
    """
    names = list(spectra) or ["(none)"]
    cols = min(len(names), 3)
    rows = int(np.ceil(len(names) / cols))
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(3.2 * cols, 3.2 * rows), layout="constrained")
        angle = np.linspace(0, 2 * np.pi, 200)
        for k, name in enumerate(names):
            axes = figure.add_subplot(rows, cols, k + 1)
            axes.plot(np.cos(angle), np.sin(angle), "k--", linewidth=0.8)
            values = np.asarray(spectra.get(name, np.zeros((0, 0))), complex).ravel()
            outside = np.abs(values) > 1
            axes.scatter(values[~outside].real, values[~outside].imag, s=6, color="#1f77b4")
            axes.scatter(values[outside].real, values[outside].imag, s=12, color="#d62728")
            axes.set_aspect("equal")
            axes.set_title(name, fontsize=9)
            axes.set_xlabel("Re(λ)")
            axes.set_ylabel("Im(λ)")
        figure.suptitle("Eigenvalues of dF/dh at the fixed points")
    return figure


def regimes_figure(pca, runs: Mapping[str, np.ndarray],
                   regimes: Mapping[str, Mapping[str, Any]], dt: float) -> Figure:
    """Free runs from trial end states under each context input, along PC1, titled by regime.

    Args:
        pca: a fitted `PCA` (the axes of `trajectories_figure`).
        runs: condition name -> `(runs, time, units)` free-run states from their start.
        regimes: condition name -> a `regime` result.
        dt: step in ms.
    """
    names = list(runs)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(6.5, 1.3 * max(len(names), 1) + 0.6), layout="constrained")
        for k, name in enumerate(names):
            axes = figure.add_subplot(max(len(names), 1), 1, k + 1)
            for run in np.asarray(runs[name]):
                axes.plot(np.arange(1, len(run) + 1) * dt, pca.transform(run)[:, 0],
                          linewidth=0.8)
            result = regimes[name]
            extra = (f", period {result['period_ms']:.0f} ms" if result.get("period_ms")
                     else "")
            axes.set_title(f"{name}: {result['regime']}{extra}", fontsize=9, loc="left")
            axes.set_ylabel("PC1")
        if names:
            axes.set_xlabel("time since the trial's end (ms)")
        figure.suptitle("Regime per context (constant context input, stimuli 0)")
    return figure
