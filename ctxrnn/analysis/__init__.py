"""Analysis of trained networks: weight statistics, spectra, pruning knees, figures.

`ctxrnn.analysis.figures` (matplotlib) is imported on demand, not here, so that
callbacks using the statistics do not pay for matplotlib; so are the heavier
modules `dynamics` (fixed points, regimes) and `populations` (loadings, Gaussian
mixtures, resampled networks, rank truncation; needs scikit-learn).
"""

from ctxrnn.analysis.knee import find_knee
from ctxrnn.analysis.statistics import (
    UNIT_CIRCLE_TOLERANCE,
    eigenvalues,
    statistics_and_eigenvalues,
    weight_statistics,
)

__all__ = [
    "UNIT_CIRCLE_TOLERANCE",
    "eigenvalues",
    "find_knee",
    "statistics_and_eigenvalues",
    "weight_statistics",
]
