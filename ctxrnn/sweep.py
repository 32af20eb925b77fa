"""Sweeps: a study as a grid of pure run specs, run by a process pool, Ray or Dask.

A sweep spec (TOML, or YAML when `pyyaml` is installed) names one or more
*jobs*; each job has a kind (`JOB_KINDS`: `train`, `molap`, `transfer`,
`analyze`), a `base` table of settings shared by its runs and a `grid` table
whose every key lists values: the job's runs are the product of the grid's
axes (seeds × hyper-parameters × tasks). A grid value that is a table is a
bundle of settings that vary together (a model with its new task, say).
Dotted keys reach into nested settings (`"pretrain.iterations"` of a MoLaP run).

```toml
name = "jarne_units"

[[jobs]]
name = "units"
kind = "train"
base = { epochs = 30 }
grid.units = [4, 8, 16]
grid.tasks = [["and"], ["and", "or", "xor", "not", "time_reproduction"]]
grid.seed = [0, 1, 2]

[summary]
metrics = ["accuracy"]
```

A single job may also be written at the top level (`kind`, `base`, `grid`).

**Stacks.** A `train` job with `stack = K` trains its runs that differ only in
their seed K at a time as one stacked network (`ctxrnn.StackedModel`, one `fit`
in one worker; `ctxrnn.stacked_training`), each still written to its own run
directory. Network k starts as `train_run` would start it and sees the same
trials and noise, so a stacked run ends where the run trained alone does up to
float32 rounding (batched matmuls round differently), not bit for bit: it is
its own configuration, its settings gain `stack` (the seeds of its stack) and
its key differs. A stack is a unit of work: it runs, reruns and shards whole.

Each run's settings are resolved against the kind's defaults (so a mistyped
setting, a string for a number, an unknown task fails before anything runs)
and hashed: the run lives in `OUT/runs/<hash>/`, which makes a run a pure
function of its spec. Settings that name a file the run reads
(`PATH_SETTINGS`) are resolved where the spec is expanded, and the file's
sha256 joins the hash (a model replaced at the same path is a new run). A run is
finished when its `result.json` is written (last, atomically); rerunning a
sweep skips finished runs and resumes unfinished training runs from their
last epoch (a stack from its first), so a killed sweep finishes only what is
missing, with the same numbers. After the runs, `OUT/results.csv` and
`OUT/results.json` hold one row per run (its grid values and metrics),
`OUT/summary.json` the mean, standard deviation and count over seeds, and
`OUT/figures/<job>.png` the metrics against the first grid axis with the seed
spread as error bars.

Engines: `"pool"` (default) starts one process per core (forked from a process that
has not started TensorFlow's runtime, else spawned), each with one
TensorFlow intra-op and one inter-op thread, and keeps each process to runs of one
network shape where it can (`AffinityQueue`); `"ray"` runs every run as a Ray
Tune trial (`pip install "ctxrnn[ray]"`); `"dask"` maps the runs over a Dask
cluster (`pip install "ctxrnn[dask]"`, `dask_jobqueue` for SLURM/PBS).

Example:

```python
from ctxrnn import sweep

spec = sweep.load_spec("experiments/sweeps/jarne_units.toml")
summary = sweep.run_sweep(spec, "runs/jarne_units", workers=2)
summary["table"][0]["accuracy"]
```
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import inspect
import io as _text_io
import itertools
import json
import os
import pathlib
import shutil
import sys
import time
import tomllib
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from ctxrnn import io
from ctxrnn._startup import quiet_fork_warning, usable_cores, worker_start_method
from ctxrnn.checks import positive_int
from ctxrnn.runs import FIGURES_DIR  # one name for the figures folder of every output

SPEC_FILE = "spec.json"
RESULT_FILE = "result.json"
RUNS_DIR = "runs"
TABLE_CSV = "results.csv"
TABLE_JSON = "results.json"
SUMMARY_FILE = "summary.json"
ENGINES = ("pool", "ray", "dask")
# The options (`run_sweep`'s **engine_options) each engine takes.
ENGINE_OPTIONS = {"pool": (), "ray": ("address", "storage", "asha", "max_failures"),
                  "dask": ("address", "cluster", "cluster_options")}
# Hex digits of the spec hash that name a run directory.
KEY_LENGTH = 16
# Grid axis that holds repetitions: the summary averages over it.
SEED_AXIS = "seed"
# The setting that lists the seeds a run was trained with, stacked (`Job.stack`).
STACK_KEY = "stack"
# Job kinds whose runs can train stacked.
STACKABLE_KINDS = ("train",)
# Settings that may name a file or run directory the run reads, per job kind.
PATH_SETTINGS = {"transfer": ("model",), "analyze": ("target",), "molap": ("core",)}
# What of a run directory a run reads (`ctxrnn.training.load_run`).
_RUN_INPUTS = ("config.json", "model.keras")
# Table columns that describe a run rather than a setting or a metric.
_RUN_COLUMNS = ("job", "run", "status")


# Job kinds -------------------------------------------------------------------
def _set_nested(target: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ValueError(f"Setting {dotted!r} reaches into {part!r}, which is not a table.")
    # A copy: a table shared with the job's `base` would take later runs' grid values.
    target[last] = copy.deepcopy(value)


def _unknown(kind: str, settings: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ValueError(f"Unknown setting(s) {unknown} for a {kind!r} run; expected some of "
                         f"{sorted(known)}.")


def _typed_as_defaults(kind: str, settings: Mapping[str, Any], defaults: Mapping[str, Any],
                       nullable: Collection[str] = ()) -> dict:
    """`settings` checked against the type of their defaults: a number where the default
    is one (a float default turns an integer into a float, so `1` and `1.0` are the same
    run), true/false where it is a bool; `None` for the names in `nullable` (declared
    `... | None`). Raises `ValueError` naming the setting."""
    typed = dict(settings)
    for name, value in settings.items():
        default = defaults.get(name)
        if value is None and name in nullable:
            continue
        if isinstance(default, bool):
            expected, ok = "true or false", isinstance(value, bool)
        elif isinstance(default, (int, float)):
            expected = "a number" if isinstance(default, float) else "an integer"
            ok = not isinstance(value, bool) and isinstance(
                value, (int, float) if isinstance(default, float) else int)
            if ok and isinstance(default, float):
                typed[name] = float(value)
        else:
            continue
        if not ok:
            raise ValueError(f"Setting `{name}` of a {kind!r} run must be {expected}; received "
                             f"{name}={value!r}.")
    return typed


def _dataclass_defaults(cls) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING}


def _nullable(annotations: Mapping[str, Any]) -> set[str]:
    """The names whose (string) annotation admits `None`."""
    return {name for name, annotation in annotations.items() if "None" in str(annotation)}


def _dataclass_nullable(cls) -> set[str]:
    return _nullable({f.name: f.type for f in dataclasses.fields(cls)})


def _signature_nullable(function) -> set[str]:
    parameters = inspect.signature(function).parameters
    return _nullable({name: p.annotation for name, p in parameters.items()})


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists and None are kept as they are."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class _TrainJob:
    """`ctxrnn.training.train_run` of a `TrainConfig` (every field a setting) plus
    `report` (write report.html; default false)."""

    options = {"report": False}

    def resolve(self, settings):
        from ctxrnn import tasks
        from ctxrnn.training import TrainConfig

        names = [f.name for f in dataclasses.fields(TrainConfig)]
        _unknown("train", settings, [*names, *self.options])
        config = TrainConfig(**{k: v for k, v in settings.items() if k in names})
        for task in config.tasks:
            tasks.get_class(task)  # an unknown name fails here, listing the valid ones
        options = {k: settings.get(k, v) for k, v in self.options.items()}
        return {**dataclasses.asdict(config), **options}

    def run(self, config, run_dir, callbacks=()):
        from ctxrnn.runs import RunDirectory, is_run_directory
        from ctxrnn.training import TrainConfig, train_run

        if config.get(STACK_KEY):
            raise ValueError(f"Run {run_dir} is one of a stack (seeds {config[STACK_KEY]}): run "
                             "its stack with `run_unit`, not alone.")
        train = TrainConfig.from_dict(config)
        started = is_run_directory(run_dir)
        if started and RunDirectory(run_dir).is_complete:  # killed after training, before
            run = RunDirectory(run_dir)                    # its result was written
        else:
            # A run killed midway resumes from its last epoch: the weights it would have had.
            run = train_run(run_dir, train, verbose=0, report=config["report"], resume=started,
                            overwrite=not started, callbacks=callbacks)
        return self.metrics(run)

    @staticmethod
    def metrics(run):
        """The result metrics of a complete training run directory."""
        evaluation = run.load_evaluation()
        final = [r for r in run.load_statistics() if r["weight"] == "recurrent_kernel"][-1]
        pruning = run.load_pruning()
        history = run.load_history()
        return {
            "accuracy": evaluation["accuracy"],
            "min_accuracy": min(evaluation["per_task_accuracy"].values()),
            "per_task_accuracy": evaluation["per_task_accuracy"],
            "final_loss": history["loss"][-1],
            "recurrent": {k: final[k] for k in ("mean", "std", "skewness", "kurtosis",
                                                 "spectral_radius", "n_outside_unit_circle")},
            "pruning_knee": pruning.get("knee", {}).get("fraction"),
        }


class _MolapJob:
    """`ctxrnn.molap.pipeline.run_pipeline` of a `PipelineConfig`; nested configs
    (`pretrain`, `heads`, `separate`, `dni`) take tables of their fields."""

    nested = ("pretrain", "heads", "separate", "dni")

    def resolve(self, settings):
        from ctxrnn.molap.pipeline import PipelineConfig

        names = [f.name for f in dataclasses.fields(PipelineConfig)]
        _unknown("molap", settings, names)
        top = _typed_as_defaults("molap", {k: v for k, v in settings.items()
                                           if k not in self.nested},
                                 _dataclass_defaults(PipelineConfig),
                                 _dataclass_nullable(PipelineConfig))
        config = PipelineConfig(**top)
        for name in self.nested:
            if name in settings:
                given = settings[name]
                if not isinstance(given, Mapping):
                    raise ValueError(f"Setting {name!r} of a 'molap' run must be a table of "
                                     f"fields; received {given!r}.")
                default = getattr(config, name)
                _unknown(f"molap {name}", given, [f.name for f in dataclasses.fields(default)])
                given = _typed_as_defaults(f"molap {name}", given, dataclasses.asdict(default),
                                           _dataclass_nullable(type(default)))
                setattr(config, name, dataclasses.replace(default, **given))
        return json.loads(json.dumps(config.to_dict()))

    def run(self, config, run_dir, callbacks=()):
        from ctxrnn.molap.pipeline import PipelineConfig, run_pipeline

        results = run_pipeline(PipelineConfig(**config), run_dir, workers=1)
        accuracy = results["accuracy"]
        return {"accuracy": accuracy,
                "mean_accuracy": {a: float(np.mean(list(v.values()))) for a, v in accuracy.items()},
                "ratios": results["ratios"]}


class _TransferJob:
    """A new task learned on a saved model's frozen core (`condition = "frozen_core"`,
    `ctxrnn.transfer_task`) or by a fresh network of the same size trained on it alone
    (`"scratch"`); `model` is a shipped name or a `.keras` path, `task` the new task;
    the other settings are `transfer_task`'s arguments."""

    conditions = ("frozen_core", "scratch")

    def _defaults(self):
        from ctxrnn.transfer import transfer_task

        return {name: p.default for name, p in inspect.signature(transfer_task).parameters.items()
                if p.kind is p.KEYWORD_ONLY and name != "verbose"}

    def resolve(self, settings):
        defaults = self._defaults()
        _unknown("transfer", settings, ["model", "task", "condition", *defaults])
        for name in ("model", "task"):
            if not isinstance(settings.get(name), str):
                raise ValueError(f"A 'transfer' run needs setting `{name}` (a string); received "
                                 f"{name}={settings.get(name)!r}.")
        condition = settings.get("condition", "frozen_core")
        if condition not in self.conditions:
            raise ValueError(f"Setting `condition` of a 'transfer' run must be one of "
                             f"{self.conditions}; received condition={condition!r}.")
        from ctxrnn.transfer import transfer_task

        settings = _typed_as_defaults("transfer", settings, defaults,
                                      _signature_nullable(transfer_task))
        return {"model": settings["model"], "task": settings["task"], "condition": condition,
                **{k: settings.get(k, v) for k, v in defaults.items()}}

    def run(self, config, run_dir, callbacks=()):
        from ctxrnn import seeding, tasks, zoo
        from ctxrnn import transfer as tr
        from ctxrnn.models import context_multitask

        model, card = zoo.load(config["model"])
        suite = zoo.suite_from_card(card)
        options = {k: config[k] for k in self._defaults()}
        if config["condition"] == "frozen_core":
            result = tr.transfer_task(model, config["task"], suite, **options)
            result.model.save(pathlib.Path(run_dir) / "model.keras")
            return {"accuracy": result.accuracy, "epochs_to_criterion": result.epochs_to_criterion,
                    "plastic_parameters": result.trainable_parameters, "history": result.history}
        single = tasks.TaskSuite([tasks.make(config["task"], dt=suite.dt)], context=suite.context)
        cell = card["cell"]
        fresh = context_multitask(single, cell["units"], tau=cell["tau"], seed=options["seed"],
                                  input_noise=cell["input_noise"])
        fit = {k: options[k] for k in ("epochs", "steps_per_epoch", "batch_size", "learning_rate",
                                       "criterion", "stop_at_criterion", "validation_trials",
                                       "seed")}
        history, reached = tr.fit_task(fresh, single, single, **fit)
        test = single.validation_data(options["test_trials"],
                                      seed=seeding.derive(options["seed"], "test"))
        fresh.save(pathlib.Path(run_dir) / "model.keras")
        return {"accuracy": tr.task_accuracy(fresh, single, single, test),
                "epochs_to_criterion": reached,
                "plastic_parameters": tr.plastic_parameter_count(fresh), "history": history}


