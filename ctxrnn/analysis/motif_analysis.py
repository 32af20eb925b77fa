"""The motif analysis of a trained multitask network, written to a directory.

One entry point, `analyze`, used by `ctxrnn analyze --clusters/--lesions` and
`experiments/motifs.py`:

1. clusters: task variance on noise-free trials of the suite, Ward clusters
   with the silhouette-best k, Yang's k-means, the rotation control;
2. lesions: the cluster x task accuracy change and the "all but the cluster"
   sufficiency lesion;
3. fixed points: per task period, the reuse matrix of stable points across
   task periods, and rule-input interpolations between task pairs.

Writes `motifs.json` and `figures/motifs_*.png` under `out_dir`.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ctxrnn import io, seeding
from ctxrnn import runs as run_layout
from ctxrnn.analysis import clusters as clusters_lib
from ctxrnn.analysis import lesions as lesions_lib
from ctxrnn.analysis import motif_figures, motifs

MOTIFS_FILE = "motifs.json"
# keys of the draws under the seed's "evaluation" stream
ROTATION_KEY, INTERPOLATION_KEY = 1, 2
DEFAULT_PAIRS = 3  # rule interpolations between consecutive task pairs by default


def _save(figure, out: pathlib.Path, name: str) -> None:
    from ctxrnn.analysis.figures import figure_to_png

    io.write_bytes(out / run_layout.FIGURES_DIR / f"{name}.png", figure_to_png(figure))


def _rule_interpolations(model, suite, grid, states, pairs, tolerance, *, n_initial, steps,
                         seed, max_iters):
    """Interpolations that change only the rule: the input of `a`'s first period shared
    with `b`, its rule (context) channels moved to `b`'s values."""
    from ctxrnn.analysis.dynamics import sample_states

    inputs = motifs.period_inputs(grid)
    rule = suite.context_channels
    paths = {}
    if not rule:  # a suite without context channels has no rule input to move
        return paths
    for k, (a, b) in enumerate(pairs):
        for task in (a, b):
            if task not in suite.task_names:
                raise ValueError(f"Argument `pairs` names task {task!r}; the suite's tasks are "
                                 f"{list(suite.task_names)}.")
        shared = [p for (task, p) in inputs if task == a and (b, p) in inputs]
        if not shared:
            continue
        period = shared[0]
        x_from = inputs[(a, period)]
        x_to = x_from.copy()
        x_to[rule] = inputs[(b, period)][rule]
        rows = np.flatnonzero(np.isin(grid.task_ids, [grid.task_names.index(a),
                                                      grid.task_names.index(b)]))
        mask = clusters_lib.period_steps(grid, period, rows)
        start = sample_states(states, n_initial, noise=motifs.NOISE_SCALE, mask=mask,
                              seed=seeding.derive(seed, "evaluation", INTERPOLATION_KEY, k))
        paths[f"{a}->{b}:{period}"] = motifs.interpolate(
            model, x_from, x_to, start, tolerance=tolerance, n_steps=steps, max_iters=max_iters)
    return paths


