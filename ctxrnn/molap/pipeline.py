"""The whole MoLaP reproduction in one call: primitives, pre-training, heads,
controls, baselines, evaluation and counts, written to a run directory.

Used by the `ctxrnn molap` command and by `experiments/molap_*.py`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import pathlib
import time
from collections.abc import Callable, Sequence

import numpy as np

from ctxrnn.molap import baselines, counts
from ctxrnn.molap import network as net
from ctxrnn.molap import training as tr

MOLAP_TASK_NAMES = ("delay_pro", "delay_anti", "mem_pro", "mem_anti", "mem_dm1", "mem_dm2",
                    "context_mem_dm1", "context_mem_dm2", "multi_mem")
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
        dni: `HeadConfig` of the DNI-style network (default `dni_config()`).
        dni_units: N of the DNI-style network. Default: `200`.
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
    dni: tr.HeadConfig | None = None
    dni_units: int = baselines.DNI_UNITS
    test_trials: int = 2000
    seed: int = 0
    trials: str = "code"

    def __post_init__(self):
        if self.trials not in TRIAL_OPTIONS:
            raise ValueError(f"Argument `trials` must be one of {sorted(TRIAL_OPTIONS)}; "
                             f"received trials={self.trials!r}.")
        self.tasks = tuple(self.tasks)
        self.module_sizes = tuple(int(s) for s in self.module_sizes)
        self.approaches = tuple(self.approaches)
        unknown = set(self.approaches) - set(APPROACHES)
        if unknown:
            raise ValueError(
                f"Unknown approach(es) {sorted(unknown)}; expected some of {list(APPROACHES)}.")
        if self.dni is None:
            self.dni = baselines.dni_config(len(self.tasks))
        for name in ("pretrain", "heads", "separate", "dni"):
            value = getattr(self, name)
            if isinstance(value, dict):
                kind = tr.PretrainConfig if name == "pretrain" else tr.HeadConfig
                setattr(self, name, kind(**value))

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


def _layout_counts(layout: net.HeadLayout, config: PipelineConfig, iterations_per_module: int):
    molap = counts.molap_counts(
        layout.n_inputs, layout.n_outputs, units=config.units, module_sizes=config.module_sizes,
        pretrain_iterations=iterations_per_module,
        head_iterations=config.heads.total_iterations,
        initial_state=config.heads.per_task_initial_state)
    separate = counts.separate_counts(
        layout.n_inputs, layout.n_outputs, units=baselines.SEPARATE_UNITS,
        iterations=config.separate.total_iterations)
    dni = counts.dni_counts(layout.n_inputs, layout.n_outputs, units=config.dni_units,
                            iterations=config.dni.total_iterations)
    return {"molap": molap, "separate": separate, "dni": dni}


def plot_accuracy(accuracy: dict[str, dict[str, float]], path) -> pathlib.Path:
    """Fig. 2-style grouped bars: % correct per task, one bar per approach."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    approaches = list(accuracy)
    tasks = list(next(iter(accuracy.values())))
    width = 0.8 / max(1, len(approaches))
    figure, axes = plt.subplots(figsize=(9, 3.4))
    x = np.arange(len(tasks))
    for i, approach in enumerate(approaches):
        axes.bar(x + i * width, [100 * accuracy[approach][t] for t in tasks], width,
                 label=approach)
    axes.axhline(70, color="k", lw=0.8, ls="--")
    axes.set_xticks(x + width * (len(approaches) - 1) / 2, tasks, rotation=30, ha="right",
                    fontsize=8)
    axes.set_ylabel("% decisions correct")
    axes.set_ylim(0, 100)
    axes.legend(frameon=False, fontsize=8, ncol=len(approaches))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return pathlib.Path(path)