class _AnalyzeJob:
    """`ctxrnn.analysis.dynamics.analyze` of `target` (a run directory, a shipped model
    name or a `.keras` path); the other settings are `analyze`'s arguments."""

    def _defaults(self):
        from ctxrnn.analysis.dynamics import analyze

        return {name: p.default for name, p in inspect.signature(analyze).parameters.items()
                if p.default is not p.empty and name != "progress"}

    def resolve(self, settings):
        defaults = self._defaults()
        _unknown("analyze", settings, ["target", *defaults])
        if not isinstance(settings.get("target"), str):
            raise ValueError("An 'analyze' run needs setting `target` (a run directory, a "
                             f"shipped model name or a .keras path); received "
                             f"target={settings.get('target')!r}.")
        from ctxrnn.analysis.dynamics import analyze

        settings = _typed_as_defaults("analyze", settings, defaults, _signature_nullable(analyze))
        return {"target": settings["target"], **{k: settings.get(k, v)
                                                 for k, v in defaults.items()}}

    def run(self, config, run_dir, callbacks=()):
        from ctxrnn.analysis import dynamics

        model, suite = dynamics.load_target(config["target"])
        options = {k: v for k, v in config.items() if k != "target"}
        summary = dynamics.analyze(model, suite, run_dir, progress=False, **options)
        metrics = {}
        for name, context in summary["contexts"].items():
            counts = context["fixed_points"]["summary"]
            metrics[name] = {"regime": context["regime"]["regime"],
                             "period_ms": context["regime"]["period_ms"],
                             "n_stable": counts["n_stable"], "n_saddle": counts["n_saddle"]}
        return metrics


