"""Regimes per constant input, eigen-direction variance, analyze() and its report section."""

import json

import numpy as np
import pytest

from ctxrnn import tasks
from ctxrnn.analysis import dynamics, regimes
from ctxrnn.models import context_multitask


def test_bistable_units_settle_to_a_fixed_point():
    net = dynamics.NetworkMap(np.zeros((1, 2)), 2.0 * np.eye(2), None, 1.0, "tanh", leaky=False)
    found = regimes.regime(net, np.zeros(1), np.array([[0.3, -0.2], [-0.5, 0.1]]), steps=300)
    assert found["regimes"] == ["fixed_point", "fixed_point"]
    assert found["period_ms"] is None


def test_saturating_rotation_is_a_limit_cycle_with_its_period():
    # tanh commutes with the quarter turn, so the orbit is exactly 4-periodic.
    quarter = 1.5 * np.array([[0.0, 1.0], [-1.0, 0.0]])
    net = dynamics.NetworkMap(np.zeros((1, 2)), quarter, None, 1.0, "tanh", leaky=False, dt=5.0)
    found = regimes.regime(net, np.zeros(1), np.array([[0.1, 0.2]]), steps=500)
    assert found["regime"] == "limit_cycle"
    assert found["period_steps"] == pytest.approx(4) and found["period_ms"] == pytest.approx(20.0)
    assert found["amplitude"] > 0.5


def test_eigen_dominance_counts_outside_modes_and_their_variance():
    w = np.diag([2.0, 0.5, 0.5])
    net = dynamics.NetworkMap(np.zeros((1, 3)), w, None, 1.0, "tanh", leaky=False)
    rng = np.random.default_rng(0)
    activity = np.zeros((4, 50, 3))
    activity[..., 0] = rng.normal(size=(4, 50))
    activity[..., 1] = 0.1 * rng.normal(size=(4, 50))
    result = regimes.eigen_dominance(net, activity)
    assert result["n_outside"] == 1 and result["dimension"] == 1
    assert result["variance_fraction"] == pytest.approx(1 / (1 + 0.01), rel=0.1)
    assert result["chance_fraction"] == pytest.approx(1 / 3)


def test_context_inputs_hold_each_context_with_stimuli_off():
    suite = tasks.TaskSuite(["and", "or"], dt=5.0)
    inputs = regimes.context_inputs(suite)
    assert inputs.shape == (2, suite.n_inputs)
    np.testing.assert_array_equal(inputs[:, suite.context_channels], np.eye(2))
    assert not np.any(inputs[:, :len(suite.stimulus_names)])


def test_analyze_writes_json_figures_and_a_report_section(tmp_path):
    suite = tasks.TaskSuite(["and", "or"], dt=5.0)
    model = context_multitask(suite, units=12, seed=0)
    summary = dynamics.analyze(model, suite, tmp_path, progress=False, n_per_task=3,
                               n_initial=16, free_run_steps=100, max_iters=300)
    written = json.loads((tmp_path / "dynamics.json").read_text())
    assert set(written["contexts"]) == {"and", "or"} == set(summary["contexts"])
    for context in written["contexts"].values():
        assert context["regime"]["regime"] in regimes.REGIMES
        assert "summary" in context["fixed_points"]
    for name in dynamics.FIGURE_NAMES:
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 1000
    html = dynamics.report_section(tmp_path)
    assert html.count("data:image/png;base64,") == 3 and "<table>" in html


def test_a_cycle_whose_period_is_not_a_whole_number_of_steps_is_found():
    # A saturating rotation by 2 pi / 7.5 per step: an invariant circle, period ~7.5 steps.
    theta = 2 * np.pi / 7.5
    w = 1.3 * np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    net = dynamics.NetworkMap(np.zeros((1, 2)), w, None, 0.5, "tanh", dt=1.0)
    found = regimes.regime(net, np.zeros(1), np.array([[0.1, 0.0]]), steps=3000)
    assert found["regime"] == "limit_cycle"
    assert 5 < found["period_steps"] < 30
