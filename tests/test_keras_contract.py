"""TensorBoard, dt-independent task noise, resolved settings, readout by name, public API."""

import importlib

import keras
import numpy as np
import pytest

import ctxrnn
from ctxrnn import seeding, tasks
from ctxrnn.callbacks import WeightStatistics, model_weights
from ctxrnn.readout import find_readout, find_readouts
from ctxrnn.runs import RunDirectory
from ctxrnn.training import TrainConfig, resolved_settings, train_run


def _tensorboard_tags(directory):
    import tensorflow as tf

    tags = set()
    for path in directory.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_tensorboard_run_logs_losses_and_weight_summaries(tmp_path):
    config = TrainConfig(tasks=["and"], units=12, epochs=2, steps_per_epoch=2, batch_size=8,
                         validation_trials=6, test_trials=6)
    run = train_run(tmp_path / "tb", config, verbose=0, report=False, tensorboard=True)
    tags = _tensorboard_tags(run.tensorboard_dir)
    assert {"wrec_mean", "wrec_spectral_radius", "wrec_entries", "wrec_eigenvalues"} <= tags
    assert any("loss" in tag for tag in tags)


def test_weight_statistics_writes_to_an_active_default_writer(tmp_path):
    import tensorflow as tf

    suite = tasks.TaskSuite(["and"], dt=5.0)
    model = ctxrnn.context_multitask(suite, units=8, seed=0)
    ctxrnn.compile_model(model)
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    with writer.as_default():
        model.fit(suite.dataset(8, 2, seed=0), epochs=1, verbose=0,
                  callbacks=[WeightStatistics()])
    writer.flush()
    assert {"wrec_mean", "wrec_entries", "wrec_eigenvalues"} <= _tensorboard_tags(tmp_path)


def test_no_writer_means_no_event_files(tmp_path):
    suite = tasks.TaskSuite(["and"], dt=5.0)
    model = ctxrnn.context_multitask(suite, units=8, seed=0)
    ctxrnn.compile_model(model)
    model.fit(suite.dataset(8, 2, seed=0), epochs=1, verbose=0,
              callbacks=[WeightStatistics(tmp_path / "run")])
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


@pytest.mark.parametrize("name", ["and", "delay_pro", "dm"])
def test_task_noise_in_a_fixed_window_does_not_depend_on_dt(name):
    """The mean of the input noise over a fixed window has the same std at every dt."""
    reference = tasks.make(name)
    window_ms = 40 * reference.dt
    stds = []
    for factor in (1.0, 2.0, 4.0):
        task = tasks.make(name, dt=reference.dt * factor, input_noise=0.1)
        quiet = tasks.make(name, dt=reference.dt * factor, input_noise=0.0)
        noisy, clean = task.generate(400, seed=1), quiet.generate(400, seed=1)
        noise = noisy.inputs - clean.inputs
        steps = int(round(window_ms / task.dt))
        window = noise[:, -steps:, 0].mean(axis=1)  # the response end always has input noise?
        stds.append(window.std() * np.sqrt(steps) * np.sqrt(task.dt))
        np.testing.assert_allclose(task.input_noise_std,
                                   0.1 * np.sqrt(reference.dt / task.dt), rtol=1e-12)
    np.testing.assert_allclose(stds, stds[0], rtol=0.15)


def test_report_and_settings_show_resolved_values(tmp_path):
    config = TrainConfig(tasks=["and"], units=8, epochs=1, steps_per_epoch=1, batch_size=8,
                         validation_trials=4, test_trials=4, dt=5.0)
    assert config.tau == 10.0
    run = train_run(tmp_path / "r", config, verbose=0)
    settings = resolved_settings(run.load_config())
    assert settings["tau"] == 10.0 and settings["alpha"] == 0.5
    assert settings["task_input_noise"] == {"and": 0.1}
    assert settings["task_input_noise_per_step"]["and"] == pytest.approx(0.1 * np.sqrt(1 / 5))
    assert settings["cell_input_noise_per_step"] == pytest.approx(0.01 * 2.0)
    html = run.report_path.read_text()
    assert "null" not in html.split("Run configuration")[1].split("</table>")[0]
    assert "cell_input_noise_per_step" in html and "task_input_noise_per_step" in html
    old = {**run.load_config(), "tau": None}  # runs written before tau was resolved
    assert resolved_settings(old)["tau"] == 10.0