#: What a job's `kind` may be: kind -> the object that resolves and runs its runs.
JOB_KINDS = {"train": _TrainJob(), "molap": _MolapJob(), "transfer": _TransferJob(),
             "analyze": _AnalyzeJob()}


# Specs -----------------------------------------------------------------------
# Settings that change no number of a run, hashed at one fixed value: turning `report`
# on for a finished sweep writes the missing reports instead of training it again.
_UNKEYED = {"train": {"report": False}}


def spec_key(kind: str, config: Mapping[str, Any]) -> str:
    """The hash naming a run: sha256 of its kind and resolved settings as canonical JSON
    (a setting that changes no number, such as `report`, at a fixed value).

    Args:
        kind: the job kind.
        config: the run's resolved settings (JSON types).

    Returns:
        The first `KEY_LENGTH` hex digits.
    """
    config = {**config, **{k: v for k, v in _UNKEYED.get(kind, {}).items() if k in config}}
    text = json.dumps({"kind": kind, "config": config}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def _label(value: Any) -> Any:
    """A grid value as a table cell: lists joined by "+", bundles as "k=v,k=v"."""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={_label(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "+".join(str(_label(v)) for v in value)
    return value


@dataclasses.dataclass
class Job:
    """One job of a sweep: a kind, shared settings and a grid of varying ones.

    Args:
        name: the job's name (a column of the results table).
        kind: a key of `JOB_KINDS`.
        base: settings shared by every run (dotted keys allowed).
        grid: axis -> list of values; a value that is a table is a bundle of
            settings (its keys) that vary together.
    """

    name: str
    kind: str
    base: dict = dataclasses.field(default_factory=dict)
    grid: dict = dataclasses.field(default_factory=dict)
    stack: int = 1

    def __post_init__(self):
        if self.kind not in JOB_KINDS:
            raise ValueError(f"Job {self.name!r}: `kind` must be one of {sorted(JOB_KINDS)}; "
                             f"received kind={self.kind!r}.")
        if isinstance(self.stack, bool) or not isinstance(self.stack, int) or self.stack < 1:
            raise ValueError(f"Job {self.name!r}: `stack` must be a positive integer (networks "
                             f"trained in one stack); received stack={self.stack!r}.")
        if self.stack > 1 and self.kind not in STACKABLE_KINDS:
            raise ValueError(f"Job {self.name!r}: only {list(STACKABLE_KINDS)} jobs stack; "
                             f"received stack={self.stack} for a {self.kind!r} job.")
        for label, table in (("base", self.base), ("grid", self.grid)):
            if not isinstance(table, Mapping):
                raise ValueError(f"Job {self.name!r}: `{label}` must be a table; received "
                                 f"{table!r}.")
        for axis, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"Job {self.name!r}: grid axis {axis!r} must be a non-empty "
                                 f"list of values; received {values!r}.")

    def runs(self) -> list[dict]:
        """The job's runs in grid order: dicts with `job`, `kind`, `point` (axis -> table
        cell), `config` (resolved settings) and `key`."""
        axes = list(self.grid)
        runs = []
        for values in itertools.product(*(self.grid[axis] for axis in axes)):
            settings: dict = {}
            for dotted, value in self.base.items():
                _set_nested(settings, dotted, value)
            for axis, value in zip(axes, values):
                for dotted, item in (value.items() if isinstance(value, Mapping)
                                     else [(axis, value)]):
                    _set_nested(settings, dotted, item)
            point = dict(zip(axes, map(_label, values)))
            try:
                config = JOB_KINDS[self.kind].resolve(settings)
            except (TypeError, ValueError) as error:
                raise ValueError(f"Job {self.name!r}, run {point}: {error}") from error
            inputs = _inputs(self.kind, config)
            keyed = {**config, "input_digests": {name: found["digest"]
                                                 for name, found in inputs.items()}}
            runs.append({"job": self.name, "kind": self.kind, "point": point, "config": config,
                         "key": spec_key(self.kind, keyed if inputs else config),
                         **({"inputs": inputs} if inputs else {})})
        return _stacked(runs, self.stack) if self.stack > 1 else runs


def _inputs(kind: str, config: Mapping[str, Any]) -> dict[str, dict]:
    """The files a run reads through its path settings (`PATH_SETTINGS`) that name an
    existing saved model or run directory (a shipped model's name is not one, as
    `ctxrnn.zoo.resolve` reads it): `{setting: {"path", "digest"}}`, the path made
    absolute where the spec is expanded (a worker elsewhere, a Ray trial in its own
    folder, reads the same file) and a sha256 over what it reads (a saved model's
    .keras archive and .json card; a run directory's config.json and model.keras).
    The digest, not the path, goes into the run's key: a model replaced at the same
    path is a new run, and a sweep moved to another folder keeps its keys."""
    from ctxrnn import zoo
    from ctxrnn.runs import is_run_directory

    found = {}
    for name in PATH_SETTINGS.get(kind, ()):
        value = config.get(name)
        if not isinstance(value, str) or not value:
            continue
        if kind == "analyze" and is_run_directory(value):
            path = pathlib.Path(value).resolve()
            files = [path / part for part in _RUN_INPUTS if (path / part).is_file()]
        elif zoo.is_shipped_name(value):
            continue
        else:
            try:
                files = list(zoo.resolve(value))
            except (FileNotFoundError, ValueError):  # the run reports it when it starts
                continue
            path = pathlib.Path(value).resolve()
        digest = hashlib.sha256()
        for file in files:
            digest.update(f"{file.name}:{zoo.file_sha256(file)}".encode())
        found[name] = {"path": str(path), "digest": digest.hexdigest()}
    return found


def _run_config(run: Mapping[str, Any]) -> dict:
    """The settings a run runs with: its path settings replaced by the absolute paths
    found when the spec was expanded (`_inputs`)."""
    return {**run["config"], **{name: found["path"]
                                for name, found in run.get("inputs", {}).items()}}


def _stacked(runs: list[dict], size: int) -> list[dict]:
    """`runs` with those that differ only in their seed grouped, in grid order, into
    stacks of at most `size`: each member's config gets `stack` (the seeds of its
    stack, so its key says how it was trained) and the run a `stack` id. A group
    of one stays an ordinary run. Raises `ValueError` for runs that cannot stack."""
    from ctxrnn.stacked_training import check_stackable
    from ctxrnn.training import TrainConfig

    groups: dict[str, list[int]] = {}
    for index, run in enumerate(runs):
        groups.setdefault(affinity_key(run), []).append(index)
    runs = [dict(run) for run in runs]
    for indices in groups.values():
        for start in range(0, len(indices), size):
            members = indices[start:start + size]
            if len(members) < 2:
                continue
            seeds = [runs[i]["config"]["seed"] for i in members]
            try:
                check_stackable([TrainConfig.from_dict(runs[i]["config"]) for i in members])
            except ValueError as error:
                raise ValueError(f"Job {runs[members[0]]['job']!r}, runs "
                                 f"{[runs[i]['point'] for i in members]}: {error}") from error
            for i in members:
                config = {**runs[i]["config"], STACK_KEY: seeds}
                runs[i].update(config=config, key=spec_key(runs[i]["kind"], config))
            stack = spec_key("stack", {"members": [runs[i]["key"] for i in members]})
            for i in members:
                runs[i]["stack"] = stack
    return runs


def units(pending: Sequence[Mapping[str, Any]],
          runs: Sequence[Mapping[str, Any]]) -> list[list[dict]]:
    """The work of a sweep: one unit per pending ordinary run, and one per stack with a
    pending member (holding all its members, in order: a stack trains together).

    Args:
        pending: the runs to do.
        runs: every run of the sweep (where a stack's finished members are found).

    Returns:
        A list of units, each a list of runs.
    """
    members: dict[str, list] = {}
    for run in runs:
        if run.get("stack"):
            members.setdefault(run["stack"], []).append(run)
    work, seen = [], set()
    for run in pending:
        stack = run.get("stack")
        if not stack:
            work.append([run])
        elif stack not in seen:
            seen.add(stack)
            work.append(list(members.get(stack, [run])))
    return work


@dataclasses.dataclass
class SweepSpec:
    """A sweep: named jobs and what to summarise.

    Args:
        name: the sweep's name.
        jobs: the `Job`s.
        metrics: metrics drawn in the summary figures (dotted names of the
            flattened run metrics); default: `accuracy` where runs have it.
        source: the file the spec came from, if any.
    """

    name: str
    jobs: list
    metrics: list = dataclasses.field(default_factory=list)
    source: str | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], *, name: str = "sweep",
                  source: str | None = None) -> "SweepSpec":
        """Builds a spec from its parsed file (see the module docstring for the format)."""
        known = {"name", "jobs", "kind", "base", "grid", "stack", "summary"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"Unknown top-level key(s) {unknown} in the sweep spec; "
                             f"expected some of {sorted(known)}.")
        name = spec.get("name", name)
        if "jobs" in spec and "kind" in spec:
            raise ValueError("A sweep spec gives either `jobs` or a single job's `kind` at the "
                             "top level; received both.")
        if "kind" in spec:
            entries = [{"name": name, **{k: spec[k] for k in ("kind", "base", "grid", "stack")
                                         if k in spec}}]
        else:
            entries = spec.get("jobs")
            if not isinstance(entries, list) or not entries:
                raise ValueError("A sweep spec needs `jobs` (a list of tables) or a top-level "
                                 f"`kind`; received jobs={entries!r}.")
        jobs = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ValueError(f"Job {index} of the sweep spec must be a table; received "
                                 f"{entry!r}.")
            extra = sorted(set(entry) - {"name", "kind", "base", "grid", "stack"})
            if extra:
                raise ValueError(f"Job {index} of the sweep spec has unknown key(s) {extra}; "
                                 "expected name, kind, base, grid, stack.")
            jobs.append(Job(name=str(entry.get("name", f"job{index}")),
                            kind=entry.get("kind"), base=dict(entry.get("base", {})),
                            grid=dict(entry.get("grid", {})), stack=entry.get("stack", 1)))
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"Job names must differ; received {names}.")
        summary = spec.get("summary", {})
        if not isinstance(summary, Mapping) or set(summary) - {"metrics"}:
            raise ValueError(f"`summary` must be a table with the one key `metrics`; received "
                             f"summary={summary!r}.")
        metrics = summary.get("metrics", [])
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise ValueError(f"`summary.metrics` must be a list of metric names; received "
                             f"{metrics!r}.")
        return cls(name=str(name), jobs=jobs, metrics=list(metrics), source=source)

    def runs(self) -> list[dict]:
        """Every run of every job, in order; raises `ValueError` if two runs are the same."""
        runs = [run for job in self.jobs for run in job.runs()]
        seen: dict[str, dict] = {}
        for run in runs:
            if run["key"] in seen:
                other = seen[run["key"]]
                raise ValueError(f"Two runs of the sweep have the same settings: job "
                                 f"{other['job']!r} {other['point']} and job {run['job']!r} "
                                 f"{run['point']}.")
            seen[run["key"]] = run
        return runs


