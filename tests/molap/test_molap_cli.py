"""`ctxrnn molap` runs the pipeline into a run directory; a small configuration learns."""

import argparse
import json
import pathlib

import keras
import numpy as np
import pytest
from molap_fake_tasks import NAMES, make_all

from ctxrnn.cli import molap as molap_cli
from ctxrnn.molap import baselines, pipeline
from ctxrnn.molap import training as tr

FAKE = str(pathlib.Path(__file__).with_name("molap_fake_tasks.py"))


def _parse(argv):
    parser = argparse.ArgumentParser()
    molap_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["molap", *argv])


def test_arguments_map_to_the_config():
    args = _parse(["--out", "x", "--pretrain-stages", "5", "--head-iterations", "50",
                   "--baseline-iterations", "30", "--initial-state", "--approaches", "molap"])
    config = molap_cli.config_from_args(args)
    assert config.pretrain.stages == 5 and config.heads.iterations == 50
    assert config.heads.stages == 5 and config.separate.stages == 10
    assert config.heads.per_task_initial_state and config.approaches == ("molap",)
    assert config.separate.iterations == 30
    # one loss weight for every approach; the paper's plain MSE and rate on request
    assert config.heads.response_weight == config.separate.response_weight == 5.0
    assert config.dni.response_weight == 5.0 and config.separate.learning_rate == 1e-3
    plain = molap_cli.config_from_args(_parse(["--out", "x", "--response-weight", "1",
                                               "--baseline-learning-rate", "3e-3"]))
    assert {plain.heads.response_weight, plain.separate.response_weight,
            plain.dni.response_weight} == {1.0} and plain.separate.learning_rate == 3e-3
    with pytest.raises(SystemExit, match="--response-weight must be > 0; received 0.0"):
        molap_cli.config_from_args(_parse(["--out", "x", "--response-weight", "0"]))
    assert config.separate_gain == 1.5
    # a stalled head or separate network is trained again; the reference budget trains once
    assert config.separate.restarts == config.heads.restarts == 2
    assert config.heads.head_training == "per_task"
    reference = molap_cli.config_from_args(_parse(["--out", "x", "--budget", "reference"]))
    assert reference.separate.restarts == reference.heads.restarts == 0
    assert reference.heads.head_training == "joint"
    once = molap_cli.config_from_args(_parse(["--out", "x", "--restarts", "0"]))
    assert once.separate.restarts == once.heads.restarts == 0
    joint = molap_cli.config_from_args(_parse(["--out", "x", "--head-training", "joint"]))
    assert (joint.heads.head_training, joint.heads.restarts, joint.separate.restarts) == (
        "joint", 0, 2)
    with pytest.raises(SystemExit, match="--restarts must be >= 0; received -1"):
        molap_cli.config_from_args(_parse(["--out", "x", "--restarts", "-1"]))
    with pytest.raises(SystemExit, match="--restarts 1 needs --head-training per_task"):
        molap_cli.config_from_args(_parse(["--out", "x", "--restarts", "1", "--head-training",
                                           "joint"]))
    gentle = molap_cli.config_from_args(_parse(["--out", "x", "--baseline-gain", "1"]))
    assert gentle.separate_gain == 1.0
    # configs saved before the response weight existed trained with the plain MSE
    old = pipeline.PipelineConfig(heads={"learning_rate": 1e-2}, separate={"stages": 5})
    assert old.heads.response_weight == old.separate.response_weight == 1.0
    # ... and trained every head jointly, every network once
    assert (old.heads.head_training, old.heads.restarts, old.separate.restarts) == ("joint", 0, 0)
    # DNI: Duncker's projected continual learning, its own per-task schedule
    assert config.dni_method == "projected" and config.dni_gain == 1.3
    # at most the reference's 3600 iterations per task, each task ending once it validates
    assert (config.dni.iterations, config.dni.stages, config.dni.learning_rate) == (450, 8, 5e-4)
    assert not config.dni.solve_readout
    joint = molap_cli.config_from_args(_parse(["--out", "x", "--dni-method", "joint",
                                               "--dni-iterations", "40", "--dni-stages", "3"]))
    assert joint.dni_method == "joint" and (joint.dni.iterations, joint.dni.stages) == (40, 3)
    assert joint.dni.learning_rate == 3e-3 and joint.dni.solve_readout
    assert joint.dni_stop_at is None and joint.dni.restarts == 0
    joint_default = molap_cli.config_from_args(_parse(["--out", "x", "--dni-method", "joint"]))
    assert joint_default.dni.total_iterations == baselines.dni_config(9).total_iterations
    assert config.dni.restarts == 1
    quick = molap_cli.config_from_args(_parse(["--out", "x", "--quick"]))
    assert quick.dni.restarts == 0 and quick.dni.total_iterations == 45
    again = molap_cli.config_from_args(_parse(["--out", "x", "--dni-restarts", "2"]))
    assert again.dni.restarts == 2 and again.heads.restarts == config.heads.restarts
    with pytest.raises(SystemExit, match="--dni-restarts 2 needs --dni-method projected"):
        molap_cli.config_from_args(_parse(["--out", "x", "--dni-restarts", "2",
                                           "--dni-method", "joint"]))
    with pytest.raises(SystemExit, match="--dni-restarts must be >= 0; received -1"):
        molap_cli.config_from_args(_parse(["--out", "x", "--dni-restarts", "-1"]))
    assert (config.dni_stop_at, config.dni_check_every) == (0.95, 250)
    full = molap_cli.config_from_args(_parse(["--out", "x", "--dni-stop-at", "off"]))
    assert full.dni_stop_at is None
    assert pipeline.PipelineConfig(**full.to_dict()).dni_stop_at is None
    with pytest.raises(SystemExit):
        _parse(["--out", "x", "--dni-stop-at", "soon"])
    for flag in ("--dni-iterations", "--dni-stages", "--dni-check-every"):
        with pytest.raises(SystemExit):  # 0 is refused, not replaced by the default
            _parse(["--out", "x", flag, "0"])
    assert config.dni.per_task_initial_state and config.dni.initial_state_std == 1.0
    slow = molap_cli.config_from_args(_parse(["--out", "x", "--dni-learning-rate", "5e-4",
                                              "--no-initial-state"]))
    assert slow.dni.learning_rate == 5e-4 and not slow.dni.per_task_initial_state
    assert not slow.heads.per_task_initial_state
    assert config.dni_covariances == "mean"
    summed = molap_cli.config_from_args(_parse(["--out", "x", "--dni-covariances", "sum"]))
    assert summed.dni_covariances == "sum"
    with pytest.raises(ValueError, match="dni_covariances='median'"):
        pipeline.PipelineConfig(dni_covariances="median")
    with pytest.raises(SystemExit, match="--dni-learning-rate must be > 0; received 0.0"):
        molap_cli.config_from_args(_parse(["--out", "x", "--dni-learning-rate", "0"]))
    assert config.dni_gain == 1.3
    assert not config.dni_project_inputs
    assert molap_cli.config_from_args(
        _parse(["--out", "x", "--dni-input-projection", "on"])).dni_project_inputs
    assert molap_cli.config_from_args(_parse(["--out", "x", "--dni-gain", "0.9"])).dni_gain == 0.9
    with pytest.raises(SystemExit, match="--dni-gain must be > 0; received -1.0"):
        molap_cli.config_from_args(_parse(["--out", "x", "--dni-gain", "-1"]))
    target = molap_cli.config_from_args(_parse(["--out", "x", "--dni-stop-at", "0.95",
                                                "--dni-check-every", "250"]))
    assert (target.dni_stop_at, target.dni_check_every) == (0.95, 250)
    assert pipeline.PipelineConfig(**target.to_dict()).dni_stop_at == 0.95
    with pytest.raises(ValueError, match="dni_stop_at=0.9 with dni_method='joint'"):
        pipeline.PipelineConfig(dni_stop_at=0.9, dni_method="joint")
    for bad in (0, 1.5, -0.2, "high"):
        with pytest.raises(ValueError, match=f"received dni_stop_at={bad!r}"):
            pipeline.PipelineConfig(dni_stop_at=bad)
    with pytest.raises(SystemExit):
        _parse(["--out", "x", "--dni-stop-at", "95"])
    assert config.test_trials == 2000 and config.pretrain.learning_rate == 5e-3
    assert config.pretrain.wiring == "reference" and config.pretrain.stage_factor == 1.0
    defaults = molap_cli.config_from_args(_parse(["--out", "x"]))
    assert defaults.pretrain == tr.PretrainConfig() and defaults.heads.per_task_initial_state
    module = molap_cli.config_from_args(_parse(["--out", "x", "--wiring", "module",
                                                "--no-initial-state"]))
    assert module.pretrain.wiring == "module" and not module.heads.per_task_initial_state
    reference = molap_cli.config_from_args(_parse(["--out", "x", "--budget", "reference"]))
    assert reference.heads == tr.HeadConfig.reference()
    assert (reference.separate.total_iterations, reference.separate.batch_size,
            reference.separate.learning_rate, reference.separate_units) == (4500, 500, 3e-3, 200)
    assert (reference.dni.total_iterations, reference.dni.batch_size,
            reference.dni.learning_rate, reference.dni_units) == (3600, 400, 1e-3, 200)
    assert reference.dni.restarts == 0 and reference.dni_stop_at is None
    assert config.trials == "code"
    assert config.gain == 1.5
    assert molap_cli.config_from_args(_parse(["--out", "x", "--gain", "1.2"])).gain == 1.2
    assert config.pretrain.rescale == "minmax"
    centered = molap_cli.config_from_args(_parse(["--out", "x", "--primitive-scale", "centered"]))
    assert centered.pretrain.rescale == "centered"
    assert config.heads.input_bias and config.heads.solve_readout and config.dni.input_bias
    paper = molap_cli.config_from_args(_parse(["--out", "x", "--no-input-bias",
                                               "--no-solve-readout"]))
    for heads in (paper.heads, paper.separate, paper.dni):
        assert not heads.input_bias and not heads.solve_readout
    with pytest.raises(ValueError, match="dni_method='magic'"):
        pipeline.PipelineConfig(dni_method="magic")
    with pytest.raises(ValueError, match="approach"):
        pipeline.PipelineConfig(approaches=("magic",))
    with pytest.raises(ValueError, match="gain=0"):
        pipeline.PipelineConfig(gain=0)


