"""Times a pruning sweep of an N = 256 context network: batched vs one model per fraction.

    python benchmarks/bench_pruning.py [--units 256] [--fractions 20] [--trials 100]

Both evaluate the lowest-magnitude family on the same fixed validation set
(`--trials` per task, the five default tasks):

- batched: `ctxrnn.analysis.pruning_sweep(..., families=["magnitude"])`, all
  fractions as one computation (`ctxrnn.simulate`);
- one model per fraction: what a script without ctxrnn would do — clone the
  model, copy its weights, set the pruned connectivity mask, `predict`, score.

Prints seconds for each and their ratio, measured in this run. The network is
untrained (the timing does not depend on the weights' values).
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from ctxrnn import masks, tasks
from ctxrnn.analysis.pruning import pruning_sweep
from ctxrnn.layers import find_ctrnn
from ctxrnn.models import context_multitask
from ctxrnn.training import DEFAULT_TASKS


def one_model_per_fraction(model, batch, correct, fractions):
    kernel = keras.ops.convert_to_numpy(find_ctrnn(model).recurrent_kernel)
    accuracy = []
    for fraction in fractions:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        find_ctrnn(copy).set_masks(
            recurrent_connectivity=masks.prune_lowest_magnitude(kernel, fraction))
        outputs = copy.predict(batch.inputs, verbose=0, batch_size=len(batch.inputs))
        accuracy.append(float(np.mean(correct(outputs, batch))))
    return accuracy


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--fractions", type=int, default=20)
    parser.add_argument("--trials", type=int, default=100, help="validation trials per task")
    args = parser.parse_args(argv)
    suite = tasks.TaskSuite([tasks.make(name, dt=5.0) for name in DEFAULT_TASKS])
    model = context_multitask(suite, args.units, seed=0)
    batch = suite.validation_data(args.trials, seed=1)
    fractions = np.round(np.linspace(0.0, 0.38, args.fractions), 3)

    pruning_sweep(model, batch, suite.correct, fractions=fractions[:2], families=["magnitude"])
    one_model_per_fraction(model, batch, suite.correct, fractions[:1])
    start = time.perf_counter()
    batched = pruning_sweep(model, batch, suite.correct, fractions=fractions,
                            families=["magnitude"])
    batched_seconds = time.perf_counter() - start
    start = time.perf_counter()
    looped = one_model_per_fraction(model, batch, suite.correct, fractions)
    looped_seconds = time.perf_counter() - start

    difference = np.max(np.abs(np.asarray(batched["families"]["magnitude"]["accuracy"])
                               - np.asarray(looped)))
    print(f"N = {args.units}, {args.fractions} fractions, {len(batch.inputs)} trials "
          f"x {batch.inputs.shape[1]} steps")
    print(f"batched pruning_sweep: {batched_seconds:.2f} s; one model per fraction: "
          f"{looped_seconds:.2f} s; ratio {looped_seconds / batched_seconds:.1f}x")
    print(f"max accuracy difference between the two: {difference:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
