"""MoLaP Fig. 5: generalisation to tasks left out of the primitives' corpus.

    python experiments/molap_generalisation.py OUT_DIR [--methods cca pca] [--leave 1 2]
        [--tasks-to-test delay_pro mem_dm1 ...] [--task-module ctxrnn.tasks]

For each tested task T_j and each method (CCA, PCA) and leave-k-out (k = 1: T_j;
k = 2: T_j and the next task, T9 wrapping to T1): the primitives are fitted on
the corpus without the left-out task(s), the modules are pre-trained on them,
and a head for T_j is trained on the frozen core and tested (2000 trials).
Writes `generalisation.json` and `generalisation.png`.
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

from ctxrnn import seeding
from ctxrnn.molap import training as tr
from ctxrnn.molap.pipeline import MOLAP_TASK_NAMES, load_tasks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--methods", nargs="+", default=["cca", "pca"])
    parser.add_argument("--leave", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--tasks-to-test", nargs="+", default=list(MOLAP_TASK_NAMES))
    parser.add_argument("--task-module", default="ctxrnn.tasks")
    parser.add_argument("--test-trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = list(MOLAP_TASK_NAMES)
    tasks = load_tasks(names, args.task_module)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for method in args.methods:
        for leave in args.leave:
            for name in args.tasks_to_test:
                j = names.index(name)
                left_out = {names[(j + k) % len(names)] for k in range(leave)}
                corpus = [t for n, t in zip(names, tasks) if n not in left_out]
                start = time.perf_counter()
                pre = tr.pretrain_modules(corpus, config=tr.PretrainConfig(method=method),
                                          seed=args.seed)
                heads = tr.train_heads(pre.recurrent_kernel, [tasks[j]], [name], seed=args.seed)
                accuracy = tr.evaluate(heads.model, [tasks[j]], heads.layout,
                                       n_trials=args.test_trials, seed=seeding.derive(args.seed, "evaluation"))[name]
                results.append({"method": method, "leave": leave, "task": name,
                                "left_out": sorted(left_out), "accuracy": accuracy,
                                "seconds": time.perf_counter() - start})
                print(f"{method} leave-{leave}-out {name:<16} {100 * accuracy:5.1f} % "
                      f"({results[-1]['seconds']:.0f} s)", flush=True)
                (out / "generalisation.json").write_text(json.dumps(results, indent=2))
    _plot(results, out / "generalisation.png")
    return 0


def _plot(results, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = sorted({(r["method"], r["leave"]) for r in results})
    tasks = list(dict.fromkeys(r["task"] for r in results))
    figure = Figure(figsize=(9, 3.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    width = 0.8 / max(1, len(groups))
    for i, (method, leave) in enumerate(groups):
        values = [next((100 * r["accuracy"] for r in results if r["task"] == t
                        and r["method"] == method and r["leave"] == leave), np.nan) for t in tasks]
        axes.bar(np.arange(len(tasks)) + i * width, values, width,
                 label=f"{method.upper()} leave-{leave}-out")
    axes.set_xticks(np.arange(len(tasks)) + width * (len(groups) - 1) / 2, tasks, rotation=30,
                    ha="right", fontsize=8)
    axes.set_ylabel("% decisions correct")
    axes.set_ylim(0, 100)
    axes.legend(frameon=False, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
