"""MoLaP Figs. 3, 4, S1-S5: accuracy after modular/global lesions, weight noise, silencing.

    python experiments/molap_robustness.py RUN_DIR OUT_DIR [--draws 30] [--trials 250]

RUN_DIR is the output of `experiments/molap_fig2.py` (its `models/` are loaded).
For every approach (MoLaP, DNI, separate networks) and every kind of
perturbation, 30 random draws per level are evaluated as one batched
computation (`ctxrnn.perturb`). Writes `rows.json` (tidy rows with an
`approach` column), `summary.json` and one PNG per perturbation.
"""

import argparse
import dataclasses
import json
import pathlib
import sys
import time

import keras
import numpy as np

import ctxrnn  # noqa: F401  (registers the custom layers)
from ctxrnn import perturb
from ctxrnn.molap import network, pipeline

LEVELS = {
    "module": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    "inter_module": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    "global": [0.0, 0.05, 0.1, 0.2, 0.3],
    "noise": [0.0, 0.005, 0.01, 0.02, 0.03],
    "silence": [0.0, 0.05, 0.1, 0.2, 0.3],
}
SWEEPS = (("module", 0, "module1"), ("module", 1, "module2"), ("inter_module", 0, "inter_module"),
          ("global", 0, "global"), ("noise", 0, "noise"), ("silence", 0, "silence"))


def _own_channels(layout):
    """A `task_model`'s layout: its head bias lives in the layer, not in an input channel."""
    return dataclasses.replace(layout, input_bias=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("out")
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--trials", type=int, default=250)
    parser.add_argument("--sweeps", nargs="+", default=[label for *_, label in SWEEPS])
    args = parser.parse_args(argv)
    run = pathlib.Path(args.run)
    config = json.loads((run / "config.json").read_text())
    names = config["tasks"]
    tasks = pipeline.load_tasks(names, config["task_module"], config.get("trials", "text"))
    entries = {}
    for approach in ("molap", "dni"):
        path = run / "models" / f"{approach}.keras"
        if path.exists():
            model = keras.models.load_model(path)
            layout = network.HeadLayout.for_model(model, tasks, names)
            if len(model.inputs) == 1:
                entries[approach] = [(model, layout, tasks)]
            else:  # per-task initial states: one single-task model per head
                entries[approach] = [
                    (network.task_model(model, layout, name), _own_channels(layout.single(i)),
                     [tasks[i]]) for i, name in enumerate(names)]
    separate = [(run / "models" / f"separate_{name}.keras", i) for i, name in enumerate(names)]
    if all(path.exists() for path, _ in separate):
        entries["separate"] = []
        for path, i in separate:
            model = keras.models.load_model(path)
            entries["separate"].append(
                (model, network.HeadLayout.for_model(model, [tasks[i]], [names[i]]), [tasks[i]]))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, summary, seconds = [], {}, {}
    for kind, module, label in SWEEPS:
        if label not in args.sweeps:
            continue
        per_approach = {}
        for approach, parts in entries.items():
            start = time.perf_counter()
            approach_rows = []
            for model, lay, task_list in parts:
                units = ctxrnn.find_ctrnn(model).units
                approach_rows += perturb.perturbation_sweep(
                    model, lay, task_list, kind, LEVELS[kind], draws=args.draws,
                    n_trials=args.trials, module_sizes=(units // 2, units - units // 2),
                    module=module, seed=1)
            for row in approach_rows:
                row.update(approach=approach, sweep=label)
            rows += approach_rows
            per_approach[approach] = approach_rows
            seconds[f"{label}/{approach}"] = time.perf_counter() - start
            summary[f"{label}/{approach}"] = {str(k): v for k, v in
                                               perturb.summarize(approach_rows).items()}
            print(f"{label:<13} {approach:<9} " + " ".join(
                f"{lvl:g}:{100 * m:.0f}±{100 * s:.0f}"
                for lvl, (m, s) in perturb.summarize(approach_rows).items())
                + f"  ({seconds[f'{label}/{approach}']:.1f} s)", flush=True)
        perturb.plot_sweeps(per_approach, out / f"{label}.png", title=label)
    (out / "rows.json").write_text(json.dumps(rows))
    (out / "summary.json").write_text(json.dumps({"summary": summary, "seconds": seconds},
                                                 indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
