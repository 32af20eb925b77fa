"""Statistics and spectra of weight matrices (Jarne's W_rec report).

Conventions, stated once:

- `mean` and `std` are the sample mean and the population standard deviation
  (`ddof=0`, as `numpy.std`).
- `skewness` is `scipy.stats.skew(values)` and `kurtosis` is
  `scipy.stats.kurtosis(values)` with scipy's defaults: `bias=True` (the biased
  moment estimators, no small-sample correction) and for the kurtosis
  `fisher=True`, i.e. the *excess* kurtosis (0 for a normal distribution; a
  uniform distribution gives -1.2). Jarne's poster reports kurtosis -1.14 for a
  trained W_rec, which is an excess kurtosis.
- With a connectivity mask, the moments and histogram are taken over the
  *existing* connections only (mask entry 1), while the eigenvalues are those of
  the effective matrix `weights * connectivity` (removed connections count as 0).
- The recurrent kernel of a `CTRNN` is the transpose of the mathematical W_rec;
  transposition does not change eigenvalues, so either can be passed.
- Degenerate inputs (no connections, or all equal) give `nan` moments, as scipy.

Example:

```python
import numpy as np
from ctxrnn.analysis import weight_statistics

w = np.random.default_rng(0).normal(0.0, 0.1, size=(50, 50))
stats = weight_statistics(w)
stats["kurtosis"], stats["spectral_radius"], stats["n_outside_unit_circle"]
```
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

# Default number of histogram bins.
DEFAULT_BINS = 50
# An eigenvalue counts as outside the unit circle when |lambda| > 1 + this. The
# margin absorbs float32 rounding of weights (a float32 orthogonal matrix has
# |lambda| = 1 within ~1e-6), so a matrix exactly on the circle counts 0.
UNIT_CIRCLE_TOLERANCE = 1e-5

#: `(key, label)` of the W_rec statistics that reports and figures show, in order.
STATISTIC_LABELS = (
    ("mean", "Mean"),
    ("std", "Standard deviation (ddof = 0)"),
    ("skewness", "Skewness (biased)"),
    ("kurtosis", "Excess kurtosis (Fisher, biased)"),
    ("spectral_radius", "Spectral radius max |λ|"),
    ("n_outside_unit_circle", "Eigenvalues with |λ| > 1"),
)


def _as_matrix(weights: Any, connectivity: Any) -> tuple[np.ndarray, np.ndarray]:
    """Returns (float64 weights, boolean existence mask), validated."""
    array = np.asarray(weights, dtype=np.float64)
    if array.ndim == 0 or array.size == 0:
        raise ValueError(
            "Argument `weights` must be a non-empty array; received shape "
            f"{array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"Argument `weights` must be finite; it holds "
            f"{int(np.sum(~np.isfinite(array)))} NaN or infinite entries."
        )
    if connectivity is None:
        return array, np.ones(array.shape, dtype=bool)
    mask = np.asarray(connectivity)
    if mask.shape != array.shape:
        raise ValueError(
            f"Argument `connectivity` must have the shape of `weights` {array.shape}; "
            f"received shape {mask.shape}."
        )
    binary = (mask == 0) | (mask == 1)
    if not np.all(binary):
        raise ValueError(
            "Argument `connectivity` must hold only 0 and 1; received values such "
            f"as {np.asarray(mask)[~binary].ravel()[:3].tolist()}."
        )
    return array, mask.astype(bool)


def _is_square(array: np.ndarray) -> bool:
    return array.ndim == 2 and array.shape[0] == array.shape[1]


def eigenvalues(weights: Any, *, connectivity: Any = None) -> np.ndarray:
    """Eigenvalues of a square weight matrix (of `weights * connectivity`).

    Args:
        weights: array of shape `(units, units)`.
        connectivity: optional 0/1 mask of the same shape; removed connections
            are set to 0 before the decomposition.

    Returns:
        complex128 array of shape `(units,)`, sorted by decreasing modulus.

    Raises:
        ValueError: if `weights` is not square or not finite, or the mask has the
            wrong shape.

    Example:

    ```python
    eigs = eigenvalues(np.eye(3) * 0.5)  # [0.5, 0.5, 0.5]
    ```
    """
    array, exists = _as_matrix(weights, connectivity)
    if not _is_square(array):
        raise ValueError(
            "Argument `weights` must be a square matrix (units, units) to have "
            f"eigenvalues; received shape {array.shape}."
        )
    return _sorted_eigenvalues(np.where(exists, array, 0.0))


def _sorted_eigenvalues(matrix: np.ndarray) -> np.ndarray:
    values = np.linalg.eigvals(matrix).astype(np.complex128)
    return values[np.argsort(-np.abs(values), kind="stable")]


def _numpy_moments(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, std (ddof=0), biased skewness and biased excess kurtosis."""
    if values.size == 0:
        return (np.nan,) * 4
    mean = values.mean()
    centred = values - mean
    m2 = np.mean(centred**2)
    if m2 <= np.finfo(np.float64).tiny:
        return float(mean), float(np.sqrt(m2)), np.nan, np.nan
    m3 = np.mean(centred**3)
    m4 = np.mean(centred**4)
    skewness = m3 / m2**1.5
    kurtosis = m4 / m2**2 - 3.0
    return float(mean), float(np.sqrt(m2)), float(skewness), float(kurtosis)


