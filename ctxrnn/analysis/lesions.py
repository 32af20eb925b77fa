"""Unit lesions of a trained multitask network: which tasks need which cluster.

A lesion of a set of units zeroes their **outgoing** weights (Yang et al. 2019,
Driscoll et al. 2024): their rows of the recurrent kernel, through the
layer's connectivity mask (`ctxrnn.masks.outgoing_mask` times the mask it
had), and their rows of every readout kernel (a `Dense` has no mask; the rows
are set to 0 in the copy). The lesioned units still receive input and still
evolve, they just influence nothing; every other weight, the masks of the
other units and the original model are unchanged (the lesion acts on a copy).

For a multitask suite, `lesion_matrix` evaluates every task with each cluster
lesioned (and, with `other=True`, with every unit *but* the cluster lesioned:
the sufficiency test), scored only by `ctxrnn.metrics.accuracy_summary`.
Silencing a unit (`ctxrnn.perturb`'s `"silence"`: its state clamped at 0)
gives the same outputs; the lesion is the form that keeps the unit's own
dynamics, e.g. for fixed points of the lesioned network.

Example:

```python
found = clusters.cluster_units(clusters.task_variance(model, batch))
result = lesions.lesion_matrix(model, suite, found.lesion_units(), n_per_task=200)
result.change   # (clusters, tasks) accuracy change against the intact network
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn import masks
from ctxrnn.layers import find_ctrnn
from ctxrnn.metrics import accuracy_summary
from ctxrnn.readout import find_readouts


def _check_units(units, n: int) -> np.ndarray:
    array = np.asarray(units)
    if array.ndim != 1 or (array.size and (not np.issubdtype(array.dtype, np.integer)
                                           or array.min() < 0 or array.max() >= n)):
        raise ValueError(f"A lesion must be a 1-D list of unit indices in [0, {n}); received "
                         f"{array.ravel()[:5].tolist()} (shape {array.shape}).")
    return np.unique(array.astype(int))


def _copy(model: keras.Model) -> keras.Model:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _apply(copy: keras.Model, intact_weights: list[np.ndarray], units: np.ndarray) -> None:
    """Resets `copy` to the intact weights, then lesions `units` in it."""
    copy.set_weights(intact_weights)
    layer = find_ctrnn(copy)
    heads = find_readouts(copy)
    if not heads:
        raise ValueError(f"Model {copy.name!r} has no Dense readout (a layer named 'readout' or "
                         "'readout_<task>'); a lesion zeroes the lesioned units' readout rows.")
    connectivity = layer.get_masks()["recurrent_connectivity"]
    layer.set_masks(recurrent_connectivity=connectivity * masks.outgoing_mask(layer.units, units))
    for head in heads:
        kernel = keras.ops.convert_to_numpy(head.kernel).copy()
        if kernel.shape[0] != layer.units:
            raise ValueError(f"Readout {head.name!r} reads {kernel.shape[0]} features, not the "
                             f"{layer.units} units of {layer.name!r}.")
        kernel[units] = 0.0
        head.kernel.assign(kernel)


def lesion(model: keras.Model, units: Sequence[int]) -> keras.Model:
    """A copy of `model` with the outgoing weights of `units` removed.

    Args:
        model: a ctxrnn model (one `CTRNN`, Dense readout head(s)); not modified.
        units: indices of the units to lesion.

    Returns:
        The lesioned copy (same architecture, weights and masks except the
        lesioned units' recurrent connectivity rows and readout rows).

    Example:

    ```python
    damaged = lesion(model, found.members(0))
    outputs = damaged.predict(batch.inputs)
    ```
    """
    units = _check_units(units, find_ctrnn(model).units)
    copy = _copy(model)
    _apply(copy, model.get_weights(), units)
    return copy


@dataclasses.dataclass(frozen=True)
class LesionResult:
    """Accuracy of every task with each unit group lesioned (`lesion_matrix`).

    Attributes:
        tasks: task names (columns).
        names: lesion names (rows), e.g. `"cluster 0"` or `"all but cluster 0"`.
        sizes: number of units lesioned in each row.
        intact: `(tasks,)` accuracy of the intact network on the same trials.
        accuracy: `(lesions, tasks)` accuracy of each lesioned network.
        other: whether each row lesions every unit *but* the group.
    """

    tasks: tuple[str, ...]
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    intact: np.ndarray
    accuracy: np.ndarray
    other: bool

    @property
    def change(self) -> np.ndarray:
        """`(lesions, tasks)` accuracy minus the intact accuracy."""
        return self.accuracy - self.intact[None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tasks, names, sizes, intact accuracy, accuracy and change."""
        return {"tasks": list(self.tasks), "names": list(self.names), "sizes": list(self.sizes),
                "other": self.other, "intact": self.intact.tolist(),
                "accuracy": self.accuracy.tolist(), "change": self.change.tolist()}


def lesion_matrix(model: keras.Model, suite, groups: Sequence[Sequence[int]], *,
                  batch=None, n_per_task: int = 200, seed: int = 12345, other: bool = False,
                  names: Sequence[str] | None = None, batch_size: int = 256) -> LesionResult:
    """Accuracy of every task of `suite` with each group of units lesioned.

    Args:
        model: a trained ctxrnn model of `suite` (one input: the suite's
            channels); not modified.
        suite: its `TaskSuite` (every task's own decision rule scores).
        groups: unit index lists, e.g. `UnitClusters.lesion_units()`.
        batch: the trials to evaluate on. Default:
            `suite.validation_data(n_per_task, seed)`.
        n_per_task: trials per task of the default batch. Default: `200`.
        seed: seed of the default batch.
        other: lesion every unit *except* each group (the sufficiency test).
        names: row names. Default: `"cluster k"` (`"all but cluster k"`).
        batch_size: prediction batch size.

    Returns:
        A `LesionResult`.

    Example:

    ```python
    result = lesion_matrix(model, suite, found.lesion_units())
    result.change[0]   # the change of every task when cluster 0 is lesioned
    ```
    """
    if len(model.inputs) != 1:
        raise ValueError(f"Argument `model` must take one input (the suite's channels); "
                         f"{model.name!r} takes {len(model.inputs)}.")
    n = find_ctrnn(model).units
    groups = [_check_units(group, n) for group in groups]
    if not groups:
        raise ValueError("Argument `groups` must hold at least one group of units; received [].")
    if names is None:
        names = [f"{'all but ' if other else ''}cluster {k}" for k in range(len(groups))]
    if len(names) != len(groups):
        raise ValueError(f"Argument `names` must name every group ({len(groups)}); received "
                         f"{len(names)} names.")
    if batch is None:
        batch = suite.validation_data(n_per_task, seed=seed)
    tasks = tuple(batch.task_names)

    def scores(network) -> np.ndarray:
        outputs = network.predict(batch.inputs, batch_size=batch_size, verbose=0)
        per_task = accuracy_summary(outputs, batch, suite)["per_task_accuracy"]
        return np.array([per_task.get(task, np.nan) for task in tasks])

    intact = scores(model)
    weights = model.get_weights()
    copy = _copy(model)
    rows, sizes = [], []
    for group in groups:
        lesioned = np.setdiff1d(np.arange(n), group) if other else group
        _apply(copy, weights, lesioned)
        rows.append(scores(copy))
        sizes.append(int(lesioned.size))
    return LesionResult(tasks, tuple(names), tuple(sizes), intact, np.stack(rows), bool(other))
