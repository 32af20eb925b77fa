"""Tests for ctxrnn.analysis.statistics."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ctxrnn.analysis import (
    UNIT_CIRCLE_TOLERANCE,
    eigenvalues,
    statistics_and_eigenvalues,
    weight_statistics,
)


def skewed_matrix(units=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.gamma(2.0, 0.05, size=(units, units)) - 0.1


def test_moments_equal_scipy_defaults():
    w = skewed_matrix()
    flat = w.ravel()
    for result in (weight_statistics(w), statistics_and_eigenvalues(w)[0]):
        assert result["mean"] == pytest.approx(flat.mean())
        assert result["std"] == pytest.approx(flat.std(ddof=0))
        assert result["skewness"] == pytest.approx(scipy_stats.skew(flat))
        assert result["kurtosis"] == pytest.approx(scipy_stats.kurtosis(flat))
        assert result["n_connections"] == flat.size


def test_excess_kurtosis_of_uniform_is_minus_1_2():
    values = np.linspace(-1.0, 1.0, 40_000).reshape(200, 200)
    assert weight_statistics(values)["kurtosis"] == pytest.approx(-1.2, abs=1e-3)


def test_scaled_orthogonal_has_eigenvalues_on_circle():
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(40, 40)))
    radius = 1.3
    eigs = eigenvalues(radius * q)
    np.testing.assert_allclose(np.abs(eigs), radius, rtol=1e-10)
    result = weight_statistics(radius * q)
    assert result["spectral_radius"] == pytest.approx(radius)
    assert result["n_outside_unit_circle"] == 40
    # Exactly on the unit circle (float32 rounding included) counts as inside.
    assert weight_statistics(q.astype(np.float32))["n_outside_unit_circle"] == 0
    assert UNIT_CIRCLE_TOLERANCE < 1e-3


def test_eigenvalues_sorted_and_transpose_invariant():
    w = skewed_matrix(seed=3)
    eigs = eigenvalues(w)
    assert np.all(np.diff(np.abs(eigs)) <= 1e-12)
    np.testing.assert_allclose(np.sort_complex(eigs), np.sort_complex(eigenvalues(w.T)))


def test_connectivity_restricts_moments_and_masks_spectrum():
    w = skewed_matrix(units=20, seed=4)
    mask = (np.random.default_rng(5).random(w.shape) < 0.6).astype(np.float32)
    result = weight_statistics(w, connectivity=mask)
    kept = w[mask == 1]
    assert result["n_connections"] == kept.size
    assert result["mean"] == pytest.approx(kept.mean())
    assert result["kurtosis"] == pytest.approx(scipy_stats.kurtosis(kept))
    assert sum(result["histogram"]["counts"]) == kept.size
    expected_radius = np.abs(np.linalg.eigvals(w * mask)).max()
    assert result["spectral_radius"] == pytest.approx(expected_radius)
    fast, eigs = statistics_and_eigenvalues(w, connectivity=mask)
    assert fast["skewness"] == pytest.approx(result["skewness"])
    assert np.abs(eigs).max() == pytest.approx(expected_radius)


def test_histogram_shared_edges_and_non_square():
    edges = np.linspace(-1, 1, 11)
    result = weight_statistics(np.full((3, 4), 0.05), bins=edges)
    assert result["histogram"]["edges"] == pytest.approx(edges.tolist())
    assert result["histogram"]["counts"][5] == 12
    assert result["spectral_radius"] is None and result["n_outside_unit_circle"] is None
    assert np.isnan(result["skewness"])  # constant values, as scipy


def test_fully_pruned_gives_nan_moments():
    result = weight_statistics(np.ones((3, 3)), connectivity=np.zeros((3, 3)))
    assert result["n_connections"] == 0 and np.isnan(result["mean"])
    assert result["spectral_radius"] == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": np.zeros((2, 2)), "connectivity": np.ones((3, 3))}, "connectivity"),
        ({"weights": np.zeros((2, 2)), "connectivity": np.full((2, 2), 0.5)}, "0 and 1"),
        ({"weights": np.array([[np.nan]])}, "finite"),
        ({"weights": np.zeros((2, 2)), "bins": 0}, "bins"),
        ({"weights": np.zeros((2, 2)), "bins": [1.0, 0.0]}, "bins"),
    ],
)
def test_errors_name_the_argument(kwargs, match):
    weights = kwargs.pop("weights")
    with pytest.raises(ValueError, match=match):
        weight_statistics(weights, **kwargs)


def test_eigenvalues_requires_square():
    with pytest.raises(ValueError, match="square"):
        eigenvalues(np.zeros((2, 3)))
