"""Baselines train every weight; configs follow the paper."""

import dataclasses

import keras
import numpy as np
import pytest
from molap_fake_tasks import NAMES, make_all

from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import baselines
from ctxrnn.molap import network as net


def test_separate_and_dni_train_the_recurrent_kernel():
    tasks = make_all()[:2]
    config = baselines.separate_config(iterations=2, batch_size=4, stages=1)
    separate = baselines.train_separate(tasks, NAMES[:2], units=12, config=config)
    assert len(separate) == 2 and separate[0].layout.names == (NAMES[0],)
    # W_in (3x12) + input bias (12) + W_rec (12x12) + readout (12x3 + 3)
    assert separate[0].trainable_parameters == 3 * 12 + 12 + 12 * 12 + 12 * 3 + 3
    dni = baselines.train_dni_style(tasks, NAMES[:2], units=10,
                                    config=baselines.dni_config(2, iterations=2, batch_size=3, stages=1))
    core = find_ctrnn(dni.model)
    assert any("recurrent_kernel" in w.path for w in dni.model.trainable_weights)
    assert keras.ops.convert_to_numpy(core.recurrent_kernel).shape == (10, 10)
    # two heads of (3 inputs + bias) -> 10, W_rec, two readouts of 10 -> 3 + bias
    assert dni.trainable_parameters == 8 * 10 + 100 + 10 * 6 + 6


