"""Pruning and damage curves of a trained network (Jarne's protocol).

For each damage family (lowest-magnitude first over all, positive-only or
negative-only connections, and a random-removal control) and each fraction of
removed connections, the trained recurrent kernel is masked *on a copy* and the
network is evaluated on a fixed validation batch, without retraining. All
fractions of a family run as one batched computation (`ctxrnn.simulate`); the
model is never modified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn import masks, simulate
from ctxrnn.analysis.knee import DEFAULT_TOLERANCE, find_knee
from ctxrnn.layers import find_ctrnn
from ctxrnn.metrics import accuracy_summary, output_target_distance
from ctxrnn.runs import PRUNING_FAMILIES

# Jarne's figure spans 0-36 % in steps of 2 %; ctxrnn goes on to 90 % because trained
# context networks keep their decisions far beyond 50 % (measured, experiments/RESULTS.md),
# and a knee at the grid's end is a bound, not a measurement.
DEFAULT_FRACTIONS = tuple(np.round(np.arange(0.0, 0.901, 0.02), 2))
DEFAULT_DISTANCE_TOLERANCE = 0.25  # or the output-target distance grow by 25 %


def _score(outputs, batch, correct) -> dict[str, Any]:
    return {**accuracy_summary(outputs, batch, correct),
            "distance": float(output_target_distance(outputs, batch.targets, batch.loss_mask))}


def pruning_sweep(
    model: keras.Model,
    batch,
    correct: Callable,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    families: Sequence[str] = tuple(PRUNING_FAMILIES),
    tolerance: float = DEFAULT_TOLERANCE,
    distance_tolerance: float = DEFAULT_DISTANCE_TOLERANCE,
    seed: int = 0,
) -> dict[str, Any]:
    """Damage curves of `model` and the knee of the lowest-magnitude curve.

    Args:
        model: trained `Input -> CTRNN -> Dense` model (not modified).
        batch: a fixed validation `TrialBatch` (inputs, targets, loss_mask,
            task_ids, task_names).
        correct: the decision rule, `correct(outputs, batch) -> (batch,)` scores in
            [0, 1], e.g. `suite.correct` (`ctxrnn.metrics.score_trials`).
        fractions: increasing fractions of existing connections to remove,
            starting at 0.
        families: damage families, keys of `ctxrnn.runs.PRUNING_FAMILIES`.
        tolerance: accuracy drop (absolute) tolerated at the knee.
        distance_tolerance: relative growth of the output-target distance
            tolerated at the distance knee (Jarne's y-axis).
        seed: seed of the random-removal control.

    Returns:
        A dict in the `pruning.json` layout (`ctxrnn.runs`): `fractions`,
        `families` (per family: `accuracy`, `distance`, `per_task_accuracy`
        lists, `NaN` where a family has too few candidates; `max_fraction`, the
        largest fraction the family can remove; `knee`, its accuracy and
        distance knees with the tolerances below), `baseline`,
        `knee` (largest fraction whose accuracy stays within `tolerance`) and
        `distance_knee` (largest fraction whose output-target distance grows
        by less than `distance_tolerance`), both on the lowest-magnitude family.

    Example:

    ```python
    result = pruning_sweep(model, suite.validation_data(100, seed=1), suite.correct)
    result["knee"]["fraction"]
    ```
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or fractions.size == 0 or fractions[0] != 0 or np.any(
            np.diff(fractions) <= 0):
        raise ValueError(
            "Argument `fractions` must be increasing and start at 0; received "
            f"{fractions.tolist()}."
        )
    unknown = [f for f in families if f not in PRUNING_FAMILIES]
    if unknown:
        raise ValueError(
            f"Unknown damage families {unknown}; expected some of {list(PRUNING_FAMILIES)}."
        )
    layer = find_ctrnn(model)
    weights = keras.ops.convert_to_numpy(layer.effective_recurrent_kernel)
    connectivity = keras.ops.convert_to_numpy(layer.recurrent_connectivity)
    baseline = _score(simulate.predict_variants(model, batch.inputs)[0], batch, correct)
    result = {"fractions": fractions.tolist(), "families": {}, "baseline": {
        "accuracy": baseline["accuracy"], "distance": baseline["distance"]}}
    for family in families:
        options = PRUNING_FAMILIES[family]
        ranked_count = _candidate_count(weights, connectivity, options["sign"])
        usable = fractions[np.rint(fractions * connectivity.sum()) <= ranked_count]
        family_masks = masks.pruning_masks(
            weights, usable, connectivity=connectivity, seed=seed, **options)
        outputs = simulate.predict_variants(model, batch.inputs,
                                            recurrent_kernels=family_masks * weights)
        scores = [_score(out, batch, correct) for out in outputs]
        accuracy = [s["accuracy"] for s in scores]
        distance = [s["distance"] for s in scores]
        pad = [float("nan")] * (len(fractions) - len(usable))
        result["families"][family] = {
            "accuracy": accuracy + pad,
            "distance": distance + pad,
            "per_task_accuracy": {
                name: [s["per_task_accuracy"][name] for s in scores] + pad
                for name in baseline["per_task_accuracy"]
            },
            "max_fraction": float(usable[-1]),
            "knee": {
                "accuracy": find_knee(usable, accuracy, tolerance=tolerance),
                "distance": find_knee(usable, distance, tolerance=distance_tolerance,
                                      higher_is_better=False, relative=True),
            },
        }
    if "magnitude" in result["families"]:
        knees = result["families"]["magnitude"]["knee"]
        result["knee"] = {
            "family": "magnitude", "metric": "accuracy", "tolerance": float(tolerance),
            "fraction": knees["accuracy"],
        }
        result["distance_knee"] = {
            "family": "magnitude", "metric": "distance", "tolerance": float(distance_tolerance),
            "relative": True, "fraction": knees["distance"],
        }
    return result


def _candidate_count(weights, connectivity, sign: str) -> int:
    exists = connectivity > 0
    if sign == "positive":
        exists &= weights > 0
    elif sign == "negative":
        exists &= weights < 0
    return int(exists.sum())
