"""Shared motifs: fixed points of a planted network matched across inputs, and interpolation.

Two uncoupled bistable tanh units (`W = 2 I`, analysis.md 5.1 item 2) have four
stable points `(+-h*, +-h*)`, `h* = 0.957504`. A small input bias on unit 0 moves
them slightly (the same four attractors: full reuse); a bias beyond the
saddle-node at `|b| = 0.533` leaves unit 0 with a single stable state, so two
attractors remain, both near two of the originals.
"""

import numpy as np
import pytest

from ctxrnn.analysis import motifs
from ctxrnn.analysis.dynamics import FixedPoints, NetworkMap
from ctxrnn.tasks.base import TrialBatch

H_STAR = 0.957504


def bistable(alpha=0.2):
    return NetworkMap(kernel=np.array([[1.0, 0.0]]), recurrent_kernel=2.0 * np.eye(2),
                      bias=np.zeros(2), alpha=alpha, activation="tanh")


def grid_states(seed=0):
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 5)] * 2), -1).reshape(-1, 2)
    return grid + 0.01 * rng.standard_normal(grid.shape)


def test_planted_fixed_points_matched_across_inputs():
    network = bistable()
    inputs = {"task1:delay": np.array([0.0]), "task2:delay": np.array([0.1]),
              "task3:delay": np.array([1.0])}
    points = motifs.fixed_points_by_input(network, inputs, {k: grid_states() for k in inputs})
    assert [int(points[k].is_stable.sum()) for k in inputs] == [4, 4, 2]
    assert len(points["task1:delay"]) == 9  # 4 stable, 4 saddles, 1 source
    np.testing.assert_allclose(np.sort(np.abs(points["task1:delay"].states[
        points["task1:delay"].is_stable]).ravel()), H_STAR, atol=1e-5)
    keys, reuse = motifs.reuse_matrix(points, tolerance=0.1)
    assert keys == list(inputs)
    np.testing.assert_allclose(np.diag(reuse), 1.0)
    assert reuse[0, 1] == 1.0  # the same four attractors
    # both of task3's attractors are two of task1's four: (2/2 + 2/4) / 2
    np.testing.assert_allclose(reuse[0, 2], 0.75)
    np.testing.assert_allclose(reuse, reuse.T)
    # a tolerance below the attractors' displacement shares nothing
    assert motifs.shared_fraction(points["task1:delay"], points["task3:delay"], 1e-3) == 0.0


def test_interpolation_finds_the_bifurcation_only_where_there_is_one():
    network = bistable()
    start = grid_states()
    kept = motifs.interpolate(network, [0.0], [0.2], start, tolerance=0.05, n_steps=5,
                              max_iters=1000)
    assert kept.continuous and kept.bifurcation is None and kept.tracked.all()
    np.testing.assert_array_equal(kept.n_stable, 4)
    lost = motifs.interpolate(network, [0.0], [1.0], start, tolerance=0.05, n_steps=11,
                              max_iters=1000)
    assert not lost.continuous
    # the saddle-node of h = tanh(2h + b) is at b = 0.533: first seen at fraction 0.6
    assert lost.bifurcation == pytest.approx(0.6)
    assert lost.n_stable[0] == 4 and lost.n_stable[-1] == 2


def _stable_set(states):
    n, units = states.shape
    return FixedPoints(states, np.zeros((n, 1)), np.zeros(n, int), np.zeros(n), np.zeros(n, int),
                       np.zeros((n, units), complex), None, np.zeros(n, int),
                       np.full(n, "stable"), np.zeros(n, bool))


def test_slow_manifold_is_one_attractor_and_sampling_density_does_not_matter():
    u = np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])
    dense = np.linspace(-1, 1, 15)[:, None] * u  # a line of slow points, 0.14 apart
    ring = _stable_set(np.concatenate([dense, [[5.0, 5.0, 5.0]]]))
    labels = motifs.stable_components(ring, tolerance=0.2)
    assert len(np.unique(labels)) == 2 and len(np.unique(labels[:15])) == 1
    sparse = _stable_set(np.linspace(-1, 1, 5)[:, None] * u)
    # every sparse point lies on the dense line and every dense point near a sparse one
    assert motifs.shared_fraction(_stable_set(dense), sparse, tolerance=0.3) == 1.0
    assert motifs.shared_fraction(ring, sparse, tolerance=0.3) == pytest.approx(0.5 * (15 / 16
                                                                                       + 1))


def test_period_inputs_and_matching_helpers():
    inputs = np.zeros((4, 6, 2), np.float32)
    inputs[:, 2:, 0] = 1.0
    inputs[2:, 4:, 1] = 0.5
    epochs = {"fixation": np.tile([0, 2], (4, 1)), "stim": np.tile([2, 4], (4, 1)),
              "delay": np.array([[4, 6], [4, 6], [-1, -1], [-1, -1]])}
    empty = np.zeros((4, 6, 1))
    batch = TrialBatch(inputs, empty, empty, np.zeros((4, 6)), epochs, {},
                       np.array([0, 0, 1, 1]), ("a", "b"), 10.0)
    found = motifs.period_inputs(batch)
    assert list(found) == [("a", "stim"), ("a", "delay"), ("b", "stim")]
    np.testing.assert_array_equal(found[("a", "stim")], [1.0, 0.0])
    pairs = motifs.match_points(np.array([[0.0, 0], [1, 1]]), np.array([[1.05, 1], [5, 5]]), 0.1)
    assert pairs == [(1, 0, pytest.approx(0.05))]  # not the closest-total assignment (0-0, 1-1)
    assert motifs.state_scale(np.array([[[1.0, 0.0], [-1.0, 0.0]]])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="tolerance"):
        motifs.match_points(np.zeros((1, 2)), np.zeros((1, 2)), 0.0)
    with pytest.raises(ValueError, match="same keys"):
        motifs.fixed_points_by_input(bistable(), {"x": [0.0]}, {"y": grid_states()})
