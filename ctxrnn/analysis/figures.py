"""Publication-quality figures of a run's weight report (matplotlib, Agg).

Every function returns a `matplotlib.figure.Figure` built without `pyplot`
(no global figure registry, no interactive backend, nothing to close) and
styled with a local `rc` context, so calling them never changes the user's
matplotlib settings. Save with `fig.savefig(path, dpi=...)` or
`figure_to_png(fig)`.

Example:

```python
from ctxrnn.analysis import figures
from ctxrnn.runs import RunDirectory

run = RunDirectory("runs/ctx")
fig = figures.pruning_curves(run.load_pruning())
fig.savefig("pruning.pdf")
```
"""

from __future__ import annotations

import io as _bytes_io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ctxrnn.analysis.statistics import (
    DEFAULT_BINS,
    STATISTIC_LABELS,
    UNIT_CIRCLE_TOLERANCE,
    weight_statistics,
)

# Resolution of PNGs written by `figure_to_png` (dots per inch).
PNG_DPI = 150
# Base style: readable at column width in a paper.
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.5,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
}
# Colours: initial vs final weights, and the damage families of Jarne's protocol.
INITIAL_COLOR = "#8c8c8c"
FINAL_COLOR = "#1f5fa8"
OUTSIDE_COLOR = "#d62728"
FAMILY_STYLES = {
    "magnitude": {"color": "#1f5fa8", "marker": "o", "label": "Lowest |w|, both signs"},
    "positive": {"color": "#d62728", "marker": "^", "label": "Lowest |w|, positive only"},
    "negative": {"color": "#2ca02c", "marker": "v", "label": "Lowest |w|, negative only"},
    "random": {
        "color": "#7f7f7f",
        "marker": "s",
        "linestyle": "--",
        "label": "Random (control)",
    },
}
# Fraction -> percent.
PERCENT = 100.0
# Eigenvalue plane: the axes extend this factor beyond the largest modulus
# (and at least to this radius, so the unit circle is always whole).
PLANE_MARGIN = 1.12
PLANE_MIN_RADIUS = 1.15
# Points drawn on the unit circle.
CIRCLE_POINTS = 361
# Panel sizes in inches.
PANEL_WIDTH = 3.4
PANEL_HEIGHT = 2.6
TRIAL_ROW_HEIGHT = 1.7
# Statistics over training: (record key, axis label).
TRAINING_PANELS = STATISTIC_LABELS
# Accuracy bars: value labels sit inside bars longer than BAR_LABEL_MIN (%),
# BAR_LABEL_PAD (%) from the bar's start, else just after the bar's end.
BAR_LABEL_MIN = 15.0
BAR_LABEL_PAD = 1.5
WEIGHT_LABEL = "Weight strength [arb. units]"


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_to_png(figure: Figure, *, dpi: int = PNG_DPI) -> bytes:
    """Renders `figure` as PNG bytes.

    Args:
        figure: a matplotlib figure.
        dpi: resolution in dots per inch. Default: `150`.

    Returns:
        The PNG file content.
    """
    buffer = _bytes_io.BytesIO()
    with matplotlib.rc_context(STYLE):
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _existing(weights: Any, connectivity: Any) -> np.ndarray:
    values = np.asarray(weights, dtype=np.float64)
    if connectivity is None:
        return values.ravel()
    return values[np.asarray(connectivity) > 0]


def _stats_label(name: str, stats: Mapping[str, Any]) -> str:
    return (
        f"{name}: μ = {stats['mean']:.2g}, σ = {stats['std']:.3g}\n"
        f"skew = {stats['skewness']:.2f}, kurtosis = {stats['kurtosis']:.2f}"
    )


