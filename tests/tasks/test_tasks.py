"""Every registered task: shapes, seeding, timing, self-decoding and chance."""

import numpy as np
import pytest

from ctxrnn import tasks

ALL = tasks.list_tasks()
N = 400
# Chance level of a random binary answer on balanced classes, and its slack for N trials.
BALANCED = ("time_reproduction", "xor", "not", "flip_flop", "dm", "cdm", "dms")
CHANCE_SLACK = 0.08


@pytest.fixture(scope="module")
def batches():
    return {name: (tasks.make(name), tasks.make(name).generate(N, seed=3)) for name in ALL}


def test_registry_names():
    expected = {"time_reproduction", "and", "or", "xor", "not", "flip_flop", "oscillation",
                "delay_pro", "delay_anti", "mem_pro", "mem_anti", "mem_dm1", "mem_dm2",
                "context_mem_dm1", "context_mem_dm2", "multi_mem", "dm", "cdm", "dms",
                *tasks.YANG_RULES}
    assert set(ALL) == expected and len(tasks.YANG_RULES) == 15
    assert len(tasks.MOLAP_TASKS) == 9 and set(tasks.MOLAP_TASKS) < expected
    assert tasks.MOLAP_TASKS[0] == "delay_pro" and tasks.MOLAP_TASKS[-1] == "multi_mem"
    assert set(tasks.JARNE_TASKS) == {"time_reproduction", "and", "or", "xor", "not",
                                      "flip_flop", "oscillation"}


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown task 'nand'.*'xor'"):
        tasks.make("nand")


@pytest.mark.parametrize("name", ALL)
def test_shapes_and_dtypes(name, batches):
    task, batch = batches[name]
    shape = (N, task.n_steps)
    assert batch.inputs.shape == shape + (task.n_inputs,) == shape + (len(task.input_names),)
    assert batch.targets.shape == shape + (task.n_outputs,) == shape + (len(task.output_names),)
    assert batch.loss_mask.shape == batch.targets.shape
    assert batch.decision_mask.shape == shape
    for array in (batch.inputs, batch.targets, batch.loss_mask, batch.decision_mask):
        assert array.dtype == np.float32 and np.all(np.isfinite(array))
    assert len(batch) == N and batch.task_names == (name,) and np.all(batch.task_ids == 0)
    assert batch.dt == task.dt
    for value in batch.truth.values():
        assert len(value) == N
    inputs, targets, mask = batch.as_keras()
    assert inputs is batch.inputs and targets is batch.targets and mask is batch.loss_mask


@pytest.mark.parametrize("name", ALL)
def test_own_targets_decode_perfectly_and_noise_does_not(name, batches):
    task, batch = batches[name]
    assert np.all(task.correct(batch.targets, batch) == 1.0)
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 1.0, batch.targets.shape).astype(np.float32)
    assert task.correct(noise, batch).mean() < 0.8
    shuffled = batch.targets[rng.permutation(N)]
    assert task.correct(shuffled, batch).mean() < 0.8


@pytest.mark.parametrize("name", BALANCED)
def test_random_binary_answers_score_chance(name, batches):
    task, batch = batches[name]
    rng = np.random.default_rng(1)
    low, high = (-1.0, 1.0) if name in ("dm", "cdm", "dms") else (0.0, 1.0)
    answers = rng.choice([low, high], size=(N, 1, 1))
    outputs = np.broadcast_to(answers, batch.targets.shape).astype(np.float32)
    if name == "time_reproduction":  # answer only in the response, nothing early
        outputs = outputs * np.asarray(batch.decision_mask)[..., None]
    assert abs(task.correct(outputs, batch).mean() - 0.5) < CHANCE_SLACK


def test_angle_rule_chance_is_tolerance_over_circle():
    task = tasks.make("delay_pro", rule="angle")
    batch = task.generate(4000, seed=0)
    rng = np.random.default_rng(2)
    outputs = rng.normal(size=batch.targets.shape).astype(np.float32)
    # random angle within +-0.1 pi of the target: probability 0.1
    assert abs(task.correct(outputs, batch).mean() - 0.1) < 0.02


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_trials_other_seed_other_trials(name):
    task = tasks.make(name)
    a, b, c = task.generate(16, seed=7), task.generate(16, seed=7), task.generate(16, seed=8)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    for key in a.truth:
        np.testing.assert_array_equal(a.truth[key], b.truth[key])
    assert not np.array_equal(a.inputs, c.inputs)