def load_spec(path: io.PathLike) -> SweepSpec:
    """Reads a sweep spec from a `.toml` file (or `.yaml`/`.yml` with `pyyaml` installed).

    Args:
        path: the spec file.

    Returns:
        A `SweepSpec`, named after the file unless it gives a `name`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a malformed spec, an unknown setting or job kind.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Sweep spec {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            parsed = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"Sweep spec {str(path)!r} is not valid TOML: {error}") from error
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as error:
            raise ValueError(f"Sweep spec {str(path)!r} is YAML, which needs `pyyaml` "
                             "(`pip install pyyaml`); or write it as TOML.") from error
        parsed = yaml.safe_load(path.read_text(encoding="utf-8"))
    else:
        raise ValueError(f"Sweep spec {str(path)!r}: expected a .toml, .yaml or .yml file; "
                         f"received a {suffix or 'suffix-less'} file.")
    if not isinstance(parsed, dict):
        raise ValueError(f"Sweep spec {str(path)!r} must be a table at the top level.")
    return SweepSpec.from_dict(parsed, name=path.stem, source=str(path))


# Running one run -------------------------------------------------------------
def finished_result(out: io.PathLike, run: Mapping[str, Any]) -> dict | None:
    """The `result.json` of `run` under `out` if it finished with the same settings."""
    path = pathlib.Path(out) / RUNS_DIR / run["key"] / RESULT_FILE
    if not path.is_file():
        return None
    result = io.read_json(path)
    return result if result.get("key") == run["key"] else None


def run_one(run: Mapping[str, Any], out: io.PathLike, *, callbacks: Sequence = ()) -> dict:
    """Runs one run of a sweep into `out/runs/<key>/` and returns its result.

    A finished run (its `result.json` written) is not run again. The run
    directory gets `spec.json` first and `result.json` (`key`, `job`, `kind`,
    `point`, `metrics`, `seconds`) last.

    Args:
        run: an entry of `SweepSpec.runs()`.
        out: the sweep's output directory.
        callbacks: Keras callbacks passed to a `train` run.

    Returns:
        The result dict, with `"skipped": True` when it had finished before.
    """
    import keras

    done = finished_result(out, run)
    if done is not None:
        _write_missing_report(out, run)
        return {**done, "skipped": True}
    run_dir = _start_run_directory(out, run)
    keras.backend.clear_session()
    seed = run["config"].get("seed")
    if isinstance(seed, int):
        keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    metrics = JOB_KINDS[run["kind"]].run(_run_config(run), run_dir, callbacks=callbacks)
    return _write_result(run_dir, run, metrics, time.perf_counter() - start)


def _lacks_report(out: io.PathLike, run: Mapping[str, Any]) -> bool:
    """Whether `run` asks for a report (`report = true`, which its key does not hold)
    that its run directory does not have."""
    from ctxrnn.runs import REPORT_FILE

    return bool(run["config"].get("report")) and not (
        pathlib.Path(out) / RUNS_DIR / run["key"] / REPORT_FILE).is_file()


def _write_missing_report(out: io.PathLike, run: Mapping[str, Any]) -> None:
    """A finished run that asks for a report it lacks gets it written from its run
    directory (turning `report` on for a finished sweep trains nothing again)."""
    if _lacks_report(out, run):
        from ctxrnn.report import write_report

        write_report(pathlib.Path(out) / RUNS_DIR / run["key"])


def _start_run_directory(out: io.PathLike, run: Mapping[str, Any]) -> pathlib.Path:
    """`out/runs/<key>/`, created, with the run's `spec.json` and without a `result.json`:
    a run started again (a finished member of a stack that trains again) is not
    finished until it writes its result again."""
    run_dir = pathlib.Path(out) / RUNS_DIR / run["key"]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RESULT_FILE).unlink(missing_ok=True)
    io.write_json(run_dir / SPEC_FILE, {k: run[k] for k in ("job", "kind", "point", "config",
                                                            "key", "inputs") if k in run})
    return run_dir


def _write_result(run_dir: pathlib.Path, run: Mapping[str, Any], metrics, seconds: float,
                  **extra: Any) -> dict:
    """Writes the run's `result.json` (last: it marks the run finished); returns it."""
    result = {"key": run["key"], "job": run["job"], "kind": run["kind"], "point": run["point"],
              "metrics": io.to_jsonable(metrics), "seconds": seconds, **extra}
    io.write_json(run_dir / RESULT_FILE, result)
    return {**result, "skipped": False}