def _scipy_moments(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, std (ddof=0), `scipy.stats.skew`, `scipy.stats.kurtosis` (defaults)."""
    from scipy import stats

    if values.size == 0:
        return (np.nan,) * 4
    with warnings.catch_warnings():
        # scipy warns "Precision loss ... nearly identical data" and returns nan.
        warnings.simplefilter("ignore", RuntimeWarning)
        skewness = float(stats.skew(values, bias=True))
        kurtosis = float(stats.kurtosis(values, fisher=True, bias=True))
    return float(values.mean()), float(values.std()), skewness, kurtosis


def _summary(array, exists, bins, moments, eigs) -> dict[str, Any]:
    values = array[exists]
    mean, std, skewness, kurtosis = moments(values)
    counts, edges = np.histogram(values, bins=bins)
    if eigs is None:
        radius, n_outside = None, None
    else:
        moduli = np.abs(eigs)
        radius = float(moduli.max())
        n_outside = int(np.sum(moduli > 1.0 + UNIT_CIRCLE_TOLERANCE))
    return {
        "mean": mean,
        "std": std,
        "skewness": skewness,
        "kurtosis": kurtosis,
        "spectral_radius": radius,
        "n_outside_unit_circle": n_outside,
        "n_connections": int(values.size),
        "histogram": {"edges": edges.tolist(), "counts": counts.astype(int).tolist()},
    }


def _check_bins(bins: Any) -> Any:
    if np.ndim(bins) == 0:
        if int(bins) != bins or bins < 1:
            raise ValueError(
                f"Argument `bins` must be a positive integer or a sequence of bin "
                f"edges; received bins={bins!r}."
            )
        return int(bins)
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(
            "Argument `bins` given as edges must be a strictly increasing 1-D "
            f"sequence of at least 2 values; received {edges.tolist()}."
        )
    return edges


def weight_statistics(
    weights: Any, *, bins: int | Any = DEFAULT_BINS, connectivity: Any = None
) -> dict[str, Any]:
    """Summary statistics, spectrum summary and histogram of a weight matrix.

    Moments use `scipy.stats` (see the module docstring for the exact
    estimators). For a non-square matrix (e.g. an input kernel) the spectral
    entries are `None`.

    Args:
        weights: array, typically the recurrent kernel `(units, units)`.
        bins: number of histogram bins, or a sequence of bin edges (to share
            edges between matrices). Default: `50`.
        connectivity: optional 0/1 mask of the shape of `weights`; moments and
            histogram cover existing connections only, eigenvalues are those of
            the masked matrix.

    Returns:
        dict with `mean`, `std`, `skewness`, `kurtosis` (float),
        `spectral_radius` (float, max |eigenvalue|), `n_outside_unit_circle`
        (int, eigenvalues with |lambda| > 1 + `UNIT_CIRCLE_TOLERANCE`),
        `n_connections` (int) and `histogram` (`{"edges": [...], "counts":
        [...]}`, plain lists ready for JSON).

    Raises:
        ValueError: for empty or non-finite weights, a mask of the wrong shape
            or values, or invalid `bins`.

    Example:

    ```python
    stats = weight_statistics(model_weights, connectivity=mask)
    print(f"skew={stats['skewness']:.3f}, kurtosis={stats['kurtosis']:.3f}")
    ```
    """
    bins = _check_bins(bins)
    array, exists = _as_matrix(weights, connectivity)
    eigs = _sorted_eigenvalues(np.where(exists, array, 0.0)) if _is_square(array) else None
    return _summary(array, exists, bins, _scipy_moments, eigs)


def statistics_and_eigenvalues(
    weights: Any, *, bins: int | Any = DEFAULT_BINS, connectivity: Any = None
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Fast path for callbacks: `weight_statistics` plus the eigenvalues, numpy only.

    One eigen-decomposition per call; the moments are computed directly with
    numpy using the same estimators as scipy's defaults (biased skewness,
    biased excess kurtosis), so the numbers equal `weight_statistics`'s to
    floating-point rounding.

    Args:
        weights: array, typically the recurrent kernel `(units, units)`.
        bins: number of histogram bins or a sequence of edges. Default: `50`.
        connectivity: optional 0/1 mask of the shape of `weights`.

    Returns:
        `(statistics, eigenvalues)`: the dict of `weight_statistics`, and the
        complex128 eigenvalues of the masked matrix sorted by decreasing modulus
        (`None` for a non-square matrix).

    Example:

    ```python
    record, eigs = statistics_and_eigenvalues(kernel, connectivity=mask)
    record.update(epoch=epoch, weight="recurrent_kernel")
    ```
    """
    bins = _check_bins(bins)
    array, exists = _as_matrix(weights, connectivity)
    eigs = _sorted_eigenvalues(np.where(exists, array, 0.0)) if _is_square(array) else None
    return _summary(array, exists, bins, _numpy_moments, eigs), eigs
