"""TaskSuite: shared channels, padding, context encodings, mixing, Keras dataset."""

import keras
import numpy as np
import pytest

from ctxrnn import tasks
from ctxrnn.metrics import per_task_accuracy

LOGIC = ["and", "or", "xor"]


def test_jarne_suite_shares_stimulus_inputs_and_one_output():
    suite = tasks.TaskSuite(LOGIC + ["not"], dt=5.0)
    assert suite.input_names == ["A", "B", "context_and", "context_or", "context_xor", "context_not"]
    assert suite.output_names == ["out"]
    assert suite.n_inputs == 6 and suite.n_outputs == 1
    assert suite.context_channels == [2, 3, 4, 5]
    assert suite.task_names == ("and", "or", "xor", "not")
    batch = suite.generate(64, seed=0)
    assert batch.inputs.shape == (64, 40, 6) and batch.targets.shape == (64, 40, 1)
    assert batch.inputs.dtype == np.float32 and batch.loss_mask.dtype == np.float32


def test_molap_suite_pads_different_widths():
    suite = tasks.TaskSuite(tasks.MOLAP_TASKS)
    assert suite.input_names[:3] == ["fixation", "cos", "sin"]
    assert suite.output_names == ["fixation", "cos", "sin", "response"]
    batch = suite.validation_data(20, seed=0)
    for k, task in enumerate(suite.tasks):
        rows = batch.task_ids == k
        unused = [i for i, n in enumerate(suite.output_names) if n not in task.output_names]
        assert np.all(batch.loss_mask[rows][..., unused] == 0)
        assert np.all(batch.targets[rows][..., unused] == 0)
        absent = [i for i, n in enumerate(suite.input_names[:3]) if n not in task.input_names]
        assert np.all(batch.inputs[rows][..., absent] == 0)
    assert suite.correct(batch.targets, batch).mean() == 1.0


def test_shorter_tasks_are_left_padded_so_responses_end_together():
    suite = tasks.TaskSuite(["time_reproduction", "and"], dt=5.0)
    short, long = suite.tasks
    pad = long.n_steps - short.n_steps
    batch = suite.validation_data(10, seed=0)
    rows = batch.task_ids == 0
    assert np.all(batch.inputs[rows][:, :pad, :2] == 0) and np.all(batch.loss_mask[rows][:, :pad] == 0)
    assert np.all(batch.epochs["response"][:, 1] == suite.n_steps)
    value = batch.truth["value"][rows]
    np.testing.assert_array_equal(batch.targets[rows][:, -4:, 0], value[:, None] * np.ones(4))
    np.testing.assert_array_equal(batch.epochs["stimulus"][rows][:, 0], pad + 6)  # 30 ms at dt 5
    assert np.all(batch.decision_mask[:, -1] == 1)
    assert suite.correct(batch.targets, batch).mean() == 1.0


def test_one_hot_context_selects_the_task():
    suite = tasks.TaskSuite(LOGIC, dt=5.0)
    batch = suite.generate(300, seed=1)
    context = batch.inputs[..., suite.context_channels]
    np.testing.assert_array_equal(context.argmax(-1), np.repeat(batch.task_ids[:, None], 40, 1))
    assert np.all(context.sum(-1) == 1)
    # same stimulus pattern, different answers: only the context tells them apart
    a, b = batch.truth["a"].astype(int), batch.truth["b"].astype(int)
    table = np.array([[0, 0, 0, 1], [0, 1, 1, 1], [0, 1, 1, 0]])
    np.testing.assert_array_equal(batch.targets[:, -1, 0], table[batch.task_ids, a + 2 * b])


def test_pulse_context_is_on_only_early():
    suite = tasks.TaskSuite(LOGIC, context="pulse", dt=5.0, cue_ms=20.0)
    batch = suite.generate(50, seed=0)
    context = batch.inputs[..., suite.context_channels]
    assert np.all(context[:, :4].argmax(-1) == batch.task_ids[:, None])
    assert np.all(context[:, :4].sum(-1) == 1) and np.all(context[:, 4:] == 0)


def test_scalar_context_has_a_distinct_non_zero_level_per_task():
    suite = tasks.TaskSuite(LOGIC, context="scalar", dt=5.0)
    assert suite.n_inputs == 3 and suite.context_channels == [2]
    batch = suite.generate(300, seed=0)
    levels = batch.inputs[:, 0, 2]
    by_task = {k: set(levels[batch.task_ids == k]) for k in range(3)}
    assert all(len(v) == 1 for v in by_task.values())
    values = [v.pop() for v in by_task.values()]
    assert len(set(values)) == 3 and min(np.abs(values)) > 0


