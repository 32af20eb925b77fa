"""`ctxrnn tasks`: listing, description, atomic plots, errors."""

import pytest

from ctxrnn import cli, tasks

PNG_MAGIC = b"\x89PNG"


def test_lists_every_task_with_channels_and_length(capsys):
    assert cli.main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in tasks.list_tasks():
        task = tasks.make(name)
        line = next(row for row in out.splitlines() if row.split()[0] == name)
        assert str(task.n_steps) in line.split() and ", ".join(task.input_names) in line


def test_describes_one_task(capsys):
    assert cli.main(["tasks", "dms"]) == 0
    out = capsys.readouterr().out
    assert "U(500, 3000)" in out and "A, B" in out and "255 steps" in out


def test_plot_writes_a_png(tmp_path, capsys):
    path = tmp_path / "sub" / "dm.png"
    path.parent.mkdir()
    assert cli.main(["tasks", "dm", "--plot", str(path), "--trials", "3", "--seed", "1",
                     "--dt", "10"]) == 0
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert "3 trials of dm, dt 10 ms, seed 1" in capsys.readouterr().out
    assert [p.name for p in path.parent.iterdir()] == ["dm.png"]  # no temporary files left


@pytest.mark.parametrize("argv,message", [
    (["tasks", "nand"], "Unknown task 'nand'.*'xor'"),
    (["tasks", "dm", "--plot", "x.gif"], "--plot"),
    (["tasks", "dm", "--plot", "x.png", "--trials", "0"], "--trials"),
    (["tasks", "--plot", "x.png"], "task name"),
    (["tasks", "dm", "--dt", "-1"], "dt"),
])
def test_errors_exit_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    import re

    assert re.search(message, capsys.readouterr().err)
    assert not list(tmp_path.iterdir())
