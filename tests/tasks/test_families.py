"""Task families against their specifications (shared/tasks.md), trial by trial."""

import numpy as np
import pytest

from ctxrnn import tasks

TRUTH_TABLES = {  # (A, B) = (0,0), (1,0), (0,1), (1,1)
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "xor": (0, 1, 1, 0),
}


def _mean_over(array, epoch):
    """Mean of a (B, T) array over each trial's [start, stop) epoch."""
    t = np.arange(array.shape[1])[None]
    inside = (t >= epoch[:, :1]) & (t < epoch[:, 1:])
    return (array * inside).sum(1) / inside.sum(1)


# ---------------------------------------------------------------- Jarne
@pytest.mark.parametrize("name", sorted(TRUTH_TABLES))
def test_logic_gates_follow_their_truth_table_trial_by_trial(name):
    task = tasks.make(name)
    batch = task.generate(200, seed=5)
    a = _mean_over(batch.inputs[..., 0], batch.epochs["stimulus"]) > 0.5
    b = _mean_over(batch.inputs[..., 1], batch.epochs["stimulus"]) > 0.5
    answer = _mean_over(batch.targets[..., 0], batch.epochs["response"])
    expected = np.asarray(TRUTH_TABLES[name])[a.astype(int) + 2 * b.astype(int)]
    np.testing.assert_array_equal(answer, expected)
    np.testing.assert_array_equal(batch.truth["value"], expected)
    np.testing.assert_array_equal(batch.truth["a"], a)
    assert {tuple(x) for x in zip(a, b)} == {(0, 0), (1, 0), (0, 1), (1, 1)}
    # the answer is exactly 0 before the response epoch (delayed answer)
    before = np.arange(task.n_steps)[None] < batch.epochs["response"][:, :1]
    assert np.all(batch.targets[..., 0][before] == 0)


def test_not_gate_answers_one_without_a_pulse():
    task = tasks.make("not", input_noise=0.0)
    batch = task.generate(100, seed=0)
    pulse = batch.inputs[..., 0].max(1)
    answer = _mean_over(batch.targets[..., 0], batch.epochs["response"])
    np.testing.assert_array_equal(answer, 1.0 - pulse)
    assert set(pulse) == {0.0, 1.0}


def test_logic_gate_layout_matches_the_code():
    task = tasks.make("xor", input_noise=0.0)
    assert task.n_steps == 200  # 30 + 20 + 20 + 130 steps of 1 ms
    batch = task.generate(50, seed=1, a=1.0, b=0.0)
    np.testing.assert_array_equal(batch.inputs[0, :, 0], (np.arange(200) >= 30) & (np.arange(200) < 50))
    np.testing.assert_array_equal(batch.targets[0, :, 0], np.arange(200) >= 70)
    assert np.all(batch.inputs[..., 1] == 0)


def test_jarne_noise_is_point_one():
    clean = tasks.make("and", input_noise=0.0).generate(64, seed=2)
    noisy = tasks.make("and").generate(64, seed=2)
    assert (noisy.inputs - clean.inputs).std() == pytest.approx(0.1, rel=0.03)
    np.testing.assert_array_equal(noisy.targets, clean.targets)


def test_time_reproduction_repeats_the_pulse_after_the_delay():
    task = tasks.make("time_reproduction", dt=5.0, input_noise=0.0)
    batch = task.generate(40, seed=0)
    value = batch.truth["value"]
    shift = (batch.epochs["response"][:, 0] - batch.epochs["stimulus"][:, 0])[0]
    assert shift * task.dt == 40.0  # 20 ms pulse + 20 ms delay
    stimulus = batch.epochs["stimulus"][0]
    np.testing.assert_array_equal(batch.inputs[:, stimulus[0]:stimulus[1], 0].max(1), value)
    np.testing.assert_array_equal(batch.targets[:, -4:, 0].min(1), value)
    # an early answer during the delay is wrong
    early = batch.targets.copy()
    early[:, batch.epochs["delay"][0, 0]:, 0] = 1.0
    assert np.all(task.correct(early, batch)[value == 1] == 0)


