"""Pictures of trials: inputs, targets and model outputs against time, epochs shaded.

Figures are built on `matplotlib.figure.Figure` (no `pyplot`), so plotting never
touches global figure state and works headless (Agg).

```python
from ctxrnn import tasks
from ctxrnn.tasks.plotting import figure_bytes, plot_trial

suite = tasks.TaskSuite(["and", "xor"], dt=5.0)
batch = suite.generate(8, seed=0)
figure = plot_trial(batch, model.predict(batch.inputs), trials=(0, 1), suite=suite)
ctxrnn.io.write_bytes("trials.png", figure_bytes(figure))
```
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from ctxrnn.tasks.base import Task, TrialBatch

COLUMN_WIDTH = 4.2  # inches per plotted trial
LEGEND_WIDTH = 1.6  # inches kept right of the last column for the legends
PANEL_HEIGHTS = (2.0, 2.0)  # inches: inputs panel, targets/outputs panel
DPI = 150
EPOCH_SHADES = ("#f2f2f2", "#ffffff")  # alternating epoch backgrounds
DECISION_COLOUR = "#fff2b3"  # background of the decision window
MASKED_ALPHA = 0.3  # targets where the loss mask is off are drawn faintly
LABEL_CHAR_INCHES = 0.06  # approximate width of one character of an epoch label
AXES_SHARE = 0.8  # approximate share of a column's width taken by its axes
LABEL_LEVELS = 3  # rows of epoch labels, so that the names of short epochs do not overlap
LABEL_ROW = 0.07  # height of one row of epoch labels, in axes fractions
LABEL_ROW_POINTS = 10  # the same row height in points, to lift the column title above the labels
TITLE_PAD = 6  # points between the top label row and the column title
MIN_TARGET_SPAN = 0.5  # targets flatter than this are shown on at least [0, 1] ...
TARGET_MARGIN = 0.1  # ... with this margin
MAX_TRUTH_ITEMS = 4  # ground-truth variables shown in a column title
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
}


def _channel_names(batch: TrialBatch, suite) -> tuple[list[str], list[str]]:
    """Input and output channel names, from `suite` (a Task or TaskSuite) or the registry."""
    n_in, n_out = batch.inputs.shape[-1], batch.targets.shape[-1]
    source = suite
    if source is None and len(batch.task_names) == 1:
        from ctxrnn.tasks.registry import make

        try:
            source = make(batch.task_names[0], dt=batch.dt)
        except ValueError:  # not registered, or not buildable at this dt
            source = None
    if source is None:
        return _generic_names(n_in, n_out)
    inputs, outputs = list(source.input_names), list(source.output_names)
    if len(inputs) == n_in and len(outputs) == n_out:
        return inputs, outputs
    if suite is None:  # the looked-up task's channels differ, e.g. a one-task suite with context
        return _generic_names(n_in, n_out)
    raise ValueError(
        f"Argument `suite` has {len(inputs)} inputs and {len(outputs)} outputs but the batch "
        f"has {n_in} and {n_out}; pass the Task or TaskSuite that made the batch."
    )


def _generic_names(n_in: int, n_out: int) -> tuple[list[str], list[str]]:
    return [f"input {i}" for i in range(n_in)], [f"output {i}" for i in range(n_out)]


def _check_trials(trials, n: int) -> list[int]:
    picked = [trials] if isinstance(trials, (int, np.integer)) else list(trials)
    if not picked:
        raise ValueError("Argument `trials` must name at least one trial index.")
    for index in picked:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or \
                not -n <= index < n:
            raise ValueError(f"Argument `trials` must hold integer indices in [0, {n}); "
                             f"received {trials!r}.")
    return [int(index) % n for index in picked]


def _title(batch: TrialBatch, trial: int) -> str:
    task = batch.task_names[int(batch.task_ids[trial])]
    items = []
    for key, value in batch.truth.items():
        value = np.asarray(value[trial])
        if value.ndim == 0 and np.isfinite(value) and len(items) < MAX_TRUTH_ITEMS:
            items.append(f"{key.split('/')[-1]}={value.item():.3g}")
    head = f"{task} · trial {trial}"
    return head + ("\n" + ", ".join(items) if items else "")


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """`[start, stop)` step ranges where the 1-D boolean `mask` is on."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _stairs(ax, dt: float, values: np.ndarray, **kwargs) -> None:
    """Draws one value per step as a staircase covering `[t, t + dt)` for every step."""
    edges = np.arange(len(values) + 1) * dt
    ax.plot(edges, np.append(values, values[-1]), drawstyle="steps-post", **kwargs)


def _shade_epochs(axes, batch: TrialBatch, trial: int, label_axes) -> int:
    """Alternating backgrounds per epoch; names written above `label_axes`.

    Labels go on the lowest of `LABEL_LEVELS` rows where they do not overlap
    the previous label (short epochs such as a 20 ms cue sit side by side).

    Returns:
        The number of label rows used.
    """
    dt, total = batch.dt, batch.n_steps * batch.dt
    spans = [(name, *bounds[trial]) for name, bounds in batch.epochs.items()
             if bounds[trial][0] >= 0 and bounds[trial][1] > bounds[trial][0]]
    spans.sort(key=lambda span: span[1])
    above = blended_transform_factory(label_axes.transData, label_axes.transAxes)
    ends = [-np.inf] * LABEL_LEVELS  # right end (ms) of the last label on each row
    ms_per_char = LABEL_CHAR_INCHES * total / (AXES_SHARE * COLUMN_WIDTH)
    for k, (name, start, stop) in enumerate(spans):
        for ax in axes:
            ax.axvspan(start * dt, stop * dt, color=EPOCH_SHADES[k % 2], zorder=0, lw=0)
            ax.axvline(start * dt, color="0.75", lw=0.5, zorder=0.5)
        label = name.replace("_", " ")
        half = len(label) * ms_per_char / 2
        centre = float(np.clip((start + stop) / 2 * dt, half, max(half, total - half)))
        level = next((i for i, end in enumerate(ends) if centre - half > end), LABEL_LEVELS - 1)
        ends[level] = centre + half
        label_axes.text(centre, 1.02 + level * LABEL_ROW, label, transform=above,
                        ha="center", va="bottom", fontsize=6.5, color="0.3")
    return sum(end > -np.inf for end in ends)


