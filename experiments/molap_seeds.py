"""MoLaP Fig. 2 over seeds: mean and spread of the accuracy per task per approach.

    python experiments/molap_seeds.py OUT_DIR RUN_DIR [RUN_DIR ...]

Each RUN_DIR is the output of `ctxrnn molap` (or `experiments/molap_fig2.py`),
one per seed; runs may hold different approaches (an approach's statistics use
the runs that have it). Writes `seeds.json` (per approach and task: the values,
mean, standard deviation over seeds), `seeds.md` (the table) and
`accuracy_seeds.png` (bars: mean; error bars: std over seeds).
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from ctxrnn import io
from ctxrnn.molap.pipeline import APPROACHES, plot_accuracy


def collect(run_dirs) -> dict:
    """`{approach: {task: {"seeds": [...], "values": [...]}}}` from the runs' results."""
    table: dict = {}
    for run in map(pathlib.Path, run_dirs):
        for name in ("results.json", "config.json"):
            if not (run / name).exists():
                raise FileNotFoundError(f"Run directory {str(run)!r} has no {name}; expected "
                                        f"the output of `ctxrnn molap`.")
        seed = json.loads((run / "config.json").read_text())["seed"]
        accuracy = json.loads((run / "results.json").read_text())["accuracy"]
        for approach, per_task in accuracy.items():
            for task, value in per_task.items():
                entry = table.setdefault(approach, {}).setdefault(task, {"seeds": [], "values": []})
                if seed in entry["seeds"]:
                    raise ValueError(f"Approach {approach!r} appears twice for seed {seed} "
                                     f"(second time in {str(run)!r}).")
                entry["seeds"].append(seed)
                entry["values"].append(value)
    ordered = {a: table[a] for a in APPROACHES if a in table}
    for per_task in ordered.values():
        for entry in per_task.values():
            entry["mean"] = float(np.mean(entry["values"]))
            entry["std"] = float(np.std(entry["values"]))
    return ordered


def markdown(table: dict) -> str:
    approaches = list(table)
    tasks = list(next(iter(table.values())))
    n = {a: len(next(iter(table[a].values()))["values"]) for a in approaches}
    lines = ["| task | " + " | ".join(f"{a} (n={n[a]})" for a in approaches) + " |",
             "|---|" + "---|" * len(approaches)]
    for task in tasks:
        lines.append(f"| {task} | " + " | ".join(
            f"{100 * table[a][task]['mean']:.1f} ± {100 * table[a][task]['std']:.1f}"
            for a in approaches) + " |")
    rest = [t for t in tasks if t not in ("delay_pro", "delay_anti")]
    lines.append("| mean of T3-T9 | " + " | ".join(
        f"{100 * np.mean([table[a][t]['mean'] for t in rest]):.1f}" for a in approaches) + " |")
    lines.append("| lowest task, mean over seeds | " + " | ".join(
        f"{100 * min(table[a][t]['mean'] for t in tasks):.1f}" for a in approaches) + " |")
    lines.append("| lowest single run | " + " | ".join(
        f"{100 * min(min(table[a][t]['values']) for t in tasks):.1f}" for a in approaches) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args(argv)
    table = collect(args.runs)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    io.write_json(out / "seeds.json", table)
    io.write_text(out / "seeds.md", markdown(table))
    plot_accuracy({a: {t: e["mean"] for t, e in v.items()} for a, v in table.items()},
                  out / "accuracy_seeds.png",
                  spread={a: {t: e["std"] for t, e in v.items()} for a, v in table.items()})
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
