"""`ctxrnn analyze` on a run directory and on a shipped model."""

import json

import pytest

from ctxrnn import cli
from ctxrnn.runs import DYNAMICS_FILE
from ctxrnn.training import TrainConfig, train_run


def test_analyze_a_run_writes_dynamics_and_a_report_section(tmp_path, capsys):
    config = TrainConfig(tasks=["and", "not"], units=12, epochs=1, steps_per_epoch=2,
                         batch_size=8, validation_trials=4, test_trials=4)
    run = train_run(tmp_path / "run", config, verbose=0)
    assert "Dynamics: fixed points" not in run.report_path.read_text()
    assert cli.main(["analyze", str(run.path), "--n-initial", "16", "--quiet"]) == 0
    summary = json.loads((run.path / DYNAMICS_FILE).read_text())
    assert set(summary["contexts"]) == {"and", "not"}
    out = capsys.readouterr().out
    assert "dynamics:" in out and "report:" in out
    html = run.report_path.read_text()
    assert "Dynamics: fixed points and regimes per context" in html


def test_analyze_a_shipped_model_needs_out(tmp_path, capsys):
    assert cli.main(["analyze", "jarne_context4"]) == 2
    assert "--out" in capsys.readouterr().err