def histogram_before_after(
    initial: Any,
    final: Any,
    *,
    initial_connectivity: Any = None,
    final_connectivity: Any = None,
    bins: int = DEFAULT_BINS,
) -> Figure:
    """Overlaid histograms of the recurrent weights before and after training.

    Both histograms share bin edges; the legend gives each one's mean, standard
    deviation, skewness and excess kurtosis (`weight_statistics`), computed over
    existing connections when a connectivity mask is given.

    Args:
        initial: initial recurrent kernel (any shape; entries are pooled).
        final: trained recurrent kernel.
        initial_connectivity: optional 0/1 mask of `initial`.
        final_connectivity: optional 0/1 mask of `final`.
        bins: number of shared bins. Default: `50`.

    Returns:
        The figure (one panel).
    """
    initial_values = _existing(initial, initial_connectivity)
    final_values = _existing(final, final_connectivity)
    pooled = np.concatenate([initial_values, final_values])
    if pooled.size == 0:
        raise ValueError("Arguments `initial` and `final` hold no existing connections.")
    low, high = float(pooled.min()), float(pooled.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, int(bins) + 1)
    with matplotlib.rc_context(STYLE):
        figure = _figure(PANEL_WIDTH * 1.5, PANEL_HEIGHT * 1.2)
        axes = figure.add_subplot()
        for name, values, mask, weights, color, fill in (
            ("Initial", initial_values, initial_connectivity, initial, INITIAL_COLOR, 0.45),
            ("Final", final_values, final_connectivity, final, FINAL_COLOR, 0.35),
        ):
            stats = weight_statistics(weights, bins=edges, connectivity=mask)
            axes.hist(values, bins=edges, color=color, alpha=fill, label=_stats_label(name, stats))
            axes.hist(values, bins=edges, histtype="step", color=color, linewidth=1.2)
        axes.set_xlabel(WEIGHT_LABEL)
        axes.set_ylabel("Number of connections")
        axes.set_title("Recurrent weights $W^{rec}$ before and after training")
        axes.legend(loc="upper right", frameon=False, handlelength=1.2)
        axes.set_ylim(top=axes.get_ylim()[1] * 1.3)  # room for the legend
    return figure


def eigenvalue_plane(
    initial_eigenvalues: Any | None, final_eigenvalues: Any | None
) -> Figure:
    """Eigenvalues of W_rec in the complex plane, with the unit circle.

    Trained eigenvalues outside the unit circle (|λ| > 1, the modes that
    dominate the dynamics in Jarne's analysis) are highlighted.

    Args:
        initial_eigenvalues: complex array before training, or `None`.
        final_eigenvalues: complex array after training, or `None`.

    Returns:
        The figure (one square panel, equal aspect).
    """
    if initial_eigenvalues is None and final_eigenvalues is None:
        raise ValueError("Give at least one of `initial_eigenvalues`, `final_eigenvalues`.")
    arrays = [
        np.asarray(values, dtype=np.complex128).ravel()
        for values in (initial_eigenvalues, final_eigenvalues)
        if values is not None
    ]
    extent = max(
        PLANE_MIN_RADIUS, PLANE_MARGIN * max(np.abs(a).max(initial=0.0) for a in arrays)
    )
    with matplotlib.rc_context(STYLE):
        figure = _figure(PANEL_WIDTH * 1.1, PANEL_WIDTH * 1.25)
        axes = figure.add_subplot()
        angle = np.linspace(0.0, 2.0 * np.pi, CIRCLE_POINTS)
        axes.plot(np.cos(angle), np.sin(angle), color="black", linestyle="--",
                  linewidth=1.0, label="Unit circle")
        axes.axhline(0, color="black", linewidth=0.5)
        axes.axvline(0, color="black", linewidth=0.5)
        if initial_eigenvalues is not None:
            initial = np.asarray(initial_eigenvalues, dtype=np.complex128).ravel()
            axes.scatter(initial.real, initial.imag, s=14, facecolors="none",
                         edgecolors=INITIAL_COLOR, linewidths=0.8, label="Initial")
        if final_eigenvalues is not None:
            final = np.asarray(final_eigenvalues, dtype=np.complex128).ravel()
            outside = np.abs(final) > 1.0 + UNIT_CIRCLE_TOLERANCE
            axes.scatter(final[~outside].real, final[~outside].imag, s=12,
                         color=FINAL_COLOR, alpha=0.8, linewidths=0, label="Final")
            axes.scatter(final[outside].real, final[outside].imag, s=30,
                         color=OUTSIDE_COLOR, edgecolors="black", linewidths=0.5,
                         zorder=3, label=f"Final, |λ| > 1 (n = {int(outside.sum())})")
        axes.set_xlim(-extent, extent)
        axes.set_ylim(-extent, extent)
        axes.set_aspect("equal")
        axes.set_xlabel("Re(λ)")
        axes.set_ylabel("Im(λ)")
        axes.set_title("Eigenvalues of $W^{rec}$")
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return figure


