"""Driscoll's 15 rules with Yang's encodings: encodings, decoding and scoring, epochs, test grid."""

import json

import numpy as np
import pytest

from ctxrnn import metrics, tasks
from ctxrnn.tasks import yang

DT = yang.YANG_DT


def _fast(name, **kwargs):
    return tasks.make(name, timing=yang.fast_timing(name), **kwargs)


def _step(task, ms):
    return int(round(ms / task.dt))


# ------------------------------------------------------------------ rings
@pytest.mark.parametrize("angle", [0.0, 0.3, np.pi, 5.9])
def test_population_vector_decodes_a_ring_bump(angle):
    bump = yang.ring_bump(np.array([angle]))
    assert bump.shape == (1, yang.N_RING)
    assert yang.circular_distance(yang.population_vector(bump)[0], angle) < 1e-9
    # the peak is the unit whose preferred angle is nearest, 0.8 when it is exact
    assert np.isclose(yang.ring_bump(np.array([2 * np.pi * 5 / 32]))[0, 5], 0.8)


def test_circular_distance_wraps():
    assert np.isclose(yang.circular_distance(0.1, 2 * np.pi - 0.1), 0.2)
    assert np.isclose(yang.circular_distance(0.0, np.pi), np.pi)


# -------------------------------------------------------------- encodings
def test_fdgo_encoding_epoch_by_epoch():
    task = tasks.make("fdgo", input_noise=0.0)
    batch = task.generate(8, seed=3, angle=np.pi / 2, modality=2)
    ep = batch.epochs
    for i in range(len(batch)):
        fix1, stim1, go1 = ep["fix1"][i], ep["stim1"][i], ep["go1"][i]
        assert fix1[1] == stim1[0] and stim1[1] == go1[0] and go1[1] == task.n_steps
        x, y = batch.inputs[i], batch.targets[i]
        assert np.all(x[fix1[0]:go1[0], 0] == 1) and np.all(x[go1[0]:, 0] == 0)
        assert np.all(x[:fix1[0]] == 0)  # blank lead-in
        ring1, ring2 = x[:, 1:33], x[:, 33:65]
        assert np.all(ring1 == 0)  # modality 2 only
        assert np.all(ring2[:stim1[0]] == 0)
        # stimulus stays on through the response; peak 0.8 at the unit preferring pi / 2
        assert np.allclose(ring2[stim1[0]:, 8], 0.8) and np.all(ring2[stim1[0]:].argmax(1) == 8)
        assert np.allclose(y[fix1[0]:go1[0], 0], 0.8) and np.allclose(y[go1[0]:, 0], 0.05)
        assert np.allclose(y[fix1[0]:go1[0], 1:], 0.05)
        assert np.allclose(y[go1[0]:, 1:], 0.05 + yang.ring_bump(np.array([np.pi / 2]))[0])


def test_anti_rules_target_the_opposite_angle():
    for name in ("fdanti", "reactanti", "delayanti"):
        batch = tasks.make(name).generate(16, seed=0)
        assert np.allclose(yang.circular_distance(batch.truth["target_angle"],
                                                  batch.truth["angle"]), np.pi)
        decoded = yang.population_vector(batch.targets[:, -1, 1:] - 0.05)
        assert np.allclose(yang.circular_distance(decoded, batch.truth["target_angle"]), 0,
                           atol=1e-6)


def test_react_keeps_fixation_input_and_shows_the_stimulus_at_go():
    task = tasks.make("reactgo", input_noise=0.0)
    batch = task.generate(4, seed=1)
    for i in range(4):
        start, go = batch.epochs["fix1"][i, 0], batch.epochs["go1"][i, 0]
        assert np.all(batch.inputs[i, start:, 0] == 1)
        assert np.all(batch.inputs[i, start:go, 1:] == 0) and np.all(
            batch.inputs[i, go:, 1:].sum(1) > 0)


def test_memory_rules_remove_the_stimulus_before_go():
    task = tasks.make("delaygo", input_noise=0.0)
    batch = task.generate(6, seed=2)
    for i in range(6):
        stim1, delay1 = batch.epochs["stim1"][i], batch.epochs["delay1"][i]
        assert np.all(batch.inputs[i, stim1[0]:stim1[1], 1:].sum(1) > 0)
        assert np.all(batch.inputs[i, delay1[0]:, 1:] == 0)
        assert np.all(batch.inputs[i, delay1[0]:delay1[1], 0] == 1)


@pytest.mark.parametrize("name, attend", [("delaydm1", (1,)), ("delaydm2", (2,)),
                                          ("contextdelaydm1", (1,)), ("contextdelaydm2", (2,)),
                                          ("multidelaydm", (1, 2))])