@pytest.mark.parametrize("name", ALL)
def test_epochs_tile_the_trial_and_end_with_the_response(name, batches):
    task, batch = batches[name]
    names = list(task.timing)
    assert names == [n for n in batch.epochs if n in task.timing]
    assert np.all(batch.epochs[names[-1]][:, 1] == task.n_steps)
    for first, second in zip(names, names[1:]):
        np.testing.assert_array_equal(batch.epochs[first][:, 1], batch.epochs[second][:, 0])
    lead_in = batch.epochs[names[0]][:, 0]
    assert np.all(lead_in >= 0)
    # decision steps are at the end of the trial, inside the response
    decided = np.flatnonzero(batch.decision_mask.any(axis=0))
    assert decided.size and decided[-1] == task.n_steps - 1


@pytest.mark.parametrize("name", ALL)
def test_durations_stay_within_declared_ranges(name, batches):
    task, batch = batches[name]
    for epoch, value in task.timing.items():
        duration = np.diff(batch.epochs[epoch], axis=1)[:, 0] * task.dt
        low, high = min(np.atleast_1d(value)), max(np.atleast_1d(value))
        assert np.all(duration >= low - task.dt / 2) and np.all(duration <= high + task.dt / 2)


def test_random_timing_is_drawn_over_the_range_and_left_padded():
    task = tasks.make("dms")
    batch = task.generate(2000, seed=0)
    delay_ms = np.diff(batch.epochs["delay"], axis=1)[:, 0] * task.dt
    assert delay_ms.min() == 500.0 and delay_ms.max() == 3000.0
    assert len(np.unique(delay_ms)) > 100
    lead_in = batch.epochs["fixation"][:, 0]
    np.testing.assert_array_equal(lead_in, (3000.0 - delay_ms) / task.dt)
    t = np.arange(task.n_steps)[None]
    blank = t < lead_in[:, None]
    assert np.all(batch.inputs[blank] == 0) and np.all(batch.loss_mask[blank] == 0)


def test_timing_override_with_choices_and_ranges():
    task = tasks.make("delay_pro", timing={"fixation": [200.0, 300.0], "stimulus": (400.0, 600.0)})
    batch = task.generate(500, seed=0)
    fixation = np.diff(batch.epochs["fixation"], axis=1)[:, 0] * task.dt
    stimulus = np.diff(batch.epochs["stimulus"], axis=1)[:, 0] * task.dt
    assert set(fixation) == {200.0, 300.0}
    assert stimulus.min() >= 400.0 and stimulus.max() <= 600.0 and len(set(stimulus)) > 10
    assert task.n_steps == 10 + 30 + 60 + 25
    assert task.correct(batch.targets, batch).mean() == 1.0


@pytest.mark.parametrize("name", [n for n in ALL if n != "cdm"])  # cdm: 20 ms response
def test_dt_rounds_timings(name):
    coarse = tasks.make(name, dt=2 * tasks.make(name).dt)
    fine = tasks.make(name)
    assert abs(coarse.n_steps - fine.n_steps / 2) <= len(fine.timing)
    batch = coarse.generate(32, seed=0)
    assert np.all(coarse.correct(batch.targets, batch) == 1.0)


def test_jarne_tasks_work_at_dt_5():
    for name in tasks.JARNE_TASKS:
        task = tasks.make(name, dt=5.0)
        batch = task.generate(64, seed=0)
        assert task.n_steps * 5.0 == tasks.make(name).n_steps
        assert np.all(task.correct(batch.targets, batch) == 1.0)


def test_every_config_round_trips():
    for name in ALL:
        task = tasks.make(name)
        again = tasks.from_config(task.get_config())
        assert type(again) is type(task) and again.get_config() == task.get_config()
        np.testing.assert_array_equal(task.generate(4, seed=0).inputs,
                                      again.generate(4, seed=0).inputs)