def run_unit(unit: Sequence[Mapping[str, Any]], out: io.PathLike) -> list[dict]:
    """Runs one unit of `units`: an ordinary run, or a stack of training runs trained
    together by `ctxrnn.stacked_training.train_stacked_runs` (each member written to its
    own `out/runs/<key>/` as `run_one` would). A stack with every member finished is
    skipped; otherwise the whole stack trains again (a stack is deterministic, so its
    finished members get the same numbers).

    Args:
        unit: the runs of the unit.
        out: the sweep's output directory.

    Returns:
        The members' result dicts, in order.
    """
    if len(unit) == 1 and not unit[0].get("stack"):
        return [run_one(unit[0], out)]
    import keras

    from ctxrnn.runs import RunDirectory
    from ctxrnn.stacked_training import train_stacked_runs
    from ctxrnn.training import TrainConfig

    done = [finished_result(out, run) for run in unit]
    if all(result is not None for result in done):
        for run in unit:
            _write_missing_report(out, run)
        return [{**result, "skipped": True} for result in done]
    directories = [_start_run_directory(out, run) for run in unit]
    keras.backend.clear_session()
    start = time.perf_counter()
    configs = [TrainConfig.from_dict(run["config"]) for run in unit]
    report = unit[0]["config"].get("report", False)
    train_stacked_runs(directories, configs, verbose=0, report=report)
    seconds = (time.perf_counter() - start) / len(unit)
    members = [run["key"] for run in unit]
    return [_write_result(directory, run, _TrainJob.metrics(RunDirectory(directory)), seconds,
                          stack=members)
            for run, directory in zip(unit, directories)]


def _start_worker(intra_op: int, inter_op: int) -> None:
    from ctxrnn import configure_threads

    configure_threads(intra_op=intra_op, inter_op=inter_op)


def _run_in_fresh_process(unit, out, intra_op, inter_op) -> list[dict]:
    """`run_unit` in a Python process started for it, its threads set before its first
    op: a cluster worker that runs many tasks keeps no state from one run to the next (a
    Dask worker's own process gave other numbers than the pool's), and may not fork."""
    import subprocess

    code = ("import json, sys; from ctxrnn import sweep; job = json.load(sys.stdin); "
            "sweep._start_worker(job['intra_op'], job['inter_op']); "
            "sweep.run_unit(job['unit'], job['out'])")
    job = {"unit": unit, "out": str(out), "intra_op": intra_op, "inter_op": inter_op}
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(job), text=True,
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"run {unit[0]['key']} failed (exit {done.returncode}): "
                           f"{done.stderr.strip().splitlines()[-1:]}")
    return [{**finished_result(out, run), "skipped": False} for run in unit]


# Engines ---------------------------------------------------------------------
class _Progress:
    """One line per finished run: count, bar, run, seconds and the time left."""

    def __init__(self, total: int, skipped: int, stream=None, enabled: bool = True):
        self.total, self.done, self.stream, self.enabled = total, skipped, stream, enabled
        self.start, self.ran = time.perf_counter(), 0

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stream or sys.stderr, flush=True)

    def finished(self, run: Mapping[str, Any], seconds: float | None, error: str = "") -> None:
        self.done += 1
        self.ran += 1
        elapsed = time.perf_counter() - self.start
        left = (self.total - self.done) * elapsed / self.ran
        width = 20
        filled = int(width * self.done / max(1, self.total))
        point = " ".join(f"{k}={v}" for k, v in run["point"].items())
        what = f"failed: {error}" if error else f"{seconds or 0.0:.1f} s"
        self.say(f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                 f"{run['job']} {point} ({run['key'][:8]}) {what}; ~{left:.0f} s left")


def affinity_key(run: Mapping[str, Any]) -> str:
    """Runs with the same key differ only in their seed (and stack): the same network
    shapes, so the same traced and XLA-compiled kernels, which a worker that ran one
    reuses for the next."""
    return spec_key(run["kind"], {k: v for k, v in run["config"].items()
                                  if k not in ("seed", STACK_KEY)})


class AffinityQueue:
    """The pending work, handed out so that a worker keeps to one kind of run.

    A worker gets the next run (or unit of `units`) of the group (`affinity_key`,
    of a unit's first run) it ran last; when that group is empty, the largest
    group no other worker is on (or, if every group is taken, the largest).
    Which worker runs a run never changes its result: a run is a pure function
    of its spec.

    Args:
        runs: entries of `SweepSpec.runs()` or units of them (lists), in the
            order to run them within a group.
    """

    def __init__(self, runs: Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping]]):
        self.groups: dict[str, list] = {}
        for item in runs:
            first = item[0] if isinstance(item, (list, tuple)) else item
            self.groups.setdefault(affinity_key(first), []).append(item)

    def __len__(self) -> int:
        return sum(len(group) for group in self.groups.values())

    def next_for(self, previous: str | None, taken: set[str] = frozenset()):
        """`(key, run)` for a worker whose last run had key `previous`, or `None` when empty."""
        if previous is not None and self.groups.get(previous):
            return previous, self.groups[previous].pop(0)
        left = [(key, group) for key, group in self.groups.items() if group]
        if not left:
            return None
        free = [(key, group) for key, group in left if key not in taken] or left
        key, group = max(free, key=lambda item: len(item[1]))  # first of the largest
        return key, group.pop(0)