def test_cli_writes_a_run_directory(tmp_path, capsys):
    args = _parse(["--out", str(tmp_path / "run"), "--task-module", FAKE, "--quick",
                   "--approaches", "molap", "separate", "--tasks", "delay_pro", "mem_dm1",
                   "--pretrain-iterations", "30", "--head-iterations", "30",
                   "--baseline-iterations", "20"])
    assert args.func(args) == 0
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    assert set(results["accuracy"]) == {"molap", "separate"}
    assert set(results["accuracy"]["molap"]) == {"delay_pro", "mem_dm1"}
    assert (run / "accuracy.png").exists() and (run / "table1.md").exists()
    assert (run / "models" / "molap.keras").exists()
    assert "decisions correct" in capsys.readouterr().out


def _chance(tasks, names, trials=300):
    """Accuracy of the best stimulus-blind answer: the mean target of each task."""
    out = {}
    for name, task in zip(names, tasks):
        batch = task.generate(trials, seed=99)
        guess = np.broadcast_to(batch.targets.mean(axis=0, keepdims=True), batch.targets.shape)
        out[name] = float(np.mean(task.correct(guess, batch)))
    return out


@pytest.mark.slow
def test_full_pipeline_meets_the_paper_bar_on_every_task():
    """The default MoLaP run (paper sizes, code trials, seed 0): >= 70 % on each of the
    nine tasks (about 10-15 minutes on 2 cores). Seed 0's random core is a good draw:
    seeds 1-4 miss the bar (experiments/RESULTS_molap.md, "Over seeds")."""
    config = pipeline.PipelineConfig(approaches=("molap",), test_trials=500)
    results = pipeline.run_pipeline(config)
    for name in pipeline.MOLAP_TASK_NAMES:
        assert results["accuracy"]["molap"][name] >= 0.7, (name, results["accuracy"]["molap"])