def analyze(model, suite, out_dir, *, lesions: bool = True, fixed_points: bool = True,
            n_per_task: int = 64, lesion_trials: int = 200, n_initial: int = 64,
            max_iters: int = 1000, pairs: Sequence[tuple[str, str]] | None = None,
            interpolation_steps: int = 11, seed: int = 0) -> dict[str, Any]:
    """Clusters, cluster lesions and shared fixed points of a multitask network.

    Args:
        model: a trained ctxrnn model (one `CTRNN`, Dense readout).
        suite: its `TaskSuite`.
        out_dir: directory for `motifs.json` and `figures/motifs_*.png` (created).
        lesions: run the cluster lesions. Default: `True`.
        fixed_points: run the fixed points, reuse matrix and interpolations.
        n_per_task: noise-free trials per task for variance and fixed points.
        lesion_trials: trials per task of the lesion evaluation.
        n_initial: fixed-point candidates per task period (half per
            interpolation step).
        max_iters: optimisation steps of the fixed-point search.
        pairs: `(task a, task b)` rule interpolations. Default: up to 3 pairs
            of consecutive tasks.
        interpolation_steps: inputs along each interpolation.
        seed: seed of the trials, the rotation and the candidates.

    Returns:
        The summary written to `motifs.json` (JSON-ready).

    Example:

    ```python
    model, suite = dynamics.load_target("runs/demo")
    summary = motif_analysis.analyze(model, suite, "runs/demo/motifs", fixed_points=False)
    summary["clusters"]["ward"]["n_clusters"]
    ```
    """
    from ctxrnn.layers import hidden_states

    out = pathlib.Path(out_dir)
    timings = {}
    start = time.perf_counter()
    grid = clusters_lib.noise_free_suite(suite).validation_data(
        n_per_task, seed=seeding.derive(seed, "validation"))
    states = hidden_states(model, grid.inputs)
    variance = clusters_lib.period_variance(states, grid)
    ward = clusters_lib.cluster_units(variance)
    kmeans = clusters_lib.cluster_units(variance, method="kmeans")
    rotation = clusters_lib.random_rotation(
        states.shape[-1], seed=seeding.derive(seed, "evaluation", ROTATION_KEY))
    rotated = clusters_lib.cluster_units(clusters_lib.period_variance(states, grid,
                                                                      rotation=rotation))
    timings["clusters"] = time.perf_counter() - start
    _save(motif_figures.atlas_figure(ward), out, "motifs_atlas_ward")
    _save(motif_figures.atlas_figure(kmeans), out, "motifs_atlas_kmeans")
    _save(motif_figures.atlas_figure(rotated, title="Rotated activity"), out,
          "motifs_atlas_rotated")
    _save(motif_figures.silhouette_figure({"Ward": ward, "k-means": kmeans,
                                           "Ward, rotated": rotated}), out, "motifs_silhouette")
    summary: dict[str, Any] = {
        "tasks": list(suite.task_names), "units": int(states.shape[-1]),
        "n_per_task": n_per_task, "seed": seed, "columns": variance.column_names,
        "variance": variance.variance.tolist(),
        "clusters": {"ward": ward.to_dict(), "kmeans": kmeans.to_dict(),
                     "ward_rotated": rotated.to_dict()}}
    if lesions:
        start = time.perf_counter()
        groups = ward.lesion_units()
        batch = suite.validation_data(lesion_trials, seed=seeding.derive(seed, "test"))
        result = lesions_lib.lesion_matrix(model, suite, groups, batch=batch)
        other = lesions_lib.lesion_matrix(model, suite, groups, batch=batch, other=True)
        timings["lesions"] = time.perf_counter() - start
        _save(motif_figures.lesion_figure(result), out, "motifs_lesions")
        _save(motif_figures.lesion_figure(other), out, "motifs_lesions_other")
        summary.update(lesion_trials=lesion_trials, lesions=result.to_dict(),
                       lesions_other=other.to_dict())
    if fixed_points:
        start = time.perf_counter()
        points = motifs.period_fixed_points(model, grid, states=states, n_initial=n_initial,
                                            seed=seed, max_iters=max_iters)
        tolerance = motifs.MATCH_FRACTION * motifs.state_scale(states)
        keys, reuse = motifs.reuse_matrix(points, tolerance)
        names = list(suite.task_names)
        chosen = (list(pairs) if pairs is not None else
                  [(names[i], names[i + 1]) for i in range(0, len(names) - 1, 2)][:DEFAULT_PAIRS])
        paths = _rule_interpolations(model, suite, grid, states, chosen, tolerance,
                                     n_initial=max(1, n_initial // 2),
                                     steps=interpolation_steps, seed=seed, max_iters=max_iters)
        timings["fixed_points"] = time.perf_counter() - start
        _save(motif_figures.reuse_figure(keys, reuse), out, "motifs_reuse")
        if paths:
            _save(motif_figures.interpolation_figure(paths), out, "motifs_interpolation")
        summary["fixed_points"] = {
            "tolerance": tolerance, "keys": [":".join(k) for k in keys],
            "counts": {":".join(k): points[k].summary() for k in keys},
            "reuse": reuse.tolist(),
            "interpolations": {name: path.to_dict() for name, path in paths.items()}}
    summary["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    io.write_json(out / MOTIFS_FILE, summary)
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines of an `analyze` summary (clusters, lesions, fixed points)."""
    found = summary["clusters"]
    ward, kmeans, rotated = found["ward"], found["kmeans"], found["ward_rotated"]
    lines = [f"{ward['n_clusters']} Ward clusters (silhouette {ward['best_silhouette']:.3f}) of "
             f"{ward['n_active']}/{ward['n_units']} active units, sizes {ward['cluster_sizes']}; "
             f"k-means: {kmeans['n_clusters']} (silhouette {kmeans['best_silhouette']:.3f}); "
             f"rotated activity: {rotated['n_clusters']} "
             f"(silhouette {rotated['best_silhouette']:.3f})"]
    if "lesions" in summary:
        result, other = summary["lesions"], summary["lesions_other"]
        lines.append("intact accuracy: " + ", ".join(
            f"{t} {a:.3f}" for t, a in zip(result["tasks"], result["intact"])))
        lines.append("accuracy change (points) per lesioned cluster | accuracy with only the "
                     "cluster left (%)")
        for name, size, row, kept in zip(result["names"], result["sizes"], result["change"],
                                         other["accuracy"]):
            lines.append(f"  {name:<11} ({size:3d} units): "
                         + " ".join(f"{100 * v:+6.1f}" for v in row)
                         + " | " + " ".join(f"{100 * v:5.1f}" for v in kept))
    if "fixed_points" in summary:
        points = summary["fixed_points"]
        lines.append("stable points per task period: " + ", ".join(
            f"{k} {c['n_stable']}" for k, c in points["counts"].items()))
        for name, path in points["interpolations"].items():
            lines.append(f"  {name}: stable points {path['n_stable']}, bifurcation at "
                         f"{path['bifurcation']}, continuous {path['continuous']}")
    lines.append(f"seconds: {summary['seconds']}")
    return lines
