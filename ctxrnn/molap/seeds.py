"""MoLaP over seeds: per-seed run directories gathered into one table.

`collect` reads the `results.json` of `ctxrnn molap` runs (one per seed),
`seeds_json` turns that into the `molap_seeds.json` schema of issue 15
(`{"seeds": [...], "approaches": {approach: {"per_task": {task: [fraction per
seed]}}}}`), `markdown` into a mean ± sd table.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from ctxrnn.molap.pipeline import APPROACHES


def collect(run_dirs, previous: dict | None = None) -> dict:
    """`{approach: {task: {"seeds": [...], "values": [...]}}}` from the runs' results.

    Args:
        run_dirs: `ctxrnn molap` run directories (any seeds and approaches).
        previous: optional `molap_seeds.json` content (`seeds_json`) of earlier runs
            whose directories are gone: its (approach, seed) values are added where
            the runs do not have them (a run's own value wins; check first that a
            seed run again reproduces the stored values).
    """
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
    for approach, stored in ((previous or {}).get("approaches") or {}).items():
        for index, seed in enumerate(stored["seeds"]):
            for task, values in stored["per_task"].items():
                entry = table.setdefault(approach, {}).setdefault(task, {"seeds": [], "values": []})
                if seed not in entry["seeds"]:
                    entry["seeds"].append(seed)
                    entry["values"].append(values[index])
    for per_task in table.values():
        for entry in per_task.values():
            order = np.argsort(entry["seeds"], kind="stable")
            entry["seeds"] = [entry["seeds"][i] for i in order]
            entry["values"] = [entry["values"][i] for i in order]
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

    def per_seed(a):  # (seed, T3-T9 mean, lowest task) of each seed of approach a
        seeds = table[a][tasks[0]]["seeds"]
        return [(seed, np.mean([table[a][t]["values"][i] for t in rest]),
                 min(table[a][t]["values"][i] for t in tasks)) for i, seed in enumerate(seeds)]

    lines.append("| T3-T9 mean per seed | " + " | ".join(
        ", ".join(f"{100 * m:.1f} (s{seed})" for seed, m, _ in per_seed(a)) for a in approaches)
        + " |")
    lines.append("| seeds with >= 70 % on every task | " + " | ".join(
        f"{sum(low >= 0.7 for *_, low in per_seed(a))} of {n[a]}" for a in approaches) + " |")
    return "\n".join(lines) + "\n"


def seeds_json(table: dict) -> dict:
    """`collect`'s table in the `molap_seeds.json` schema; each approach also lists
    the seeds its values come from (in the same order)."""
    seeds = sorted({seed for per_task in table.values() for entry in per_task.values()
                    for seed in entry["seeds"]})
    approaches = {}
    for approach, per_task in table.items():
        order = next(iter(per_task.values()))["seeds"]
        approaches[approach] = {
            "seeds": list(order),
            "per_task": {task: [float(value) for value in entry["values"]]
                         for task, entry in per_task.items()},
        }
    return {"seeds": seeds, "approaches": approaches}


def write_summary(out, run_dirs, previous: dict | None = None) -> dict:
    """Writes `seeds.json` (values, mean, std per approach and task), `molap_seeds.json`
    (`seeds_json`), `seeds.md` (`markdown`) and `accuracy_seeds.png` (bars: mean,
    error bars: std over seeds) into `out`; returns `collect(run_dirs, previous)`."""
    from ctxrnn import io
    from ctxrnn.molap.pipeline import plot_accuracy

    table = collect(run_dirs, previous)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    io.write_json(out / "seeds.json", table)
    io.write_json(out / "molap_seeds.json", seeds_json(table))
    io.write_text(out / "seeds.md", markdown(table))
    plot_accuracy({a: {t: e["mean"] for t, e in v.items()} for a, v in table.items()},
                  out / "accuracy_seeds.png",
                  spread={a: {t: e["std"] for t, e in v.items()} for a, v in table.items()})
    return table