def _pool_engine(work, out, *, workers, threads, progress):
    """One single-process executor per worker (`worker_start_method`), fed units of `work` by
    an `AffinityQueue`: the first run of a network shape in a process pays for tracing
    and compiling its kernels (about a second), the next runs of that shape in the same
    process do not."""
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context(worker_start_method())

    def executor():
        return concurrent.futures.ProcessPoolExecutor(
            1, mp_context=context, initializer=_start_worker, initargs=(threads, 1))

    queue = AffinityQueue(work)
    count = min(workers, len(work))
    executors = [executor() for _ in range(count)]
    last: list[str | None] = [None] * count
    running: dict = {}
    results, errors = {}, {}

    def feed(worker: int) -> None:
        taken = {last[busy] for busy, _ in running.values() if busy != worker}
        chosen = queue.next_for(last[worker], taken)
        if chosen is not None:
            last[worker], unit = chosen
            with quiet_fork_warning():  # the executor starts its process here
                future = executors[worker].submit(run_unit, unit, str(out))
            running[future] = (worker, unit)

    try:
        for worker in range(count):
            feed(worker)
        while running:
            done, _ = concurrent.futures.wait(running,
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                worker, unit = running.pop(future)
                try:
                    results.update((result["key"], result) for result in future.result())
                except Exception as error:  # a failed run must not stop the others
                    errors.update((run["key"], f"{type(error).__name__}: {error}")
                                  for run in unit)
                    if isinstance(error, concurrent.futures.process.BrokenProcessPool):
                        executors[worker] = executor()  # its process died: a fresh one
                        last[worker] = None
                for run in unit:
                    progress.finished(run, results.get(run["key"], {}).get("seconds"),
                                      errors.get(run["key"], ""))
                feed(worker)
    finally:
        for pool in executors:
            pool.shutdown(cancel_futures=True)
    return results, errors


def _require(module: str, extra: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ValueError(f"The {extra!r} engine needs `{module}`: `pip install "
                         f"\"ctxrnn[{extra}]\"`.") from error


def _ray_trial(config, *, runs, out, threads):
    """A Ray Tune function trainable: one unit of the sweep (an ordinary run, reported
    every epoch, or a stack, reported once) with `tune.report`."""
    from ray import tune

    _start_worker(threads, 1)
    unit = runs[config["key"]]
    if len(unit) > 1 or unit[0].get("stack"):
        results = run_unit(unit, out)
        tune.report({"done": True, "seconds": sum(r["seconds"] for r in results),
                     "runs": len(results)})
        return
    run = unit[0]
    run_dir = pathlib.Path(out) / RUNS_DIR / run["key"]
    restored = tune.get_checkpoint()
    checkpoint = run_dir / "checkpoint"
    if restored is not None and not checkpoint.exists():
        # A trial restored on a node that does not see the run directory's last checkpoint.
        with restored.as_directory() as directory:
            shutil.copytree(directory, checkpoint)
    callbacks = [_tune_epoch_report(checkpoint)] if run["kind"] == "train" else []
    result = run_one(run, out, callbacks=callbacks)
    # The last epoch's values again, so a scheduler's metric is in every report.
    last = callbacks[0].last if callbacks else {}
    tune.report({**last, "done": True, "seconds": result["seconds"],
                 **{k: v for k, v in _flatten(result["metrics"]).items() if _is_number(v)}})


def _tune_epoch_report_class():
    import keras

    class TuneEpochReport(keras.callbacks.Callback):
        """Reports each epoch's logs but the last to Ray Tune (ASHA's time axis: a run of
        E epochs makes E reports, the last with its results), with the run's checkpoint
        directory (written just before by `train_run`) as the trial's."""

        def __init__(self, checkpoint_dir):
            super().__init__()
            self.checkpoint_dir = pathlib.Path(checkpoint_dir)
            self.last = {}

        def on_epoch_end(self, epoch, logs=None):
            from ray import tune

            metrics = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            self.last = metrics
            if epoch + 1 == self.params.get("epochs"):
                return  # the trial's final report carries it, once the run's result is written
            checkpoint = (tune.Checkpoint.from_directory(str(self.checkpoint_dir))
                          if self.checkpoint_dir.is_dir() else None)
            tune.report(metrics, checkpoint=checkpoint)

    return TuneEpochReport


def _tune_epoch_report(checkpoint_dir):
    """The epoch-reporting callback (its class is built here: Keras and Ray load lazily)."""
    return _tune_epoch_report_class()(checkpoint_dir)


def _ray_engine(work, out, *, workers, threads, progress, address=None, storage=None,
                asha=None, max_failures=2):
    ray = _require("ray", "ray")
    tune = _require("ray.tune", "ray")
    started_here = not ray.is_initialized()
    if started_here:
        options = {"address": address} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, ignore_reinit_error=True, **options)
    runs = {unit[0]["key"]: unit for unit in work}  # a trial per unit, named by its first run
    trainable = tune.with_resources(
        tune.with_parameters(_ray_trial, runs=runs, out=str(pathlib.Path(out).resolve()),
                             threads=threads), {"cpu": 1})

    class Progress(tune.Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            last = trial.last_result or {}
            for run in runs[trial.config["key"]]:
                progress.finished(run, last.get("seconds"),
                                  "" if last.get("done") else "stopped early by the scheduler")

        def on_trial_error(self, iteration, trials, trial, **info):
            for run in runs[trial.config["key"]]:
                progress.finished(run, None, "see the Ray trial log")

    tune_config = {"max_concurrent_trials": workers}
    if asha:
        options = dict(asha)
        tune_config.update(metric=options.pop("metric"), mode=options.pop("mode", "min"))
        tune_config["scheduler"] = tune.schedulers.ASHAScheduler(time_attr="training_iteration",
                                                                 **options)
    storage = storage or str((pathlib.Path(out) / "ray").resolve())
    tuner = tune.Tuner(
        trainable, param_space={"key": tune.grid_search(list(runs))},
        tune_config=tune.TuneConfig(**tune_config),
        run_config=tune.RunConfig(name="sweep", storage_path=storage, verbose=0,
                                  callbacks=[Progress()],
                                  # a failed trial restarts from its last epoch's checkpoint
                                  failure_config=tune.FailureConfig(max_failures=max_failures)))
    try:
        tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    results, errors = {}, {}
    for run in (run for unit in work for run in unit):
        done = finished_result(out, run)
        if done is None:
            errors[run["key"]] = "the Ray trial did not finish (stopped by the scheduler or failed)"
        else:
            results[run["key"]] = {**done, "skipped": False}
    return results, errors


#: Batch systems of `--engine dask --cluster`: name -> dask_jobqueue class.
JOB_QUEUES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
              "lsf": "LSFCluster"}


def _dask_engine(work, out, *, workers, threads, progress, address=None, cluster=None,
                 cluster_options=None):
    distributed = _require("dask.distributed", "dask")
    if cluster is not None:
        if cluster not in JOB_QUEUES:
            raise ValueError(f"Argument `cluster` must be one of {sorted(JOB_QUEUES)}; received "
                             f"cluster={cluster!r}.")
        jobqueue = _require("dask_jobqueue", "dask")
        # One batch job per worker, one core each: a run is one single-threaded process.
        options = {"cores": threads, "processes": 1, "memory": "4GB", **(cluster_options or {})}
        batch = getattr(jobqueue, JOB_QUEUES[cluster])(**options)
        batch.scale(jobs=workers)
        client, cluster = distributed.Client(batch), batch
    elif address:
        client, cluster = distributed.Client(address), None
    else:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True)
        client = distributed.Client(cluster)
    results, errors = {}, {}
    try:
        where = str(pathlib.Path(out).resolve())
        futures = {client.submit(_run_in_fresh_process, unit, where, threads, 1,
                                 key=f"ctxrnn-{unit[0]['key']}", pure=False): unit
                   for unit in work}
        for future in distributed.as_completed(futures):
            unit = futures[future]
            try:
                results.update((result["key"], result) for result in future.result())
            except Exception as error:
                errors.update((run["key"], f"{type(error).__name__}: {error}") for run in unit)
            for run in unit:
                progress.finished(run, results.get(run["key"], {}).get("seconds"),
                                  errors.get(run["key"], ""))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results, errors


