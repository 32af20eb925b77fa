"""Figures of `ctxrnn.analysis.populations`, on `matplotlib.figure.Figure` objects."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ctxrnn.analysis.figures import _figure

# The pairs the paper plots first: recurrent loadings against each other and
# against the inputs (which pair separates populations depends on the task).
MAX_PANELS = 6


def _pairs(names: Sequence[str]) -> list[tuple[int, int]]:
    recurrent = [i for i, name in enumerate(names) if name[0] in "mn" and name[1:].isdigit()]
    inputs = [i for i, name in enumerate(names) if name.startswith("in:")]
    pairs = list(itertools.combinations(recurrent, 2))
    pairs += [(n, i) for n in recurrent if names[n].startswith("n") for i in inputs]
    pairs += [(m, i) for m in recurrent if names[m].startswith("m") for i in inputs]
    return pairs[:MAX_PANELS] or list(itertools.combinations(range(len(names)), 2))[:MAX_PANELS]


def loadings_scatter(vectors, names: Sequence[str], labels=None, *,
                     pairs: Sequence[tuple[int, int]] | None = None,
                     title: str | None = None) -> Figure:
    """Scatter plots of unit loadings, one panel per pair of columns, coloured by population.

    Args:
        vectors: `(N, D)` loadings (`Loadings.vectors`).
        names: the D column names (`Loadings.names`).
        labels: optional `(N,)` population of each unit.
        pairs: column index pairs to plot. Default: recurrent loadings
            against each other, then `n` and `m` against each input.
        title: figure title.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    vectors = np.asarray(vectors, float)
    if vectors.ndim != 2 or vectors.shape[1] != len(names):
        raise ValueError(f"Argument `vectors` must have shape (units, {len(names)}); received "
                         f"{vectors.shape}.")
    pairs = list(pairs) if pairs is not None else _pairs(list(names))
    labels = np.zeros(len(vectors), int) if labels is None else np.asarray(labels)
    columns = min(3, len(pairs))
    rows = int(np.ceil(len(pairs) / columns))
    figure = _figure(2.6 * columns, 2.4 * rows)
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for ax, (i, j) in zip(axes, pairs):
        for k in np.unique(labels):
            chosen = labels == k
            ax.scatter(vectors[chosen, i], vectors[chosen, j], s=6, alpha=0.6,
                       label=f"population {k + 1} ({chosen.sum()})")
        ax.set_xlabel(names[i])
        ax.set_ylabel(names[j])
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    if len(np.unique(labels)) > 1:
        axes[0].legend(fontsize=6, loc="best")
    if title:
        figure.suptitle(title, fontsize=9)
    return figure


def population_curve_figure(curves: Sequence[Mapping], *, title: str | None = None) -> Figure:
    """Resampled accuracy against the number of populations, one line per trained network.

    Args:
        curves: results of `population_curve` (one per seed).
        title: figure title.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    figure = _figure(3.4, 2.6)
    ax = figure.add_subplot()
    for index, curve in enumerate(curves):
        ks = [row["requested"] for row in curve["populations"]]
        means = [row["mean"] for row in curve["populations"]]
        spread = [row["std"] for row in curve["populations"]]
        ax.errorbar(ks, means, yerr=spread, marker="o", capsize=2, label=f"net {index + 1}")
        ax.axhline(curve["trained_accuracy"], color=f"C{index}", lw=0.6, ls=":")
    ax.axhline(0.5, color="grey", lw=0.6, ls="--", label="chance")
    ax.axhline(curves[0]["threshold"], color="black", lw=0.6, ls="-.", label="threshold")
    ax.set_xlabel("populations in the resampled network")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.set_xticks(sorted({row["requested"] for c in curves for row in c["populations"]}))
    ax.legend(fontsize=6)
    if title:
        ax.set_title(title, fontsize=9)
    return figure


def truncation_figure(curves: Mapping[str, Mapping]) -> Figure:
    """Accuracy of full-rank nets with `W_rec - W_init` truncated to rank r (and resampled).

    Args:
        curves: `{label: truncation_curve result}`.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    figure = _figure(3.4, 2.6)
    ax = figure.add_subplot()
    for index, (label, curve) in enumerate(curves.items()):
        ax.plot(curve["ranks"], curve["accuracy"], marker="o", color=f"C{index}",
                label=f"{label} truncated")
        if curve.get("resampled"):
            ax.plot(curve["ranks"], [np.mean(v) for v in curve["resampled"]], marker="x",
                    ls="--", color=f"C{index}", label=f"{label} resampled")
        ax.axhline(curve["trained_accuracy"], color=f"C{index}", lw=0.6, ls=":")
    ax.axhline(0.5, color="grey", lw=0.6, ls="--")
    ax.set_xlabel("rank r of W - W_init kept")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=6)
    return figure