def test_trial_overrides_pin_variables():
    task = tasks.make("delay_pro")
    batch = task.generate(8, seed=0, angle=np.pi / 2)
    response = batch.epochs["response"][0]
    np.testing.assert_allclose(batch.targets[:, response[0]:, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(batch.targets[:, response[0]:, 2], 1.0)
    with pytest.raises(ValueError, match="Unknown trial variable 'angel'"):
        task.generate(8, seed=0, angel=0.0)


def test_select_subsets_every_field():
    batch = tasks.make("dms").generate(10, seed=0)
    part = batch.select(np.array([1, 3]))
    assert len(part) == 2 and part.dt == batch.dt
    np.testing.assert_array_equal(part.inputs, batch.inputs[[1, 3]])
    np.testing.assert_array_equal(part.epochs["delay"], batch.epochs["delay"][[1, 3]])
    np.testing.assert_array_equal(part.truth["choice"], batch.truth["choice"][[1, 3]])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        tasks.make("and").generate(bad, seed=0)


def test_epochs_that_do_not_fit():
    with pytest.raises(ValueError, match="Unknown epochs.*'stimulus'"):
        tasks.make("and", timing={"stimuls": 10.0})
    with pytest.raises(ValueError, match="shorter than half a step"):
        tasks.make("and", dt=50.0)
    with pytest.raises(ValueError, match="low <= high"):
        tasks.make("dms", timing={"delay": (3000.0, 500.0)})
    with pytest.raises(ValueError, match="non-negative"):
        tasks.make("dm", timing={"delay": -100.0})
    with pytest.raises(ValueError, match="response epoch"):
        tasks.make("dm", timing={"response": 0.0})
    with pytest.raises(ValueError, match="decision_ms"):
        tasks.make("dm", decision_ms=1e6)
    with pytest.raises(ValueError, match="`dt`"):
        tasks.make("dm", dt=0.0)
    with pytest.raises(ValueError, match="input_noise"):
        tasks.make("dm", input_noise=-1.0)


def test_noise_only_where_declared():
    quiet = tasks.make("cdm", input_noise=0.0).generate(64, seed=0)
    noisy = tasks.make("cdm").generate(64, seed=0)
    difference = noisy.inputs - quiet.inputs
    assert difference[..., :2].std() == pytest.approx(0.1, rel=0.05)
    assert np.all(difference[..., 2:] == 0)  # context inputs are noise-free


ARGUMENT_CHANGES = [  # (task, constructor arguments that must change the trials or the rule)
    ("delay_pro", {"angles": [0.0, 90.0]}),
    ("mem_pro", {"memory_delay": False}),
    ("mem_dm1", {"mask_blank": False}),
    ("delay_pro", {"input_noise": 0.05}),
    ("flip_flop", {"n_turns": 3}),
    ("flip_flop", {"turn_ms": 150.0}),
    ("oscillation", {"amplitude": 0.2}),
    ("oscillation", {"period_ms": 80.0}),
    ("dm", {"coherences": [-50.0, 50.0]}),
    ("cdm", {"timing": {"stimulus": 400.0}}),
    ("and", {"dt": 5.0}),
]


@pytest.mark.parametrize("name,kwargs", ARGUMENT_CHANGES)
def test_every_argument_changes_the_trials(name, kwargs):
    base = tasks.make(name).generate(32, seed=0)
    changed = tasks.make(name, **kwargs).generate(32, seed=0)
    same_shape = changed.inputs.shape == base.inputs.shape
    assert not same_shape or not (np.array_equal(changed.inputs, base.inputs)
                                  and np.array_equal(changed.targets, base.targets)
                                  and np.array_equal(changed.loss_mask, base.loss_mask))


@pytest.mark.parametrize("kwargs", [{"rule": "angle"}, {"delta": 0.5}, {"decision_ms": 100.0}])
def test_rule_arguments_change_the_decision(kwargs):
    batch = tasks.make("delay_pro").generate(200, seed=0)
    outputs = batch.targets.copy()
    outputs[:, -30:, 1:] *= 1.3  # right angle, wrong amplitude, over the last 30 steps
    outputs[:, -30:-10, 1:] += 0.25  # and off early in the window
    default = tasks.make("delay_pro").correct(outputs, batch)
    changed = tasks.make("delay_pro", **kwargs)
    batch = changed.generate(200, seed=0)
    assert not np.array_equal(changed.correct(outputs, batch), default)
