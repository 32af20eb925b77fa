"""The knee of a pruning curve: how much can be removed before the output degrades.

Jarne's poster marks with a dashed line "the limit where the output
deteriorates" and finds that 10-12 % of the lowest-magnitude connections can be
removed. `find_knee` makes that limit a reproducible number: the largest
removed fraction up to which the score never left a tolerance band around the
unpruned score.

Example:

```python
from ctxrnn.analysis import find_knee

fractions = [0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.14]
accuracy = [0.98, 0.98, 0.97, 0.97, 0.96, 0.95, 0.80, 0.60]
find_knee(fractions, accuracy, tolerance=0.05)  # 0.10
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Default tolerance: the score may move this much (absolute, in the score's
# units, e.g. 5 accuracy points) from the unpruned score.
DEFAULT_TOLERANCE = 0.05


def find_knee(
    fractions: Sequence[float],
    scores: Sequence[float],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    higher_is_better: bool = True,
    relative: bool = False,
) -> float:
    """Largest pruned fraction up to which the score stays within tolerance.

    Let `s0` be the score at fraction 0. A fraction is *within tolerance* when
    its score is no worse than `s0` by more than `tolerance` (for
    `higher_is_better=True`: `score >= s0 - tolerance`; otherwise `score <= s0 +
    tolerance`); improving on `s0` is always within. The knee is the largest
    fraction `f` such that `f` and every smaller fraction are within tolerance,
    so a score that recovers after a drop (noise) does not move the knee past
    the drop. A `nan` score counts as outside.

    Args:
        fractions: strictly increasing removed fractions, starting at 0.
        scores: the score at each fraction (accuracy, or output-target distance
            with `higher_is_better=False`).
        tolerance: allowed degradation, >= 0. Default: `0.05`.
        higher_is_better: `True` for accuracy-like scores, `False` for
            distance/loss-like ones. Default: `True`.
        relative: if `True`, `tolerance` is a fraction of `|s0|` (e.g. 0.1 = 10 %
            of the unpruned score) instead of an absolute amount. Default:
            `False`.

    Returns:
        The knee fraction (a float from `fractions`; 0.0 if the first pruned
        fraction is already outside tolerance).

    Raises:
        ValueError: if the lengths differ, `fractions` is not strictly
            increasing from 0, the unpruned score is not finite, or `tolerance`
            is negative.
    """
    fractions_array = np.asarray(fractions, dtype=np.float64)
    scores_array = np.asarray(scores, dtype=np.float64)
    if fractions_array.ndim != 1 or fractions_array.size == 0:
        raise ValueError(
            "Argument `fractions` must be a non-empty 1-D sequence; received shape "
            f"{fractions_array.shape}."
        )
    if scores_array.shape != fractions_array.shape:
        raise ValueError(
            f"Arguments `fractions` and `scores` must have the same length; received "
            f"{fractions_array.size} fractions and {scores_array.size} scores."
        )
    if fractions_array[0] != 0.0:
        raise ValueError(
            "Argument `fractions` must start at 0 (the unpruned network); received "
            f"first fraction {fractions_array[0]}."
        )
    if np.any(np.diff(fractions_array) <= 0):
        raise ValueError(
            "Argument `fractions` must be strictly increasing; received "
            f"{fractions_array.tolist()}."
        )
    if not tolerance >= 0:
        raise ValueError(
            f"Argument `tolerance` must be >= 0; received tolerance={tolerance}."
        )
    baseline = scores_array[0]
    if not np.isfinite(baseline):
        raise ValueError(
            f"The score at fraction 0 must be finite; received {baseline}."
        )
    allowed = tolerance * abs(baseline) if relative else tolerance
    with np.errstate(invalid="ignore"):
        if higher_is_better:
            within = scores_array >= baseline - allowed
        else:
            within = scores_array <= baseline + allowed
    outside = np.flatnonzero(~within)
    last = fractions_array.size - 1 if outside.size == 0 else outside[0] - 1
    return float(fractions_array[last])
