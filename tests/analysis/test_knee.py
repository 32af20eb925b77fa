"""Tests for ctxrnn.analysis.knee.find_knee."""

import numpy as np
import pytest

from ctxrnn.analysis import find_knee

FRACTIONS = np.round(np.arange(0.0, 0.37, 0.02), 2)  # Jarne: 0-36 % in steps of 2


def test_flat_then_drop_gives_last_flat_point():
    scores = np.where(FRACTIONS <= 0.10, 1.0, 0.5)
    assert find_knee(FRACTIONS, scores) == pytest.approx(0.10)


def test_noise_spike_after_knee_does_not_count():
    scores = np.where(FRACTIONS <= 0.12, 0.98, 0.6)
    scores[FRACTIONS == 0.20] = 0.99  # recovers briefly, by chance
    assert find_knee(FRACTIONS, scores, tolerance=0.05) == pytest.approx(0.12)


def test_small_degradation_within_tolerance():
    scores = 1.0 - 0.2 * FRACTIONS  # 0.02 lost at 10 %, 0.04 at 20 %, 0.06 at 30 %
    assert find_knee(FRACTIONS, scores, tolerance=0.05) == pytest.approx(0.24)
    assert find_knee(FRACTIONS, scores, tolerance=1.0) == pytest.approx(FRACTIONS[-1])


def test_distance_curve_lower_is_better():
    distance = np.where(FRACTIONS <= 0.08, 0.3, 3.0)
    distance[1] = 0.1  # improving is always within tolerance
    assert find_knee(FRACTIONS, distance, higher_is_better=False, tolerance=0.1) == (
        pytest.approx(0.08)
    )


def test_relative_tolerance():
    distance = [2.0, 2.1, 2.3, 2.5]
    fractions = [0.0, 0.1, 0.2, 0.3]
    # 10 % of 2.0 = 0.2: 2.1 within, 2.3 outside.
    assert find_knee(fractions, distance, higher_is_better=False, tolerance=0.1,
                     relative=True) == pytest.approx(0.1)


def test_immediate_drop_and_nan():
    assert find_knee([0.0, 0.1], [1.0, 0.0]) == 0.0
    assert find_knee([0.0, 0.1, 0.2], [1.0, 1.0, np.nan]) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "fractions, scores, kwargs, match",
    [
        ([0.0, 0.1], [1.0], {}, "same length"),
        ([0.1, 0.2], [1.0, 1.0], {}, "start at 0"),
        ([0.0, 0.2, 0.1], [1.0, 1.0, 1.0], {}, "strictly increasing"),
        ([0.0, 0.1], [1.0, 1.0], {"tolerance": -1}, "tolerance"),
        ([0.0, 0.1], [np.nan, 1.0], {}, "finite"),
        ([], [], {}, "non-empty"),
    ],
)
def test_errors(fractions, scores, kwargs, match):
    with pytest.raises(ValueError, match=match):
        find_knee(fractions, scores, **kwargs)