def test_small_configuration_beats_chance_on_every_task():
    """Short pre-training and 400 head iterations of 32 trials per task: the pro/anti tasks
    are learned, and the decision tasks end above the best stimulus-blind answer on
    average (at this size some of them stay at it: a smoke test of the whole path, not a
    reproduction)."""
    names = list(pipeline.MOLAP_TASK_NAMES)
    tasks = pipeline.load_tasks(names)
    pre = tr.pretrain_modules(tasks, config=tr.PretrainConfig.fast(30, corpus_trials=200))
    heads = tr.train_heads(pre.recurrent_kernel, tasks, names,
                           config=tr.HeadConfig(iterations=200, stages=2, batch_size=32))
    accuracy = tr.evaluate(heads.model, tasks, heads.layout, n_trials=300)
    chance = _chance(tasks, names)
    margins = {name: accuracy[name] - chance[name] for name in names}
    # measured margins over chance at seed 0: with the seeds of offsets (be746ef) 0.56-0.58
    # (Delay/Mem Pro/Anti), 0.28-0.40 (Mem DM, Context Mem DM), 0.03 (Multi Mem); with the
    # ctxrnn.seeding streams 0.54-0.58, 0.04 / 0.42 / 0.04 / 0.20, 0.00.
    assert min(margins[name] for name in names[:4]) > 0.4, margins
    assert np.mean([margins[name] for name in names[4:8]]) > 0.1, margins
    assert min(margins.values()) > -0.02, margins