def test_a_stalled_separate_network_is_trained_again_and_the_best_kept():
    tasks = make_all()[:1]
    small = dict(iterations=2, batch_size=4, stages=1, validation_trials=20)
    once = baselines.train_separate(tasks, NAMES[:1], units=8, seed=3,
                                    config=baselines.separate_config(restarts=0, **small))[0]
    assert once.attempts == 1 and once.validation_accuracy is None
    # a network above the bar is kept: the same weights as training once
    kept = baselines.train_separate(tasks, NAMES[:1], units=8, seed=3, config=baselines.separate_config(
        restarts=2, restart_below=1e-9, **small))[0]
    assert kept.attempts == 1 and kept.validation_accuracy > 0
    for a, b in zip(once.model.get_weights(), kept.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # below the bar (no 2-iteration network is perfect): trained again, up to `restarts` times
    lines = []
    again = baselines.train_separate(tasks, NAMES[:1], units=8, seed=3, progress=lines.append,
                                     config=baselines.separate_config(
                                         restarts=2, restart_below=1.0, **small))[0]
    assert again.attempts == 3 and sum("training again" in line for line in lines) == 2
    assert again.validation_accuracy >= kept.validation_accuracy
    with pytest.raises(ValueError, match="restarts"):
        baselines.separate_config(restarts=-1)
    with pytest.raises(ValueError, match="restart_below"):
        baselines.separate_config(restart_below=0.0)


def test_paper_settings():
    paper = baselines.separate_paper_config()
    assert (paper.learning_rate, paper.total_iterations, paper.response_weight) == (3e-3, 1000, 1.0)
    separate = baselines.separate_config()
    assert (separate.learning_rate, separate.total_iterations, separate.response_weight) == (
        1e-3, 2000, 5.0)
    assert separate.restarts == 2 and paper.restarts == 0
    reference = baselines.separate_reference_config(response_weight=1.0)
    assert (reference.learning_rate, reference.total_iterations, reference.batch_size) == (
        3e-3, 4500, 500)
    config = baselines.dni_config(9)
    assert config.iterations == 200 and config.batch_size == 23 and config.learning_rate == 3e-3
    assert config.stages == 5
    assert np.isclose(baselines.dni_config(9, iterations=5).iterations, 5)


def test_dni_projection_protects_earlier_tasks():
    """Duncker et al.'s projected gradients: training task 2 raises task 1's loss
    less with the projection than without, from the same network after task 1."""
    tasks = make_all()[:2]
    config = baselines.dni_projected_config(restarts=0, iterations=40, stages=1, batch_size=16,
                                            learning_rate=1e-2, input_bias=False)
    runs = {project: baselines.train_dni(tasks, NAMES[:2], units=16, config=config,
                                         covariance_trials=16, project=project, seed=5)
            for project in (True, False)}
    free, projected = runs[False].task_losses, runs[True].task_losses
    np.testing.assert_allclose(projected[0], free[0], rtol=1e-5)  # the same first task
    rise_free, rise_projected = free[1, 0] - free[0, 0], projected[1, 0] - projected[0, 0]
    assert rise_free > 0, free
    assert rise_projected < 0.5 * rise_free, (projected, free)
    assert np.isnan(projected[0, 1]) and runs[True].iterations == 80


def test_dni_initial_states_are_heads(monkeypatch):
    """With per-task initial states each task learns its own h0 (a head
    parameter): a later task leaves the earlier tasks' h0 bit-identical, and
    the projection still protects the earlier task."""
    import ctxrnn.layers

    tasks = make_all()[:2]
    config = baselines.dni_projected_config(restarts=0, iterations=40, stages=1, batch_size=16,
                                            learning_rate=1e-2, input_bias=False,
                                            per_task_initial_state=True, initial_state_std=1.0)
    seen = []
    original = ctxrnn.layers.hidden_states

    def spy(model, inputs, **kwargs):  # called once after each task's training
        seen.append(keras.ops.convert_to_numpy(model.get_layer("initial_states").kernel).copy())
        return original(model, inputs, **kwargs)

    monkeypatch.setattr(ctxrnn.layers, "hidden_states", spy)
    runs = {project: baselines.train_dni(tasks, NAMES[:2], units=16, config=config,
                                         covariance_trials=16, project=project, seed=5)
            for project in (True, False)}
    after_first, after_second = seen[0], seen[1]  # the projected run
    start = net.build_network(runs[True].layout, 16, train_recurrent=True, seed=5,
                              per_task_initial_state=True, initial_state_std=1.0)
    initial = keras.ops.convert_to_numpy(start.get_layer("initial_states").kernel)
    assert not np.allclose(after_first[0], initial[0])           # task 1 learned its h0
    np.testing.assert_array_equal(after_first[1], initial[1])    # task 2's untouched by task 1
    np.testing.assert_array_equal(after_second[0], after_first[0])  # task 1's kept by task 2
    assert not np.allclose(after_second[1], initial[1])
    free, projected = runs[False].task_losses, runs[True].task_losses
    rise_free, rise_projected = free[1, 0] - free[0, 0], projected[1, 0] - projected[0, 0]
    assert rise_free > 0 and rise_projected < 0.5 * rise_free, (projected, free)


def test_dni_restarts_keep_the_first_training_and_the_protection():
    """A task that validates is not trained again (the same weights as without
    restarts); a task trained again starts from the weights it started from,
    so the projection still protects the earlier task."""
    tasks = make_all()[:2]
    # 80 iterations: both tasks then score above 0 on validation
    config = baselines.dni_projected_config(restarts=0, iterations=80, stages=1, batch_size=16,
                                            learning_rate=1e-2, input_bias=False,
                                            validation_trials=20)
    once = baselines.train_dni(tasks, NAMES[:2], units=16, config=config, covariance_trials=16,
                               seed=5)
    passing = baselines.train_dni(tasks, NAMES[:2], units=16, covariance_trials=16, seed=5,
                                  config=dataclasses.replace(config, restarts=2, restart_below=1e-9))
    assert passing.task_attempts == dict.fromkeys(NAMES[:2], 1) and once.task_attempts is None
    for a, b in zip(once.model.get_weights(), passing.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    forced = dataclasses.replace(config, restarts=1, restart_below=1.0)
    runs = {project: baselines.train_dni(tasks, NAMES[:2], units=16, config=forced,
                                         covariance_trials=16, project=project, seed=5)
            for project in (True, False)}
    assert runs[True].task_attempts == dict.fromkeys(NAMES[:2], 2)
    free, projected = runs[False].task_losses, runs[True].task_losses
    rise_free, rise_projected = free[1, 0] - free[0, 0], projected[1, 0] - projected[0, 0]
    assert rise_free > 0 and rise_projected < 0.5 * rise_free, (projected, free)


def test_dni_stops_a_task_at_its_validation_target(monkeypatch):
    """`stop_at`: a task ends at the first check where its validation accuracy
    reaches the target (Duncker et al.'s train-to-criterion); below it, the
    whole schedule runs."""
    tasks = make_all()[:2]
    config = baselines.dni_projected_config(restarts=0, iterations=30, stages=1, batch_size=8,
                                            input_bias=False, validation_trials=10)
    checks = []

    def fake_accuracy(model, tasks, layout, index, n_trials, seed):
        checks.append(index)
        return 0.95 if index == 0 else 0.5

    monkeypatch.setattr(baselines, "_task_accuracy", fake_accuracy)
    result = baselines.train_dni(tasks, NAMES[:2], units=8, config=config, covariance_trials=8,
                                 stop_at=0.9, check_every=10, seed=1)
    assert result.task_iterations == {NAMES[0]: 10, NAMES[1]: 30} and result.iterations == 40
    assert checks == [0, 1, 1]  # task 2 checked at 10 and 20, not after its last step
    for bad, match in (({"stop_at": 1.5}, "stop_at=1.5"), ({"check_every": 0}, "check_every")):
        with pytest.raises(ValueError, match=match):
            baselines.train_dni(tasks, NAMES[:2], units=8, config=config, **bad)


def test_dni_input_projection_is_optional_and_protection_stays(monkeypatch):
    """A task's own input rows never reach an earlier task: with
    `project_inputs=False` task 2's rows move into the state directions task 1
    uses (with the projection they barely do), and task 1 stays as protected
    as with the projection, because only `W_rec` is shared."""
    import ctxrnn.layers

    tasks = make_all()[:2]
    config = baselines.dni_projected_config(restarts=0, iterations=40, stages=1, batch_size=16,
                                            learning_rate=1e-2, input_bias=False)
    original = ctxrnn.layers.hidden_states
    seen = []

    def spy(model, inputs, **kwargs):  # called once after each task's training
        states = original(model, inputs, **kwargs)
        kernel = keras.ops.convert_to_numpy(find_ctrnn(model).cell.kernel).copy()
        seen.append((kernel, np.asarray(states).reshape(-1, 16)))
        return states

    monkeypatch.setattr(ctxrnn.layers, "hidden_states", spy)
    runs, top_share = {}, {}
    for project_inputs in (True, False):
        seen.clear()
        runs[project_inputs] = baselines.train_dni(tasks, NAMES[:2], units=16, config=config,
                                                   covariance_trials=16, seed=5,
                                                   project_inputs=project_inputs)
        (after_first, states), (after_second, _) = seen
        rows = runs[project_inputs].layout.input_slice(1)
        moved = after_second[rows] - after_first[rows]
        top = np.linalg.eigh(states.T @ states / len(states))[1][:, -1]  # task 1's main direction
        top_share[project_inputs] = np.linalg.norm(moved @ top) / np.linalg.norm(moved)
    assert top_share[True] < 0.02 and top_share[False] > 0.1, top_share
    free = baselines.train_dni(tasks, NAMES[:2], units=16, config=config, covariance_trials=16,
                               seed=5, project=False).task_losses
    rise_free = free[1, 0] - free[0, 0]
    for project_inputs, run in runs.items():
        losses = run.task_losses
        assert losses[1, 0] - losses[0, 0] < 0.5 * rise_free, (project_inputs, losses, free)


def test_dni_averages_the_covariances_as_the_references():
    """`covariances="mean"` (the references' running mean) and `"sum"` agree up to
    the second task (one covariance) and differ from the third on; a bad rule is
    named."""
    tasks = make_all()[:3]
    config = baselines.dni_projected_config(restarts=0, iterations=10, stages=1, batch_size=8,
                                            learning_rate=1e-2, input_bias=False)
    runs = {rule: baselines.train_dni(tasks, NAMES[:3], units=12, config=config,
                                      covariance_trials=8, covariances=rule, seed=2)
            for rule in ("mean", "sum")}
    mean, summed = runs["mean"].task_losses, runs["sum"].task_losses
    np.testing.assert_allclose(mean[:2], summed[:2], rtol=1e-6)
    assert not np.allclose(mean[2], summed[2])
    free = {rule: list(run.task_free_directions.values()) for rule, run in runs.items()}
    assert 0 < free["mean"][0] == free["sum"][0] < 12  # one covariance: the same projection
    assert free["sum"][1] < free["mean"][1] and free["sum"][2] < free["mean"][2]  # S >= S / k
    assert free["sum"][0] > free["sum"][1] > free["sum"][2]  # each task uses more of the space
    with pytest.raises(ValueError, match="covariances='median'"):
        baselines.train_dni(tasks, NAMES[:3], units=12, config=config, covariances="median")


def test_reference_presets():
    config = baselines.separate_reference_config()
    assert (config.batch_size, config.total_iterations, config.learning_rate) == (500, 4500, 3e-3)
    assert baselines.SEPARATE_REFERENCE_UNITS == 200
    assert baselines.DNI_REFERENCE == {"units": 200, "gain": 1.3, "batch_size": 400,
                                       "iterations_per_task": 3600}


def test_dni_rejects_rescaled_configs():
    config = baselines.dni_projected_config(rescale="minmax")
    with pytest.raises(ValueError, match="rescale='minmax'"):
        baselines.train_dni(make_all()[:2], NAMES[:2], config=config)
