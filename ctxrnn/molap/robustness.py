"""MoLaP robustness (paper Figs. 3, 4, S1-S5) of saved runs, over seeds.

Modular lesions (each module's recurrent block, the inter-module blocks), global
lesions, weight noise (sigma <= 0.03) and unit silencing, 30 random draws per level,
for every approach a `ctxrnn molap` run saved; evaluated as batched computations
(`ctxrnn.perturb`). `evaluate_runs` does a whole seed study (resumable per seed);
`ctxrnn molap --seeds ... --robustness` and `experiments/molap_robustness.py` call it.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import keras
import numpy as np

from ctxrnn import io, perturb
from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import network, pipeline

#: Levels of each perturbation kind: fractions of weights or units, noise std.
LEVELS = {
    "module": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    "inter_module": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    "global": [0.0, 0.05, 0.1, 0.2, 0.3],
    "noise": [0.0, 0.005, 0.01, 0.02, 0.03],
    "silence": [0.0, 0.05, 0.1, 0.2, 0.3],
}
#: (perturbation kind, lesioned module, label) of each sweep.
SWEEPS = (("module", 0, "module1"), ("module", 1, "module2"), ("inter_module", 0, "inter_module"),
          ("global", 0, "global"), ("noise", 0, "noise"), ("silence", 0, "silence"))
SWEEP_LABELS = tuple(label for *_, label in SWEEPS)
HEAD_APPROACHES = tuple(a for a in pipeline.APPROACHES if a != "separate")


def _own_channels(layout):
    """A `task_model`'s layout: its head bias lives in the layer, not in an input channel."""
    return dataclasses.replace(layout, input_bias=False)


def load_entries(run, approaches=pipeline.APPROACHES) -> tuple[int, dict]:
    """The models a `ctxrnn molap` run saved, ready for `perturb.perturbation_sweep`.

    Args:
        run: a run directory of `ctxrnn molap` (with `config.json` and `models/`).
        approaches: the approaches to load (those without saved models are left out).

    Returns:
        `(seed, {approach: [(model, layout, tasks), ...]})`: heads with per-task
        initial states come as one single-task model per task, separate networks
        as one model per task.
    """
    run = pathlib.Path(run)
    config = json.loads((run / "config.json").read_text())
    names = config["tasks"]
    tasks = pipeline.tasks_of_run(config)
    entries = {}
    for approach in (a for a in HEAD_APPROACHES if a in approaches):
        path = run / "models" / f"{approach}.keras"
        if not path.exists():
            continue
        model = keras.models.load_model(path)
        layout = network.HeadLayout.for_model(model, tasks, names)
        if len(model.inputs) == 1:
            entries[approach] = [(model, layout, tasks)]
        else:  # per-task initial states: one single-task model per head
            entries[approach] = [
                (network.task_model(model, layout, name), _own_channels(layout.single(i)),
                 [tasks[i]]) for i, name in enumerate(names)]
    separate = [(run / "models" / f"separate_{name}.keras", i) for i, name in enumerate(names)]
    if "separate" in approaches and all(path.exists() for path, _ in separate):
        entries["separate"] = []
        for path, i in separate:
            model = keras.models.load_model(path)
            entries["separate"].append(
                (model, network.HeadLayout.for_model(model, [tasks[i]], [names[i]]), [tasks[i]]))
    return config["seed"], entries


