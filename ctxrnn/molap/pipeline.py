"""The whole MoLaP reproduction in one call: primitives, pre-training, heads,
controls, baselines, evaluation and counts, written to a run directory.

Used by the `ctxrnn molap` command and by `experiments/molap_*.py`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import pathlib
import pickle
import time
from collections.abc import Callable, Sequence

import numpy as np

from ctxrnn import io, seeding
from ctxrnn._startup import quiet_fork_warning, usable_cores, worker_start_method
from ctxrnn.checks import unit_fraction
from ctxrnn.molap import baselines, counts
from ctxrnn.molap import network as net
from ctxrnn.molap import training as tr
from ctxrnn.tasks.molap import MOLAP_TASKS

MOLAP_TASK_NAMES = MOLAP_TASKS  # the nine tasks, in the paper's order
APPROACHES = ("molap", "no_pretraining", "pca", "separate", "dni")

#: Trial layouts of the memory tasks. "code": the reference code's trials, which
#: produced the paper's Fig. 2 (Mem Pro/Anti stimulus on until the response, so
#: the angle is held through the 25 response steps). "text": the paper's text (the
#: stimulus turns off after 100-300 ms, a 200-400 ms memory delay follows; the
#: `ctxrnn.tasks` default). Measured here: with the text's delay even a fully
#: trained N = 100 network stays at the zero-output solution on Mem Pro
#: (experiments/RESULTS_molap.md), so the reproduction uses the code's trials.
TRIAL_OPTIONS = {
    "code": {"mem_pro": {"memory_delay": False}, "mem_anti": {"memory_delay": False}},
    "text": {},
}


@dataclasses.dataclass
class PipelineConfig:
    """Everything a MoLaP reproduction run needs (saved as `config.json`).

    Args:
        tasks: task names, one head each.
        task_module: module (dotted name or `.py` path) whose `make(name)`
            builds the tasks. Default: `"ctxrnn.tasks"`.
        units, module_sizes, gain: the MoLaP core (100, (50, 50), 1.5).
        pretrain: `PretrainConfig`.
        heads: `HeadConfig` of task training.
        approaches: which of `APPROACHES` to run.
        separate: `HeadConfig` of the separate networks (default `separate_config()`).
        separate_units: N of each separate network. Default: `100` (the
            reference code's: `baselines.SEPARATE_REFERENCE_UNITS`, 200).
        separate_gain: start gain g of each separate network's random W_rec.
            Default: `1.5` (the paper's).
        dni: `HeadConfig` of the DNI network; with `dni_method="projected"`
            its iterations are per task (default `dni_projected_config()`:
            at most 8 x 450 per task), with `"joint"` in all (default
            `dni_config()`).
        dni_units: N of the DNI network. Default: `200`.
        dni_method: `"projected"` (default): Duncker et al.'s continual
            learning, tasks one after another with each update projected away
            from the earlier tasks' activity (`baselines.train_dni`);
            `"joint"`: the same shared network trained on all tasks at once
            (`baselines.train_dni_style`, the interference-free bound).
        dni_gain: start gain g of the DNI network. Default: `1.3` (the
            reference code's).
        dni_stop_at: validation accuracy at which a task of the projected DNI
            sequence stops training early (checked every `dni_check_every`
            iterations; `baselines.train_dni`'s `stop_at`), or `None`: every
            task trains its whole schedule. Default: `"auto"`, which becomes
            `baselines.DNI_STOP_AT` (0.95) for `dni_method="projected"` and
            `None` for `"joint"`.
        dni_check_every: iterations between those checks. Default: `250`.
        dni_covariances: how the projected DNI combines the earlier tasks'
            activity covariances, `"mean"` (default, the reference
            implementations') or `"sum"` (runs before 2026-12-07).
        dni_project_inputs: project each task's input-row updates as well as
            `W_rec`'s (`baselines.train_dni`'s `project_inputs`; `True`: runs
            before 2026-12-07). Default: `False`.
        core: optional shipped name or `.keras` path of a MoLaP model
            (`ctxrnn.zoo.save(..., kind="molap")`, e.g. `"molap_core"`): the
            `molap` approach then trains its heads on that model's frozen core
            (`ctxrnn.molap.core_weights`) instead of pre-training one, so new
            tasks can be learned on a shipped core. Default: `None`. Not with
            the `pca` approach (another pre-training); `units` must be the
            core's.
        test_trials: test trials per task (paper: 2000).
        trials: memory-task trial layout, a key of `TRIAL_OPTIONS`: `"code"`
            (the reference code's, default) or `"text"` (the paper's text:
            variable stimulus and a memory delay).
        seed: seed of everything.
    """

    tasks: Sequence[str] = MOLAP_TASK_NAMES
    task_module: str = "ctxrnn.tasks"
    units: int = net.UNITS
    module_sizes: Sequence[int] = net.MODULE_SIZES
    gain: float = net.GAIN
    pretrain: tr.PretrainConfig = dataclasses.field(default_factory=tr.PretrainConfig)
    heads: tr.HeadConfig = dataclasses.field(default_factory=tr.HeadConfig)
    approaches: Sequence[str] = APPROACHES
    separate: tr.HeadConfig = dataclasses.field(default_factory=baselines.separate_config)
    separate_units: int = baselines.SEPARATE_UNITS
    separate_gain: float = net.GAIN
    dni: tr.HeadConfig | None = None
    dni_units: int = baselines.DNI_UNITS
    dni_method: str = "projected"
    dni_gain: float = baselines.DNI_REFERENCE["gain"]
    dni_stop_at: float | str | None = "auto"
    dni_check_every: int = 250
    dni_covariances: str = "mean"
    dni_project_inputs: bool = False
    core: str | None = None
    test_trials: int = 2000
    seed: int = 0
    trials: str = "code"

    def __post_init__(self):
        if self.trials not in TRIAL_OPTIONS:
            raise ValueError(f"Argument `trials` must be one of {sorted(TRIAL_OPTIONS)}; "
                             f"received trials={self.trials!r}.")
        if not (isinstance(self.gain, (int, float)) and self.gain > 0):
            raise ValueError(f"Argument `gain` must be a positive number; received "
                             f"gain={self.gain!r}.")
        self.tasks = tuple(self.tasks)
        self.module_sizes = tuple(int(s) for s in self.module_sizes)
        self.approaches = tuple(self.approaches)
        unknown = set(self.approaches) - set(APPROACHES)
        if unknown:
            raise ValueError(
                f"Unknown approach(es) {sorted(unknown)}; expected some of {list(APPROACHES)}.")
        if self.core is not None:
            if not isinstance(self.core, str) or not self.core:
                raise ValueError(f"Argument `core` must be a shipped model name or a .keras "
                                 f"path; received core={self.core!r}.")
            if "pca" in self.approaches:
                raise ValueError(f"Argument `core` replaces MoLaP's pre-training, so it cannot "
                                 f"be combined with the 'pca' approach (another pre-training); "
                                 f"received core={self.core!r} and approaches="
                                 f"{list(self.approaches)}.")
        if self.dni_method not in baselines.DNI_METHODS:
            raise ValueError(f"Argument `dni_method` must be one of {list(baselines.DNI_METHODS)}; "
                             f"received dni_method={self.dni_method!r}.")
        if self.dni_stop_at == "auto":
            self.dni_stop_at = (baselines.DNI_STOP_AT if self.dni_method == "projected"
                                else None)
        unit_fraction("dni_stop_at", self.dni_stop_at, allow_none=True)
        if self.dni_stop_at is not None and self.dni_method != "projected":
            raise ValueError(f"Argument `dni_stop_at` needs dni_method='projected' (tasks "
                             f"trained one after another); received dni_stop_at="
                             f"{self.dni_stop_at!r} with dni_method={self.dni_method!r}.")
        if self.dni_covariances not in baselines.DNI_COVARIANCES:
            raise ValueError(f"Argument `dni_covariances` must be one of "
                             f"{list(baselines.DNI_COVARIANCES)}; received dni_covariances="
                             f"{self.dni_covariances!r}.")
        if self.dni is None:
            self.dni = (baselines.dni_projected_config() if self.dni_method == "projected"
                        else baselines.dni_config(len(self.tasks)))
        for name in ("pretrain", "heads", "separate", "dni"):
            value = getattr(self, name)
            if isinstance(value, dict):
                if name == "pretrain":
                    setattr(self, name, tr.PretrainConfig(**value))
                else:
                    # configs saved before these fields ran with the plain MSE and
                    # trained every head jointly, once
                    setattr(self, name, tr.HeadConfig(**{
                        "response_weight": 1.0, "head_training": "joint", "restarts": 0,
                        **value}))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_tasks(names: Sequence[str], task_module: str = "ctxrnn.tasks",
               trials: str = "code") -> list:
    """Builds the tasks with `make(name, **options)` of `task_module` (a dotted name or a
    `.py` path); `options` are those of `TRIAL_OPTIONS[trials]`."""
    if task_module.endswith(".py"):
        path = pathlib.Path(task_module)
        if not path.exists():
            raise FileNotFoundError(f"Task module file {task_module!r} does not exist.")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(task_module)
    if not hasattr(module, "make"):
        raise ValueError(f"Task module {task_module!r} has no `make(name)` function.")
    options = TRIAL_OPTIONS[trials]
    return [module.make(name, **options.get(name, {})) for name in names]


def core_record(core: str, units: int) -> dict:
    """Checks the card of the MoLaP model `core` (a shipped name or a `.keras` path) and
    returns what a run records of it: name, SHA-256 and the tasks it was trained on.

    Raises:
        FileNotFoundError: no such shipped model or file.
        ValueError: it is not a MoLaP model, or its core does not have `units` units.
    """
    from ctxrnn import zoo

    card = zoo.model_card(core)
    if card.get("kind") != "molap":
        raise ValueError(f"Argument `core` must name a MoLaP model (card kind 'molap'); "
                         f"{core!r} is of kind {card.get('kind')!r}.")
    if card["cell"]["units"] != units:
        raise ValueError(f"The core {core!r} has {card['cell']['units']} units; the "
                         f"configuration asks for units={units}. Pass "
                         f"units={card['cell']['units']}.")
    return {"core": core, "name": card["name"], "sha256": card.get("sha256"),
            "trained_tasks": card["suite"]["task_names"]}


def load_core(core: str, units: int):
    """`(recurrent_kernel, recurrent_bias, record)` of the MoLaP model `core`, `record`
    being what `core_record` checks and returns."""
    from ctxrnn import zoo

    record = core_record(core, units)
    return (*net.core_weights(zoo.load(core, compile=False)[0]), record)


def tasks_of_run(config: dict) -> list:
    """The tasks of a saved run's `config.json` (runs saved before `trials` existed used
    the paper's text trials)."""
    return load_tasks(config["tasks"], config["task_module"], config.get("trials", "text"))


def _layout_counts(layout: net.HeadLayout, config: PipelineConfig, iterations_per_module: int):
    molap = counts.molap_counts(
        layout.n_inputs, layout.n_outputs, units=config.units, module_sizes=config.module_sizes,
        pretrain_iterations=iterations_per_module,
        head_iterations=config.heads.total_iterations,
        initial_state=config.heads.per_task_initial_state, input_bias=config.heads.input_bias)
    separate = counts.separate_counts(
        layout.n_inputs, layout.n_outputs, units=config.separate_units,
        iterations=config.separate.total_iterations, input_bias=config.separate.input_bias)
    dni = counts.dni_counts(layout.n_inputs, layout.n_outputs, units=config.dni_units,
                            iterations=config.dni.total_iterations,
                            joint=config.dni_method == "joint",
                            input_bias=config.dni.input_bias,
                            initial_state=(config.dni_method == "projected"
                                           and config.dni.per_task_initial_state))
    return {"molap": molap, "separate": separate, "dni": dni}


def plot_accuracy(accuracy: dict[str, dict[str, float]], path, *,
                  spread: dict[str, dict[str, float]] | None = None) -> pathlib.Path:
    """Fig. 2-style grouped bars: % correct per task, one bar per approach.

    Args:
        accuracy: `{approach: {task: fraction}}` (a mean over seeds, say).
        path: PNG to write.
        spread: optional `{approach: {task: fraction}}` drawn as error bars
            (e.g. the standard deviation over seeds).

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    approaches = list(accuracy)
    tasks = list(next(iter(accuracy.values())))
    width = 0.8 / max(1, len(approaches))
    figure = Figure(figsize=(9, 3.4))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    x = np.arange(len(tasks))
    for i, approach in enumerate(approaches):
        errors = None if spread is None else [100 * spread[approach][t] for t in tasks]
        axes.bar(x + i * width, [100 * accuracy[approach][t] for t in tasks], width,
                 yerr=errors, capsize=2 if errors else 0, label=approach)
    axes.axhline(70, color="k", lw=0.8, ls="--")
    axes.set_xticks(x + width * (len(approaches) - 1) / 2, tasks, rotation=30, ha="right",
                    fontsize=8)
    axes.set_ylabel("% decisions correct")
    axes.set_ylim(0, 100)
    axes.legend(frameon=False, fontsize=8, ncol=len(approaches))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return pathlib.Path(path)


def _job_list(config: PipelineConfig) -> list[tuple[str, tuple[int, ...] | None]]:
    """The pipeline's independent jobs, longest first: `(approach, task indices)`;
    the separate networks are one job per task."""
    order = ("molap", "pca", "no_pretraining", "dni", "separate")
    jobs = []
    for approach in order:
        if approach not in config.approaches:
            continue
        if approach == "separate":
            jobs += [("separate", (index,)) for index in range(len(config.tasks))]
        else:
            jobs.append((approach, None))
    return jobs


def _run_job(config: PipelineConfig, approach: str, task_indices, tasks, say) -> dict:
    """Trains and evaluates one approach (or some of the separate networks).

    Returns `{"accuracy": {approach: {task: fraction}}, "seconds": {...},
    "models": {name: keras.Model}, "extra": {...}}`.
    """
    seed = config.seed

    def evaluate(model, task_list, lay, trained=None):
        # `trained`: the HeadConfig the model was trained with (its `rescale`)
        return tr.evaluate(model, task_list, lay, n_trials=config.test_trials,
                           seed=seeding.derive(seed, "evaluation"),
                           rescale=getattr(trained, "rescale", None))

    start = time.perf_counter()
    seconds, extra = {}, {}
    if approach in ("molap", "pca", "no_pretraining"):
        if approach == "no_pretraining":
            kernel = tr.initial_recurrent_kernel(config.units, config.gain, seed)
            # the random core of the same seed, with the bias MoLaP's core keeps frozen
            bias = (tr.initial_recurrent_bias(config.units, config.gain, seed)
                    if config.pretrain.wiring == "reference" else None)
        elif approach == "molap" and config.core is not None:
            kernel, bias, extra["core"] = load_core(config.core, config.units)
        else:
            pretrain = config.pretrain if approach == "molap" else dataclasses.replace(
                config.pretrain, method="pca")
            pre = tr.pretrain_modules(tasks, units=config.units,
                                      module_sizes=config.module_sizes, gain=config.gain,
                                      config=pretrain, seed=seed, progress=say)
            kernel, bias = pre.recurrent_kernel, pre.recurrent_bias
            seconds[f"{approach}_pretraining"] = sum(pre.seconds.values())
            if approach == "molap":
                extra["primitives"] = {
                    "method": pre.primitives.method,
                    "correlations": pre.primitives.correlations_.tolist(),
                    "target_variance_explained":
                        pre.primitives.target_variance_explained_.tolist(),
                    "pretraining_final_loss": [losses[-1] for losses in pre.losses],
                }
                extra["kernels"] = {"pretrained": pre.recurrent_kernel,
                                    "initial": pre.initial_kernel}
        heads = tr.train_heads(kernel, tasks, config.tasks, recurrent_bias=bias,
                               config=config.heads, seed=seed, progress=say)
        if approach != "no_pretraining":
            seconds[f"{approach}_heads"] = heads.seconds
        if heads.task_attempts:
            extra[f"{approach}_attempts"] = heads.task_attempts
        models = {approach: heads.model}
        accuracy = evaluate(heads.model, tasks, heads.layout, config.heads)
    elif approach == "separate":
        indices = tuple(range(len(tasks))) if task_indices is None else tuple(task_indices)
        chosen = [tasks[i] for i in indices]
        nets = baselines.train_separate(chosen, [config.tasks[i] for i in indices],
                                        units=config.separate_units, config=config.separate,
                                        gain=config.separate_gain,
                                        seed=seed, first_index=indices[0], progress=say)
        models, accuracy = {}, {}
        for task, result in zip(chosen, nets):
            accuracy.update(evaluate(result.model, [task], result.layout, config.separate))
            models[f"separate_{result.layout.names[0]}"] = result.model
        if config.separate.restarts:
            # trainings per network (> 1: it stalled and was trained again)
            extra["separate_attempts"] = {result.layout.names[0]: result.attempts
                                          for result in nets}
    else:  # dni: projected continual learning, or the joint DNI-style network
        if config.dni_method == "projected":
            dni = baselines.train_dni(tasks, config.tasks, units=config.dni_units,
                                      gain=config.dni_gain, config=config.dni,
                                      stop_at=config.dni_stop_at,
                                      check_every=config.dni_check_every,
                                      covariances=config.dni_covariances,
                                      project_inputs=config.dni_project_inputs, seed=seed,
                                      progress=say)
        else:
            dni = baselines.train_dni_style(tasks, config.tasks, units=config.dni_units,
                                            gain=config.dni_gain, config=config.dni, seed=seed,
                                            progress=say)
        models = {"dni": dni.model}
        accuracy = evaluate(dni.model, tasks, dni.layout, config.dni)
        if dni.task_losses is not None:
            # task j's loss after training task i (j <= i); null above the diagonal
            extra["dni_task_losses"] = [[None if np.isnan(x) else float(x) for x in row]
                                        for row in dni.task_losses]
        if dni.task_attempts:
            extra["dni_attempts"] = dni.task_attempts
        if dni.task_iterations:
            extra["dni_iterations"] = dni.task_iterations
        if dni.task_free_directions:
            extra["dni_free_directions"] = dni.task_free_directions
    seconds[approach] = time.perf_counter() - start
    return {"accuracy": {approach: accuracy}, "seconds": seconds, "models": models,
            "extra": extra}


def _merge(total: dict, part: dict) -> None:
    for approach, values in part["accuracy"].items():
        total["accuracy"].setdefault(approach, {}).update(values)
    for key, value in part["seconds"].items():
        # separate-network jobs add up to the approach's compute time
        total["seconds"][key] = total["seconds"].get(key, 0.0) + value
    total["models"].update(part["models"])
    for key, value in part["extra"].items():
        if isinstance(value, dict) and isinstance(total["extra"].get(key), dict):
            total["extra"][key].update(value)  # e.g. the separate jobs' attempts
        else:
            total["extra"][key] = value


def _worker_job(config_dict: dict, approach: str, task_indices, tasks, models_dir: str,
                messages) -> dict:
    """Runs `_run_job` in a worker process; saves its models, returns their paths."""
    config = PipelineConfig(**config_dict)
    label = approach if task_indices is None else f"{approach} {config.tasks[task_indices[0]]}"

    def say(message):
        messages.put(f"({label}) {message}")

    part = _run_job(config, approach, task_indices, tasks, say)
    paths = {}
    for name, model in part.pop("models").items():
        paths[name] = str(pathlib.Path(models_dir) / f"{name}.keras")
        model.save(paths[name])
    part["model_paths"] = paths
    return part


def resolve_workers(workers, config: PipelineConfig, tasks) -> int:
    """The number of worker processes `run_pipeline` uses for `workers`.

    `"auto"` takes one process per core up to the number of jobs, or 1 when the
    tasks cannot be sent to another process (a task class defined in a `.py`
    file loaded by path does not pickle) or when there is one core or one job.
    """
    if workers == "auto":
        cores = usable_cores()
        jobs = len(_job_list(config))
        if cores < 2 or jobs < 2:
            return 1
        try:
            pickle.dumps(list(tasks))
        except (pickle.PicklingError, AttributeError, TypeError):
            return 1
        return min(cores, jobs)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"Argument `workers` must be a positive integer or 'auto'; received "
                         f"workers={workers!r}.")
    return workers


def _run_parallel(config, tasks, workers, models_dir, say) -> dict:
    """Runs the jobs in `workers` single-purpose processes, each with its own
    TensorFlow runtime of `cores // workers` intra-op threads (forked before this
    process starts TensorFlow, else spawned: `worker_start_method`)."""
    import concurrent.futures
    import multiprocessing
    import os

    import keras

    context = multiprocessing.get_context(worker_start_method())
    threads = str(max(1, usable_cores() // workers))
    saved = {key: os.environ.get(key) for key in ("TF_NUM_INTRAOP_THREADS",
                                                  "TF_NUM_INTEROP_THREADS")}
    os.environ.update(TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS="1")
    total = {"accuracy": {}, "seconds": {}, "models": {}, "extra": {}}
    try:
        # The manager and the pool's processes (started at the submits) may be forked.
        with quiet_fork_warning(), context.Manager() as manager, \
                concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            messages = manager.Queue()
            pending = {pool.submit(_worker_job, config.to_dict(), approach, indices, tasks,
                                   str(models_dir), messages)
                       for approach, indices in _job_list(config)}
            while pending:
                done, pending = concurrent.futures.wait(pending, timeout=0.5)
                while not messages.empty():
                    say(messages.get())
                for future in done:
                    part = future.result()
                    part["models"] = {name: keras.models.load_model(path, compile=False)
                                      for name, path in part.pop("model_paths").items()}
                    _merge(total, part)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return total


def run_pipeline(config: PipelineConfig | None = None, out_dir=None, *,
                 progress: Callable[[str], None] | None = None, tasks: Sequence | None = None,
                 save_models: bool = True, workers: int | str = 1) -> dict:
    """Runs MoLaP and the chosen controls/baselines; returns (and writes) the results.

    Args:
        config: `PipelineConfig`; default `PipelineConfig()` (paper sizes).
        out_dir: run directory to write (`config.json`, `results.json`,
            `table1.md`, `accuracy.png`, `kernels.npz`, `models/*.keras`), or `None`.
        progress: optional callable receiving progress lines.
        tasks: task objects (default: built from `config.tasks`; must be
            picklable when `workers > 1`).
        save_models: also save the trained models (`models/`).
        workers: processes to run the approaches in (each approach, and each
            separate network, is an independent job). `1` runs everything
            here, one job after another; `2` uses both cores of a 2-core
            machine (one single-threaded TensorFlow per process: a N = 100
            network gains little from a second thread, measured 0.244 s vs
            0.274 s per head step); `"auto"` one per core up to the number
            of jobs (see `resolve_workers`). Seeds do not depend on `workers`;
            results agree up to the float rounding of a different thread count.

    Returns:
        A dict with `accuracy` (`{approach: {task: fraction}}`), `seconds`
        (wall time of the whole run in `total`, compute time per approach),
        `counts`, `ratios`, `primitives` and the trained `models` (not written
        to `results.json`).
    """
    config = config or PipelineConfig()
    if config.core is not None and "molap" in config.approaches:
        core_record(config.core, config.units)  # fails before anything is written
    say = progress or (lambda message: None)
    tasks = list(tasks) if tasks is not None else load_tasks(config.tasks, config.task_module,
                                                                  config.trials)
    workers = resolve_workers(workers, config, tasks)
    out = None
    if out_dir is not None:
        out = pathlib.Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        io.write_json(out / "config.json", config.to_dict())
    layout = net.HeadLayout.from_tasks(tasks, config.tasks, input_bias=config.heads.input_bias)
    started = time.perf_counter()
    # workers save their models; straight into the run directory when it keeps them
    saved_by_workers = workers > 1 and out is not None and save_models
    if saved_by_workers:
        (out / "models").mkdir(exist_ok=True)
        total = _run_parallel(config, tasks, workers, out / "models", say)
    elif workers > 1:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="ctxrnn-molap-") as scratch:
            total = _run_parallel(config, tasks, workers, scratch, say)
    else:
        total = {"accuracy": {}, "seconds": {}, "models": {}, "extra": {}}
        for approach, indices in _job_list(config):
            part = _run_job(config, approach, indices, tasks, say)
            _merge(total, part)
            if approach != "separate" or indices[0] == len(config.tasks) - 1:
                say(f"{approach}: {_fmt(total['accuracy'][approach])} "
                    f"({total['seconds'][approach]:.0f} s)")
    accuracy = {a: {t: total["accuracy"][a][t] for t in config.tasks}
                for a in APPROACHES if a in total["accuracy"]}
    seconds, models, extra = total["seconds"], total["models"], total["extra"]
    seconds["total"] = time.perf_counter() - started
    measured = _layout_counts(layout, config, config.pretrain.total_iterations)
    results = {
        "accuracy": accuracy,
        "seconds": seconds,
        "workers": workers,
        "counts": {k: v.as_dict() for k, v in measured.items()},
        "ratios": counts.ratios(measured),
        "paper_table1": counts.PAPER_TABLE1,
        **{k: v for k, v in extra.items() if k != "kernels"},
    }
    if out is not None:
        io.write_json(out / "results.json", results)
        io.write_text(out / "table1.md",
                      counts.table1_markdown(measured) + "\n\n" + counts.EXPLANATION)
        if accuracy:
            plot_accuracy(accuracy, out / "accuracy.png")
        if "kernels" in extra:
            io.save_npz(out / "kernels.npz", **extra["kernels"])
        if save_models and not saved_by_workers:
            (out / "models").mkdir(exist_ok=True)
            for name, model in models.items():
                model.save(out / "models" / f"{name}.keras")
        say(f"wrote {out}")
    results["models"] = models
    results["layout"] = layout
    results["tasks"] = tasks
    return results


def _fmt(accuracy: dict[str, float]) -> str:
    return " ".join(f"{name}={100 * value:.0f}%" for name, value in accuracy.items())
