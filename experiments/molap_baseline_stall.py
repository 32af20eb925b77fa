"""Why the fully trained separate networks stall: the reference code's Adam step count.

    python experiments/molap_baseline_stall.py OUT_DIR [--seeds 0 1 2]
        [--tasks context_mem_dm1 context_mem_dm2 multi_mem] [--adam-step stage]

Trains the pipeline's separate network for each task and seed exactly as
`ctxrnn molap --approaches separate` does (same network seed, trials, schedule and
2000-trial evaluation; `pipeline._run_job` on that one task), with Adam's bias
correction counted as the reference code counts it (`--adam-step stage`: by stage
index, `ctxrnn.molap.training.ADAM_STEPS`) or as published (`iteration`, the
default pipeline). Writes `stall.json` (accuracy and the leading eigenvalue of the
trained W_rec per task and seed).
"""

import argparse
import dataclasses
import pathlib
import sys

import numpy as np

from ctxrnn import io
from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import pipeline
from ctxrnn.molap import training as tr


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+",
                        default=["context_mem_dm1", "context_mem_dm2", "multi_mem"])
    parser.add_argument("--adam-step", default="stage", choices=tr.ADAM_STEPS)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stall.json"
    results = io.read_json(path) if path.exists() else []
    base = pipeline.PipelineConfig()
    tasks = pipeline.load_tasks(base.tasks, base.task_module, base.trials)
    for seed in args.seeds:
        for name in args.tasks:
            if any(r["seed"] == seed and r["task"] == name and r["adam_step"] == args.adam_step
                   for r in results):
                continue
            config = dataclasses.replace(
                base, seed=seed, approaches=("separate",),
                separate=dataclasses.replace(base.separate, adam_step=args.adam_step))
            job = pipeline._run_job(config, "separate", (base.tasks.index(name),), tasks,
                                    lambda message: None)
            model = job["models"][f"separate_{name}"]
            kernel = np.asarray(find_ctrnn(model).effective_recurrent_kernel)
            leading = max(np.linalg.eigvals(kernel), key=lambda z: z.real)
            accuracy = job["accuracy"]["separate"][name]
            results.append({"seed": seed, "task": name, "adam_step": args.adam_step,
                            "accuracy": accuracy, "leading_eigenvalue": [leading.real,
                                                                         abs(leading.imag)]})
            io.write_json(path, results)
            print(f"seed {seed} {name:<16} adam_step={args.adam_step}: {100 * accuracy:.1f} %, "
                  f"leading eigenvalue {leading.real:+.2f} ± {abs(leading.imag):.2f}i", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