_ENGINES: dict[str, Callable] = {"pool": _pool_engine, "ray": _ray_engine, "dask": _dask_engine}


def run_sweep(spec: SweepSpec | io.PathLike, out: io.PathLike, *, engine: str = "pool",
              workers: int | None = None, threads: int = 1, shard: tuple[int, int] | None = None,
              progress: bool = True, stream=None, **engine_options: Any) -> dict:
    """Runs the runs of `spec` that have not finished in `out`, then writes the tables and figures.

    Args:
        spec: a `SweepSpec` or the path of a spec file.
        out: the sweep's output directory (created).
        engine: one of `ENGINES`: `"pool"` (local processes), `"ray"` (Ray
            Tune trials), `"dask"` (a Dask cluster).
        workers: runs at once; default one per core (at most the runs left).
        threads: TensorFlow intra-op threads per run (inter-op: 1).
        shard: `(i, n)`: run only the runs whose position in the sweep is `i`
            modulo `n` (task `i` of a job array of `n`; a stack goes whole to the
            shard of its first member); the table still lists every run.
        progress: print a line per finished run (to `stream`, default stderr).
        stream: where the progress goes.
        **engine_options: `address` (a Ray or Dask cluster to attach to),
            `storage` (Ray Tune's `storage_path`; default `out/ray`), `asha`
            (Ray: a dict of `metric`, `mode` and `ASHAScheduler` arguments),
            `max_failures` (Ray: restarts of a failed trial, from its last
            checkpoint; default 2),
            `cluster` (Dask: a key of `JOB_QUEUES`, workers started as batch jobs
            by dask-jobqueue) and `cluster_options` (its arguments: `queue`,
            `walltime`, `memory`, `account`, ...).

    Returns:
        A dict: `table` (one row per run, see `results_table`), `summary`,
        `ran`, `skipped` and `failed` (run keys), `seconds`.

    Raises:
        ValueError: an unknown engine, a malformed spec, a missing engine extra.
    """
    if engine not in ENGINES:
        raise ValueError(f"Argument `engine` must be one of {ENGINES}; received "
                         f"engine={engine!r}.")
    wrong = sorted(set(engine_options) - set(ENGINE_OPTIONS[engine]))
    if wrong:
        takes = ", ".join(ENGINE_OPTIONS[engine]) or "none"
        raise ValueError(f"Option(s) {wrong} do not apply to engine={engine!r} (it takes: "
                         f"{takes}); received {wrong[0]}={engine_options[wrong[0]]!r}.")
    for name, value in (("workers", workers), ("threads", threads)):
        positive_int(name, value, allow_none=True)
    if shard is not None and not (len(shard) == 2 and 0 <= shard[0] < shard[1]):
        raise ValueError(f"Argument `shard` must be (i, n) with 0 <= i < n; received "
                         f"shard={shard!r}.")
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    out = pathlib.Path(out)
    runs = spec.runs()
    mine = runs if shard is None else _shard(runs, *shard)
    out.mkdir(parents=True, exist_ok=True)
    io.write_json(out / "sweep.json", {"name": spec.name, "source": spec.source,
                                       "jobs": [dataclasses.asdict(job) for job in spec.jobs],
                                       "metrics": spec.metrics})
    pending = [run for run in mine
               if finished_result(out, run) is None or _lacks_report(out, run)]
    skipped = len(mine) - len(pending)
    workers = workers or usable_cores()
    report = _Progress(len(mine), skipped, stream, progress)
    report.say(f"sweep {spec.name!r}: {len(mine)} runs, {skipped} finished before (skipped), "
               f"{len(pending)} to run on the {engine} engine ({min(workers, len(pending))} "
               f"at once, {threads} TensorFlow thread(s) each); results in {out}")
    start = time.perf_counter()
    errors: dict = {}
    if pending:
        _, errors = _ENGINES[engine](units(pending, runs), out, workers=workers, threads=threads,
                                     progress=report, **engine_options)
    table = results_table(runs, out)
    write_table(table, out)
    summary = summarize(table, spec)
    _check_summary_metrics(spec, summary)
    io.write_json(out / SUMMARY_FILE, summary)
    write_figures(spec, summary, out)
    _molap_seed_tables(spec, runs, table, out)
    seconds = time.perf_counter() - start
    report.say(f"{len(pending) - len(errors)} run(s) finished, {len(errors)} failed, {skipped} "
               f"skipped in {seconds:.1f} s; table: {out / TABLE_CSV}")
    for key, message in errors.items():
        report.say(f"  run {key} failed: {message}")
    return {"table": table, "summary": summary, "ran": [r["key"] for r in pending
                                                         if r["key"] not in errors],
            "skipped": [r["key"] for r in mine if r not in pending], "failed": errors,
            "seconds": seconds}


def _shard(runs: Sequence[Mapping[str, Any]], index: int, count: int) -> list:
    """The runs of shard `index` of `count`: those whose position is `index` modulo
    `count`, a stack going whole to the shard of its first member."""
    first: dict[str, int] = {}
    mine = []
    for position, run in enumerate(runs):
        anchor = first.setdefault(run["stack"], position) if run.get("stack") else position
        if anchor % count == index:
            mine.append(run)
    return mine


def _molap_seed_tables(spec, runs, table, out) -> None:
    """MoLaP's own seed tables (`ctxrnn.molap.seeds.write_summary`: `molap_seeds.json`,
    `seeds.md`, `accuracy_seeds.png`) in `OUT/<job>/` for a finished seeds-only molap job."""
    from ctxrnn.molap.seeds import write_summary

    for job in spec.jobs:
        rows = [(run, row) for run, row in zip(runs, table) if run["job"] == job.name]
        if (job.kind == "molap" and list(job.grid) == [SEED_AXIS]
                and all(row["status"] == "complete" for _, row in rows)):
            write_summary(pathlib.Path(out) / job.name,
                          [pathlib.Path(out) / RUNS_DIR / run["key"] for run, _ in rows])


