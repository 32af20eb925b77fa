"""Measured properties of every task: input noise, chance levels from the class balance, blanks."""

import numpy as np
import pytest

from ctxrnn import tasks
from ctxrnn.tasks.base import decision_means

ALL = tasks.list_tasks()
N = 4000
SEED = 11
GUESS_HIGH = 0.8  # a biased random guesser answers "high" on this share of trials
# Tolerance of a measured accuracy: 4 standard errors of a proportion near 0.5 over N trials.
ACCURACY_SLACK = 4 * np.sqrt(0.25 / N)
NOISE_REL_TOLERANCE = 0.03
# Binary tasks: (low answer, high answer, threshold between them).
BINARY = {name: (0.0, 1.0, 0.5) for name in ("and", "or", "xor", "not", "flip_flop",
                                              "time_reproduction")}
BINARY.update({name: (-1.0, 1.0, 0.0) for name in tasks.POPULATION_TASKS})
DELTA_RULE = [name for name in tasks.MOLAP_TASKS if tasks.make(name).rule == "delta"]


@pytest.mark.parametrize("name", ALL)
def test_input_noise_std_matches_the_declared_one(name):
    task = tasks.make(name)
    clean = tasks.make(name, input_noise=0.0).generate(N // 4, seed=SEED)
    noisy = task.generate(N // 4, seed=SEED)
    np.testing.assert_array_equal(clean.targets, noisy.targets)  # same trials, only noise added
    noise = noisy.inputs - clean.inputs
    if task.input_noise == 0:
        assert np.all(noise == 0)
        return
    channels = [task.input_names.index(c) for c in (task.noisy_inputs or task.input_names)]
    steps = noise[..., channels[0]] != 0  # noise is on every active step of a noisy channel
    assert steps.any(axis=1).all()
    measured = noise[..., channels][steps].std()
    assert measured == pytest.approx(task.input_noise, rel=NOISE_REL_TOLERANCE)
    assert abs(noise[..., channels][steps].mean()) < NOISE_REL_TOLERANCE * task.input_noise


@pytest.mark.parametrize("name", sorted(BINARY))
def test_a_biased_random_guesser_scores_the_chance_level_of_the_class_balance(name):
    task = tasks.make(name)
    batch = task.generate(N, seed=SEED)
    low, high, threshold = BINARY[name]
    _, target = decision_means(batch.targets, batch)
    share_high = float(np.mean(target[:, 0] > threshold))  # the class balance
    guesses = np.random.default_rng(0).uniform(size=N) < GUESS_HIGH
    answers = np.where(guesses, high, low)[:, None, None]
    outputs = np.broadcast_to(answers, batch.targets.shape).astype(np.float32)
    if name == "time_reproduction":  # answer only in the response, nothing early
        outputs = outputs * batch.decision_mask[..., None]
    expected = GUESS_HIGH * share_high + (1 - GUESS_HIGH) * (1 - share_high)
    assert task.correct(outputs, batch).mean() == pytest.approx(expected, abs=ACCURACY_SLACK)
    if name in ("and", "or"):  # unbalanced: AND is high on 1/4 of trials, OR on 3/4
        assert share_high == pytest.approx(0.25 if name == "and" else 0.75, abs=ACCURACY_SLACK)


@pytest.mark.parametrize("name", DELTA_RULE)
def test_uniform_random_answers_score_the_delta_rule_chance(name):
    task = tasks.make(name)
    batch = task.generate(N, seed=SEED)
    rng = np.random.default_rng(1)
    answers = rng.uniform(-1.0, 1.0, size=(N, 1, task.n_outputs))
    outputs = np.broadcast_to(answers, batch.targets.shape).astype(np.float32)
    _, target = decision_means(batch.targets, batch)
    # P(|U - v| < delta) for U uniform on [-1, 1], per channel, averaged like the rule
    hit = (np.minimum(target + task.delta, 1.0) - np.maximum(target - task.delta, -1.0)) / 2.0
    expected = float(hit.mean())
    assert task.correct(outputs, batch).mean() == pytest.approx(expected, abs=ACCURACY_SLACK)


@pytest.mark.parametrize("name", [n for n in ALL if tasks.make(n).blank_epoch])
def test_blank_epoch_has_no_input_no_noise_and_no_loss(name):
    task = tasks.make(name)
    batch = task.generate(64, seed=SEED)
    blank = task.window(batch.epochs, task.blank_epoch)
    assert blank.any(axis=1).all()
    assert np.all(batch.loss_mask[blank] == 0) and np.all(batch.inputs[blank] == 0)
    assert np.all(batch.loss_mask[~blank] == 1)  # the loss applies everywhere else
    suite = tasks.TaskSuite([name, "dms"], dt=task.dt)
    mixed = suite.validation_data(16)
    rows, _, part = suite.task_batch(mixed.targets, mixed, 0)
    np.testing.assert_array_equal(part.loss_mask[task.window(part.epochs, task.blank_epoch)], 0)
    pad = suite.n_steps - task.n_steps
    assert pad > 0  # dms trials are longer: MoLaP trials are left-padded ...
    stimulus = mixed.inputs[rows][:, :pad, : len(suite.stimulus_names)]
    assert np.all(stimulus == 0) and np.all(mixed.loss_mask[rows][:, :pad] == 0)  # ... blank


@pytest.mark.parametrize("name", tasks.POPULATION_TASKS)
def test_population_tasks_train_only_on_the_decision_epoch(name):
    task = tasks.make(name)
    batch = task.generate(256, seed=SEED)
    response = task.window(batch.epochs, list(task.timing)[-1])
    np.testing.assert_array_equal(batch.loss_mask[..., 0], response)
    np.testing.assert_array_equal(batch.decision_mask, response)
    assert set(np.unique(batch.targets[response])) == {-1.0, 1.0}
    assert np.all(batch.targets[~response] == 0)