def test_flip_flop_holds_the_last_pulse():
    task = tasks.make("flip_flop", n_turns=3, turn_ms=100.0, dt=5.0, input_noise=0.0)
    batch = task.generate(30, seed=0)
    channels = batch.truth["channels"]
    assert channels.shape == (30, 3)
    set_pulses = batch.inputs[..., 0].sum(1) / 4  # 20 ms pulses = 4 steps
    np.testing.assert_array_equal(set_pulses, (channels == 0).sum(1))
    np.testing.assert_array_equal(batch.targets[:, -1, 0], channels[:, -1] == 0)
    # held between pulses: right after turn i's window opens the state is turn i's
    start = batch.epochs["wait"][0, 1]
    for turn in range(3):
        step = start + turn * 20 + 8  # 20 steps per turn, held 8 steps after the pulse start
        np.testing.assert_array_equal(batch.targets[:, step, 0], channels[:, turn] == 0)


def test_oscillation_only_after_a_pulse():
    task = tasks.make("oscillation", input_noise=0.0, amplitude=0.4, period_ms=40.0)
    batch = task.generate(64, seed=0)
    response = batch.targets[:, batch.epochs["response"][0, 0]:, 0]
    on = batch.truth["value"] == 1
    assert np.all(response[~on] == 0)
    np.testing.assert_allclose(response[on].max(1), 0.4, atol=1e-6)
    np.testing.assert_allclose(response[on][:, 10], 0.4, atol=1e-6)  # quarter period = 10 ms
    # a wrong frequency is judged wrong
    wrong = tasks.make("oscillation", input_noise=0.0, amplitude=0.4, period_ms=80.0)
    assert wrong.correct(wrong.generate(64, seed=0).targets, batch)[on].mean() == 0.0


# ---------------------------------------------------------------- MoLaP
def test_molap_layout_is_the_code_110_steps():
    task = tasks.make("delay_pro", input_noise=0.0)
    assert task.n_steps == 110 and task.dt == 10.0
    assert task.input_names == ("fixation", "cos", "sin")
    assert task.output_names == ("fixation", "cos", "sin")
    batch = task.generate(36, seed=0, angle=np.deg2rad(np.arange(0, 360, 10)))
    t = np.arange(110)
    fixation = (t >= 10) & (t < 85)
    for trial in range(36):
        np.testing.assert_array_equal(batch.inputs[trial, :, 0], fixation)
        np.testing.assert_array_equal(batch.targets[trial, :, 0], fixation)
    theta = batch.truth["angle"]
    np.testing.assert_allclose(batch.inputs[:, 35:, 1], np.cos(theta)[:, None] * np.ones(75), atol=1e-6)
    np.testing.assert_allclose(batch.inputs[:, :35, 1:], 0.0)
    np.testing.assert_allclose(batch.targets[:, 85:, 2], np.sin(theta)[:, None] * np.ones(25), atol=1e-6)
    np.testing.assert_allclose(batch.targets[:, :85, 1:], 0.0)
    assert np.all(batch.loss_mask[:, :10] == 0) and np.all(batch.loss_mask[:, 10:] == 1)
    assert np.all(batch.decision_mask[:, -30:] == 1) and np.all(batch.decision_mask[:, :-30] == 0)
    code = tasks.make("delay_pro", mask_blank=False).generate(4, seed=0)
    assert np.all(code.loss_mask == 1) and np.all(code.inputs[:, :10] == 0)