# Tables, summary, figures ------------------------------------------------------
def results_table(runs: Sequence[Mapping[str, Any]], out: io.PathLike) -> list[dict]:
    """One row per run, in grid order: `job`, `run` (key), `status`, its grid values,
    then its metrics flattened to dotted names (`per_task_accuracy.and`)."""
    rows = []
    for run in runs:
        result = finished_result(out, run)
        row = {"job": run["job"], "run": run["key"],
               "status": "complete" if result else "missing", **run["point"]}
        if result:
            row.update(_flatten(result["metrics"]))
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def write_table(table: Sequence[Mapping[str, Any]], out: io.PathLike) -> None:
    """Writes `results.csv` (columns: the union over rows, in first-seen order) and
    `results.json` (`{"rows": table}`) into `out`."""
    columns = list(dict.fromkeys(key for row in table for key in row))
    buffer = _text_io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in table:
        writer.writerow([_cell(row.get(column)) for column in columns])
    io.write_text(pathlib.Path(out) / TABLE_CSV, buffer.getvalue())
    io.write_json(pathlib.Path(out) / TABLE_JSON, {"columns": columns, "rows": list(table)})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _job_axes(spec: SweepSpec) -> dict[str, list[str]]:
    return {job.name: list(job.grid) for job in spec.jobs}


def summarize(table: Sequence[Mapping[str, Any]], spec: SweepSpec) -> list[dict]:
    """Mean, standard deviation and values over the seed axis of every numeric metric.

    Args:
        table: `results_table(...)`.
        spec: the sweep (its grids tell the settings from the metrics).

    Returns:
        One dict per job and combination of the other grid values: `job`,
        those values, `n` (complete runs) and `metrics`
        (`{metric: {"mean", "std", "n", "values"}}`): `std` is the standard deviation
        with ddof = 0, as in every seed table of ctxrnn (the MoLaP seed tables, the
        perturbation summaries: one convention, so one sweep's tables agree; at n
        seeds multiply by sqrt(n / (n - 1)) for the sample sd); a metric some runs left empty
        (`None`, such as `epochs_to_criterion` of a run that never reached it) is
        summarised over the runs that have it (its `n`), `values` keeping the `None`s.
    """
    axes = _job_axes(spec)
    groups: dict = {}
    for row in table:
        if row["status"] != "complete":
            continue
        point = tuple((axis, row[axis]) for axis in axes[row["job"]] if axis != SEED_AXIS)
        groups.setdefault((row["job"], point), []).append(row)
    summary = []
    for (job, point), rows in groups.items():
        names = [k for k in rows[0] if k not in _RUN_COLUMNS and k not in axes[job]]
        metrics = {}
        for name in names:
            values = [row.get(name) for row in rows]
            numbers = [v for v in values if _is_number(v)]
            if numbers and all(v is None or _is_number(v) for v in values):
                metrics[name] = {"mean": float(np.mean(numbers)),
                                 "std": float(np.std(numbers)), "n": len(numbers),
                                 "values": values}
        summary.append({"job": job, **dict(point), "n": len(rows), "metrics": metrics})
    return summary


def _check_summary_metrics(spec: SweepSpec, summary: Sequence[Mapping[str, Any]]) -> None:
    """Warns about `summary.metrics` names that no finished run has (a typo draws nothing)."""
    present = sorted({name for entry in summary for name in entry["metrics"]})
    missing = [name for name in spec.metrics if name not in present]
    if summary and missing:
        warnings.warn(f"`summary.metrics` {missing} match no numeric metric of the finished "
                      f"runs; they have: {present}.", stacklevel=3)


def _figure_metrics(spec: SweepSpec, entries: Sequence[Mapping[str, Any]]) -> list[str]:
    present = list(dict.fromkeys(name for entry in entries for name in entry["metrics"]))
    if spec.metrics:
        return [name for name in spec.metrics if name in present]
    return [name for name in present if name.split(".")[-1] == "accuracy"][:4] or present[:1]


def summary_figure(spec: SweepSpec, summary: Sequence[Mapping[str, Any]], job: str):
    """The summary figure of one job: a panel per metric, mean ± sd over seeds.

    The x axis is the job's first grid axis other than the seed, one line per
    combination of the remaining axes; a job whose only axis is the seed gets
    one bar per metric.

    Args:
        spec: the sweep.
        summary: `summarize(...)`.
        job: the job's name.

    Returns:
        A `matplotlib.figure.Figure`, or `None` when the job has no numeric metric.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    entries = [entry for entry in summary if entry["job"] == job]
    metrics = _figure_metrics(spec, entries)
    if not metrics:
        return None
    axes_names = [a for a in _job_axes(spec)[job] if a != SEED_AXIS]
    n_seeds = max(entry["n"] for entry in entries)
    if not axes_names:
        figure = Figure(figsize=(1.2 + 0.8 * len(metrics), 3.0), layout="constrained")
        FigureCanvasAgg(figure)
        panel = figure.subplots()
        stats = [entries[0]["metrics"].get(m, {"mean": np.nan, "std": 0.0}) for m in metrics]
        panel.bar(range(len(metrics)), [s["mean"] for s in stats],
                  yerr=[s["std"] for s in stats], capsize=3)
        panel.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right")
        panel.set_title(f"{job}: mean ± sd over {n_seeds} seed(s)")
        return figure
    x_axis, others = axes_names[0], axes_names[1:]
    xs = list(dict.fromkeys(entry[x_axis] for entry in entries))
    numeric = all(_is_number(x) for x in xs)
    figure = Figure(figsize=(3.6 * len(metrics), 3.0), layout="constrained")
    FigureCanvasAgg(figure)
    panels = np.atleast_1d(figure.subplots(1, len(metrics), squeeze=False)[0])
    lines = list(dict.fromkeys(tuple(entry[a] for a in others) for entry in entries))
    for panel, metric in zip(panels, metrics):
        for line in lines:
            chosen = {entry[x_axis]: entry["metrics"].get(metric) for entry in entries
                      if tuple(entry[a] for a in others) == line}
            points = [(x, chosen[x]) for x in xs if chosen.get(x)]
            positions = [x if numeric else xs.index(x) for x, _ in points]
            label = ", ".join(f"{a}={v}" for a, v in zip(others, line)) or None
            panel.errorbar(positions, [s["mean"] for _, s in points],
                           yerr=[s["std"] for _, s in points], marker="o", capsize=3,
                           linestyle="-" if numeric else "none", label=label)
        if not numeric:
            panel.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=30, ha="right")
        panel.set_xlabel(x_axis)
        panel.set_title(metric)
        if lines != [()]:
            panel.legend(fontsize=7, frameon=False)
    figure.suptitle(f"{job}: mean ± sd over {n_seeds} seed(s)")
    return figure


def write_figures(spec: SweepSpec, summary: Sequence[Mapping[str, Any]],
                  out: io.PathLike) -> list[pathlib.Path]:
    """Writes `figures/<job>.png` (`summary_figure`) for every job with a numeric metric."""
    from ctxrnn.analysis.figures import figure_to_png

    written = []
    for job in spec.jobs:
        figure = summary_figure(spec, summary, job.name)
        if figure is not None:
            path = pathlib.Path(out) / FIGURES_DIR / f"{job.name}.png"
            written.append(io.write_bytes(path, figure_to_png(figure)))
    return written


__all__ = ["AffinityQueue", "ENGINES", "JOB_KINDS", "JOB_QUEUES", "Job", "SweepSpec",
           "affinity_key", "finished_result", "load_spec", "results_table", "run_one",
           "run_unit", "units",
           "run_sweep", "spec_key", "summarize", "summary_figure", "write_figures",
           "write_table"]