def test_delay_decisions_respond_to_the_stronger_stimulus(name, attend):
    batch = tasks.make(name).generate(64, seed=4)
    truth = batch.truth
    evidence1 = sum(truth[f"strength1_mod{m}"] for m in attend)
    evidence2 = sum(truth[f"strength2_mod{m}"] for m in attend)
    expected = np.where(evidence1 > evidence2, truth["angle1"], truth["angle2"])
    assert np.allclose(truth["target_angle"], expected)
    assert np.all(yang.circular_distance(truth["angle1"], truth["angle2"]) >= 0.5 * np.pi - 1e-9)


def test_context_dm_ignores_the_unattended_modality():
    task = tasks.make("contextdelaydm1")
    batch = task.generate(2, seed=0, angle1=0.0, angle2=np.pi, strength1_mod1=1.1,
                          strength2_mod1=0.9, strength1_mod2=0.5, strength2_mod2=1.5)
    assert np.allclose(batch.truth["target_angle"], 0.0)
    multi = tasks.make("multidelaydm").generate(
        2, seed=0, angle1=0.0, angle2=np.pi, strength1_mod1=1.1, strength2_mod1=0.9,
        strength1_mod2=0.5, strength2_mod2=1.5)
    assert np.allclose(multi.truth["target_angle"], np.pi)  # 1.6 < 2.4


def test_match_rules_go_on_match_or_nonmatch():
    dms = tasks.make("dmsgo").generate(200, seed=5)
    dnms = tasks.make("dmsnogo").generate(200, seed=5)
    assert np.array_equal(dms.truth["respond"], dms.truth["match"])
    assert np.array_equal(dnms.truth["respond"], 1 - dnms.truth["match"])
    matched = dms.truth["match"] == 1
    assert np.allclose(dms.truth["target_angle"][matched], dms.truth["angle1"][matched])
    # a no-go trial keeps the fixation target on until the end and never gets a response bump
    nogo = np.flatnonzero(dms.truth["respond"] == 0)[0]
    assert np.allclose(dms.targets[nogo, dms.epochs["fix1"][nogo, 0]:, 0], 0.8)
    assert np.allclose(dms.targets[nogo, :, 1:], 0.05)
    dmc = tasks.make("dmcgo").generate(200, seed=6)
    same = (dmc.truth["angle1"] < np.pi) == (dmc.truth["angle2"] < np.pi)
    assert np.array_equal(dmc.truth["respond"] > 0.5, same)
    assert np.all(np.isin(np.round(dmc.truth["angle1"] / np.pi, 6), np.round(
        np.arange(0.1, 2.0, 0.2), 6)))


def test_cost_mask_is_yangs_squared():
    task = tasks.make("delaygo")
    batch = task.generate(5, seed=7)
    for i in range(5):
        start, go = batch.epochs["fix1"][i, 0], batch.epochs["go1"][i, 0]
        m = batch.loss_mask[i]
        skip = _step(task, 100)
        assert np.all(m[:start + skip] == 0)
        assert np.all(m[start + skip:go, 1:] == 1) and np.all(m[start + skip:go, 0] == 4)
        assert np.all(m[go:go + skip] == 0)
        assert np.all(m[go + skip:, 1:] == 25) and np.all(m[go + skip:, 0] == 100)


def test_input_noise_is_yangs_sigma_x():
    task = tasks.make("fdgo")
    assert np.isclose(task.input_noise_std, 0.01 * np.sqrt(10))
    noisy = task.generate(64, seed=0)
    clean = tasks.make("fdgo", input_noise=0.0).generate(64, seed=0)
    started = np.arange(task.n_steps)[None] >= noisy.epochs["fix1"][:, :1]
    residual = (noisy.inputs - clean.inputs)[started]
    assert abs(residual.std() - 0.0316) < 0.002


# ---------------------------------------------------------------- scoring
def test_yang_rule_known_answers():
    task = tasks.make("fdgo")
    batch = task.generate(4, seed=0, angle=1.0)
    out = batch.targets.copy()
    assert np.array_equal(task.correct(out, batch), np.ones(4))
    for error, expected in ((0.15 * np.pi, 1.0), (0.25 * np.pi, 0.0)):
        shifted = out.copy()
        shifted[:, -1, 1:] = yang.ring_bump(np.full(4, 1.0 + error))
        assert np.all(task.correct(shifted, batch) == expected)
    fixating = out.copy()
    fixating[:, -1, 0] = 0.6  # still fixating at the last step: wrong on a go trial
    assert np.all(task.correct(fixating, batch) == 0)
    # only the last step counts
    early = out.copy()
    early[:, :-1] = 0.0
    assert np.all(task.correct(early, batch) == 1)


def test_nogo_trials_are_correct_only_when_fixating():
    task = tasks.make("dmsnogo")
    batch = task.generate(4, seed=0, match=1)  # match: DNMS keeps fixation
    out = batch.targets.copy()
    assert np.all(task.correct(out, batch) == 1)
    out[:, -1, 0] = 0.2
    assert np.all(task.correct(out, batch) == 0)