def test_trial_layouts():
    from ctxrnn.molap.pipeline import PipelineConfig, load_tasks

    code = load_tasks(["mem_pro", "mem_anti", "delay_pro"], "ctxrnn.tasks", "code")
    text = load_tasks(["mem_pro"], "ctxrnn.tasks", "text")
    assert [t.memory_delay for t in code[:2]] == [False, False] and text[0].memory_delay
    batch = code[0].generate(8, seed=0)
    # the stimulus stays on until the response epoch (the reference code's Mem Pro)
    assert np.all(np.abs(batch.inputs[:, 35:85, 1:]).sum(axis=-1) > 0.5)
    with pytest.raises(ValueError, match="trials"):
        PipelineConfig(trials="paper")


def test_workers_run_the_same_jobs_in_processes(tmp_path):
    from ctxrnn.molap import baselines

    tasks = make_all()[:2]
    config = pipeline.PipelineConfig(
        tasks=NAMES[:2], approaches=("molap", "separate"), test_trials=100,
        pretrain=tr.PretrainConfig.fast(5, corpus_trials=50),
        heads=tr.HeadConfig.fast(5, batch_size=20),
        separate=baselines.separate_config(iterations=5, stages=1, batch_size=20))
    alone = pipeline.run_pipeline(config, tasks=tasks)
    pooled = pipeline.run_pipeline(config, tmp_path / "run", tasks=tasks, workers=2)
    assert pooled["workers"] == 2 and set(pooled["models"]) == set(alone["models"])
    for approach, values in alone["accuracy"].items():
        for name, value in values.items():
            # same seeds; only the thread count (float rounding) differs
            assert pooled["accuracy"][approach][name] == pytest.approx(value, abs=0.03)
    assert (tmp_path / "run" / "models" / "separate_delay_pro.keras").exists()
    # every separate job's trainings (restarts) reach the results, also from the workers
    assert set(pooled["separate_attempts"]) == set(NAMES[:2])
    assert pooled["separate_attempts"] == alone["separate_attempts"]
    with pytest.raises(ValueError, match="workers=0"):
        pipeline.run_pipeline(config, tasks=tasks, workers=0)


