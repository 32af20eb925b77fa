"""`ctxrnn sweep`: specs, hash-keyed runs, the process pool (killed and resumed), Ray."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ctxrnn
from ctxrnn import sweep

REPO = pathlib.Path(__file__).resolve().parents[1]

TINY = """
name = "tiny"
kind = "train"
[base]
tasks = ["and"]
units = 4
epochs = 2
steps_per_epoch = 2
batch_size = 8
validation_trials = 4
test_trials = 4
[grid]
seed = [0, 1, 2, 3]
"""


def _spec(tmp_path, text=TINY, name="tiny.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# Specs --------------------------------------------------------------------------
def test_grid_is_the_product_of_axes_with_bundles_and_dotted_keys():
    spec = sweep.SweepSpec.from_dict({"jobs": [
        {"name": "a", "kind": "train", "base": {"epochs": 1},
         "grid": {"units": [4, 8], "tasks": [["and"], ["and", "or"]], "seed": [0, 1, 2]}},
        {"name": "b", "kind": "molap", "base": {"pretrain.iterations": 3, "tasks": ["delay_pro"]},
         "grid": {"pair": [{"seed": 0, "heads.iterations": 2}, {"seed": 1, "gain": 1.2}]}},
    ]})
    runs = spec.runs()
    assert len(runs) == 2 * 2 * 3 + 2
    first = runs[0]
    assert first["point"] == {"units": 4, "tasks": "and", "seed": 0}
    assert first["config"]["units"] == 4 and first["config"]["tau"] == 10.0  # defaults resolved
    assert runs[11]["point"] == {"units": 8, "tasks": "and+or", "seed": 2}
    molap = runs[12:]
    assert molap[0]["config"]["pretrain"]["iterations"] == 3
    assert molap[0]["config"]["heads"]["iterations"] == 2
    assert molap[1]["config"]["gain"] == 1.2 and molap[1]["config"]["seed"] == 1
    assert molap[0]["point"] == {"pair": "seed=0,heads.iterations=2"}
    nullable = {"kind": "molap", "base": {"pretrain": {"clipnorm": None}}}  # float | None
    assert sweep.SweepSpec.from_dict(nullable).runs()[0]["config"]["pretrain"]["clipnorm"] is None
    gain = {"kind": "molap", "base": {"gain": 2}}
    assert sweep.SweepSpec.from_dict(gain).runs()[0]["key"] == sweep.SweepSpec.from_dict(
        {"kind": "molap", "base": {"gain": 2.0}}).runs()[0]["key"]
    assert len({run["key"] for run in runs}) == len(runs)


def test_a_grid_value_reaches_only_its_own_runs():
    # A nested table in `base` with a dotted grid key inside it: the table is copied per
    # run, so the first run's value does not leak into the base or the second run.
    job = sweep.Job("m", "molap", base={"tasks": ["delay_pro"], "pretrain": {"iterations": 3}},
                    grid={"v": [{"pretrain.batch_size": 7}, {"gain": 1.2}]})
    first, second = job.runs()
    assert first["config"]["pretrain"]["batch_size"] == 7
    assert second["config"]["pretrain"]["batch_size"] != 7
    assert job.base == {"tasks": ["delay_pro"], "pretrain": {"iterations": 3}}
    assert second["key"] == sweep.Job("m", "molap", base={
        "tasks": ["delay_pro"], "pretrain": {"iterations": 3}, "gain": 1.2}).runs()[0]["key"]


def test_key_is_a_pure_function_of_the_resolved_settings():
    def key(**base):
        job = sweep.Job("j", "train", base={"tasks": ["and"], **base})
        return job.runs()[0]["key"]

    assert key(units=8) == key(units=8)
    assert key(tau=10.0) == key()  # the default spelled out is the same run
    assert key(tau=10) == key() and key(dt=10) == key(dt=10.0)  # however a float is spelled
    assert key(units=8) != key(units=9)
    assert key(seed=0) != key(seed=1)
    assert len(key()) == sweep.KEY_LENGTH


def test_a_run_reading_a_file_is_keyed_by_its_content_and_reads_it_from_anywhere(
        tmp_path, monkeypatch):
    def run(model):
        return sweep.Job("t", "transfer", base={"model": model, "task": "xor"}).runs()[0]

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.keras").write_bytes(b"first")
    (tmp_path / "m.json").write_text("{}")
    first = run("m.keras")
    assert first["inputs"]["model"]["path"] == str(tmp_path / "m.keras")
    assert sweep._run_config(first)["model"] == str(tmp_path / "m.keras")  # not the cwd's
    assert first["config"]["model"] == "m.keras"  # the setting as written, in the table
    assert run("m.keras")["key"] == first["key"]
    (tmp_path / "m.keras").write_bytes(b"second")  # replaced at the same path: a new run
    second = run("m.keras")["key"]
    assert second != first["key"]
    (tmp_path / "m.json").write_text('{"card": 2}')  # so is a new card beside it
    assert run("m.keras")["key"] != second and run("m.json")["key"] != run("m.keras")["key"]
    run_dir = tmp_path / "run"  # a run directory: what load_run reads
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    (run_dir / "history.json").write_text("[]")
    before = sweep.Job("a", "analyze", base={"target": "run"}).runs()[0]
    (run_dir / "history.json").write_text("[1]")
    assert sweep.Job("a", "analyze", base={"target": "run"}).runs()[0]["key"] == before["key"]
    (run_dir / "model.keras").write_bytes(b"weights")
    assert sweep.Job("a", "analyze", base={"target": "run"}).runs()[0]["key"] != before["key"]
    (tmp_path / "jarne_context5").mkdir()  # a folder named like a shipped model
    shipped = run("jarne_context5")  # a name, not a path: keyed by the name alone
    assert "inputs" not in shipped
    assert shipped["key"] == sweep.spec_key("transfer", shipped["config"])


@pytest.mark.parametrize("spec, message", [
    ({"kind": "fit"}, "`kind` must be one of"),
    ({"kind": "train", "base": {"unitz": 3}}, "Unknown setting(s) ['unitz']"),
    ({"kind": "train", "grid": {"units": []}}, "grid axis 'units' must be a non-empty list"),
    ({"kind": "train", "grid": {"units": [0]}}, "units=0"),
    ({"kind": "molap", "base": {"pretrain": {"iters": 1}}}, "Unknown setting(s) ['iters']"),
    ({"kind": "transfer", "base": {"task": "xor"}}, "needs setting `model`"),
    ({"kind": "transfer", "base": {"model": "m", "task": "xor", "condition": "warm"}},
     "condition='warm'"),
    ({"kind": "analyze"}, "needs setting `target`"),
    ({"kind": "train", "base": {"tasks": ["xro"]}}, "Unknown task 'xro'; valid names are"),
    ({"kind": "transfer", "base": {"model": "m", "task": "xor", "learning_rate": "1e-2"}},
     "Setting `learning_rate` of a 'transfer' run must be a number; received "
     "learning_rate='1e-2'"),
    ({"kind": "analyze", "base": {"target": "m", "n_initial": 2.5}},
     "Setting `n_initial` of a 'analyze' run must be an integer"),
    ({"kind": "molap", "base": {"pretrain": {"iterations": "3"}}},
     "Setting `iterations` of a 'molap pretrain' run must be an integer"),
    ({"kind": "transfer", "base": {"model": "m", "task": "xor", "stop_at_criterion": 1}},
     "must be true or false"),
    ({"kind": "train", "jobs": []}, "either `jobs` or a single job's `kind`"),
    ({"runs": 3}, "Unknown top-level key(s) ['runs']"),
    ({"jobs": [{"kind": "train"}, {"kind": "train"}]}, "same settings"),
])
def test_bad_specs_fail_before_running_naming_the_problem(spec, message):
    with pytest.raises(ValueError) as error:
        sweep.SweepSpec.from_dict(spec).runs()
    assert message in str(error.value)


def test_spec_files_toml_and_yaml(tmp_path):
    spec = sweep.load_spec(_spec(tmp_path))
    assert spec.name == "tiny" and [r["point"] for r in spec.runs()] == [
        {"seed": 0}, {"seed": 1}, {"seed": 2}, {"seed": 3}]
    yaml = pytest.importorskip("yaml")
    text = yaml.safe_dump({"name": "tiny", "kind": "train",
                           "base": {"tasks": ["and"], "units": 4, "epochs": 2,
                                    "steps_per_epoch": 2, "batch_size": 8,
                                    "validation_trials": 4, "test_trials": 4},
                           "grid": {"seed": [0, 1, 2, 3]}})
    from_yaml = sweep.load_spec(_spec(tmp_path, text, "tiny.yaml"))
    assert [r["key"] for r in from_yaml.runs()] == [r["key"] for r in spec.runs()]
    with pytest.raises(ValueError, match="not valid TOML"):
        sweep.load_spec(_spec(tmp_path, "kind = ", "bad.toml"))
    with pytest.raises(ValueError, match="expected a .toml"):
        sweep.load_spec(_spec(tmp_path, "{}", "spec.json"))
    with pytest.raises(FileNotFoundError):
        sweep.load_spec(tmp_path / "none.toml")


def test_shipped_study_specs_expand():
    found = {p.stem: sweep.load_spec(p).runs() for p in (REPO / "experiments/sweeps").glob("*")}
    assert len(found["molap_seeds"]) == 5
    assert {r["config"]["seed"] for r in found["molap_seeds"]} == set(range(5))
    units = found["jarne_units"]
    assert len({r["config"]["units"] for r in units}) >= 5
    assert len({tuple(r["config"]["tasks"]) for r in units}) == 6  # five tasks alone + context
    assert {r["kind"] for r in found["transfer_seeds"]} == {"transfer"}
    assert {r["config"]["condition"] for r in found["transfer_seeds"]} == {"frozen_core",
                                                                           "scratch"}


def test_summary_over_seeds_and_figure(tmp_path):
    spec = sweep.SweepSpec.from_dict({"kind": "train", "base": {"tasks": ["and"]},
                                      "grid": {"units": [4, 8], "seed": [0, 1]}},
                                     name="fake")
    runs = spec.runs()
    for run, accuracy in zip(runs, (0.5, 0.7, 0.8, 1.0)):
        directory = tmp_path / sweep.RUNS_DIR / run["key"]
        ctxrnn.io.write_json(directory / sweep.RESULT_FILE, {
            "key": run["key"], "metrics": {"accuracy": accuracy, "per_task": {"and": accuracy},
                                           "label": "x", "reached": None if accuracy < 0.6
                                           else 10 * accuracy}})
    table = sweep.results_table(runs, tmp_path)
    assert [row["status"] for row in table] == ["complete"] * 4
    assert table[1] == {"job": "fake", "run": runs[1]["key"], "status": "complete", "units": 4,
                        "seed": 1, "accuracy": 0.7, "per_task.and": 0.7, "label": "x",
                        "reached": 7.0}
    summary = sweep.summarize(table, spec)
    assert [(s["units"], s["n"]) for s in summary] == [(4, 2), (8, 2)]
    assert summary[0]["metrics"]["accuracy"]["mean"] == pytest.approx(0.6)
    assert summary[1]["metrics"]["accuracy"]["std"] == pytest.approx(0.1)  # ddof=0, as elsewhere
    assert "label" not in summary[0]["metrics"]
    # A metric some runs left empty: summarised over the others, the empties kept.
    assert summary[0]["metrics"]["reached"] == {"mean": 7.0, "std": 0.0, "n": 1,
                                                "values": [None, 7.0]}
    figure = sweep.summary_figure(spec, summary, "fake")
    panel = figure.axes[0]
    assert panel.get_xlabel() == "units" and panel.get_title() == "accuracy"
    sweep.write_table(table, tmp_path)
    lines = (tmp_path / sweep.TABLE_CSV).read_text().splitlines()
    assert lines[0] == "job,run,status,units,seed,accuracy,per_task.and,label,reached"
    assert len(lines) == 5
    missing = sweep.results_table([*runs, {**runs[0], "key": "0" * 16}], tmp_path)
    assert missing[-1]["status"] == "missing"
    spec.metrics = ["acuracy"]  # a typo draws nothing: said, not silent
    with pytest.warns(UserWarning, match=r"\['acuracy'\] match no numeric metric"):
        sweep.run_sweep(spec, tmp_path, progress=False)
    with pytest.raises(ValueError, match="`summary` must be a table with the one key `metrics`"):
        sweep.SweepSpec.from_dict({"kind": "train", "summary": {"metric": ["accuracy"]}})


def test_usable_cores_honour_a_container_cpu_quota(tmp_path):
    from ctxrnn._startup import usable_cores

    affinity = usable_cores(cpu_max=str(tmp_path / "absent"))
    assert affinity >= 1
    quota = tmp_path / "cpu.max"
    quota.write_text("max 100000\n")
    assert usable_cores(cpu_max=str(quota)) == affinity
    quota.write_text("50000 100000\n")  # half a core: one worker, one group
    assert usable_cores(cpu_max=str(quota)) == 1
    quota.write_text(f"{100000 * affinity + 1} 100000\n")  # more than the affinity allows
    assert usable_cores(cpu_max=str(quota)) == affinity


def test_configure_threads_too_late_is_a_clear_error():
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow has started
    current = tf.config.threading.get_intra_op_parallelism_threads()
    assert ctxrnn.configure_threads(intra_op=current)["intra_op"] == current  # no change: fine
    with pytest.raises(RuntimeError, match=r"configure_threads\(intra_op=.*came too late"):
        ctxrnn.configure_threads(intra_op=current + 3)
    with pytest.raises(ValueError, match="inter_op=-1"):
        ctxrnn.configure_threads(inter_op=-1)


def test_thread_flags_set_tensorflow_before_the_command():
    code = ("import sys, tensorflow as tf; from ctxrnn.cli import main; "
            "main(['--intra-op-threads', '1', '--inter-op-threads', '2', 'tasks']); "
            "print(tf.config.threading.get_intra_op_parallelism_threads(), "
            "tf.config.threading.get_inter_op_parallelism_threads())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["1", "2"]


def test_pool_forks_its_workers_until_tensorflow_runs_then_spawns(tmp_path):
    # `ctxrnn sweep` reads and lists its spec without starting TensorFlow, so its
    # workers are forked with TensorFlow already imported; once an op has run,
    # forking would copy a running runtime, and the pool spawns.
    code = ("import sys; from ctxrnn._startup import worker_start_method as method; "
            "from ctxrnn.cli import main; main(['sweep', sys.argv[1], '--list']); "
            "before = method(); import tensorflow as tf; tf.constant(1.0) + 1.0; "
            "print(before, method())")
    done = subprocess.run([sys.executable, "-c", code, str(_spec(tmp_path))],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = "fork spawn" if sys.platform.startswith("linux") else "spawn spawn"
    assert done.stdout.split()[-2:] == expected.split()


def test_affinity_queue_keeps_a_worker_to_one_network_shape():
    spec = sweep.SweepSpec.from_dict({"name": "q", "kind": "train",
                                      "base": {"tasks": ["and"], "epochs": 1},
                                      "grid": {"units": [4, 8, 16], "seed": [0, 1, 2]}})
    runs = spec.runs()
    keys = [sweep.affinity_key(run) for run in runs]
    assert len(set(keys)) == 3 and keys[0] == keys[1] == keys[2]  # seeds share a key
    queue = sweep.AffinityQueue(runs)
    first, run_a = queue.next_for(None)
    second, run_b = queue.next_for(None, taken={first})
    assert first != second  # two workers start on two shapes
    key_a, run_c = queue.next_for(first, {second})
    key_b, run_d = queue.next_for(second, {first})
    assert (key_a, key_b) == (first, second)  # and keep to them
    handed = [run_a, run_b, run_c, run_d]
    previous = {0: first, 1: second}
    while len(queue):
        worker = len(handed) % 2
        key, run = queue.next_for(previous[worker], {previous[1 - worker]})
        previous[worker] = key
        handed.append(run)
    assert len(handed) == 9 and sorted(r["key"] for r in handed) == sorted(r["key"] for r in runs)
    assert queue.next_for(first) is None


def test_stack_groups_runs_that_differ_only_in_their_seed():
    grid = {"units": [4, 8], "seed": [0, 1, 2]}
    plain = sweep.SweepSpec.from_dict({"kind": "train", "base": {"tasks": ["and"]},
                                       "grid": grid}).runs()
    runs = sweep.SweepSpec.from_dict({"kind": "train", "stack": 2, "base": {"tasks": ["and"]},
                                      "grid": grid}).runs()
    assert [r["point"] for r in runs] == [r["point"] for r in plain]  # same runs, same order
    assert [r["config"].get("stack") for r in runs] == [[0, 1], [0, 1], None] * 2
    assert runs[0]["stack"] == runs[1]["stack"] != runs[3]["stack"]
    assert runs[0]["key"] != plain[0]["key"]  # a stacked run is its own configuration
    assert runs[2]["key"] == plain[2]["key"] and "stack" not in runs[2]  # a stack of one
    work = sweep.units(runs[1:], runs)  # a pending member brings its whole stack
    assert [[r["key"] for r in unit] for unit in work] == [
        [runs[0]["key"], runs[1]["key"]], [runs[2]["key"]],
        [runs[3]["key"], runs[4]["key"]], [runs[5]["key"]]]
    shards = [sweep._shard(runs, i, 4) for i in range(4)]
    assert sorted(r["key"] for shard in shards for r in shard) == sorted(r["key"] for r in runs)
    assert all(runs[0] in shard and runs[1] in shard for shard in shards if runs[0] in shard)
    with pytest.raises(ValueError, match="stack"):
        sweep.run_one(runs[0], "unused")


@pytest.mark.parametrize("stack, message", [
    (0, "`stack` must be a positive integer"), (True, "`stack` must be a positive integer"),
])
def test_bad_stack_fails_naming_it(stack, message):
    with pytest.raises(ValueError, match=message):
        sweep.SweepSpec.from_dict({"kind": "train", "stack": stack})
    with pytest.raises(ValueError, match="only \\['train'\\] jobs stack"):
        sweep.SweepSpec.from_dict({"kind": "molap", "stack": 2})
    low_rank = {"kind": "train", "stack": 2, "base": {"tasks": ["and"], "rank": 1},
                "grid": {"seed": [0, 1]}}
    with pytest.raises(ValueError, match="Low-rank networks do not stack yet"):
        sweep.SweepSpec.from_dict(low_rank).runs()


def test_stacked_sweep_reruns_a_missing_member_bit_identically(tmp_path):
    """Two stacks of two in the real pool (two workers); a member deleted is trained
    again with its stack, to the same numbers, and the finished stack is skipped."""
    spec = sweep.load_spec(_spec(tmp_path, TINY.replace('kind = "train"',
                                                        'kind = "train"\nstack = 2')))
    out = tmp_path / "out"
    first = sweep.run_sweep(spec, out, workers=2, progress=False)
    assert len(first["ran"]) == 4 and not first["failed"]
    runs = spec.runs()
    results = {r["key"]: json.loads((out / sweep.RUNS_DIR / r["key"] / sweep.RESULT_FILE)
                                    .read_text()) for r in runs}
    assert results[runs[0]["key"]]["stack"] == [runs[0]["key"], runs[1]["key"]]
    redo = runs[3]["key"]
    weights = dict(np.load(out / sweep.RUNS_DIR / redo / "weights/final.npz"))
    untouched = (out / sweep.RUNS_DIR / runs[0]["key"] / sweep.RESULT_FILE).stat().st_mtime_ns
    shutil.rmtree(out / sweep.RUNS_DIR / redo)
    again = sweep.run_sweep(spec, out, workers=2, progress=False)
    assert again["ran"] == [redo] and not again["failed"]
    redone = json.loads((out / sweep.RUNS_DIR / redo / sweep.RESULT_FILE).read_text())
    assert redone["metrics"] == results[redo]["metrics"]
    final = np.load(out / sweep.RUNS_DIR / redo / "weights/final.npz")
    assert all(np.array_equal(weights[name], final[name]) for name in weights)
    assert (out / sweep.RUNS_DIR / runs[0]["key"] / sweep.RESULT_FILE).stat().st_mtime_ns \
        == untouched
    table = json.loads((out / sweep.TABLE_JSON).read_text())["rows"]
    assert [row["seed"] for row in table] == [0, 1, 2, 3]
    assert all(row["status"] == "complete" for row in table)
    # `report = true` changes no number: same runs, reports written, nothing trained again.
    spec.jobs[0].base["report"] = True
    assert [r["key"] for r in spec.runs()] == [r["key"] for r in runs]
    with_reports = sweep.run_sweep(spec, out, workers=1, progress=False)
    assert not with_reports["failed"]
    assert all((out / sweep.RUNS_DIR / r["key"] / "report.html").is_file() for r in runs)
    assert (out / sweep.RUNS_DIR / runs[0]["key"] / sweep.RESULT_FILE).stat().st_mtime_ns \
        == untouched


def test_a_stack_trained_again_unmarks_its_finished_members(tmp_path, monkeypatch):
    # One member's result deleted, then the stack's new training dies: the member that
    # had finished is no longer marked finished (its training files are being replaced).
    runs = sweep.SweepSpec.from_dict({"kind": "train", "stack": 2, "base": {"tasks": ["and"]},
                                      "grid": {"seed": [0, 1]}}).runs()
    for run in runs:
        sweep._write_result(sweep._start_run_directory(tmp_path, run), run, {}, 1.0)
    assert all(sweep.finished_result(tmp_path, run) for run in runs)
    (tmp_path / sweep.RUNS_DIR / runs[1]["key"] / sweep.RESULT_FILE).unlink()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ctxrnn.stacked_training.train_stacked_runs", killed)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_unit(runs, tmp_path)
    assert [sweep.finished_result(tmp_path, run) for run in runs] == [None, None]


# The process pool for real ----------------------------------------------------------
def _results(out):
    return sorted((out / sweep.RUNS_DIR).glob(f"*/{sweep.RESULT_FILE}"))


@pytest.fixture(scope="module")
def pool_sweep(tmp_path_factory):
    """The tiny sweep started as `ctxrnn sweep`, killed (SIGKILL) after its second run
    finished; one finished run is deleted; then the sweep is rerun."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec_path, out = _spec(tmp), tmp / "out"
    command = [sys.executable, "-m", "ctxrnn.cli", "sweep", str(spec_path), "--out", str(out),
               "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO)},
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(_results(out)) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the worker process too
    process.wait()
    before = {path.parent.name: (path.stat().st_mtime_ns, path.read_text())
              for path in _results(out)}
    assert 2 <= len(before) < 4, "the kill should land after the second run, before the last"
    redo = sorted(before)[0]  # deleted: the rerun must compute it again, identically
    weights = dict(np.load(out / sweep.RUNS_DIR / redo / "weights/final.npz"))
    shutil.rmtree(out / sweep.RUNS_DIR / redo)
    rerun = sweep.run_sweep(spec_path, out, workers=2, progress=False)
    return {"spec": spec_path, "out": out, "rerun": rerun, "before": before, "redo": redo,
            "weights": weights}


def test_killed_sweep_reruns_only_the_missing_runs(pool_sweep):
    out, rerun, before = pool_sweep["out"], pool_sweep["rerun"], pool_sweep["before"]
    kept = sorted(set(before) - {pool_sweep["redo"]})
    assert sorted(rerun["skipped"]) == kept and not rerun["failed"]
    assert len(rerun["ran"]) == 4 - len(kept) and pool_sweep["redo"] in rerun["ran"]
    for key in kept:  # finished runs were not touched
        mtime, text = before[key]
        path = out / sweep.RUNS_DIR / key / sweep.RESULT_FILE
        assert path.stat().st_mtime_ns == mtime and path.read_text() == text
    table = json.loads((out / sweep.TABLE_JSON).read_text())["rows"]
    assert [row["seed"] for row in table] == [0, 1, 2, 3]
    assert all(row["status"] == "complete" for row in table)
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in table)
    assert (out / sweep.FIGURES_DIR / "tiny.png").stat().st_size > 1000
    summary = json.loads((out / sweep.SUMMARY_FILE).read_text())
    assert summary[0]["n"] == 4 and "accuracy" in summary[0]["metrics"]
    again = sweep.run_sweep(pool_sweep["spec"], out, workers=2, progress=False)  # none left
    assert again["ran"] == [] and len(again["skipped"]) == 4