def test_molap_angles_and_noise():
    task = tasks.make("delay_anti")
    batch = task.generate(2000, seed=0)
    degrees = np.rad2deg(batch.truth["angle"])
    assert set(np.round(degrees).astype(int)) == set(range(0, 360, 10))
    np.testing.assert_allclose(batch.truth["target_angle"], batch.truth["angle"] + np.pi)
    np.testing.assert_allclose(batch.targets[:, -1, 1], -np.cos(batch.truth["angle"]), atol=1e-6)
    clean = tasks.make("delay_anti", input_noise=0.0).generate(2000, seed=0)
    noise = batch.inputs - clean.inputs
    assert np.all(noise[:, :10] == 0)  # no noise on the blank steps
    assert noise[:, 10:].std() == pytest.approx(0.002, rel=0.02)  # paper's sigma
    assert tasks.make("delay_anti", input_noise=0.02).input_noise == 0.02  # code parity


def test_mem_pro_stimulus_turns_off_after_a_variable_duration():
    task = tasks.make("mem_pro", input_noise=0.0)
    batch = task.generate(500, seed=0)
    shown = np.abs(batch.inputs[..., 1:]).sum(-1) > 0
    shown_ms = shown.sum(1) * task.dt
    np.testing.assert_allclose(shown_ms, np.rint(batch.truth["stimulus_ms"] / task.dt) * task.dt)
    assert shown_ms.min() >= 100.0 and shown_ms.max() <= 300.0 and len(set(shown_ms)) > 10
    assert not shown[:, 85:].any()  # nothing on during the response
    code = tasks.make("mem_pro", input_noise=0.0, memory_delay=False).generate(10, seed=0)
    assert np.all((np.abs(code.inputs[..., 1:]).sum(-1) > 0).sum(1) <= 50)


@pytest.mark.parametrize("name,channels,value", [
    ("mem_dm1", ("fixation", "cos"), lambda a, b: np.maximum(np.cos(a), np.cos(b))),
    ("mem_dm2", ("fixation", "sin"), lambda a, b: np.maximum(np.sin(a), np.sin(b))),
    ("context_mem_dm1", ("fixation", "cos", "sin"), lambda a, b: np.maximum(np.cos(a), np.cos(b))),
    ("context_mem_dm2", ("fixation", "cos", "sin"), lambda a, b: np.maximum(np.sin(a), np.sin(b))),
    ("multi_mem", ("fixation", "cos", "sin"),
     lambda a, b: np.maximum(np.cos(a) + np.sin(a), np.cos(b) + np.sin(b))),
])
def test_mem_dm_tasks(name, channels, value):
    task = tasks.make(name, input_noise=0.0)
    assert task.input_names == channels and task.output_names == ("fixation", "response")
    batch = task.generate(300, seed=0)
    a, b = batch.truth["angle1"], batch.truth["angle2"]
    np.testing.assert_allclose(batch.targets[:, 85:, 1], value(a, b)[:, None] * np.ones(25), atol=1e-6)
    first = np.cos(a) if channels[1] == "cos" else np.sin(a)
    second = np.cos(b) if channels[1] == "cos" else np.sin(b)
    np.testing.assert_allclose(batch.inputs[:, 35:45, 1], first[:, None] * np.ones(10), atol=1e-6)
    np.testing.assert_allclose(batch.inputs[:, 45:65, 1], 0.0)
    np.testing.assert_allclose(batch.inputs[:, 65:75, 1], second[:, None] * np.ones(10), atol=1e-6)
    np.testing.assert_allclose(batch.inputs[:, 75:, 1], 0.0)


def test_molap_value_rule_is_absolute_delta_per_channel():
    task = tasks.make("delay_pro")
    batch = task.generate(20, seed=0)
    outputs = batch.targets.copy()
    outputs[:, -30:, 1] += 0.09  # within delta on the cos channel
    assert np.all(task.correct(outputs, batch) == 1.0)
    outputs[:, -30:, 1] += 0.02  # now 0.11 away: one of three channels wrong
    np.testing.assert_allclose(task.correct(outputs, batch), 2 / 3)


