"""A run directory's life: refused overwrites, --overwrite, --resume after SIGKILL, NaN."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ctxrnn import cli
from ctxrnn.runs import RunDirectory
from ctxrnn.training import TrainConfig, TrainingDivergedError, train_run

TINY = dict(tasks=["and"], units=16, epochs=4, steps_per_epoch=3, batch_size=16,
            validation_trials=8, test_trials=8, recurrent_noise=0.05, seed=3)
TINY_ARGS = ["--tasks", "and", "--units", "16", "--epochs", "4", "--steps-per-epoch", "3",
             "--batch-size", "16", "--validation-trials", "8", "--test-trials", "8",
             "--recurrent-noise", "0.05", "--seed", "3", "--verbose", "0"]


def _final_weights(path):
    with np.load(RunDirectory(path).final_weights_path) as arrays:
        return {name: arrays[name] for name in arrays.files}


def test_existing_run_is_refused_and_left_untouched(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--out", str(out), *TINY_ARGS]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert cli.main(["train", "--out", str(out), *TINY_ARGS]) == 2
    message = capsys.readouterr().err
    assert str(out) in message and "--overwrite" in message and "--resume" in message
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == before


def test_overwrite_replaces_only_the_runs_files(tmp_path):
    out = tmp_path / "run"
    train_run(out, TrainConfig(**TINY), verbose=0, report=False)
    (out / "notes.txt").write_text("mine")
    (out / "history.json").write_text("{}")
    train_run(out, TrainConfig(**{**TINY, "epochs": 2}), verbose=0, report=False,
              overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert len(RunDirectory(out).load_history()["loss"]) == 2
    assert RunDirectory(out).is_complete


def test_overwrite_and_resume_exclude_each_other(tmp_path):
    with pytest.raises(ValueError, match="overwrite.*resume"):
        train_run(tmp_path / "r", TrainConfig(**TINY), overwrite=True, resume=True)
    with pytest.raises(SystemExit):  # argparse: mutually exclusive flags
        cli.main(["train", "--out", str(tmp_path / "r"), "--resume", "--overwrite"])


def test_resume_refuses_a_complete_run_and_a_changed_config(tmp_path):
    out = tmp_path / "run"
    train_run(out, TrainConfig(**TINY), verbose=0, report=False)
    with pytest.raises(FileExistsError, match="complete"):
        train_run(out, resume=True)
    with pytest.raises(FileNotFoundError, match="not a ctxrnn run directory"):
        train_run(tmp_path / "empty", resume=True)


_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import keras
    from ctxrnn.training import TrainConfig, train_run

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the second epoch's checkpoint
                os.kill(os.getpid(), signal.SIGKILL)

    config = TrainConfig(**{config})
    train_run(sys.argv[1], config, verbose=0, callbacks=[Kill()])
""")


def test_sigkilled_run_resumes_bit_identical_with_noise_on(tmp_path):
    uninterrupted = tmp_path / "whole"
    train_run(uninterrupted, TrainConfig(**TINY), verbose=0)

    killed = tmp_path / "killed"
    script = _KILLED_RUN.replace("{config}", repr(TINY))
    done = subprocess.run([sys.executable, "-c", script, str(killed)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    run = RunDirectory(killed)
    assert run.load_status()["state"] == "training"
    assert not run.model_path.exists() and not run.evaluation_path.exists()
    assert cli.main(["report", str(killed)]) == 2  # not a finished run
    state = json.loads((run.checkpoint_dir / "state.json").read_text())
    assert state["epoch"] == 2

    assert cli.main(["train", "--out", str(killed), "--resume", "--verbose", "0"]) == 0
    assert run.is_complete and not run.checkpoint_dir.exists()
    whole, resumed = _final_weights(uninterrupted), _final_weights(killed)
    assert whole.keys() == resumed.keys()
    for name in whole:
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)
    assert RunDirectory(killed).load_history() == RunDirectory(uninterrupted).load_history()
    epochs = [r["epoch"] for r in RunDirectory(killed).load_statistics()]
    assert epochs == [0, 1, 2, 3, 4]
    assert (RunDirectory(killed).load_evaluation()
            == RunDirectory(uninterrupted).load_evaluation())


def test_resume_with_a_different_flag_is_refused(tmp_path):
    out = tmp_path / "killed"
    script = _KILLED_RUN.replace("{config}", repr(TINY))
    subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, timeout=300)
    assert cli.main(["train", "--out", str(out), "--resume", "--units", "32"]) == 2


def test_nan_loss_stops_with_the_epoch_and_leaves_no_finished_run(tmp_path, capsys):
    out = tmp_path / "diverged"
    config = TrainConfig(**{**TINY, "learning_rate": 1e25, "recurrent_noise": 0.0})
    with pytest.raises(TrainingDivergedError, match=r"epoch 1 \(batch \d+\)"):
        train_run(out, config, verbose=0)
    run = RunDirectory(out)
    status = run.load_status()
    assert status["state"] == "failed" and "epoch 1" in status["message"]
    for path in (run.model_path, run.evaluation_path, run.report_path, run.pruning_path,
                 run.final_weights_path):
        assert not path.exists(), path
    assert not run.is_complete
    args = ["train", "--out", str(tmp_path / "cli"), *TINY_ARGS, "--learning-rate", "1e25"]
    assert cli.main(args) == 1
    assert "epoch 1" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "cli")]) == 2


def test_cli_starts_quietly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-m", "ctxrnn.cli", "tasks"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0
    assert "oneDNN" not in done.stderr and "absl::InitializeLog" not in done.stderr, done.stderr
    assert "time_reproduction" in done.stdout


def test_train_flags_come_from_the_config_dataclass():
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--out", "x"])
    assert cli.run.given_config(args) == {}  # nothing given: TrainConfig's defaults apply
    args = parser.parse_args(["train", "--out", "x", "--tasks", "and", "or", "--tau", "20",
                              "--task-input-noise", "0.05"])
    assert cli.run.given_config(args) == {"tasks": ["and", "or"], "tau": 20.0,
                                          "task_input_noise": 0.05}
    flags = {a.dest for a in parser._subparsers._group_actions[0].choices["train"]._actions}
    assert {f for f in TrainConfig.__dataclass_fields__} <= flags