def test_scalar_pulse_is_jarne_cue_with_non_zero_levels():
    suite = tasks.TaskSuite(LOGIC, context="scalar_pulse", levels=[1.0, -1.0, 0.5], dt=5.0,
                            cue_ms=20.0)
    batch = suite.generate(60, seed=0)
    cue = batch.inputs[:, :, 2]
    np.testing.assert_array_equal(cue[:, 0], np.array([1.0, -1.0, 0.5], np.float32)[batch.task_ids])
    assert np.all(cue[:, 4:] == 0) and np.all(cue[:, :4] == cue[:, :1])
    with pytest.raises(ValueError, match="levels"):
        tasks.TaskSuite(LOGIC, context="scalar", levels=[1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="levels"):
        tasks.TaskSuite(LOGIC, context="scalar", levels=[1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="levels"):
        tasks.TaskSuite(LOGIC, context="scalar", levels=[1.0, 2.0])


def test_no_context():
    suite = tasks.TaskSuite(LOGIC, context="none", dt=5.0)
    assert suite.n_inputs == 2 and suite.context_channels == []


def test_mixing_per_trial_and_per_batch():
    per_trial = tasks.TaskSuite(LOGIC, dt=5.0).generate(300, seed=0)
    assert set(per_trial.task_ids) == {0, 1, 2}
    counts = np.bincount(per_trial.task_ids)
    assert counts.min() > 70
    suite = tasks.TaskSuite(LOGIC, mixing="per_batch", dt=5.0)
    seen = set()
    for seed in range(12):
        ids = suite.generate(20, seed=seed).task_ids
        assert len(set(ids)) == 1
        seen.add(ids[0])
    assert seen == {0, 1, 2}


def test_validation_data_is_fixed_and_balanced():
    suite = tasks.TaskSuite(LOGIC, dt=5.0)
    a, b = suite.validation_data(25, seed=3), suite.validation_data(25, seed=3)
    np.testing.assert_array_equal(np.bincount(a.task_ids), [25, 25, 25])
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, suite.validation_data(25, seed=4).inputs)


def test_suite_seeding():
    suite = tasks.TaskSuite(LOGIC, dt=5.0)
    a, b, c = (suite.generate(32, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.task_ids, b.task_ids)
    assert not np.array_equal(a.inputs, c.inputs)


def test_suite_correct_uses_each_task_rule():
    suite = tasks.TaskSuite(["and", "time_reproduction", "oscillation"], dt=5.0)
    batch = suite.validation_data(40, seed=0)
    outputs = batch.targets.copy()
    outputs[batch.task_ids == 2] *= 0.0  # oscillation answered by silence: only no-pulse trials right
    accuracy = per_task_accuracy(outputs, batch, suite)
    assert accuracy["and"] == 1.0 and accuracy["time_reproduction"] == 1.0
    pulse = batch.truth["value"][batch.task_ids == 2]
    assert accuracy["oscillation"] == pytest.approx(np.mean(pulse == 0))


def test_dataset_is_a_seeded_infinite_stream():
    suite = tasks.TaskSuite(LOGIC, dt=5.0)
    data = suite.dataset(batch_size=8, steps_per_epoch=3, seed=5)
    assert isinstance(data, keras.utils.PyDataset) and len(data) == 3
    x0, y0, w0 = data[0]
    assert x0.shape == (8, 40, 5) and y0.shape == (8, 40, 1) and w0.shape == y0.shape
    assert not np.array_equal(data[1][0], x0)
    again = suite.dataset(batch_size=8, steps_per_epoch=3, seed=5)
    np.testing.assert_array_equal(again[0][0], x0)
    data.on_epoch_end()
    assert not np.array_equal(data[0][0], x0)  # a new epoch gets new trials
    assert not np.array_equal(suite.dataset(8, 3, seed=6)[0][0], x0)


def test_a_single_task_is_a_dataset():
    task = tasks.make("xor", dt=5.0)
    data = task.dataset(batch_size=4, steps_per_epoch=2, seed=0)
    x, y, w = data[0]
    assert x.shape == (4, task.n_steps, 2) and y.shape == (4, task.n_steps, 1)


def test_incompatible_suites():
    with pytest.raises(ValueError, match="share one `dt`"):
        tasks.TaskSuite([tasks.make("and"), tasks.make("delay_pro")])
    with pytest.raises(ValueError, match="repeated"):
        tasks.TaskSuite(["and", "and"], dt=5.0)
    with pytest.raises(ValueError, match="non-empty list"):
        tasks.TaskSuite([])
    with pytest.raises(ValueError, match="non-empty list"):
        tasks.TaskSuite("and")
    with pytest.raises(TypeError, match="Task objects"):
        tasks.TaskSuite([3])
    with pytest.raises(ValueError, match="context"):
        tasks.TaskSuite(LOGIC, context="two_hot")
    with pytest.raises(ValueError, match="cue_ms"):
        tasks.TaskSuite(LOGIC, context="pulse", cue_ms=0.0)
    with pytest.raises(ValueError, match="mixing"):
        tasks.TaskSuite(LOGIC, mixing="sometimes")
    with pytest.raises(ValueError, match="Unknown task 'nand'"):
        tasks.TaskSuite(["and", "nand"])
    suite = tasks.TaskSuite(LOGIC, dt=5.0)
    with pytest.raises(ValueError, match="batch_size"):
        suite.generate(0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        suite.dataset(8, 0)
    batch = suite.generate(4, seed=0)
    with pytest.raises(ValueError, match="outputs"):
        suite.correct(np.zeros((4, 40, 2)), batch)