def test_auto_workers_one_per_core_unless_the_tasks_cannot_travel(monkeypatch):
    config = pipeline.PipelineConfig(tasks=NAMES[:2], approaches=("molap", "separate"))
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 16)
    assert pipeline.resolve_workers("auto", config, make_all()[:2]) == 3  # three jobs
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 2)
    assert pipeline.resolve_workers("auto", config, make_all()[:2]) == 2
    # a task class from a .py file loaded by path does not pickle: stay in this process
    by_path = pipeline.load_tasks(NAMES[:2], FAKE)
    assert pipeline.resolve_workers("auto", config, by_path) == 1
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 1)
    assert pipeline.resolve_workers("auto", config, make_all()[:2]) == 1
    assert pipeline.resolve_workers(3, config, by_path) == 3
    for bad in (0, -1, True, "two", 1.5):
        with pytest.raises(ValueError, match="workers="):
            pipeline.resolve_workers(bad, config, by_path)
    assert _parse(["--out", "x"]).workers == "auto"
    assert _parse(["--out", "x", "--workers", "2"]).workers == 2
    with pytest.raises(SystemExit):
        _parse(["--out", "x", "--workers", "0"])


def test_seeds_write_molap_seeds_json(tmp_path, capsys):
    args = _parse(["--out", str(tmp_path / "study"), "--task-module", FAKE, "--quick",
                   "--approaches", "molap", "no_pretraining", "--tasks", "delay_pro", "mem_dm1",
                   "--pretrain-iterations", "20", "--head-iterations", "20", "--test-trials", "50",
                   "--workers", "1", "--seeds", "3", "4", "3", "--robustness",
                   "--robustness-draws", "2", "--robustness-trials", "8"])
    assert args.func(args) == 0
    study = tmp_path / "study"
    data = json.loads((study / "molap_seeds.json").read_text())
    assert data["seeds"] == [3, 4]
    assert set(data["approaches"]) == {"molap", "no_pretraining"}
    for approach in data["approaches"].values():
        assert approach["seeds"] == [3, 4]
        assert set(approach["per_task"]) == {"delay_pro", "mem_dm1"}
        assert all(len(v) == 2 and all(0 <= x <= 1 for x in v)
                   for v in approach["per_task"].values())
    per_seed = json.loads((study / "seed4" / "results.json").read_text())["accuracy"]
    assert data["approaches"]["molap"]["per_task"]["mem_dm1"][1] == per_seed["molap"]["mem_dm1"]
    assert (study / "accuracy_seeds.png").exists() and (study / "seeds.md").exists()
    assert "seed 4 (2/2)" in capsys.readouterr().out
    # robustness over the two seeds: rows per seed, a drop of zero at level 0, resumable
    robust = study / "robustness"
    summary = json.loads((robust / "summary.json").read_text())
    assert {"global/molap", "global/no_pretraining", "module1/molap"} <= set(summary)
    level0 = summary["noise/molap"]["levels"]["0.0"]
    assert level0["seeds"] == 2 and 0 <= level0["worst"] <= level0["mean"] <= 1
    assert set(summary["noise/molap"]["drop_per_seed"]) == {"3", "4"}
    assert "vs no_pretraining" in (robust / "robustness.md").read_text()
    assert (robust / "global.png").exists()
    written = (robust / "rows_seed3_molap-no_pretraining.json").stat().st_mtime_ns
    assert args.func(args) == 0  # everything finished: nothing is trained or perturbed again
    assert (robust / "rows_seed3_molap-no_pretraining.json").stat().st_mtime_ns == written
    assert "not evaluated again" in capsys.readouterr().out
    from ctxrnn.molap import robustness

    with pytest.raises(ValueError, match="was made with"):  # other settings: refused
        robustness.evaluate_runs(robust, [study / "seed3"], draws=3, trials=8)
    with pytest.raises(SystemExit, match="--robustness needs --seeds"):
        molap_cli.run(_parse(["--out", str(tmp_path / "x"), "--robustness"]))


