"""Figures of the motif analyses (`matplotlib.figure.Figure`, no pyplot).

The variance atlas sorted by both dendrograms, silhouette curves (the
rotation control), the cluster x task lesion matrix, the reuse matrix of
fixed points across task periods and the stable-point counts along input
interpolations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from ctxrnn.analysis.figures import STYLE


def _dendrogram(axes, linkage, orientation: str) -> None:
    """Draws a scipy linkage's dendrogram on `axes` (leaves at 0.5, 1.5, ...)."""
    from scipy.cluster.hierarchy import dendrogram

    tree = dendrogram(linkage, no_plot=True)
    for xs, ys in zip(tree["icoord"], tree["dcoord"]):
        xs = np.asarray(xs) / 10.0  # scipy puts leaf i at 10 i + 5
        if orientation == "top":
            axes.plot(xs, ys, color="0.3", linewidth=0.6)
        else:
            axes.plot(ys, xs, color="0.3", linewidth=0.6)
    axes.set_axis_off()


def atlas_figure(clusters, *, title: str = "Normalised task variance") -> Figure:
    """The unit x task-period variance atlas, sorted by the unit and column dendrograms.

    Args:
        clusters: a `ctxrnn.analysis.clusters.UnitClusters`.
        title: figure title.
    """
    atlas = clusters.atlas()
    columns = [clusters.columns[i] for i in clusters.column_order]
    labels = clusters.labels[clusters.unit_order]
    n_units, n_cols = atlas.shape
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(2.5 + 0.28 * n_cols, 3.0 + 0.02 * n_units),
                        layout="constrained")
        grid = figure.add_gridspec(2, 4, width_ratios=[1.2, 0.25, 0.3 * n_cols, 0.25],
                                   height_ratios=[1, 5])
        heat = figure.add_subplot(grid[1, 2])
        image = heat.imshow(atlas, aspect="auto", cmap="hot", vmin=0, vmax=1,
                            interpolation="nearest", extent=(0, n_cols, n_units, 0))
        heat.set_xticks(np.arange(n_cols) + 0.5, columns, rotation=90, fontsize=6)
        heat.set_yticks([])
        heat.grid(False)
        heat.set_title(f"{n_units} active units", fontsize=8)
        strip = figure.add_subplot(grid[1, 1], sharey=heat)
        colors = matplotlib.colormaps["tab20"]
        strip.imshow(labels[:, None] % 20, aspect="auto", cmap=colors, vmin=0, vmax=19,
                     interpolation="nearest", extent=(0, 1, n_units, 0))
        for c in range(clusters.n_clusters):
            rows = np.flatnonzero(labels == c)
            strip.text(0.5, rows.mean() + 0.5, str(c), ha="center", va="center", fontsize=6)
        strip.set_axis_off()
        if clusters.method == "ward":
            left = figure.add_subplot(grid[1, 0], sharey=heat)
            _dendrogram(left, clusters.unit_linkage, "left")
            left.invert_xaxis()
        if clusters.column_linkage is not None:
            top = figure.add_subplot(grid[0, 2], sharex=heat)
            _dendrogram(top, clusters.column_linkage, "top")
        figure.colorbar(image, cax=figure.add_subplot(grid[1, 3]), label="variance / max")
        figure.suptitle(f"{title}: {clusters.n_clusters} clusters ({clusters.method}, "
                        f"silhouette {clusters.best_silhouette:.2f})", fontsize=9)
    return figure


def silhouette_figure(results: Mapping[str, object]) -> Figure:
    """Silhouette score against the number of clusters, one line per clustering.

    Args:
        results: `{label: UnitClusters}`, e.g. `{"activity": a, "rotated": b}`.
    """
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.5, 3.2), layout="constrained")
        axes = figure.add_subplot()
        for label, found in results.items():
            ks = sorted(found.silhouette)
            axes.plot(ks, [found.silhouette[k] for k in ks], marker="o", ms=3,
                      label=f"{label} (k = {found.n_clusters})")
        axes.set_xlabel("number of clusters k")
        axes.set_ylabel("silhouette score")
        axes.legend(frameon=False, fontsize=8)
        axes.set_title("Silhouette per k (rotation control)")
    return figure


def _matrix(axes, values, rows: Sequence[str], cols: Sequence[str], *, cmap, vmin, vmax,
            fmt: str):
    image = axes.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto",
                        interpolation="nearest")
    axes.grid(False)
    axes.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
    axes.set_yticks(range(len(rows)), rows, fontsize=7)
    if values.size <= 400:
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                axes.text(j, i, format(value, fmt), ha="center", va="center", fontsize=6)
    return image


def lesion_figure(result, *, title: str | None = None) -> Figure:
    """The cluster x task change in accuracy (percentage points) of a `LesionResult`."""
    change = 100 * result.change
    rows = [f"{name} ({size})" for name, size in zip(result.names, result.sizes)]
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(2.5 + 0.45 * len(result.tasks), 1.5 + 0.3 * len(rows)),
                        layout="constrained")
        axes = figure.add_subplot()
        image = _matrix(axes, change, rows, result.tasks, cmap="RdBu", vmin=-100, vmax=100,
                        fmt=".0f")
        figure.colorbar(image, ax=axes, label="accuracy change (points)")
        axes.set_title(title or ("Sufficiency: all units but the cluster lesioned" if result.other
                                 else "Lesion of each cluster (units lesioned)"), fontsize=9)
    return figure


def reuse_figure(keys: Sequence, matrix) -> Figure:
    """The shared fraction of stable points between every pair of task periods."""
    names = [":".join(k) if isinstance(k, tuple) else str(k) for k in keys]
    with matplotlib.rc_context(STYLE):
        size = 2.5 + 0.3 * len(names)
        figure = Figure(figsize=(size + 1.0, size), layout="constrained")
        axes = figure.add_subplot()
        image = _matrix(axes, np.asarray(matrix, float), names, names, cmap="viridis", vmin=0,
                        vmax=1, fmt=".1f")
        figure.colorbar(image, ax=axes, label="shared stable points (Dice)")
        axes.set_title("Fixed points shared across task periods", fontsize=9)
    return figure


def interpolation_figure(paths: Mapping[str, object]) -> Figure:
    """Number of attractors along each input interpolation (`motifs.Interpolation`)."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.8, 3.2), layout="constrained")
        axes = figure.add_subplot()
        for label, path in paths.items():
            axes.plot(path.fractions, path.n_stable, marker="o", ms=3, drawstyle="steps-mid",
                      label=f"{label}{'' if path.continuous else ' (bifurcation)'}")
        axes.set_xlabel("fraction of the way from the first input to the second")
        axes.set_ylabel("attractors (stable components)")
        axes.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axes.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))
        axes.set_title("Attractors along input interpolations")
    return figure