def test_suite_scores_through_the_one_scorer():
    suite = tasks.TaskSuite([_fast(name) for name in yang.YANG_RULES])
    assert suite.n_inputs == 1 + 2 * 32 + 15 and suite.n_outputs == 33
    batch = suite.validation_data(4, seed=0)
    scores = metrics.score_trials(batch.targets, batch, suite)
    assert scores.shape == (60,) and np.all(scores == 1)
    always_fixating = np.zeros_like(batch.targets)
    always_fixating[..., 0] = 0.8
    summary = metrics.per_task_accuracy(always_fixating, batch, suite)
    # a network that never responds is right exactly on the no-go trials
    nogo = {name: float(1 - batch.truth["respond"][batch.task_ids == k].mean())
            for k, name in enumerate(suite.task_names)}
    assert summary == pytest.approx(nogo)
    assert summary["fdgo"] == 0.0 and 0 < summary["dmsgo"] < 1
    # every rule's trials carry their periods
    for k, name in enumerate(suite.task_names):
        rows = batch.task_ids == k
        assert all(np.all(batch.epochs[e][rows] >= 0) for e in ("fix1", "go1"))
    # each rule has its own input row, on for the whole trial
    k = suite.task_names.index("dmcgo")
    column = suite.input_names.index("context_dmcgo")
    assert np.all(batch.inputs[batch.task_ids == k, :, column] == 1)
    assert np.all(batch.inputs[batch.task_ids != k, :, column] == 0)


# ------------------------------------------------------------------ grid
@pytest.mark.parametrize("name", yang.YANG_RULES)
def test_grid_is_deterministic_noise_free_and_fixed_in_time(name):
    task = tasks.make(name)
    grid = task.grid(n_angles=8)
    again = task.grid(n_angles=8)
    assert np.array_equal(grid.inputs, again.inputs)
    for bounds in grid.epochs.values():
        assert np.all(bounds == bounds[0])
    # noise-free: the inputs take only the values of the encoding (0 outside stimuli)
    fix1 = grid.epochs["fix1"][0]
    assert np.all(grid.inputs[:, fix1[0]:fix1[1], 1:] == 0)
    assert np.all(task.correct(grid.targets, grid) == 1)
    n_angles = len(np.unique(np.round(grid.truth.get("angle", grid.truth.get("angle1")), 9)))
    assert n_angles == (10 if name.startswith("dmc") else 8)


def test_grid_conditions_cross_modality_strength_and_match():
    assert len(tasks.make("fdgo").grid(n_angles=8)) == 16  # 8 angles x 2 modalities
    assert len(tasks.make("contextdelaydm1").grid(n_angles=8)) == 8 * 4 * 4
    dms = tasks.make("dmsgo").grid(n_angles=8)
    assert len(dms) == 8 * 2 * 2 * 2 and dms.truth["respond"].mean() == 0.5


def test_suite_grid_carries_the_rule_input_and_scores():
    suite = tasks.TaskSuite([_fast(n) for n in ("fdgo", "delaygo", "delaydm1")])
    grid = suite.grid("delaygo", n_angles=4)
    assert grid.inputs.shape == (8, suite.n_steps, suite.n_inputs)
    assert np.all(grid.inputs[:, :, suite.input_names.index("context_delaygo")] == 1)
    assert np.all(metrics.score_trials(grid.targets, grid, suite) == 1)
    with pytest.raises(ValueError, match="task"):
        suite.grid("dmsgo")


# ---------------------------------------------------------- registry etc.
def test_registered_and_rebuilt_from_config():
    assert set(yang.YANG_RULES) <= set(tasks.list_tasks())
    for name in yang.YANG_RULES:
        task = _fast(name, n_ring=16)
        again = tasks.from_config(json.loads(json.dumps(task.get_config())))  # a model card
        assert again.timing == task.timing  # ranges stay ranges through JSON
        a, b = task.generate(4, seed=1), again.generate(4, seed=1)
        assert np.array_equal(a.inputs, b.inputs) and a.inputs.shape[-1] == 33
    assert set(yang.MOLAP_EQUIVALENTS.values()) <= set(tasks.MOLAP_TASKS)


def test_bad_arguments_fail_early():
    with pytest.raises(ValueError, match="n_ring"):
        tasks.make("fdgo", n_ring=2)
    with pytest.raises(ValueError, match="tolerance"):
        tasks.make("fdgo", tolerance=0.0)
    with pytest.raises(ValueError, match="n_angles"):
        tasks.make("fdgo").grid(n_angles=0)
    with pytest.raises(ValueError, match="rule"):
        yang.fast_timing("go")