def _pick_weight(records: Sequence[Mapping[str, Any]], weight: str | None) -> str:
    names = list(dict.fromkeys(str(record["weight"]) for record in records))
    if weight is not None:
        if weight not in names:
            raise ValueError(
                f"Argument `weight` must be one of the recorded weights {names}; "
                f"received weight={weight!r}."
            )
        return weight
    recurrent = [name for name in names if "recurrent" in name and "connectivity" not in name]
    return (recurrent or names)[0]


def _as_float(value: Any) -> float:
    return np.nan if value is None else float(value)


def statistics_over_training(
    records: Sequence[Mapping[str, Any]], *, weight: str | None = None
) -> Figure:
    """Mean, std, skewness, excess kurtosis and spectrum of W_rec versus epoch.

    Args:
        records: the records of `statistics.json` (`RunDirectory.load_statistics`).
        weight: which recorded weight to plot. Default: the first name containing
            `"recurrent"` (else the first recorded weight).

    Returns:
        The figure (2 x 3 panels).
    """
    if not records:
        raise ValueError("Argument `records` is empty: no statistics were recorded.")
    weight = _pick_weight(records, weight)
    chosen = sorted(
        (record for record in records if str(record["weight"]) == weight),
        key=lambda record: record["epoch"],
    )
    epochs = np.array([record["epoch"] for record in chosen])
    marker = "o" if epochs.size <= 30 else None
    with matplotlib.rc_context(STYLE):
        figure = _figure(PANEL_WIDTH * 2.4, PANEL_HEIGHT * 1.7)
        grid = figure.subplots(2, 3, sharex=True)
        for axes, (key, label) in zip(grid.ravel(), TRAINING_PANELS):
            values = np.array([_as_float(record.get(key)) for record in chosen])
            axes.plot(epochs, values, color=FINAL_COLOR, marker=marker, markersize=3)
            axes.set_ylabel(label)
            if key == "spectral_radius":
                axes.axhline(1.0, color="black", linestyle="--", linewidth=0.8,
                             label="Unit circle")
                axes.legend(frameon=False, loc="best")
            if key == "n_outside_unit_circle":
                axes.yaxis.get_major_locator().set_params(integer=True)
        for axes in grid[-1]:
            axes.set_xlabel("Epoch")
        figure.suptitle(f"Statistics of {weight} during training")
    return figure


def _family_style(family: str, index: int) -> dict[str, Any]:
    if family in FAMILY_STYLES:
        return dict(FAMILY_STYLES[family])
    return {"color": f"C{index % 10}", "marker": "D", "label": family}


def _knee_label(knee: Mapping[str, Any]) -> str:
    label = f"Knee: {float(knee['fraction']) * PERCENT:.3g} %"
    details = [str(knee[key]) for key in ("family", "metric") if knee.get(key)]
    if knee.get("tolerance") is not None:
        details.append(f"tolerance {float(knee['tolerance']):.3g}")
    return f"{label} ({', '.join(details)})" if details else label