def evaluate(seed, entries, *, draws: int = 30, trials: int = 250,
             sweeps=SWEEP_LABELS, verbose: bool = True) -> list[dict]:
    """Every sweep of `SWEEPS` named in `sweeps` on every approach of `entries`.

    Args:
        seed: the run's seed, stored in each row (the draws use `seed=1` everywhere,
            so two runs see the same perturbation draws).
        entries: `load_entries(...)[1]`.
        draws: random draws per level (paper: 30).
        trials: test trials per task (paper's supplement: 250).
        sweeps: labels of `SWEEPS` to run.
        verbose: print one line per sweep and approach.

    Returns:
        Rows of `perturb.perturbation_sweep` with `approach`, `sweep` and `seed` added.
    """
    rows = []
    for kind, module, label in SWEEPS:
        if label not in sweeps:
            continue
        for approach, parts in entries.items():
            start = time.perf_counter()
            approach_rows = []
            for model, lay, task_list in parts:
                units = find_ctrnn(model).units
                approach_rows += perturb.perturbation_sweep(
                    model, lay, task_list, kind, LEVELS[kind], draws=draws, n_trials=trials,
                    module_sizes=(units // 2, units - units // 2), module=module, seed=1)
            for row in approach_rows:
                row.update(approach=approach, sweep=label, seed=seed)
            rows += approach_rows
            if verbose:
                print(f"seed {seed} {label:<13} {approach:<15} " + " ".join(
                    f"{lvl:g}:{100 * m:.0f}" for lvl, (m, _) in
                    perturb.summarize(approach_rows).items())
                    + f"  ({time.perf_counter() - start:.1f} s)", flush=True)
    return rows


def drops(rows) -> dict:
    """`{seed: mean over non-zero levels of (accuracy at level - accuracy at 0)}` of one
    sweep's rows of one approach (negative: the perturbation costs accuracy)."""
    means = perturb.level_means(rows, "seed")
    return {seed: float(np.mean([per_seed[seed] for level, per_seed in means.items()
                                 if level > 0]) - means[0.0][seed])
            for seed in sorted(means[0.0])}


def write_summary(out, rows: list[dict]) -> dict:
    """`summary.json`, `robustness.md` and one PNG per sweep from `evaluate` rows of
    one or more seeds, into `out`; returns the summary.

    Per sweep, approach and level: mean, std and worst over seeds of each seed's mean
    accuracy (`perturb.summarize_seeds`), each seed's mean drop (`drops`), and in the
    table MoLaP's drop against each baseline's, seed by seed.
    """
    out = pathlib.Path(out)
    over = "seeds" if len({row["seed"] for row in rows}) > 1 else "draws"
    groups: dict = {}
    for row in rows:
        groups.setdefault(row["sweep"], {}).setdefault(row["approach"], []).append(row)
    summary, lines = {}, ["# MoLaP robustness over seeds", "",
                          "% decisions correct (mean over tasks and draws per seed), "
                          "mean ± sd over seeds (worst seed).", ""]
    for label, per_approach in groups.items():
        per_approach = {a: per_approach[a] for a in pipeline.APPROACHES if a in per_approach}
        levels = sorted({row["level"] for row in next(iter(per_approach.values()))})
        lines += [f"## {label}", "", "| approach (seeds) | " + " | ".join(f"{v:g}" for v in levels)
                  + " | mean drop |", "|---|" + "---|" * (len(levels) + 1)]
        drop_of = {approach: drops(approach_rows) for approach, approach_rows
                   in per_approach.items()}
        for approach, approach_rows in per_approach.items():
            table = perturb.summarize_seeds(approach_rows)
            drop = drop_of[approach]
            summary[f"{label}/{approach}"] = {
                "levels": {str(k): dict(zip(("mean", "std", "worst", "seeds"), v))
                           for k, v in table.items()},
                "drop_per_seed": {str(k): v for k, v in drop.items()}}
            n = next(iter(table.values()))[3]
            lines.append(f"| {approach} ({n}) | " + " | ".join(
                f"{100 * m:.1f} ± {100 * s:.1f} ({100 * w:.1f})" for m, s, w, _ in table.values())
                + f" | {100 * np.mean(list(drop.values())):.1f} |")
        molap = drop_of.get("molap")
        if molap:
            lines += ["", "MoLaP's mean drop minus each baseline's, per seed (points; > 0: "
                      "MoLaP loses less):", ""]
            for approach, other in drop_of.items():
                if approach == "molap":
                    continue
                common = sorted(set(molap) & set(other))
                diff = [100 * (molap[s] - other[s]) for s in common]
                if diff:
                    lines.append(f"- vs {approach}: " + ", ".join(
                        f"seed {s} {d:+.1f}" for s, d in zip(common, diff))
                        + f"; mean {np.mean(diff):+.1f}, MoLaP ahead at "
                          f"{sum(d > 0 for d in diff)} of {len(diff)}")
        lines.append("")
        perturb.plot_sweeps(per_approach, out / f"{label}.png", title=label, over=over)
    io.write_json(out / "summary.json", summary)
    io.write_text(out / "robustness.md", "\n".join(lines))
    return summary


def evaluate_runs(out, runs, *, draws: int = 30, trials: int = 250,
                  approaches=pipeline.APPROACHES, sweeps=SWEEP_LABELS,
                  verbose: bool = True) -> dict:
    """`evaluate` of each run in `runs` (one per seed), then `write_summary` into `out`.

    Each run's rows go to `out/rows_seed<k>_<approaches>.json` (with the settings
    they were made with) as soon as they are done; a run whose file exists is not
    evaluated again (a killed study resumes), and one made with other settings is
    refused.

    Args:
        out: directory to write.
        runs: `ctxrnn molap` run directories.
        draws, trials, sweeps, verbose: as in `evaluate`.
        approaches: approaches to evaluate (where the run saved them).

    Returns:
        The summary (`write_summary`).
    """
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in map(pathlib.Path, runs):
        seed = json.loads((run / "config.json").read_text())["seed"]
        saved = json.loads((run / "results.json").read_text())["accuracy"]
        present = [a for a in pipeline.APPROACHES if a in saved and a in approaches]
        # one file per seed and set of approaches: a seed may come from several runs
        path = out / f"rows_seed{seed}_{'-'.join(present)}.json"
        settings = {"draws": draws, "trials": trials, "sweeps": list(sweeps)}
        if path.exists():
            stored = io.read_json(path)
            if stored["settings"] != settings:
                raise ValueError(f"{str(path)!r} was made with {stored['settings']}, not "
                                 f"{settings}; use another `out` or remove that file.")
            if verbose:
                print(f"{path} exists: seed {seed} ({', '.join(present)}) not evaluated again",
                      flush=True)
        else:
            _, entries = load_entries(run, present)
            stored = {"settings": settings,
                      "rows": evaluate(seed, entries, draws=draws, trials=trials,
                                       sweeps=sweeps, verbose=verbose)}
            io.write_json(path, stored)
        rows += stored["rows"]
    return write_summary(out, rows)