def test_bad_config_values_name_the_argument():
    for field, value in (("dt", 0.0), ("learning_rate", -1.0), ("input_noise", -0.1),
                         ("seed", -1), ("tau", float("nan")), ("task_input_noise", -1.0)):
        with pytest.raises(ValueError, match=f"`{field}`.*{field}="):
            TrainConfig(**{field: value})


def test_readout_is_found_by_name_in_a_grown_model():
    model, card = ctxrnn.load("jarne_context4")
    grown, _ = ctxrnn.add_task_head(model, "delay_pro", ctxrnn.zoo.suite_from_card(card))
    heads = find_readouts(grown)
    assert [h.name for h in heads][0] == "readout" and len(heads) == 2
    assert grown.layers[-1] not in heads  # the last layer is the concatenation
    assert find_readout(grown) is grown.get_layer("readout")
    weights = model_weights(grown)
    assert weights["readout_kernel"].shape[1] == sum(h.units for h in heads)


def test_public_api_shaped_like_fit_scripts():
    for name in ("TaskSuite", "context_multitask", "compile_model", "MaskedMSE",
                 "DecisionAccuracy", "WeightStatistics", "PruningSweep", "TaskAccuracy",
                 "transfer_task", "find_readout", "seeding"):
        assert hasattr(ctxrnn, name), name
        assert name in ctxrnn.__all__
    assert ctxrnn.transfer_task is importlib.import_module("ctxrnn.transfer").transfer_task
    assert not hasattr(importlib.import_module("ctxrnn.transfer"), "transfer")


def test_tasks_modules_import_downwards_only():
    """base.py (the Task) imports neither the suite nor the registry, not even lazily."""
    import ast
    import pathlib

    import ctxrnn.tasks.base as base

    tree = ast.parse(pathlib.Path(base.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not imported & {"ctxrnn.tasks.suite", "ctxrnn.tasks.registry", "ctxrnn.tasks"}


def test_seeding_streams_are_spawned_children():
    parent = np.random.SeedSequence(7)
    child = parent.spawn(seeding.STREAMS.index("test") + 1)[-1]
    assert seeding.sequence(7, "test").generate_state(2).tolist() == \
        child.generate_state(2).tolist()
    assert len({seeding.derive(7, s) for s in seeding.STREAMS}) == len(seeding.STREAMS)
    with pytest.raises(ValueError, match="stream"):
        seeding.derive(7, "nope")
    with pytest.raises(ValueError, match="seed=-1"):
        seeding.derive(-1, "test")


def test_a_resumed_dataset_yields_the_uninterrupted_batches():
    suite = tasks.TaskSuite(["and", "or"], dt=5.0)
    whole = suite.dataset(4, 3, seed=2)
    for _ in range(2):
        whole.on_epoch_end()
    resumed = suite.dataset(4, 3, seed=2, epoch=2)
    for index in range(3):
        for a, b in zip(whole[index], resumed[index]):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="epoch=-1"):
        suite.dataset(4, 3, seed=2, epoch=-1)


def test_cli_defaults_are_the_config_defaults():
    import dataclasses
    import inspect

    from ctxrnn import cli
    from ctxrnn.cli import molap as molap_cli
    from ctxrnn.molap.pipeline import PipelineConfig

    parser = cli.build_parser()
    config = molap_cli.config_from_args(parser.parse_args(["molap", "--out", "x"]))
    expected = PipelineConfig()
    for field in ("tasks", "task_module", "gain", "approaches", "test_trials", "seed", "trials"):
        assert list(np.atleast_1d(getattr(config, field))) == \
            list(np.atleast_1d(getattr(expected, field))), field
    assert dataclasses.asdict(config.pretrain) == dataclasses.asdict(expected.pretrain)
    assert dataclasses.asdict(config.heads) == dataclasses.asdict(expected.heads)
    args = parser.parse_args(["transfer", "jarne_context4", "--task", "xor"])
    signature = inspect.signature(ctxrnn.transfer_task).parameters
    for name in ("epochs", "steps_per_epoch", "batch_size", "learning_rate", "criterion", "seed"):
        assert getattr(args, name) == signature[name].default, name


def test_compile_model_clips_each_variable_or_all_gradients_together():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    ctxrnn.compile_model(model)
    assert (model.optimizer.clipnorm, model.optimizer.global_clipnorm) == (1.0, None)
    ctxrnn.compile_model(model, global_clipnorm=0.1)  # the Dubreuil reference's clip_grad_norm_
    assert (model.optimizer.clipnorm, model.optimizer.global_clipnorm) == (None, 0.1)