def test_the_dni_approach_is_projected_continual_learning(tmp_path):
    """The pipeline's `dni` runs Duncker et al.'s sequential, projected training
    (per-task iterations, task losses after each task) unless `dni_method="joint"`."""
    from ctxrnn.molap import baselines

    tasks = make_all()[:2]
    schedule = {"iterations": 4, "stages": 1, "batch_size": 8}
    common = {"tasks": NAMES[:2], "approaches": ("dni",), "test_trials": 20, "dni_units": 16}
    projected = pipeline.run_pipeline(pipeline.PipelineConfig(
        dni=baselines.dni_projected_config(**schedule, restarts=0), **common), tmp_path / "p",
        tasks=tasks)
    losses = np.array(projected["dni_task_losses"], dtype=float)
    assert losses.shape == (2, 2) and np.isnan(losses[0, 1]) and np.isfinite(losses[1]).all()
    assert projected["dni_iterations"] == dict.fromkeys(NAMES[:2], 4)
    assert "dni_attempts" not in projected  # no restarts asked for
    free = projected["dni_free_directions"]
    assert list(free) == list(NAMES[:2]) and 16 > free[NAMES[0]] > free[NAMES[1]] > 0
    joint = pipeline.run_pipeline(pipeline.PipelineConfig(
        dni=baselines.dni_config(2, **schedule), dni_method="joint", **common), tmp_path / "j",
        tasks=tasks)
    assert "dni_task_losses" not in joint
    # sequential training updates the core once per task's step: twice the joint count
    assert projected["counts"]["dni"]["updates"] > joint["counts"]["dni"]["updates"]


# ----------------------------------------------------------- a shipped core
def test_heads_for_a_new_task_on_the_shipped_core_leave_it_frozen(tmp_path, capsys):
    from ctxrnn import zoo
    from ctxrnn.molap import network

    shipped = network.core_weights(zoo.load("molap_core", compile=False)[0])
    args = _parse(["--out", str(tmp_path / "run"), "--core", "molap_core", "--tasks",
                   "delay_pro", "--approaches", "molap", "--quick", "--workers", "1"])
    assert args.func(args) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["core"]["name"] == "molap_core" and "primitives" not in results
    assert results["core"]["sha256"] == zoo.model_card("molap_core")["sha256"]
    assert set(results["accuracy"]["molap"]) == {"delay_pro"}
    model = keras.saving.load_model(tmp_path / "run" / "models" / "molap.keras")
    kernel, bias = network.core_weights(model)
    np.testing.assert_array_equal(kernel, shipped[0])
    np.testing.assert_array_equal(bias, shipped[1])


@pytest.mark.parametrize("options, error, words", [
    ({"core": "molap_core", "approaches": ("molap", "pca")}, ValueError, "'pca' approach"),
    ({"core": "jarne_context4", "approaches": ("molap",)}, ValueError, "kind 'molap'"),
    ({"core": "molap_core", "approaches": ("molap",), "units": 64}, ValueError, "100 units"),
    ({"core": "no_such_core", "approaches": ("molap",)}, FileNotFoundError, "no_such_core"),
])
def test_a_bad_core_is_refused_before_anything_is_written(tmp_path, options, error, words):
    with pytest.raises(error, match=words):
        pipeline.run_pipeline(pipeline.PipelineConfig(tasks=("delay_pro",), **options),
                              tmp_path / "run")
    assert not (tmp_path / "run").exists()