def test_a_rerun_run_is_bit_identical(pool_sweep):
    key, out = pool_sweep["redo"], pool_sweep["out"]
    saved = json.loads(pool_sweep["before"][key][1])
    again = json.loads((out / sweep.RUNS_DIR / key / sweep.RESULT_FILE).read_text())
    assert again["metrics"] == saved["metrics"]
    redone = np.load(out / sweep.RUNS_DIR / key / "weights/final.npz")
    assert all(np.array_equal(pool_sweep["weights"][name], redone[name])
               for name in pool_sweep["weights"])


def _ray_sweep(spec, out, workers):
    """`run_sweep` on the Ray engine in a local Ray of `workers` CPUs (skips without Ray)."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.tune")
    ray.init(num_cpus=workers, include_dashboard=False, ignore_reinit_error=True,
             log_to_driver=False)
    try:
        return sweep.run_sweep(spec, out, engine="ray", workers=workers, progress=False)
    finally:
        ray.shutdown()


def test_ray_engine_gives_the_pool_table(pool_sweep, tmp_path):
    # Two of the four runs (two Ray workers, one run each), compared row by row.
    spec = sweep.load_spec(pool_sweep["spec"])
    spec.jobs[0].grid["seed"] = [0, 1]
    result = _ray_sweep(spec, tmp_path / "ray", workers=2)
    assert not result["failed"] and len(result["ran"]) == 2
    pool = json.loads((pool_sweep["out"] / sweep.TABLE_JSON).read_text())["rows"]
    assert result["table"] == pool[:2]
    assert (tmp_path / "ray" / "ray" / "sweep").is_dir()  # Tune's storage_path


def test_ray_engine_trains_a_stack_as_the_pool_does(tmp_path):
    pytest.importorskip("ray.tune")
    spec = sweep.load_spec(_spec(tmp_path, TINY.replace('kind = "train"',
                                                        'kind = "train"\nstack = 2')))
    spec.jobs[0].grid["seed"] = [0, 1]  # one stack: one Ray trial
    pool = sweep.run_sweep(spec, tmp_path / "pool", workers=1, progress=False)
    result = _ray_sweep(spec, tmp_path / "ray", workers=1)
    assert not result["failed"] and len(result["ran"]) == 2
    assert result["table"] == pool["table"]


def test_dask_engine_gives_the_pool_table(pool_sweep, tmp_path):
    # A local Dask cluster of two worker processes; each run in a fresh Python process.
    pytest.importorskip("dask.distributed")
    spec = sweep.load_spec(pool_sweep["spec"])
    spec.jobs[0].grid["seed"] = [0, 1]
    result = sweep.run_sweep(spec, tmp_path / "dask", engine="dask", workers=2,
                             progress=False)
    assert not result["failed"] and len(result["ran"]) == 2
    pool = json.loads((pool_sweep["out"] / sweep.TABLE_JSON).read_text())["rows"]
    assert result["table"] == pool[:2]


def test_cli_lists_the_runs_and_checks_its_arguments(tmp_path, capsys):
    from ctxrnn.cli import main

    spec_path = _spec(tmp_path)
    assert main(["sweep", str(spec_path), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [r["key"] for r in
                                                   sweep.load_spec(spec_path).runs()]
    with pytest.raises(SystemExit):
        main(["sweep", str(spec_path), "--shard", "3/3"])
    assert "expected I/N with 0 <= I < N, got '3/3'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="engine='spark'"):
        sweep.run_sweep(spec_path, tmp_path / "out", engine="spark")
    with pytest.raises(ValueError, match=r"shard=\(2, 1\)"):
        sweep.run_sweep(spec_path, tmp_path / "out", shard=(2, 1))
    # A cluster option without `--engine dask` would have run 32 workers on this machine.
    assert main(["sweep", str(spec_path), "--cluster", "slurm", "--workers", "32"]) == 2
    assert "['cluster'] do not apply to engine='pool'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"\['asha'\] do not apply to engine='dask'"):
        sweep.run_sweep(spec_path, tmp_path / "out", engine="dask", asha={"metric": "loss"})
    assert not (tmp_path / "out").exists()  # nothing written before the checks
