"""MoLaP Fig. 5: generalisation to tasks left out of the primitives' corpus, over seeds.

    python experiments/molap_generalisation.py OUT_DIR [--seeds 0 1 2] [--methods cca pca]
        [--leave 1 2] [--tasks-to-test delay_pro mem_dm1 ...] [--task-module ctxrnn.tasks]
    python experiments/molap_generalisation.py OUT_DIR --summary [OTHER_DIR ...]

For each seed, tested task T_j, method (CCA, PCA) and leave-k-out (k = 1: T_j;
k = 2: T_j and the next task, T9 wrapping to T1): the primitives are fitted on
the corpus without the left-out task(s), the modules are pre-trained on them
(`ctxrnn molap` defaults, reference wiring), and a head for T_j is trained on
the frozen core, its frozen bias included, with the default `HeadConfig` (each
head alone, trained again below 90 % on validation) and tested on 2000 trials.

Every finished row is written to `OUT_DIR/generalisation.json` at once and a
rerun skips the rows already there, so a study can be split over processes
(`--tasks-to-test`, `--seeds`) and resumed. `--summary` merges the rows of
the given directories and writes `generalisation_summary.json` (mean, sd and
worst over seeds per method, leave and task), `generalisation.md` and
`generalisation.png` (bars: mean over seeds, error bars: sd) into OUT_DIR.
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

from ctxrnn import io, seeding
from ctxrnn.molap import training as tr
from ctxrnn.molap.pipeline import MOLAP_TASK_NAMES, load_tasks

RESULTS = "generalisation.json"


def _key(row):
    return (row["seed"], row["method"], row["leave"], row["task"])


def _read_rows(directory: pathlib.Path) -> list[dict]:
    path = directory / RESULTS
    if not path.is_file():
        return []
    rows = json.loads(path.read_text())
    for row in rows:
        row.setdefault("seed", 0)  # files written before seeds were recorded ran seed 0
    return rows


def run(out: pathlib.Path, seeds, methods, leaves, tested, task_module, test_trials) -> list:
    names = list(MOLAP_TASK_NAMES)
    unknown = sorted(set(tested) - set(names))
    if unknown:
        raise ValueError(f"Argument `--tasks-to-test` has unknown tasks {unknown}; expected "
                         f"some of {names}.")
    tasks = load_tasks(names, task_module)
    out.mkdir(parents=True, exist_ok=True)
    rows = _read_rows(out)
    done = {_key(row) for row in rows}
    for seed in seeds:
        for method in methods:
            for leave in leaves:
                for name in tested:
                    if (seed, method, leave, name) in done:
                        continue
                    j = names.index(name)
                    left_out = {names[(j + k) % len(names)] for k in range(leave)}
                    corpus = [t for n, t in zip(names, tasks) if n not in left_out]
                    start = time.perf_counter()
                    pre = tr.pretrain_modules(corpus, config=tr.PretrainConfig(method=method),
                                              seed=seed)
                    heads = tr.train_heads(pre.recurrent_kernel, [tasks[j]], [name],
                                           recurrent_bias=pre.recurrent_bias, seed=seed)
                    accuracy = tr.evaluate(heads.model, [tasks[j]], heads.layout,
                                           n_trials=test_trials,
                                           seed=seeding.derive(seed, "evaluation"))[name]
                    rows.append({"seed": seed, "method": method, "leave": leave, "task": name,
                                 "left_out": sorted(left_out), "accuracy": accuracy,
                                 "head_trainings": heads.task_attempts[name],
                                 "seconds": time.perf_counter() - start})
                    print(f"seed {seed} {method} leave-{leave}-out {name:<16} "
                          f"{100 * accuracy:5.1f} % ({rows[-1]['seconds']:.0f} s)", flush=True)
                    io.write_json(out / RESULTS, rows)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Mean, sd (ddof 1 where > 1 seed) and worst accuracy over seeds per (method, leave, task)."""
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["method"], row["leave"], row["task"]), []).append(row)
    order = {name: i for i, name in enumerate(MOLAP_TASK_NAMES)}
    summary = []
    for (method, leave, task), members in sorted(groups.items(),
                                                 key=lambda kv: (kv[0][0], kv[0][1],
                                                                 order.get(kv[0][2], 99))):
        values = np.array([m["accuracy"] for m in sorted(members, key=lambda m: m["seed"])])
        summary.append({"method": method, "leave": leave, "task": task,
                        "seeds": sorted(m["seed"] for m in members),
                        "accuracy": values.tolist(), "mean": float(values.mean()),
                        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                        "worst": float(values.min())})
    return summary


def _markdown(summary: list[dict]) -> str:
    lines = ["| method | left out | tested task | seeds | mean ± sd (worst) | per seed |",
             "|---|---|---|---|---|---|"]
    for s in summary:
        per_seed = ", ".join(f"{100 * a:.1f}" for a in s["accuracy"])
        lines.append(f"| {s['method'].upper()} | {s['leave']} | {s['task']} | {len(s['seeds'])} | "
                     f"{100 * s['mean']:.1f} ± {100 * s['sd']:.1f} ({100 * s['worst']:.1f}) | "
                     f"{per_seed} |")
    return "\n".join(lines) + "\n"


def _plot(summary, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = sorted({(s["method"], s["leave"]) for s in summary})
    tasks = [t for t in MOLAP_TASK_NAMES if any(s["task"] == t for s in summary)]
    figure = Figure(figsize=(9, 3.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    width = 0.8 / max(1, len(groups))
    for i, (method, leave) in enumerate(groups):
        cells = [next((s for s in summary if s["task"] == t and s["method"] == method
                       and s["leave"] == leave), None) for t in tasks]
        means = [100 * c["mean"] if c else np.nan for c in cells]
        spread = [100 * c["sd"] if c else 0.0 for c in cells]
        seeds = max((len(c["seeds"]) for c in cells if c), default=0)
        axes.bar(np.arange(len(tasks)) + i * width, means, width, yerr=spread, capsize=2,
                 label=f"{method.upper()} leave-{leave}-out ({seeds} seeds)")
    axes.set_xticks(np.arange(len(tasks)) + width * (len(groups) - 1) / 2, tasks, rotation=30,
                    ha="right", fontsize=8)
    axes.set_ylabel("% decisions correct")
    axes.set_ylim(0, 105)
    axes.legend(frameon=False, fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--methods", nargs="+", default=["cca", "pca"])
    parser.add_argument("--leave", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--tasks-to-test", nargs="+", default=list(MOLAP_TASK_NAMES))
    parser.add_argument("--task-module", default="ctxrnn.tasks")
    parser.add_argument("--test-trials", type=int, default=2000)
    parser.add_argument("--summary", nargs="*", type=pathlib.Path, default=None,
                        help="merge the rows of OUT and these directories and write the summary")
    args = parser.parse_args(argv)
    if args.summary is None:
        rows = run(args.out, args.seeds, args.methods, args.leave, args.tasks_to_test,
                   args.task_module, args.test_trials)
    else:
        merged = {}
        for directory in [args.out, *args.summary]:
            for row in _read_rows(directory):
                merged[_key(row)] = row
        rows = list(merged.values())
    summary = summarise(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    io.write_json(args.out / "generalisation_summary.json", summary)
    io.write_text(args.out / "generalisation.md", _markdown(summary))
    _plot(summary, args.out / "generalisation.png")
    print(_markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
