"""Trial-generation speed of every registered task and of a mixed suite.

    python benchmarks/bench_tasks.py [--trials 2000] [--repeats 3] [--tasks dm cdm]

For each task, draws `--trials`-trial batches `--repeats` times at its default
`dt` and prints the best trials/second (and steps/trial, so task lengths can be
compared). Then does the same for a `TaskSuite` of Jarne's logic tasks and for
one of the nine MoLaP tasks (one-hot context, per-trial mixing, left padding).
"""

import argparse
import time

from ctxrnn import tasks

DEFAULT_TRIALS = 2000
DEFAULT_REPEATS = 3
SUITES = {
    "jarne logic (and, or, xor, not) dt=5": (("and", "or", "xor", "not"), 5.0),
    "molap nine dt=20": (tasks.MOLAP_TASKS, 20.0),
    "populations (dm, cdm, dms) dt=20": (tasks.POPULATION_TASKS, 20.0),
}


def _best_rate(generate, n_trials: int, repeats: int) -> float:
    best = float("inf")
    for seed in range(repeats):
        start = time.perf_counter()
        generate(n_trials, seed)
        best = min(best, time.perf_counter() - start)
    return n_trials / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--tasks", nargs="+", default=tasks.list_tasks())
    args = parser.parse_args()

    print(f"{'task':<22}{'dt ms':>7}{'steps':>7}{'trials/s':>12}")
    for name in args.tasks:
        task = tasks.make(name)
        rate = _best_rate(lambda n, s, t=task: t.generate(n, seed=s), args.trials, args.repeats)
        print(f"{name:<22}{task.dt:>7g}{task.n_steps:>7d}{rate:>12,.0f}")
    print()
    for label, (names, dt) in SUITES.items():
        suite = tasks.TaskSuite(list(names), dt=dt)
        rate = _best_rate(lambda n, s, u=suite: u.generate(n, seed=s), args.trials, args.repeats)
        print(f"suite {label:<40}{suite.n_steps:>7d} steps{rate:>12,.0f} trials/s")


if __name__ == "__main__":
    main()