def plot_trial(batch: TrialBatch, outputs=None, trials: int | Sequence[int] = (0,), *,
               suite: Task | object | None = None) -> Figure:
    """Draws trials of `batch`: one column per trial, inputs above, targets and outputs below.

    Each column has two panels sharing a time axis in ms: the input channels
    (labelled by name), and the targets (dashed; faint where the loss mask is
    off) with the model's outputs (solid, same colour per channel) if given.
    Epochs are shaded alternately and named above the inputs; the decision
    window (`batch.decision_mask`) is highlighted behind the outputs. Left
    padding of suite trials is left unshaded.

    Args:
        batch: a `TrialBatch` from `Task.generate` or `TaskSuite.generate`.
        outputs: optional `(batch, time, outputs)` model outputs for `batch`.
        trials: index or indices of the trials to draw. Default: `(0,)`.
        suite: the `Task` or `TaskSuite` that made `batch`, for channel names.
            Default: looked up from a single-task batch's task name; generic
            names (`input 0`, ...) otherwise.

    Returns:
        A `matplotlib.figure.Figure` (with an Agg canvas attached).

    Raises:
        ValueError: on `outputs` of the wrong shape, bad `trials` or a `suite`
            whose channels do not match the batch.

    Example:

    ```python
    batch = tasks.make("dms").generate(4, seed=0)
    figure = plot_trial(batch, trials=(0, 1))
    figure.savefig("dms.png")
    ```
    """
    if not isinstance(batch, TrialBatch):
        raise TypeError(f"Argument `batch` must be a TrialBatch; received {type(batch).__name__}.")
    if outputs is not None:
        outputs = np.asarray(outputs)
        if outputs.shape != batch.targets.shape:
            raise ValueError(f"Argument `outputs` must have the targets' shape "
                             f"{batch.targets.shape}; received {outputs.shape}.")
    picked = _check_trials(trials, len(batch))
    input_names, output_names = _channel_names(batch, suite)
    dt = batch.dt

    with matplotlib.rc_context(STYLE):
        width = COLUMN_WIDTH * len(picked) + LEGEND_WIDTH
        figure = Figure(figsize=(width, sum(PANEL_HEIGHTS) + 1.0), dpi=DPI,
                        layout="constrained")
        FigureCanvasAgg(figure)
        grid = figure.subplots(2, len(picked), sharex="col", squeeze=False,
                               gridspec_kw={"height_ratios": PANEL_HEIGHTS})
        colours = matplotlib.colormaps["tab10" if max(len(input_names),
                                                      len(output_names)) <= 10 else "tab20"]
        for column, trial in enumerate(picked):
            top, bottom = grid[0, column], grid[1, column]
            levels = _shade_epochs((top, bottom), batch, trial, top)
            for k, (start, stop) in enumerate(_spans(batch.decision_mask[trial] > 0)):
                bottom.axvspan(start * dt, stop * dt, color=DECISION_COLOUR, zorder=0.2, lw=0,
                               label=None if k else "decision window")
            for c, name in enumerate(input_names):
                _stairs(top, dt, batch.inputs[trial, :, c], color=colours(c), label=name)
            for c, name in enumerate(output_names):
                target = batch.targets[trial, :, c]
                on = batch.loss_mask[trial, :, c] > 0
                _stairs(bottom, dt, np.where(on, target, np.nan), color=colours(c), ls="--",
                        label=f"{name} target")
                _stairs(bottom, dt, target, color=colours(c), ls="--", alpha=MASKED_ALPHA)
                if outputs is not None:
                    _stairs(bottom, dt, outputs[trial, :, c], color=colours(c),
                            label=f"{name} output")
            low, high = bottom.get_ylim()
            if high - low < MIN_TARGET_SPAN:
                bottom.set_ylim(min(low, 0.0) - TARGET_MARGIN, max(high, 1.0) + TARGET_MARGIN)
            top.set_title(_title(batch, trial), pad=TITLE_PAD + LABEL_ROW_POINTS * levels)
            bottom.set_xlabel("time (ms)")
            bottom.set_xlim(0.0, batch.n_steps * dt)
            if column == 0:
                top.set_ylabel("inputs")
                bottom.set_ylabel("targets / outputs" if outputs is not None else "targets")
        for ax, kind in ((grid[0, -1], "inputs"), (grid[1, -1], "outputs")):
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                      title=kind, alignment="left", borderaxespad=0.0)
    return figure


def figure_bytes(figure: Figure, format: str = "png", dpi: int = DPI) -> bytes:
    """Renders `figure` to bytes (for `ctxrnn.io.write_bytes`, an atomic write).

    Args:
        figure: a matplotlib figure.
        format: any matplotlib output format (`"png"`, `"pdf"`, `"svg"`).
            Default: `"png"`.
        dpi: resolution of raster formats. Default: `150`.

    Returns:
        The file content.
    """
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        figure.savefig(buffer, format=format, dpi=dpi)
    return buffer.getvalue()
