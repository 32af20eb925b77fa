"""Task variance per task period and unit clusters (Yang et al. 2019; Driscoll et al. 2024).

A unit's *task variance* in one period of one task is the variance of its
state across trials at each time step of the period, averaged over the
period's steps (noise off). Stacked over every `(task, period)` of a multitask
suite it is a units x columns matrix; units whose summed variance is at most
`ACTIVE_THRESHOLD` are inactive and left out; each active unit's row is
divided by its maximum (`"max"` normalisation), so a unit is described by
*where* it varies, not by how much. Units with similar profiles form clusters:

- `method="ward"` (Driscoll): Ward linkage of the normalised rows, cut at the
  number of clusters `k` in `3 .. min(n, 40) - 1` with the highest silhouette
  score;
- `method="kmeans"` (Yang): k-means (20 initialisations, seed 0) for `k` in
  `2 .. min(n, 30) - 1`, silhouette-best `k`.

The rotation control (Yang's `random_rotation`) computes the same variance
from the states multiplied by a random orthogonal matrix: the task variance of
a rotated "unit" mixes every real unit, so clusters that come from the units
themselves vanish (the silhouette peak drops).

Example:

```python
batch = clusters.noise_free_suite(suite).validation_data(64, seed=0)
variance = clusters.task_variance(model, batch)
found = clusters.cluster_units(variance)
found.n_clusters, found.members(0)
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

ACTIVE_THRESHOLD = 1e-3  # summed task variance of an active unit (both reference codes)
SKIP_PERIODS = ("fix", "blank")  # periods whose name contains these are left out
METHODS = ("ward", "kmeans")
NORMALIZATIONS = ("max", "sum", "none")
WARD_K = (3, 40)  # Driscoll's find_opt_clust_num: k in 3 .. min(n, 40) - 1
KMEANS_K = (2, 30)  # Yang's clustering.py: k in 2 .. min(n, 30) - 1
KMEANS_N_INIT = 20


# ------------------------------------------------------------- variance
@dataclasses.dataclass(frozen=True)
class TaskVariance:
    """Variance across trials of every unit in every `(task, period)`.

    Attributes:
        variance: `(units, columns)` float64.
        columns: `(task, period)` of every column, period-first (stable by
            period name, then in task order), as in the reference code.
    """

    variance: np.ndarray
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> list[str]:
        """`"task:period"` of every column."""
        return [f"{task}:{period}" for task, period in self.columns]

    n_units = property(lambda self: self.variance.shape[0])


def noise_free_suite(suite):
    """The same `TaskSuite` with every task rebuilt without input noise.

    Task variance and fixed points are read from noise-free trials; the
    network's own noise is off in inference anyway.
    """
    from ctxrnn import tasks

    built = []
    for task in suite.tasks:
        config = dict(task.get_config())
        built.append(tasks.make(config.pop("name"), **{**config, "input_noise": 0.0}))
    return tasks.TaskSuite(built, context=suite.context, mixing=suite.mixing,
                           cue_ms=suite.cue_steps * suite.dt, levels=suite.levels,
                           seed=suite.seed)


def random_rotation(units: int, seed: int | np.random.SeedSequence = 0) -> np.ndarray:
    """A random `(units, units)` orthogonal matrix (Haar measure), seeded."""
    from scipy.stats import ortho_group

    return ortho_group.rvs(int(units), random_state=np.random.default_rng(seed))


def task_periods(batch, skip: Sequence[str] = SKIP_PERIODS):
    """Yields `(task, period, rows)` for every task of `batch` and every period its trials have.

    Args:
        batch: a multitask `TrialBatch` (`epochs` bounds are -1 for trials
            without the period).
        skip: substrings of period names to leave out.

    Yields:
        The task name, the period name and the int indices of that task's
        trials with a non-empty period, in task then `batch.epochs` order.
    """
    task_ids = np.asarray(batch.task_ids)
    for k, task in enumerate(batch.task_names):
        for period, bounds in batch.epochs.items():
            if any(word in period for word in skip):
                continue
            rows = np.flatnonzero((task_ids == k) & (bounds[:, 0] >= 0)
                                  & (bounds[:, 1] > bounds[:, 0]))
            if rows.size:
                yield task, period, rows


def period_steps(batch, period: str, rows) -> np.ndarray:
    """`(trials, time)` bool: the steps of `period` in the trials `rows` of `batch`."""
    bounds = batch.epochs[period]
    steps = np.arange(batch.n_steps)[None]
    chosen = np.zeros(len(bounds), bool)
    chosen[np.asarray(rows, int)] = True
    return chosen[:, None] & (steps >= bounds[:, :1]) & (steps < bounds[:, 1:])


def period_variance(states, batch, *, skip: Sequence[str] = SKIP_PERIODS,
                    rotation=None) -> TaskVariance:
    """Task variance of `(trials, time, units)` states of a multitask batch.

    For every task of `batch` and every period of `batch.epochs` that task's
    trials have (names containing a string of `skip` left out), the states of
    the period are aligned at its first step and cut to its shortest length
    across trials; the variance across trials is taken at every step, then
    averaged over steps.

    Args:
        states: `(trials, time, units)` hidden states (noise off).
        batch: the `TrialBatch` they answer (its `epochs` and `task_ids`).
        skip: substrings of the period names to leave out. Default: fixation
            and blank periods.
        rotation: optional `(units, units)` matrix; the states are multiplied
            by it first (the rotation control, `random_rotation`).

    Returns:
        A `TaskVariance`.
    """
    states = np.asarray(states, np.float64)
    if states.ndim != 3 or states.shape[:2] != tuple(np.shape(batch.inputs)[:2]):
        raise ValueError(f"Argument `states` must have shape (trials, time, units) with the "
                         f"batch's {tuple(np.shape(batch.inputs)[:2])} trials and steps; "
                         f"received shape {states.shape}.")
    if rotation is not None:
        rotation = np.asarray(rotation, np.float64)
        if rotation.shape != (states.shape[-1],) * 2:
            raise ValueError(f"Argument `rotation` must have shape {(states.shape[-1],) * 2}; "
                             f"received {rotation.shape}.")
        states = states @ rotation
    columns, values = [], []
    for task, period, rows in task_periods(batch, skip):
        if rows.size < 2:
            raise ValueError(f"Task {task!r} has {rows.size} trial with period {period!r}; "
                             "the variance across trials needs at least 2.")
        bounds = batch.epochs[period]
        length = int(np.min(bounds[rows, 1] - bounds[rows, 0]))
        index = bounds[rows, :1] + np.arange(length)[None]
        window = states[rows[:, None], index]  # (trials, length, units)
        columns.append((task, period))
        values.append(window.var(axis=0).mean(axis=0))
    if not columns:
        raise ValueError(f"The batch has no period outside {tuple(skip)}; its epochs are "
                         f"{list(batch.epochs)}.")
    order = sorted(range(len(columns)), key=lambda i: columns[i][1])
    return TaskVariance(np.stack(values, axis=1)[:, order], tuple(columns[i] for i in order))


def task_variance(model, batch, *, skip: Sequence[str] = SKIP_PERIODS,
                  rotation=None) -> TaskVariance:
    """`period_variance` of a model's hidden states on `batch` (noise off).

    Args:
        model: a Keras model with one `ctxrnn.CTRNN` layer.
        batch: a `TrialBatch` of the model's suite, ideally noise-free
            (`noise_free_suite(suite).validation_data(...)`) or a test grid.
        skip, rotation: as in `period_variance`.

    Returns:
        A `TaskVariance`.
    """
    from ctxrnn.layers import hidden_states

    return period_variance(hidden_states(model, batch.inputs), batch, skip=skip,
                           rotation=rotation)


def normalize(variance, method: str = "max") -> np.ndarray:
    """Each row divided by its maximum (`"max"`), its sum (`"sum"`) or kept (`"none"`)."""
    if method not in NORMALIZATIONS:
        raise ValueError(f"Argument `normalization` must be one of {NORMALIZATIONS}; "
                         f"received {method!r}.")
    variance = np.asarray(variance, np.float64)
    if method == "none":
        return variance.copy()
    scale = variance.max(axis=1) if method == "max" else variance.sum(axis=1)
    return variance / np.where(scale > 0, scale, 1.0)[:, None]


# ------------------------------------------------------------- clusters
@dataclasses.dataclass(frozen=True)
class UnitClusters:
    """Unit clusters of a `TaskVariance` (`cluster_units`).

    Attributes:
        labels: `(units,)` int cluster of every unit, `-1` for inactive units.
            Clusters are numbered in the order they appear along the unit
            dendrogram.
        n_clusters: the number of clusters.
        silhouette: `{k: silhouette score}` of every `k` tried.
        method: `"ward"` or `"kmeans"`.
        normalization: `"max"`, `"sum"` or `"none"`.
        active: `(units,)` bool.
        features: `(n_active, columns)` normalised variance of the active units.
        columns: `"task:period"` of every column.
        unit_order: original indices of the active units in atlas order
            (dendrogram leaves, made contiguous per cluster).
        column_order: column indices in dendrogram order.
        unit_linkage, column_linkage: the Ward linkage matrices (scipy format).
        best_silhouette: the silhouette score of the chosen `k`.
    """

    labels: np.ndarray
    n_clusters: int
    silhouette: dict[int, float]
    method: str
    normalization: str
    active: np.ndarray
    features: np.ndarray
    columns: tuple[str, ...]
    unit_order: np.ndarray
    column_order: np.ndarray
    unit_linkage: np.ndarray
    column_linkage: np.ndarray | None
    best_silhouette: float

    def members(self, cluster: int) -> np.ndarray:
        """Original indices of the units of `cluster`."""
        if not 0 <= cluster < self.n_clusters:
            raise ValueError(f"Argument `cluster` must be in [0, {self.n_clusters - 1}]; "
                             f"received {cluster!r}.")
        return np.flatnonzero(self.labels == cluster)

    def lesion_units(self) -> list[np.ndarray]:
        """The units of every cluster, in cluster order (what `lesions` takes)."""
        return [self.members(c) for c in range(self.n_clusters)]

    def atlas(self) -> np.ndarray:
        """The normalised variance sorted by both dendrograms: `(n_active, columns)`."""
        rows = np.searchsorted(np.flatnonzero(self.active), self.unit_order)
        return self.features[rows][:, self.column_order]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (labels, k, silhouette per k, orders, column names)."""
        return {"method": self.method, "normalization": self.normalization,
                "n_clusters": self.n_clusters, "n_active": int(self.active.sum()),
                "n_units": int(self.active.size), "best_silhouette": self.best_silhouette,
                "silhouette": {str(k): v for k, v in self.silhouette.items()},
                "labels": self.labels.tolist(), "columns": list(self.columns),
                "unit_order": self.unit_order.tolist(),
                "column_order": self.column_order.tolist(),
                "cluster_sizes": [int(np.sum(self.labels == c)) for c in range(self.n_clusters)]}


