"""`ctxrnn.stacked_training`: K seed-only-different training runs as one stacked fit."""

import dataclasses

import numpy as np
import pytest

from ctxrnn.runs import RunDirectory
from ctxrnn.stacked_training import check_stackable, train_stacked_runs
from ctxrnn.training import TrainConfig, load_run, train_run

BASE = TrainConfig(tasks=["and", "or"], units=8, epochs=2, steps_per_epoch=3, batch_size=8,
                   validation_trials=6, test_trials=6, recurrent_noise=0.05)


def _train(tmp_path, name, seeds):
    configs = [dataclasses.replace(BASE, seed=s) for s in seeds]
    return train_stacked_runs([tmp_path / name / f"seed{s}" for s in seeds], configs)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stacked")
    alone = [train_run(tmp / f"alone{s}", dataclasses.replace(BASE, seed=s), verbose=0,
                       report=False) for s in (0, 1)]
    return {"a": _train(tmp, "a", [0, 1]), "b": _train(tmp, "b", [0, 2]), "alone": alone}


def test_a_stack_trains_what_separate_train_runs_train(stacks):
    """Same initial weights, trials, noise, loss, clipping and Adam steps as `train_run`
    of each seed: equal to float32 rounding, and the same records."""
    for stacked, alone in zip(stacks["a"], stacks["alone"]):
        for stage in ("initial", "final"):
            a, b = stacked.load_weights(stage), alone.load_weights(stage)
            for name in b:
                np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5,
                                           err_msg=f"{stage} {name}")
        history, expected = stacked.load_history(), alone.load_history()
        for key in ("loss", "val_accuracy", "wrec_spectral_radius"):
            np.testing.assert_allclose(history[key], expected[key], rtol=1e-4, atol=1e-6)
        assert set(history) == set(expected) - {"decision_accuracy"}
        assert stacked.load_evaluation()["per_task_accuracy"] == \
            alone.load_evaluation()["per_task_accuracy"]


def test_each_stacked_run_is_a_complete_run_directory(stacks):
    for run in stacks["a"]:
        assert run.is_complete
        history = run.load_history()
        assert len(history["loss"]) == BASE.epochs and len(history["val_accuracy"]) == BASE.epochs
        assert [r["epoch"] for r in run.load_statistics()] == list(range(BASE.epochs + 1))
        assert "knee" in run.load_pruning()
        assert not run.checkpoint_dir.exists()
    # The saved model is network k alone: reloaded, it gives the outputs the stack gave.
    run, config, suite, model = load_run(stacks["a"][1].path)
    examples = run.load_examples()
    np.testing.assert_allclose(model.predict(examples["inputs"], verbose=0), examples["outputs"],
                               atol=1e-6)
    assert config.seed == 1 and RunDirectory(run.path).load_evaluation()["n_trials"] == 12


def test_networks_of_a_stack_train_independently(stacks):
    """Seed 0's network ends the same whether its stack partner is seed 1 or seed 2
    (no loss, gradient or data crosses networks), and differs from seed 1's."""
    a0, a1 = (np.load(run.final_weights_path) for run in stacks["a"])
    b0 = np.load(stacks["b"][0].final_weights_path)
    for name in a0.files:
        np.testing.assert_allclose(a0[name], b0[name], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a0["recurrent_kernel"], a1["recurrent_kernel"])
    assert stacks["a"][0].load_history()["loss"] == pytest.approx(
        stacks["b"][0].load_history()["loss"], rel=1e-5)


@pytest.mark.parametrize("configs, message", [
    ([BASE], "at least 2"),
    ([BASE, BASE], "distinct seeds"),
    ([BASE, dataclasses.replace(BASE, seed=1, units=9)], "differ only in `seed`"),
    ([dataclasses.replace(BASE, rank=1), dataclasses.replace(BASE, rank=1, seed=1)],
     "rank=1"),
    ([BASE, {"seed": 1}], "TrainConfig"),
])
def test_configs_that_cannot_stack_fail_early_naming_the_problem(configs, message):
    with pytest.raises(ValueError, match=message):
        check_stackable(configs)


def test_one_directory_per_config(tmp_path):
    with pytest.raises(ValueError, match="same length"):
        train_stacked_runs([tmp_path / "x"], [BASE, dataclasses.replace(BASE, seed=1)])
    assert not (tmp_path / "x").exists()  # nothing written before the check
