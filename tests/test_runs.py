"""Tests for ctxrnn.runs: the run-directory layout and its loaders."""

import json

import numpy as np
import pytest

from ctxrnn import runs
from ctxrnn.runs import RunDirectory


def make_run(tmp_path):
    run = RunDirectory(tmp_path / "run", create=True)
    run.write_config({"tasks": ["and", "or"], "units": 4, "seed": 0})
    return run


def test_missing_and_non_run_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RunDirectory(tmp_path / "nope")
    with pytest.raises(ValueError, match="config.json"):
        RunDirectory(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        RunDirectory(tmp_path / "file")
    assert not runs.is_run_directory(tmp_path)


def test_create_and_reopen(tmp_path):
    run = make_run(tmp_path)
    assert runs.is_run_directory(run.path)
    reopened = RunDirectory(run.path)
    assert reopened.load_config()["units"] == 4
    assert reopened.pruning_path == run.path / "pruning.json"
    assert reopened.initial_weights_path == run.path / "weights" / "initial.npz"
    assert reopened.report_stats_path.name == "stats.json"


def test_missing_optional_file_names_path_and_file(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"pruning\.json") as info:
        run.load_pruning()
    assert str(run.path) in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"weights/final\.npz"):
        run.load_weights("final")


def test_weights_round_trip_and_validation(tmp_path):
    run = make_run(tmp_path)
    w = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    run.save_weights("final", recurrent_kernel=w, recurrent_connectivity=np.ones((4, 4)))
    np.testing.assert_array_equal(run.load_weights()["recurrent_kernel"], w)
    with pytest.raises(ValueError, match="stage"):
        run.weights_path("middle")
    with pytest.raises(ValueError, match="Unknown weight array"):
        run.save_weights("initial", w_rec=w)


def test_statistics_and_eigenvalues(tmp_path):
    run = make_run(tmp_path)
    records = [
        {"epoch": 2, "weight": "ctrnn/recurrent_kernel", "mean": 0.1},
        {"epoch": 0, "weight": "ctrnn/recurrent_kernel", "mean": 0.0},
    ]
    run.write_statistics(records)
    assert [r["epoch"] for r in run.load_statistics()] == [0, 2]
    eigs = np.array([1 + 1j, 0.5])
    path = run.save_eigenvalues(2, "ctrnn/recurrent_kernel", eigs)
    assert path.name == "epoch_0002_ctrnn_recurrent_kernel.npy"
    np.testing.assert_array_equal(run.load_eigenvalues(2, "ctrnn/recurrent_kernel"), eigs)
    run.statistics_path.write_text(json.dumps({"records": [{"mean": 1}]}))
    with pytest.raises(ValueError, match="epoch"):
        run.load_statistics()


def test_eigenvalues_filename_checks():
    assert runs.eigenvalues_filename(12, "recurrent_kernel") == (
        "epoch_0012_recurrent_kernel.npy"
    )
    with pytest.raises(ValueError, match="epoch"):
        runs.eigenvalues_filename(-1, "w")
    with pytest.raises(ValueError, match="weight"):
        runs.eigenvalues_filename(1, "//")


def test_pruning_length_check(tmp_path):
    run = make_run(tmp_path)
    good = {
        "fractions": [0.0, 0.1],
        "families": {
            "magnitude": {
                "distance": [0.1, 0.2],
                "accuracy": [1.0, 0.9],
                "per_task_accuracy": {"and": [1.0, 0.8]},
            }
        },
    }
    run.write_pruning(good)
    assert run.load_pruning()["fractions"] == [0.0, 0.1]
    good["families"]["magnitude"]["per_task_accuracy"]["and"] = [1.0]
    run.write_pruning(good)
    with pytest.raises(ValueError, match=r"per_task_accuracy\[and\]"):
        run.load_pruning()


def test_examples_round_trip(tmp_path):
    run = make_run(tmp_path)
    trials, time, n_in, n_out = 2, 5, 3, 1
    run.save_examples(
        inputs=np.zeros((trials, time, n_in)),
        targets=np.zeros((trials, time, n_out)),
        outputs=np.zeros((trials, time, n_out)),
        loss_mask=np.ones((trials, time, n_out)),
        task_ids=np.array([0, 1]),
        task_names=["and", "or"],
        input_names=["a", "b", "ctx"],
        output_names=["out"],
        dt=10.0,
    )
    examples = run.load_examples()
    assert examples["task_names"] == ["and", "or"]
    assert examples["dt"] == 10.0
    with pytest.raises(ValueError, match="missing arrays"):
        run.save_examples(inputs=np.zeros(1))


def test_history_and_evaluation(tmp_path):
    run = make_run(tmp_path)
    run.write_history({"loss": [np.float32(1.0), 0.5]})
    assert run.load_history() == {"loss": [1.0, 0.5]}
    run.write_evaluation({"per_task_accuracy": {"and": 1.0}, "accuracy": 1.0})
    assert run.load_evaluation()["accuracy"] == 1.0