def run_pipeline(config: PipelineConfig | None = None, out_dir=None, *,
                 progress: Callable[[str], None] | None = None, tasks: Sequence | None = None,
                 save_models: bool = True) -> dict:
    """Runs MoLaP and the chosen controls/baselines; returns (and writes) the results.

    Args:
        config: `PipelineConfig`; default `PipelineConfig()` (paper sizes).
        out_dir: run directory to write (`config.json`, `results.json`,
            `table1.md`, `accuracy.png`, `kernels.npz`, `models/*.keras`), or `None`.
        progress: optional callable receiving progress lines.
        tasks: task objects (default: built from `config.tasks`).
        save_models: also save the trained models (`models/`).

    Returns:
        A dict with `accuracy` (`{approach: {task: fraction}}`), `seconds`,
        `counts`, `ratios`, `primitives` and the trained `models` (not written
        to `results.json`).
    """
    config = config or PipelineConfig()
    say = progress or (lambda message: None)
    tasks = list(tasks) if tasks is not None else load_tasks(config.tasks, config.task_module,
                                                                  config.trials)
    out = None
    if out_dir is not None:
        out = pathlib.Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2, default=str))
    layout = net.HeadLayout.from_tasks(tasks, config.tasks)
    accuracy, seconds, models, extra = {}, {}, {}, {}
    seed = config.seed

    def evaluate(model, task_list, lay):
        return tr.evaluate(model, task_list, lay, n_trials=config.test_trials, seed=seed + 777)

    started = time.perf_counter()
    if "molap" in config.approaches:
        start = time.perf_counter()
        pre = tr.pretrain_modules(tasks, units=config.units, module_sizes=config.module_sizes,
                                  gain=config.gain, config=config.pretrain, seed=seed,
                                  progress=say)
        heads = tr.train_heads(pre.recurrent_kernel, tasks, config.tasks, config=config.heads,
                               seed=seed, progress=say)
        seconds["molap_pretraining"] = sum(pre.seconds.values())
        seconds["molap_heads"] = heads.seconds
        seconds["molap"] = time.perf_counter() - start
        accuracy["molap"] = evaluate(heads.model, tasks, layout)
        models["molap"] = heads.model
        extra["primitives"] = {
            "method": pre.primitives.method,
            "correlations": pre.primitives.correlations_.tolist(),
            "target_variance_explained": pre.primitives.target_variance_explained_.tolist(),
            "pretraining_final_loss": [losses[-1] for losses in pre.losses],
        }
        extra["kernels"] = {"pretrained": pre.recurrent_kernel, "initial": pre.initial_kernel}
        say(f"molap: {_fmt(accuracy['molap'])} ({seconds['molap']:.0f} s)")
    if "no_pretraining" in config.approaches:
        start = time.perf_counter()
        kernel = tr.initial_recurrent_kernel(config.units, config.gain, seed)
        heads = tr.train_heads(kernel, tasks, config.tasks, config=config.heads, seed=seed,
                               progress=say)
        seconds["no_pretraining"] = time.perf_counter() - start
        accuracy["no_pretraining"] = evaluate(heads.model, tasks, layout)
        models["no_pretraining"] = heads.model
        say(f"no pre-training: {_fmt(accuracy['no_pretraining'])}")
    if "pca" in config.approaches:
        start = time.perf_counter()
        pca = dataclasses.replace(config.pretrain, method="pca")
        pre = tr.pretrain_modules(tasks, units=config.units, module_sizes=config.module_sizes,
                                  gain=config.gain, config=pca, seed=seed, progress=say)
        heads = tr.train_heads(pre.recurrent_kernel, tasks, config.tasks, config=config.heads,
                               seed=seed, progress=say)
        seconds["pca"] = time.perf_counter() - start
        accuracy["pca"] = evaluate(heads.model, tasks, layout)
        models["pca"] = heads.model
        say(f"pca: {_fmt(accuracy['pca'])}")
    if "separate" in config.approaches:
        start = time.perf_counter()
        nets = baselines.train_separate(tasks, config.tasks, config=config.separate, seed=seed,
                                        progress=say)
        accuracy["separate"] = {}
        for task, result in zip(tasks, nets):
            accuracy["separate"].update(evaluate(result.model, [task], result.layout))
            models[f"separate_{result.layout.names[0]}"] = result.model
        seconds["separate"] = time.perf_counter() - start
        say(f"separate: {_fmt(accuracy['separate'])} ({seconds['separate']:.0f} s)")
    if "dni" in config.approaches:
        start = time.perf_counter()
        dni = baselines.train_dni_style(tasks, config.tasks, units=config.dni_units,
                                        config=config.dni, seed=seed, progress=say)
        seconds["dni"] = time.perf_counter() - start
        accuracy["dni"] = evaluate(dni.model, tasks, layout)
        models["dni"] = dni.model
        say(f"dni-style: {_fmt(accuracy['dni'])} ({seconds['dni']:.0f} s)")
    seconds["total"] = time.perf_counter() - started
    measured = _layout_counts(layout, config, config.pretrain.total_iterations)
    results = {
        "accuracy": accuracy,
        "seconds": seconds,
        "counts": {k: v.as_dict() for k, v in measured.items()},
        "ratios": counts.ratios(measured),
        "paper_table1": counts.PAPER_TABLE1,
        **{k: v for k, v in extra.items() if k != "kernels"},
    }
    if out is not None:
        (out / "results.json").write_text(json.dumps(results, indent=2))
        (out / "table1.md").write_text(
            counts.table1_markdown(measured) + "\n\n" + counts.EXPLANATION)
        if accuracy:
            plot_accuracy(accuracy, out / "accuracy.png")
        if "kernels" in extra:
            np.savez(out / "kernels.npz", **extra["kernels"])
        if save_models:
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
