"""Re-train the nine heads on a saved core: is a failure the core's or the heads'?

    python experiments/molap_retrain_heads.py RUN_DIR [--approach molap]
        [--head-seeds 5 6] [--[no-]initial-state] [--response-weight W]

Loads W_rec of `RUN_DIR/models/APPROACH.keras` (the output of `ctxrnn molap`),
trains new heads on it (the run's `HeadConfig`, other seeds; the core's frozen
bias too) and prints the accuracy per task on 2000 test trials per head seed.
"""

import argparse
import dataclasses
import json
import pathlib
import sys
import time

import keras

from ctxrnn import seeding
from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import training as tr
from ctxrnn.molap.pipeline import PipelineConfig, load_tasks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--approach", default="molap")
    parser.add_argument("--head-seeds", type=int, nargs="+", default=[5])
    parser.add_argument("--initial-state", action=argparse.BooleanOptionalAction, default=None,
                        help="whether heads learn a per-task initial state (default: as the run)")
    parser.add_argument("--response-weight", type=float, default=None,
                        help="response weight of the new heads (default: the run's)")
    args = parser.parse_args(argv)
    run = pathlib.Path(args.run)
    config = json.loads((run / "config.json").read_text())
    names = list(config["tasks"])
    tasks = load_tasks(names, config["task_module"], config["trials"])
    model = keras.models.load_model(run / "models" / f"{args.approach}.keras", compile=False)
    core = find_ctrnn(model)
    kernel = keras.ops.convert_to_numpy(core.recurrent_kernel)
    # the reference wiring's core keeps a frozen random bias: the new heads need it too
    bias = keras.ops.convert_to_numpy(core.cell.bias) if core.cell.use_bias else None
    # through PipelineConfig: a config saved before a field existed gets the value it ran with
    head_config = PipelineConfig(**config).heads
    if args.initial_state is not None:
        head_config = dataclasses.replace(head_config, per_task_initial_state=args.initial_state)
    if args.response_weight is not None:
        head_config = dataclasses.replace(head_config, response_weight=args.response_weight)
    print("head seed  " + " ".join(f"{n[:9]:>9}" for n in names))
    for seed in args.head_seeds:
        start = time.perf_counter()
        heads = tr.train_heads(kernel, tasks, names, recurrent_bias=bias, config=head_config,
                               seed=seed)
        accuracy = tr.evaluate(heads.model, tasks, heads.layout, n_trials=2000,
                               seed=seeding.derive(seed, "evaluation"), rescale=head_config.rescale)
        print(f"{seed:>9}  " + " ".join(f"{100 * accuracy[n]:>8.1f}%" for n in names)
              + f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
