"""Times a 2-core `ctxrnn sweep` of 8 small training runs against the same runs one after another.

    python benchmarks/bench_sweep.py [--units 32] [--epochs 3] [--steps 20] [--workers 2]
        [--stack 4]

The 8 runs are a grid of 2 sizes x 4 seeds of a one-task network (`train`
jobs). Four commands, each a fresh Python process timed from start to end (so
each pays for importing TensorFlow once, as a user's command does), each into a
fresh directory, in this order:

1. one after another: a script looping over `sweep.run_one` with TensorFlow's
   default thread pools (what a Python loop over the runs does), then writing
   the results table and figures a sweep writes;
2. `ctxrnn sweep --workers 1` (one worker process, one TF thread);
3. `ctxrnn sweep --workers W` (default 2, one per core, one TF thread each):
   the default `ctxrnn sweep`;
4. the same with the job's `stack = --stack` (default 4): the seeds of a size
   train as one stacked network in one worker.

`ctxrnn sweep` forks its workers from a process that has imported TensorFlow
but not started it, so they do not import it again (`ctxrnn._startup.worker_start_method`).
Prints each wall time and the ratios 3/1 and 4/1 (target: <= 0.6 of one after
another), and checks that the result tables agree (2 vs 3; 4 trains other
networks, the stacked runs, so only their accuracies are printed). The
machine's load average before and after is printed too: with other work on the
cores, the pool's processes cannot run side by side and the ratio says nothing.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from ctxrnn import sweep

_LOOP = """
import pathlib, sys
from ctxrnn import sweep
spec, out = sweep.load_spec(sys.argv[1]), pathlib.Path(sys.argv[2])
for run in spec.runs():
    sweep.run_one(run, out)
table = sweep.results_table(spec.runs(), out)
sweep.write_table(table, out)
sweep.write_figures(spec, sweep.summarize(table, spec), out)
"""


def _spec_text(args, stack=1) -> str:
    return (f'name = "bench"\nkind = "train"\nstack = {stack}\n[base]\ntasks = ["and"]\n'
            f"epochs = {args.epochs}\nsteps_per_epoch = {args.steps}\nbatch_size = 32\n"
            f"validation_trials = 20\ntest_trials = 40\n[grid]\n"
            f"units = [{args.units}, {2 * args.units}]\nseed = [0, 1, 2, 3]\n")


def _timed(command) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _loop(spec_path, out) -> float:
    """The runs one after another in one fresh process, then the table and figures."""
    return _timed([sys.executable, "-c", _LOOP, str(spec_path), str(out)])


def _pool(spec_path, out, workers) -> float:
    return _timed([sys.executable, "-m", "ctxrnn.cli", "sweep", str(spec_path), "--out",
                   str(out), "--workers", str(workers), "--quiet"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="batches per epoch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stack", type=int, default=4, help="networks per stack in way 4")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ctxrnn-bench-sweep-") as scratch:
        scratch = pathlib.Path(scratch)
        spec_path, stacked_path = scratch / "bench.toml", scratch / "stacked.toml"
        spec_path.write_text(_spec_text(args))
        stacked_path.write_text(_spec_text(args, args.stack))
        spec, stacked_spec = sweep.load_spec(spec_path), sweep.load_spec(stacked_path)
        loop = _loop(spec_path, scratch / "loop")
        one = _pool(spec_path, scratch / "one", 1)
        many = _pool(spec_path, scratch / "many", args.workers)
        stacked = _pool(stacked_path, scratch / "stacked", args.workers)
        stacked_rows = sweep.results_table(stacked_spec.runs(), scratch / "stacked")
        tables = [(scratch / name / sweep.TABLE_CSV).read_text() for name in ("one", "many")]
        loop_rows = sweep.results_table(spec.runs(), scratch / "loop")
        pool_rows = sweep.results_table(spec.runs(), scratch / "many")
    runs = len(spec.runs())
    print(f"load average (1 min) before {load_before:.1f}, after {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"{runs} runs (train, units {args.units} and {2 * args.units}, 4 seeds, "
          f"{args.epochs} x {args.steps} batches of 32)")
    print(f"  one after another in one process (TF default threads): {loop:7.1f} s")
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