def _k_values(method: str, n: int, k_range) -> list[int]:
    low, high = (WARD_K if method == "ward" else KMEANS_K) if k_range is None else k_range
    values = [k for k in range(int(low), min(n, int(high))) if 2 <= k <= n - 1]
    if not values:
        raise ValueError(f"No number of clusters to try: k in [{low}, min({n}, {high})) with "
                         f"{n} active units; pass a smaller `k_range` or more units.")
    return values


def _labels(method: str, features, linkage, k: int, seed: int) -> np.ndarray:
    if method == "ward":
        from scipy.cluster.hierarchy import fcluster

        return fcluster(linkage, k, criterion="maxclust") - 1
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=KMEANS_N_INIT, random_state=seed).fit_predict(features)


def cluster_units(variance: TaskVariance, *, method: str = "ward",
                  normalization: str = "max", k_range: tuple[int, int] | None = None,
                  n_clusters: int | None = None,
                  active_threshold: float = ACTIVE_THRESHOLD, seed: int = 0) -> UnitClusters:
    """Clusters the active units by their normalised task-variance profile.

    Args:
        variance: a `TaskVariance` (`task_variance`, `period_variance`).
        method: `"ward"` (Driscoll, default) or `"kmeans"` (Yang).
        normalization: `"max"` (default), `"sum"` or `"none"`.
        k_range: `(low, high)`: `k` from `low` to `min(n_active, high) - 1`.
            Default: `(3, 40)` for Ward, `(2, 30)` for k-means.
        n_clusters: a fixed `k` (Yang's epoch analysis uses 10) instead of
            the silhouette-best one; the silhouette is still reported.
        active_threshold: a unit is active when its summed variance exceeds
            this. Default: `1e-3`.
        seed: k-means seed. Default: `0` (Yang's `random_state`).

    Returns:
        A `UnitClusters`.

    Example:

    ```python
    found = cluster_units(task_variance(model, batch))
    found.n_clusters, found.silhouette
    ```
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from sklearn.metrics import silhouette_score

    if method not in METHODS:
        raise ValueError(f"Argument `method` must be one of {METHODS}; received {method!r}.")
    if not isinstance(variance, TaskVariance):
        raise TypeError(f"Argument `variance` must be a TaskVariance (see `task_variance`); "
                        f"received {type(variance).__name__}.")
    active = variance.variance.sum(axis=1) > active_threshold
    features = normalize(variance.variance[active], normalization)
    n = len(features)
    values = [n_clusters] if n_clusters is not None else _k_values(method, n, k_range)
    if n_clusters is not None and not 2 <= n_clusters <= n - 1:
        raise ValueError(f"Argument `n_clusters` must be in [2, {n - 1}] for {n} active units; "
                         f"received {n_clusters!r}.")
    unit_linkage = linkage(features, method="ward")
    silhouette, found = {}, {}
    for k in values:
        labels = _labels(method, features, unit_linkage, k, seed)
        found[k] = labels
        distinct = len(np.unique(labels))
        silhouette[k] = (float(silhouette_score(features, labels)) if 2 <= distinct <= n - 1
                         else -1.0)
    best = max(values, key=lambda k: (silhouette[k], -k))
    leaves = leaves_list(unit_linkage)
    raw = found[best]
    # number clusters by where they first appear along the dendrogram, then make
    # each cluster contiguous in the atlas order
    first = {label: position for position, label in reversed(list(enumerate(raw[leaves])))}
    rank = {label: r for r, label in enumerate(sorted(first, key=first.get))}
    active_labels = np.array([rank[label] for label in raw])
    order = leaves[np.argsort(active_labels[leaves], kind="stable")]
    labels = np.full(variance.n_units, -1)
    labels[active] = active_labels
    column_linkage = (linkage(features.T, method="ward") if features.shape[1] > 1 else None)
    column_order = (leaves_list(column_linkage) if column_linkage is not None
                    else np.arange(features.shape[1]))
    return UnitClusters(labels, len(rank), silhouette, method, normalization, active, features,
                        tuple(variance.column_names), np.flatnonzero(active)[order],
                        np.asarray(column_order), unit_linkage, column_linkage,
                        silhouette[best])
