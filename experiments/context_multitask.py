"""Reproduce C. Jarne's context-multitask study (poster; Jarne & Laje 2019).

1. One continuous-time network learns five temporal tasks selected by a context
   input (AND, OR, XOR, NOT, time reproduction): per-task accuracy, W_rec
   statistics (mean, std, skewness, kurtosis), eigenvalues outside the unit
   circle, damage curves (lowest-magnitude first; positive-only; negative-only;
   random-removal control) and the pruning knee.
2. Single-task networks of the same tasks.
3. A sweep over the number of units: the smallest network that reaches the
   accuracy criterion, for the context network and for each single-task one.

Writes `results.json` and `results.md` (a table to paste into
`experiments/RESULTS.md`) to `--out`, plus one run directory (with report) per
trained network.

    python experiments/context_multitask.py --out runs/context_multitask
    python experiments/context_multitask.py --out /tmp/ctx --quick   # minutes, smaller
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import time

import numpy as np

from ctxrnn import io
from ctxrnn.training import DEFAULT_TASKS, TrainConfig, train_run

CRITERION = 0.95  # per-task accuracy a network must reach to "do" a task
POSTER = {"prunable": "10-12 %", "mean": 1e-4, "std": 0.0999, "skewness": 0.6337,
          "kurtosis": -1.1432}


def _train(out: pathlib.Path, name: str, config: TrainConfig, report: bool) -> dict:
    start = time.perf_counter()
    run = train_run(out / name, config, verbose=0, report=report)
    evaluation = run.load_evaluation()
    final = [r for r in run.load_statistics() if r["weight"] == "recurrent_kernel"][-1]
    pruning = run.load_pruning()
    summary = {
        "name": name, "tasks": config.tasks, "units": config.units,
        "per_task_accuracy": evaluation["per_task_accuracy"],
        "min_accuracy": min(evaluation["per_task_accuracy"].values()),
        "statistics": {k: final[k] for k in ("mean", "std", "skewness", "kurtosis",
                                              "spectral_radius", "n_outside_unit_circle")},
        "knee": pruning.get("knee", {}).get("fraction"),
        "distance_knee": pruning.get("distance_knee", {}).get("fraction"),
        "family_knees": {family: {**curves["knee"], "max_fraction": curves["max_fraction"]}
                         for family, curves in pruning.get("families", {}).items()},
        "family_accuracy_at_knee": {},
        "seconds": time.perf_counter() - start,
    }
    if summary["knee"] is not None:
        index = pruning["fractions"].index(summary["knee"])
        summary["family_accuracy_at_knee"] = {
            family: curves["accuracy"][index] for family, curves in pruning["families"].items()}
    print(f"{name:<32} units={config.units:<4} min acc={summary['min_accuracy']:.3f} "
          f"knee={summary['knee']} ({summary['seconds']:.0f} s)", flush=True)
    return summary


def _units_needed(sweep: list[dict], key: str) -> int | None:
    reached = [s["units"] for s in sweep if s[key] >= CRITERION]
    return min(reached) if reached else None


def _mean_sd(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.4g} ± {values.std():.2g}" if values.size > 1 else f"{values[0]:.4g}"


def _markdown(results: dict) -> str:
    ctx, seeds = results["context"], results["context_seeds"]
    lines = ["| task | context net accuracy (seed 0) | context nets, min over seeds | "
             "single-task net accuracy |", "|---|---|---|---|"]
    for task in results["tasks"]:
        single = results["single"][task]["per_task_accuracy"][task]
        worst = min(s["per_task_accuracy"][task] for s in seeds)
        lines.append(f"| {task} | {100 * ctx['per_task_accuracy'][task]:.1f} % | "
                     f"{100 * worst:.1f} % | {100 * single:.1f} % |")
    lines += ["", f"W_rec of the trained context networks ({len(seeds)} seeds, mean ± sd):", "",
              "| W_rec statistic | measured | poster |", "|---|---|---|"]
    for key in ("mean", "std", "skewness", "kurtosis"):
        lines.append(f"| {key} | {_mean_sd([s['statistics'][key] for s in seeds])} | "
                     f"{POSTER[key]:.4g} |")
    lines += [f"| eigenvalues outside unit circle | "
              f"{_mean_sd([s['statistics']['n_outside_unit_circle'] for s in seeds])} | a few |",
              f"| spectral radius | {_mean_sd([s['statistics']['spectral_radius'] for s in seeds])}"
              " | — |",
              f"| pruning knee, accuracy within 5 points (lowest magnitude) | "
              f"{_mean_sd([100 * s['knee'] for s in seeds])} % | {POSTER['prunable']} |",
              f"| pruning knee, output–target distance within +25 % (lowest magnitude) | "
              f"{_mean_sd([100 * s['distance_knee'] for s in seeds])} % | {POSTER['prunable']} |",
              "", "Damage families of the seed-0 context network (knee = largest fraction "
              "within tolerance; removal stops where a family runs out of connections):", "",
              "| family | accuracy knee | distance knee | fractions available |", "|---|---|---|---|"]
    for family, knee in ctx["family_knees"].items():
        lines.append(f"| {family} | {100 * knee['accuracy']:.0f} % | {100 * knee['distance']:.0f} %"
                     f" | up to {100 * knee['max_fraction']:.0f} % |")
    lines += ["", "| units | context net min accuracy | "
              + " | ".join(f"{t} alone" for t in results["tasks"]) + " |",
              "|---" * (2 + len(results["tasks"])) + "|"]
    for row in results["sweep"]:
        cells = " | ".join(f"{100 * row['single'][t]:.0f} %" for t in results["tasks"])
        lines.append(f"| {row['units']} | {100 * row['context']:.0f} % | {cells} |")
    needed = results["units_needed"]
    lines += ["", f"Units needed for >= {100 * CRITERION:.0f} % on every task: context net "
              f"{needed['context']}; single-task nets "
              + ", ".join(f"{t}: {needed[t]}" for t in results["tasks"]) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--context-seeds", type=int, nargs="+", default=None,
                        help="seeds of the 100-unit context network (statistics over seeds)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="network sizes of the units sweep")
    args = parser.parse_args()

    tasks = list(DEFAULT_TASKS)
    epochs = 12 if args.quick else TrainConfig.epochs
    base = TrainConfig(tasks=tasks, epochs=epochs, seed=args.seed)
    sizes = args.sizes or ((3, 6, 12) if args.quick else (2, 3, 4, 6, 8, 12, 20))
    results = {"tasks": tasks, "criterion": CRITERION, "config": dataclasses.asdict(base)}
    results["context"] = _train(args.out, "context", base, report=True)
    extra_seeds = args.context_seeds or ([] if args.quick else [args.seed + 1, args.seed + 2])
    results["context_seeds"] = [results["context"]] + [
        _train(args.out, f"context_seed{seed}", dataclasses.replace(base, seed=seed), False)
        for seed in extra_seeds if seed != args.seed]
    results["single"] = {
        task: _train(args.out, f"single_{task}", dataclasses.replace(base, tasks=[task]),
                     report=False)
        for task in tasks
    }
    sweep = []
    for units in sizes:
        row = {"units": units}
        row["context"] = _train(args.out, f"sweep_context_{units}",
                                dataclasses.replace(base, units=units), False)["min_accuracy"]
        row["single"] = {
            task: _train(args.out, f"sweep_{task}_{units}",
                         dataclasses.replace(base, tasks=[task], units=units), False)["min_accuracy"]
            for task in tasks
        }
        sweep.append(row)
    results["sweep"] = sweep
    flat = [{"units": r["units"], "context": r["context"], **r["single"]} for r in sweep]
    results["units_needed"] = {key: _units_needed(flat, key) for key in ["context", *tasks]}
    io.write_json(args.out / "results.json", results)
    io.write_text(args.out / "results.md", _markdown(results))
    print(json.dumps(results["units_needed"]))
    print(f"results: {args.out / 'results.md'}")


if __name__ == "__main__":
    main()
