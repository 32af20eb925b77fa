"""Times a 2-core `ctxrnn sweep` of 8 small training runs against the same runs one after another.

    python benchmarks/bench_sweep.py [--units 32] [--epochs 3] [--steps 20] [--workers 2]
        [--stack 4]

The 8 runs are a grid of 2 sizes x 4 seeds of a one-task network (`train`
jobs). Four ways, each into a fresh directory, in this order:

1. one after another in this process with TensorFlow's default thread pools
   (what a Python loop over `train_run` does), then the results table and
   figures a sweep writes;
2. the sweep's process pool with one worker (one process, one TF thread);
3. the sweep's process pool with `--workers` processes (default 2, one per
   core), one TF thread each: the default `ctxrnn sweep`;
4. the same with the job's `stack = --stack` (default 4): the seeds of a size
   train as one stacked network in one worker.

Prints each wall time (the pools' include starting their processes and
importing TensorFlow in them) and the ratios 3/1 and 4/1 (target: <= 0.6 of
one after another), and checks that the result tables agree (1 vs 3; 4 trains
other networks, the stacked runs, so only their accuracies are printed). The
machine's load average before and after is printed too: with other work on the
cores, the pool's processes cannot run side by side and the ratio says nothing.
"""

import argparse
import os
import pathlib
import tempfile
import time

from ctxrnn import sweep


def _spec(args, stack=1) -> sweep.SweepSpec:
    return sweep.SweepSpec.from_dict({
        "name": "bench", "kind": "train", "stack": stack,
        "base": {"tasks": ["and"], "epochs": args.epochs, "steps_per_epoch": args.steps,
                 "batch_size": 32, "validation_trials": 20, "test_trials": 40},
        "grid": {"units": [args.units, 2 * args.units], "seed": [0, 1, 2, 3]}})


def _loop(spec, out) -> float:
    """The runs one after another, then the same table, summary and figures a sweep writes."""
    start = time.perf_counter()
    for run in spec.runs():
        sweep.run_one(run, out)
    table = sweep.results_table(spec.runs(), out)
    sweep.write_table(table, out)
    sweep.write_figures(spec, sweep.summarize(table, spec), out)
    return time.perf_counter() - start


def _pool(spec, out, workers) -> float:
    start = time.perf_counter()
    sweep.run_sweep(spec, out, workers=workers, progress=False)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="batches per epoch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stack", type=int, default=4, help="networks per stack in way 4")
    args = parser.parse_args(argv)
    spec = _spec(args)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ctxrnn-bench-sweep-") as scratch:
        scratch = pathlib.Path(scratch)
        loop = _loop(spec, scratch / "loop")
        one = _pool(spec, scratch / "one", 1)
        many = _pool(spec, scratch / "many", args.workers)
        stacked_spec = _spec(args, args.stack)
        stacked = _pool(stacked_spec, scratch / "stacked", args.workers)
        stacked_rows = sweep.results_table(stacked_spec.runs(), scratch / "stacked")
        tables = [(scratch / name / sweep.TABLE_CSV).read_text() for name in ("one", "many")]
        loop_rows = sweep.results_table(spec.runs(), scratch / "loop")
        pool_rows = sweep.results_table(spec.runs(), scratch / "many")
    runs = len(spec.runs())
    print(f"load average (1 min) before {load_before:.1f}, after {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"{runs} runs (train, units {args.units} and {2 * args.units}, 4 seeds, "
          f"{args.epochs} x {args.steps} batches of 32)")
    print(f"  one after another in this process (TF default threads): {loop:7.1f} s")
    print(f"  process pool, 1 worker  (1 TF thread):                  {one:7.1f} s")
    print(f"  process pool, {args.workers} workers (1 TF thread each):           {many:7.1f} s")
    print(f"  process pool, {args.workers} workers, stack = {args.stack}:"
          f"                {stacked:7.1f} s")
    print(f"  sweep / one after another = {many / loop:.2f}; "
          f"sweep / 1-worker pool = {many / one:.2f}")
    print(f"  stacked sweep / one after another = {stacked / loop:.2f} (target <= 0.6)")
    print(f"  pool tables (1 vs {args.workers} workers) identical: {tables[0] == tables[1]}; "
          f"loop and pool accuracies equal: "
          f"{[r.get('accuracy') for r in loop_rows] == [r.get('accuracy') for r in pool_rows]}")
    print(f"  accuracies, one after another: {[r.get('accuracy') for r in loop_rows]}")
    print(f"  accuracies, stacked:           {[r.get('accuracy') for r in stacked_rows]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
