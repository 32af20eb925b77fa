"""Analysis of trained networks: weight statistics, spectra, pruning knees, figures.

Imported on demand: `dynamics` (fixed points, regimes), `clusters` (task variance, unit
clusters), `lesions` (cluster lesions), `motifs` (fixed points per task period and their
reuse), `motif_analysis` (all three written to a directory).

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