def pruning_curves(pruning: Mapping[str, Any]) -> Figure:
    """Damage curves: output-target distance and accuracy versus % removed.

    All damage families share the axes; the knee stored in `pruning["knee"]`
    (the fraction up to which the output does not deteriorate) is marked with a
    dashed vertical line.

    Args:
        pruning: the content of `pruning.json` (`RunDirectory.load_pruning`).

    Returns:
        The figure (one panel per available curve: distance, accuracy).
    """
    fractions = np.asarray(pruning["fractions"], dtype=np.float64) * PERCENT
    families = pruning["families"]
    panels = [
        (key, label)
        for key, label in (
            ("distance", "Output–target distance [arb. units]"),
            ("accuracy", "Accuracy [%]"),
        )
        if any(key in curves for curves in families.values())
    ]
    if not panels:
        raise ValueError("Argument `pruning` has no 'distance' or 'accuracy' curves.")
    knee = pruning.get("knee") or {}
    with matplotlib.rc_context(STYLE):
        figure = _figure(PANEL_WIDTH * len(panels) * 1.05, PANEL_HEIGHT * 1.35)
        axes_list = np.atleast_1d(figure.subplots(1, len(panels), sharex=True))
        for axes, (key, label) in zip(axes_list, panels):
            for index, (family, curves) in enumerate(families.items()):
                if key not in curves:
                    continue
                values = np.array([_as_float(v) for v in curves[key]])
                if key == "accuracy":
                    values = values * PERCENT
                axes.plot(fractions, values, markersize=3.5, **_family_style(family, index))
            if knee.get("fraction") is not None:
                axes.axvline(float(knee["fraction"]) * PERCENT, color="black",
                             linestyle=(0, (5, 3)), linewidth=1.0, label=_knee_label(knee))
            axes.set_xlabel("Connections removed [%]")
            axes.set_ylabel(label)
            axes.margins(x=0.02)
        handles, labels = axes_list[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
        figure.suptitle("Damage to recurrent connections")
    return figure


def _task_trials(task_ids: np.ndarray, n_tasks: int, per_task: int) -> list[tuple[int, int]]:
    rows = []
    for task in range(n_tasks):
        trials = np.flatnonzero(task_ids == task)[:per_task]
        rows.extend((task, int(trial)) for trial in trials)
    return rows


def example_trials(examples: Mapping[str, Any], *, per_task: int = 1) -> Figure:
    """Example trials per task: inputs (left) and target vs output (right).

    Time steps where the loss mask is 0 (not scored) are shaded.

    Args:
        examples: the content of `examples.npz` (`RunDirectory.load_examples`).
        per_task: trials shown per task. Default: `1`.

    Returns:
        The figure (one row per shown trial, two columns).
    """
    if int(per_task) != per_task or per_task < 1:
        raise ValueError(
            f"Argument `per_task` must be a positive integer; received per_task={per_task!r}."
        )
    inputs = np.asarray(examples["inputs"], dtype=np.float64)
    targets = np.asarray(examples["targets"], dtype=np.float64)
    outputs = np.asarray(examples["outputs"], dtype=np.float64)
    loss_mask = np.asarray(examples["loss_mask"], dtype=np.float64)
    task_ids = np.asarray(examples["task_ids"]).astype(int)
    task_names = list(examples["task_names"])
    input_names = list(examples["input_names"])
    output_names = list(examples["output_names"])
    dt = float(examples["dt"])
    rows = _task_trials(task_ids, len(task_names), int(per_task))
    if not rows:
        raise ValueError("Argument `examples` holds no trial of any listed task.")
    time = np.arange(inputs.shape[1]) * dt
    with matplotlib.rc_context(STYLE):
        figure = _figure(PANEL_WIDTH * 2.2, TRIAL_ROW_HEIGHT * len(rows) + 0.9)
        grid = np.atleast_2d(figure.subplots(len(rows), 2, sharex=True))
        for row, (task, trial) in enumerate(rows):
            left, right = grid[row]
            for channel in range(inputs.shape[2]):
                name = input_names[channel] if channel < len(input_names) else f"in {channel}"
                left.plot(time, inputs[trial, :, channel], linewidth=1.0, label=name,
                          color=f"C{channel % 10}")
            for channel in range(targets.shape[2]):
                name = output_names[channel] if channel < len(output_names) else f"out {channel}"
                color = f"C{(channel + inputs.shape[2]) % 10}" if targets.shape[2] > 1 else "black"
                suffix = f" ({name})" if targets.shape[2] > 1 else ""
                right.plot(time, targets[trial, :, channel], color=color, linestyle="--",
                           linewidth=1.2, label=f"Target{suffix}", zorder=3)
                right.plot(time, outputs[trial, :, channel], color=FINAL_COLOR if
                           targets.shape[2] == 1 else color, linewidth=1.4,
                           label=f"Network output{suffix}")
            unscored = loss_mask[trial].reshape(len(time), -1).max(axis=1) == 0
            if unscored.any():
                right.fill_between(time, 0, 1, where=unscored, step="mid", color="0.85",
                                   alpha=0.6, linewidth=0, label="Not scored",
                                   transform=right.get_xaxis_transform())
            label = task_names[task] + (f" #{trial}" if per_task > 1 else "")
            left.set_ylabel(f"{label}\nInput [a.u.]")
            right.set_ylabel("Output [a.u.]")
        grid[0, 0].set_title("Inputs")
        grid[0, 1].set_title("Target vs network output")
        for axes in grid[-1]:
            axes.set_xlabel("Time [ms]")
        for axes, column in ((grid[0, 0], "inputs"), (grid[0, 1], "outputs")):
            handles, labels = axes.get_legend_handles_labels()
            figure.legend(handles, labels, loc="outside lower left" if column == "inputs"
                          else "outside lower right", ncol=2, frameon=False)
    return figure


def accuracy_table(evaluation: Mapping[str, Any]) -> Figure:
    """Per-task accuracy bars (and per-task output-target distance if present).

    Args:
        evaluation: the content of `evaluation.json`.

    Returns:
        The figure (one or two horizontal bar panels).
    """
    accuracy = dict(evaluation.get("per_task_accuracy") or {})
    if not accuracy:
        raise ValueError("Argument `evaluation` has no 'per_task_accuracy'.")
    distance = dict(evaluation.get("per_task_distance") or {})
    tasks = list(accuracy)
    positions = np.arange(len(tasks))
    n_panels = 2 if distance else 1
    with matplotlib.rc_context(STYLE):
        figure = _figure(PANEL_WIDTH * n_panels * 1.05,
                         max(PANEL_HEIGHT, 0.35 * len(tasks) + 1.2))
        axes_list = np.atleast_1d(figure.subplots(1, n_panels, sharey=True))
        values = np.array([_as_float(accuracy[task]) for task in tasks]) * PERCENT
        axes = axes_list[0]
        axes.barh(positions, values, color=FINAL_COLOR, height=0.6)
        for position, value in zip(positions, values):
            inside = value >= BAR_LABEL_MIN
            axes.text(BAR_LABEL_PAD if inside else value + BAR_LABEL_PAD, position,
                      f"{value:.1f} %", va="center", ha="left",
                      color="white" if inside else "black", fontsize=7)
        overall = evaluation.get("accuracy")
        if overall is not None:
            axes.axvline(float(overall) * PERCENT, color="black", linestyle="--",
                         linewidth=1.0, label=f"All tasks: {float(overall) * PERCENT:.1f} %")
            axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
        axes.set_xlim(0, PERCENT)
        axes.set_yticks(positions, tasks)
        axes.invert_yaxis()
        axes.set_xlabel("Accuracy [%]")
        axes.grid(axis="y", visible=False)
        if distance:
            axes = axes_list[1]
            axes.barh(positions, [_as_float(distance.get(task)) for task in tasks],
                      color=INITIAL_COLOR, height=0.6)
            axes.set_xlabel("Output–target distance [arb. units]")
            axes.grid(axis="y", visible=False)
        figure.suptitle("Performance per task")
    return figure


def figure_to_array(figure: Figure, *, dpi: int = 72) -> np.ndarray:
    """Renders `figure` as an RGB image array `(height, width, 3)` of uint8.

    For image summaries (TensorBoard), where a PNG file is not wanted.

    Args:
        figure: a matplotlib figure.
        dpi: resolution in dots per inch. Default: `72`.

    Returns:
        The rendered pixels.
    """
    with matplotlib.rc_context(STYLE):
        figure.set_dpi(dpi)
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def eigenvalue_image(eigenvalues: Any, *, title: str | None = None) -> np.ndarray:
    """The `eigenvalue_plane` of one spectrum as an RGB array (see `figure_to_array`).

    Args:
        eigenvalues: complex eigenvalues of W_rec.
        title: optional title.

    Returns:
        `(height, width, 3)` uint8 pixels.
    """
    figure = eigenvalue_plane(None, eigenvalues)
    if title:
        figure.suptitle(title)
    return figure_to_array(figure)