def test_molap_bad_arguments():
    with pytest.raises(ValueError, match="rule"):
        tasks.make("mem_dm1", rule="angle")  # no cos/sin outputs
    with pytest.raises(ValueError, match="angles"):
        tasks.make("delay_pro", angles=[])
    with pytest.raises(ValueError, match="delta"):
        tasks.make("delay_pro", delta=0.0)


# ---------------------------------------------------------------- Dubreuil
def test_dm_encoding():
    task = tasks.make("dm", input_noise=0.0)
    assert task.n_steps == 75 and task.dt == 20.0
    batch = task.generate(500, seed=0)
    coherence = batch.truth["coherence"]
    assert set(np.abs(coherence)) == {1.0, 2.0, 4.0, 8.0, 16.0}
    np.testing.assert_allclose(batch.inputs[:, 5:45, 0], (coherence * 0.032)[:, None] * np.ones(40), rtol=1e-6)
    np.testing.assert_array_equal(batch.targets[:, 60:, 0], np.sign(coherence)[:, None] * np.ones(15))
    assert np.all(batch.loss_mask[:, :60] == 0) and np.all(batch.loss_mask[:, 60:] == 1)


def test_cdm_target_follows_the_cued_modality():
    task = tasks.make("cdm", input_noise=0.0)
    batch = task.generate(500, seed=0)
    context = batch.truth["context"]
    attended = np.where(context == 0, batch.truth["color"], batch.truth["motion"])
    np.testing.assert_array_equal(batch.targets[:, -1, 0], np.sign(attended))
    assert np.all(batch.loss_mask[:, :-1] == 0) and np.all(batch.loss_mask[:, -1] == 1)
    # context inputs are on from the end of fixation until the decision, not during it
    np.testing.assert_array_equal(batch.inputs[:, 10, 2], context == 0)
    np.testing.assert_array_equal(batch.inputs[:, 10, 3], context == 1)
    assert np.all(batch.inputs[:, -1, 2:] == 0) and np.all(batch.inputs[:, :5, 2:] == 0)
    # the two modalities disagree on some trials, so the cue matters
    assert np.any(np.sign(batch.truth["color"]) != np.sign(batch.truth["motion"]))


def test_cdm_reference_values_are_the_reference_codes():
    """mante.py coherences +-1, 2, 4 (x 0.1), its 100 ms delay, and the 0.5 context
    inputs of train_mante_main.py; they survive the task's config."""
    task = tasks.make("cdm", input_noise=0.0, **tasks.get_class("cdm").REFERENCE)
    batch = task.generate(400, seed=0)
    assert set(np.abs(batch.truth["color"])) == {1.0, 2.0, 4.0}
    # 5 fixation + 18 context + 40 stimulus + 5 delay + 1 decision steps at dt = 20
    assert batch.inputs.shape[1] == 69
    cued = batch.inputs[:, 10, 2:]
    np.testing.assert_array_equal(cued.sum(axis=1), np.full(400, 0.5, "float32"))
    np.testing.assert_allclose(batch.inputs[:, 30, 0], 0.1 * batch.truth["color"], rtol=1e-6)
    again = tasks.from_config(task.get_config())
    np.testing.assert_array_equal(again.generate(8, seed=1).inputs, task.generate(8, seed=1).inputs)
    with pytest.raises(ValueError, match="context_strength.*received context_strength=-1"):
        tasks.make("cdm", context_strength=-1)


def test_dms_match_rule():
    task = tasks.make("dms", input_noise=0.0)
    batch = task.generate(300, seed=0)
    s1, s2 = batch.truth["stimulus1"], batch.truth["stimulus2"]
    np.testing.assert_array_equal(batch.targets[:, -1, 0], np.where(s1 == s2, 1.0, -1.0))
    for epoch, stimulus in (("stimulus1", s1), ("stimulus2", s2)):
        shown_b = _mean_over(batch.inputs[..., 1], batch.epochs[epoch])
        np.testing.assert_array_equal(shown_b, stimulus)
    assert np.all(batch.loss_mask.sum((1, 2)) == 50)  # 1000 ms decision at dt = 20
