"""Why the fully trained separate networks stall: the reference code's Adam step count.

    python experiments/molap_baseline_stall.py OUT_DIR [--seeds 0 1 2]
        [--tasks context_mem_dm1 context_mem_dm2 multi_mem] [--adam-step stage]
        [--reference-budget] [--rescale minmax] [--reference-trials] [--learning-rate 1e-3]
        [--response-weight 5] [--stages 10] [--gain 1.0] [--restarts 2] [--seeds-json FILE]

Trains the pipeline's separate network for each task and seed as `ctxrnn molap
--approaches separate` does (same network seed, trials and 2000-trial evaluation;
`pipeline._run_job` on that one task) at the paper's settings, where it stalls
(`baselines.separate_paper_config`: 5 x 200 iterations at 3e-3, plain MSE), with Adam's bias
correction counted as the reference code counts it (`--adam-step stage`: by stage
index, `ctxrnn.molap.training.ADAM_STEPS`) or as published (`iteration`, the
default pipeline). Writes `stall.json` (accuracy and the leading eigenvalue of the
trained W_rec per task, seed and variant). `--fixed-trials` trains on one batch
throughout, as the reference's jitted step does; `--batch-size 500` is its batch.
`--reference-budget` trains the reference code's separate network instead of the
pipeline's default: N = 200, g = 1.5, batch 500, 9 x 500 iterations at 3e-3
(`baselines.separate_reference_config`). `--rescale minmax` trains on every batch
min-max rescaled to [0, 1] (inputs and targets, as the reference's `rescale_activity`;
`HeadConfig.rescale`) and scores the test trials rescaled the same way, outputs mapped
back to task units. `--reference-trials` uses the reference code's trials and loss
coverage: input noise 0.02 (ctxrnn: the paper's 0.002) and the 10 blank steps in the
loss (`mask_blank=False`). `--learning-rate` changes the Adam rate. `--restarts`
trains a network below 90 % on its own validation trials again (the pipeline's
default: 2).
"""

import argparse
import dataclasses
import pathlib
import sys

import numpy as np

import ctxrnn.tasks
from ctxrnn import io
from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import baselines, pipeline
from ctxrnn.molap import training as tr

REFERENCE_INPUT_NOISE = 0.02  # the reference code's: sval / sqrt(dt) = 0.002 / sqrt(0.01)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+",
                        default=["context_mem_dm1", "context_mem_dm2", "multi_mem"])
    parser.add_argument("--adam-step", default="stage", choices=tr.ADAM_STEPS)
    parser.add_argument("--fixed-trials", action="store_true",
                        help="one batch for every iteration, as the reference's jitted step")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="trials per iteration (default: the pipeline's 200; reference 500)")
    parser.add_argument("--reference-budget", action="store_true",
                        help="N = 200, batch 500, 9 x 500 iterations (the reference code's)")
    parser.add_argument("--rescale", default=None, choices=[r for r in tr.HEAD_RESCALES if r],
                        help="per-batch min-max rescaling of inputs and targets (reference)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Adam rate (default: the paper's 3e-3)")
    parser.add_argument("--reference-trials", action="store_true",
                        help="input noise 0.02 and the blank steps in the loss (reference)")
    parser.add_argument("--response-weight", type=float, default=1.0,
                        help="loss weight of the response outputs in the response epoch")
    parser.add_argument("--stages", type=int, default=None,
                        help="stages of training (default: the pipeline's or the reference's)")
    parser.add_argument("--gain", type=float, default=1.5,
                        help="start gain g of the network's random W_rec (paper: 1.5)")
    parser.add_argument("--restarts", type=int, default=0,
                        help="train a network below 90 %% on validation trials again, up to "
                             "this many times (HeadConfig.restarts; the paper: 0)")
    parser.add_argument("--seeds-json", default=None,
                        help="write the stored results of this variant (seeds with every task) "
                             "to this file in molap_seeds.json's schema, then stop")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stall.json"
    results = io.read_json(path) if path.exists() else []
    base = pipeline.PipelineConfig()
    tasks = pipeline.load_tasks(base.tasks, base.task_module, base.trials)
    if args.reference_trials:
        tasks = [ctxrnn.tasks.from_config({**task.get_config(), "mask_blank": False,
                                           "input_noise": REFERENCE_INPUT_NOISE})
                 for task in tasks]
    # the stall's setting: the paper's separate networks (rows written before a setting
    # was recorded ran at these)
    paper = baselines.separate_paper_config()
    default = {"iterations": paper.iterations * paper.stages,
               "units": base.separate_units, "rescale": None, "reference_trials": False,
               "learning_rate": paper.learning_rate, "response_weight": 1.0, "gain": 1.5,
               "restarts": 0}
    separate = (baselines.separate_reference_config() if args.reference_budget else paper)
    if args.stages is not None:
        separate = dataclasses.replace(separate, stages=args.stages)
    variant = {"adam_step": args.adam_step, "fixed_trials": args.fixed_trials,
               "batch_size": args.batch_size or separate.batch_size,
               "iterations": separate.iterations * separate.stages,
               "units": (baselines.SEPARATE_REFERENCE_UNITS if args.reference_budget
                         else base.separate_units),
               "rescale": args.rescale, "reference_trials": args.reference_trials,
               "learning_rate": args.learning_rate or separate.learning_rate,
               "response_weight": args.response_weight, "gain": args.gain,
               "restarts": args.restarts}
    def found(seed, name):
        return next((r for r in results if r["seed"] == seed and r["task"] == name
                     and all(r.get(k, default.get(k)) == v for k, v in variant.items())), None)

    if args.seeds_json:
        # only seeds with every task, in molap_seeds.json's schema (`--previous` of
        # experiments/molap_seeds.py)
        done = [seed for seed in args.seeds if all(found(seed, name) for name in args.tasks)]
        io.write_json(args.seeds_json, {"seeds": done, "approaches": {"separate": {
            "seeds": done, "per_task": {name: [found(seed, name)["accuracy"] for seed in done]
                                        for name in args.tasks}}}})
        print(f"wrote {args.seeds_json}: seeds {done}")
        return 0
    for seed in args.seeds:
        for name in args.tasks:
            if found(seed, name):
                continue
            config = dataclasses.replace(
                base, seed=seed, approaches=("separate",), separate_units=variant["units"],
                separate_gain=args.gain,
                separate=dataclasses.replace(separate, adam_step=args.adam_step,
                                             fixed_trials=args.fixed_trials,
                                             batch_size=variant["batch_size"],
                                             rescale=args.rescale,
                                             learning_rate=variant["learning_rate"],
                                             response_weight=args.response_weight,
                                             restarts=args.restarts))
            job = pipeline._run_job(config, "separate", (base.tasks.index(name),), tasks,
                                    lambda message: None)
            model = job["models"][f"separate_{name}"]
            kernel = np.asarray(find_ctrnn(model).effective_recurrent_kernel)
            leading = max(np.linalg.eigvals(kernel), key=lambda z: z.real)
            accuracy = job["accuracy"]["separate"][name]
            row = {"seed": seed, "task": name, **variant, "accuracy": accuracy,
                   "leading_eigenvalue": [leading.real, abs(leading.imag)],
                   "attempts": job["extra"].get("separate_attempts", {}).get(name, 1)}
            # re-read before writing: another run into the same directory may have added rows
            results = (io.read_json(path) if path.exists() else []) + [row]
            io.write_json(path, results)
            print(f"seed {seed} {name:<16} {variant}: {100 * accuracy:.1f} %, "
                  f"leading eigenvalue {leading.real:+.2f} ± {abs(leading.imag):.2f}i", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
