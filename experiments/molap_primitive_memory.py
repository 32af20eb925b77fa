"""Do MoLaP's primitives need memory? Canonical correlations and, per pair, the R^2 of
the target variate from the same step's input variate vs from the stimulus epoch.

    python experiments/molap_primitive_memory.py OUT_DIR [--method cca] [--trials 1000]

Fits `LatentPrimitives` on the default pipeline's corpus sample (code trials; the
primitives of `pretrain_modules`), then scores fresh trials with
`ctxrnn.molap.primitives.memory_demand`. Writes `primitive_memory.json`.
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from ctxrnn.molap import pipeline
from ctxrnn.molap import training as tr
from ctxrnn.molap.primitives import corpus_arrays, memory_demand

#: Epochs of the code trials (0-based steps): stimulus 35-84, response 85-109.
STIMULUS, RESPONSE = slice(35, 85), slice(85, 110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--method", default="cca")
    parser.add_argument("--rescale", default="minmax", choices=("minmax", "centered", "raw"))
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = pipeline.PipelineConfig()
    tasks = pipeline.load_tasks(config.tasks, config.task_module, config.trials)
    fitted, _, _ = tr.fit_primitives(
        tasks, n_components=len(config.module_sizes), method=args.method,
        rescale=None if args.rescale == "raw" else args.rescale,
        corpus_trials=args.trials, seed=args.seed + 10_000)
    inputs, targets = corpus_arrays(tasks, args.trials, args.seed + 20_000)
    u, v = fitted.transform_trials(inputs, targets)
    demand = memory_demand(u, v, history=STIMULUS, response=RESPONSE, seed=args.seed)
    result = {"method": args.method, "rescale": args.rescale, "trials": args.trials,
              "correlations": np.asarray(fitted.correlations_).tolist(), **demand}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "primitive_memory.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
