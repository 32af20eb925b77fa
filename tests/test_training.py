"""The main job: a context network learns every task; the run directory is complete."""

import json
import os

import numpy as np
import pytest

from ctxrnn import cli
from ctxrnn.runs import RunDirectory
from ctxrnn.training import TrainConfig, load_run, prune_run, train_run

SMALL = TrainConfig(epochs=12, steps_per_epoch=40, validation_trials=40, test_trials=200)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_run(tmp_path_factory.mktemp("runs") / "ctx", SMALL, verbose=0)


def test_context_network_reaches_95_percent_on_every_task(run):
    evaluation = run.load_evaluation()
    assert set(evaluation["per_task_accuracy"]) == set(SMALL.tasks)
    for task, accuracy in evaluation["per_task_accuracy"].items():
        assert accuracy >= 0.95, (task, accuracy)


def test_run_directory_is_complete(run):
    for path in (run.config_path, run.model_path, run.history_path, run.statistics_path,
                 run.pruning_path, run.evaluation_path, run.examples_path, run.report_path,
                 run.initial_weights_path, run.final_weights_path):
        assert path.exists(), path
    history = run.load_history()
    assert len(history["loss"]) == SMALL.epochs
    assert history["loss"][-1] < history["loss"][0] / 3
    for key in ("wrec_kurtosis", "val_accuracy_xor"):
        assert len(history[key]) == SMALL.epochs
    stats = json.loads(run.report_stats_path.read_text())
    assert isinstance(stats, dict)


def test_reloaded_model_reproduces_the_saved_evaluation(run):
    _, config, suite, model = load_run(run)
    test = suite.validation_data(config.test_trials, seed=config.seed + 2)
    scores = suite.correct(model.predict(test.inputs, verbose=0), test)
    assert float(scores.mean()) == pytest.approx(run.load_evaluation()["accuracy"], abs=1e-6)


def test_prune_leaves_the_saved_model_unchanged(run):
    before = RunDirectory(run).load_model().get_weights()
    result = prune_run(run)
    after = RunDirectory(run).load_model().get_weights()
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert 0.0 <= result["knee"]["fraction"] <= result["fractions"][-1]
    assert result["families"]["magnitude"]["accuracy"][0] == pytest.approx(
        result["baseline"]["accuracy"])


def test_cli_report_and_prune_on_a_run(run, capsys):
    assert cli.main(["report", os.fspath(run)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert cli.main(["prune", os.fspath(run)]) == 0
    assert "pruning knee" in capsys.readouterr().out


def test_prune_in_a_fresh_process(run):
    """`ctxrnn prune` loads the saved model without anything imported beforehand (a
    fresh process must find the registered loss and metric classes)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "ctxrnn.cli", "prune", os.fspath(run)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pruning knee" in done.stdout


def test_cli_fails_clearly_on_a_missing_or_non_run_directory(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    assert "not a ctxrnn run directory" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert cli.main(["prune", str(tmp_path / "plain")]) == 2
    assert "not a ctxrnn run directory" in capsys.readouterr().err


def test_cli_train_rejects_bad_arguments(tmp_path, capsys):
    assert cli.main(["train", "--out", str(tmp_path / "r"), "--tasks", "nand"]) == 2
    assert "Unknown task 'nand'" in capsys.readouterr().err
    assert cli.main(["train", "--out", str(tmp_path / "r"), "--units", "0"]) == 2
    assert "units" in capsys.readouterr().err


def test_cli_train_tiny_run(tmp_path, capsys):
    code = cli.main(["train", "--out", str(tmp_path / "tiny"), "--tasks", "and", "or",
                     "--units", "16", "--epochs", "1", "--steps-per-epoch", "3", "--verbose", "0"])
    assert code == 0
    out = capsys.readouterr().out
    assert "per-task accuracy" in out and str(tmp_path / "tiny" / "report.html") in out
