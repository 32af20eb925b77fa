"""The weight-statistics report of a training run (HTML + PNG + JSON).

`write_report` reads a run directory (`ctxrnn.runs`) and writes, atomically:

- `figures/*.png`: the panels of `ctxrnn.analysis.figures`,
- `stats.json`: the summary numbers (configuration, accuracy per task, W_rec
  statistics before/after training, the pruning knee(s), last history values),
- `report.html`: a self-contained page (PNGs embedded as base64) with the run
  configuration, an accuracy table, a table of W_rec statistics initial vs
  final, the spectrum, the statistics during training, the damage curves with
  the knee, and example trials. It is written last, so its presence means the
  report is complete.

Only `config.json` is required. A part that is missing (no pruning yet, no
examples) gets a section saying so; a malformed file gets a section naming the
problem and a `UserWarning`.

Example:

```python
from ctxrnn.report import write_report

path = write_report("runs/ctx_and_or")   # runs/ctx_and_or/report.html
```
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import pathlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ctxrnn import io, runs
from ctxrnn.analysis import eigenvalues, figures, find_knee, weight_statistics
from ctxrnn.analysis.knee import DEFAULT_TOLERANCE
from ctxrnn.analysis.statistics import STATISTIC_LABELS
from ctxrnn.runs import RunDirectory

# Rows of the W_rec statistics table: (key of `weight_statistics`, label).
STATISTICS_ROWS = (*STATISTIC_LABELS, ("n_connections", "Existing connections"))
# Significant digits of numbers in tables.
TABLE_DIGITS = 4
PERCENT = 100.0
MISSING_VALUE = "—"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f5f8; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.missing { color: #8a6d3b; background: #fcf8e3; padding: 0.5em 0.8em; border-radius: 3px; }
.meta { color: #666; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _fmt(value: Any, digits: int = TABLE_DIGITS) -> str:
    if value is None:
        return MISSING_VALUE
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return MISSING_VALUE if not np.isfinite(value) else f"{float(value):.{digits}g}"
    return html.escape(str(value))


def _percent(value: Any) -> str:
    if value is None or not np.isfinite(float(value)):
        return MISSING_VALUE
    return f"{float(value) * PERCENT:.1f} %"


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = []
    for row in rows:
        cells = [
            f'<td class="num">{cell}</td>' if index >= numeric_from else f"<td>{cell}</td>"
            for index, cell in enumerate(row)
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _missing(message: str) -> str:
    return f'<p class="missing">{html.escape(message)}</p>'


class _Report:
    """Accumulates sections, figures and summary numbers while reading a run."""

    def __init__(self, run: RunDirectory, output: pathlib.Path):
        self.run = run
        self.output = output
        self.sections: list[tuple[str, str]] = []
        self.stats: dict[str, Any] = {
            "run": str(run.path.resolve()),
            "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "sections": {},
        }

    def figure(self, name: str, figure: Any, caption: str) -> str:
        """Writes `figures/{name}.png` and returns the HTML embedding it."""
        png = figures.figure_to_png(figure)
        io.write_bytes(self.output / runs.FIGURES_DIR / f"{name}.png", png)
        data = base64.b64encode(png).decode("ascii")
        return (
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def section(self, key: str, title: str, build: Callable[[], str]) -> None:
        """Adds a section; missing or malformed inputs become a note, not a crash."""
        try:
            body = build()
            status = "ok"
        except FileNotFoundError as error:
            body = _missing(f"Not available: {error}")
            status = f"missing: {error}"
        except (ValueError, KeyError, TypeError) as error:
            message = f"Could not build this section: {type(error).__name__}: {error}"
            warnings.warn(f"Report of {self.run.path}: {message}", UserWarning, stacklevel=3)
            body = _missing(message)
            status = f"error: {error}"
        self.sections.append((title, body))
        self.stats["sections"][key] = status


def _config_section(report: _Report) -> str:
    from ctxrnn.training import resolved_settings

    config = resolved_settings(report.run.load_config())
    report.stats["config"] = config
    rows = [
        [html.escape(str(key)), html.escape(json.dumps(io.to_jsonable(value)))]
        for key, value in config.items()
    ]
    return _table(["Setting", "Value"], rows, numeric_from=2)


def _dynamics_section(report: _Report) -> str:
    from ctxrnn.analysis import dynamics

    return dynamics.report_section(report.run.path)


def _performance_section(report: _Report) -> str:
    evaluation = report.run.load_evaluation()
    report.stats["evaluation"] = evaluation
    accuracy = evaluation.get("per_task_accuracy") or {}
    distance = evaluation.get("per_task_distance") or {}
    rows = [
        [html.escape(str(task)), _percent(accuracy.get(task)), _fmt(distance.get(task))]
        for task in list(dict.fromkeys([*accuracy, *distance]))
    ]
    rows.append(["<b>All tasks</b>", _percent(evaluation.get("accuracy")), MISSING_VALUE])
    parts = [
        _table(["Task", "Accuracy", "Output–target distance"], rows),
        report.figure("accuracy", figures.accuracy_table(evaluation),
                      "Accuracy per task on the evaluation trials."),
    ]
    return "".join(parts)


def _history_section(report: _Report) -> str:
    history = report.run.load_history()
    epochs = max((len(values) for values in history.values()), default=0)
    last = {key: values[-1] for key, values in history.items() if values}
    report.stats["history"] = {"epochs": epochs, "final": last}
    rows = [[html.escape(key), _fmt(value)] for key, value in last.items()]
    return f"<p>{epochs} epochs.</p>" + _table(["Metric", "Last epoch"], rows)


def _recurrent(weights: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    return weights["recurrent_kernel"], weights.get("recurrent_connectivity")


def _weights_section(report: _Report) -> str:
    stages = {}
    for stage in runs.WEIGHT_STAGES:
        try:
            stages[stage] = _recurrent(report.run.load_weights(stage))
        except FileNotFoundError:
            continue
    if not stages:
        raise FileNotFoundError(
            f"run directory {str(report.run.path)!r} has no {runs.INITIAL_WEIGHTS_FILE} "
            f"nor {runs.FINAL_WEIGHTS_FILE} (written by the training CLI)."
        )
    statistics = {
        stage: weight_statistics(kernel, connectivity=mask)
        for stage, (kernel, mask) in stages.items()
    }
    report.stats["weights"] = {
        stage: {key: value for key, value in stats.items() if key != "histogram"}
        for stage, stats in statistics.items()
    }
    header = ["Statistic"] + [stage.capitalize() for stage in statistics]
    rows = [
        [label] + [_fmt(stats[key]) for stats in statistics.values()]
        for key, label in STATISTICS_ROWS
    ]
    parts = [
        "<p>Statistics over existing recurrent connections; eigenvalues of the "
        "effective (masked) matrix. Kurtosis is the excess (Fisher) kurtosis, 0 for a "
        "normal distribution; skewness and kurtosis use scipy's biased estimators.</p>",
        _table(header, rows),
    ]
    if len(stages) == len(runs.WEIGHT_STAGES):
        (initial, initial_mask), (final, final_mask) = stages["initial"], stages["final"]
        histogram = figures.histogram_before_after(
            initial, final, initial_connectivity=initial_mask, final_connectivity=final_mask
        )
        parts.append(report.figure("weights_histogram", histogram,
                                   "Distribution of recurrent weights before and after training."))
    else:
        parts.append(_missing(
            f"Only the {next(iter(stages))} weights are saved: no before/after histogram."
        ))
    spectra = {
        stage: eigenvalues(kernel, connectivity=mask) for stage, (kernel, mask) in stages.items()
    }
    plane = figures.eigenvalue_plane(spectra.get("initial"), spectra.get("final"))
    parts.append(report.figure(
        "eigenvalues", plane,
        "Eigenvalues of the recurrent matrix in the complex plane; dashed: unit circle. "
        "Trained eigenvalues outside the circle are highlighted.",
    ))
    return "".join(parts)


def _training_section(report: _Report) -> str:
    records = report.run.load_statistics()
    if not records:
        raise FileNotFoundError(f"{runs.STATISTICS_FILE} holds no records yet.")
    return report.figure(
        "statistics_over_training", figures.statistics_over_training(records),
        "Statistics of the recurrent weights recorded during training.",
    )


def _knee_settings(pruning: Mapping[str, Any]) -> dict[str, Any]:
    stored = pruning.get("knee") or {}
    return {
        "family": stored.get("family", "magnitude"),
        "metric": stored.get("metric", "accuracy"),
        "tolerance": float(stored.get("tolerance", DEFAULT_TOLERANCE)),
    }


def _family_knee(pruning: Mapping[str, Any], family: str, settings: Mapping[str, Any]):
    curve = pruning["families"][family].get(settings["metric"])
    if curve is None:
        return None
    scores = [np.nan if value is None else value for value in curve]
    return find_knee(
        pruning["fractions"], scores, tolerance=settings["tolerance"],
        higher_is_better=settings["metric"] != "distance",
    )


def _pruning_section(report: _Report) -> str:
    pruning = dict(report.run.load_pruning())
    settings = _knee_settings(pruning)
    note = ""
    if pruning.get("knee", {}).get("fraction") is None:
        if settings["family"] not in pruning["families"]:
            raise ValueError(
                f"no family {settings['family']!r} to compute the knee from; families: "
                f"{sorted(pruning['families'])}"
            )
        pruning["knee"] = {
            **settings, "fraction": _family_knee(pruning, settings["family"], settings)
        }
        note = " (computed by the report; not stored in pruning.json)"
    knee = pruning["knee"]
    family_knees = {
        family: _family_knee(pruning, family, settings) for family in pruning["families"]
    }
    report.stats["knee"] = knee
    report.stats["family_knees"] = {"metric": settings["metric"],
                                    "tolerance": settings["tolerance"], "fraction": family_knees}
    report.stats["pruning_baseline"] = pruning.get("baseline")
    fraction = knee.get("fraction")
    summary = (
        f"<p><b>Knee: {_percent(fraction)}</b> of the recurrent connections "
        f"(family <code>{html.escape(str(knee.get('family')))}</code>) can be removed "
        f"while the {html.escape(str(knee.get('metric')))} stays within "
        f"{_fmt(knee.get('tolerance'))} of the unpruned network{note}.</p>"
    )
    rows = [[html.escape(family), _percent(value)] for family, value in family_knees.items()]
    table = _table(
        ["Damage family", f"Knee ({settings['metric']}, tolerance {settings['tolerance']:g})"],
        rows,
    )
    return summary + table + report.figure(
        "pruning", figures.pruning_curves(pruning),
        "Output–target distance and accuracy as connections are removed without "
        "retraining; dashed: the knee.",
    )


def _examples_section(report: _Report) -> str:
    examples = report.run.load_examples()
    return report.figure(
        "example_trials", figures.example_trials(examples),
        "One example trial per task: inputs (left), target and network output (right); "
        "grey: time steps not scored.",
    )


def _render(report: _Report) -> str:
    title = f"ctxrnn report: {report.run.path.name}"
    body = "".join(
        f"<section><h2>{html.escape(section_title)}</h2>{content}</section>"
        for section_title, content in report.sections
    )
    meta = (
        f'<p class="meta">Run directory <code>{html.escape(report.stats["run"])}</code>; '
        f"generated {html.escape(report.stats['generated'])}.</p>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{meta}{body}"
        "</body></html>\n"
    )


def write_report(run_dir: io.PathLike, *, output: io.PathLike | None = None) -> pathlib.Path:
    """Writes the weight-statistics report of a run: HTML, PNG figures and JSON.

    Args:
        run_dir: a run directory (must hold `config.json`; every other part is
            optional).
        output: directory to write `report.html`, `figures/` and `stats.json`
            into. Default: `run_dir` itself.

    Returns:
        The path of the written `report.html`.

    Raises:
        FileNotFoundError: if `run_dir` does not exist.
        ValueError: if `run_dir` is not a run directory.

    Example:

    ```python
    path = write_report("runs/ctx", output="reports/ctx")
    stats = json.loads((path.parent / "stats.json").read_text())
    print(stats["weights"]["final"]["kurtosis"], stats["knee"]["fraction"])
    ```
    """
    run = RunDirectory(run_dir)
    output_dir = pathlib.Path(output) if output is not None else run.path
    output_dir.mkdir(parents=True, exist_ok=True)
    report = _Report(run, output_dir)
    for key, title, build in (
        ("config", "Run configuration", _config_section),
        ("evaluation", "Performance per task", _performance_section),
        ("history", "Training history", _history_section),
        ("weights", "Recurrent weights before and after training", _weights_section),
        ("statistics", "Weight statistics during training", _training_section),
        ("pruning", "Damage: pruning curves", _pruning_section),
        ("examples", "Example trials", _examples_section),
    ):
        report.section(key, title, lambda build=build: build(report))
    if (run.path / runs.DYNAMICS_FILE).is_file():  # optional: written by `ctxrnn analyze`
        report.section("dynamics", "Dynamics: fixed points and regimes per context",
                       lambda: _dynamics_section(report))
    io.write_json(output_dir / runs.REPORT_STATS_FILE, report.stats)
    return io.write_text(output_dir / runs.REPORT_FILE, _render(report))
