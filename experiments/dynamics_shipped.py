"""Dynamics of the shipped context models: regimes, fixed points, eigen-direction variance.

    python experiments/dynamics_shipped.py [--out runs/dynamics] [MODEL ...]

Runs `ctxrnn.analysis.dynamics.analyze` (defaults) on each shipped model
(default: jarne_context5, jarne_context4, jarne_context_osc), writes `OUT/MODEL/dynamics.json` and
figures, and prints the Markdown rows of `experiments/RESULTS_dynamics.md`.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import time

from ctxrnn.analysis import dynamics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["jarne_context5", "jarne_context4",
                                                       "jarne_context_osc"])
    parser.add_argument("--out", default="runs/dynamics")
    args = parser.parse_args()
    for name in args.models:
        start = time.perf_counter()
        model, suite = dynamics.load_target(name)
        summary = dynamics.analyze(model, suite, pathlib.Path(args.out) / name, progress=False)
        print(f"## {name} ({time.perf_counter() - start:.0f} s), alpha {summary['alpha']}")
        print("| context | regime (20 runs) | runs per regime | period (ms) | fixed points | "
              "stable | saddles by unstable directions | slow points | unconverged candidates |")
        print("|---|---|---|---|---|---|---|---|---|")
        for context, record in summary["contexts"].items():
            found, counts = record["regime"], record["fixed_points"]["summary"]
            period = "" if found["period_ms"] is None else f"{found['period_ms']:.0f}"
            print(f"| {context} | {found['regime']} | {dict(collections.Counter(found['regimes']))}"
                  f" | {period} | {counts['n']} | {counts['n_stable']} | "
                  f"{counts['saddles_by_unstable_directions']} | {record['slow_points']['n']} | "
                  f"{record['unconverged']['n_candidates']} |")
        d = summary["eigen_dominance"]
        print(f"outside the unit circle: {d['n_outside']} eigenvalues, {d['dimension']} real "
              f"dimensions, variance fraction {d['variance_fraction']:.3f}, chance "
              f"{d['chance_fraction']:.3f}, ratio {d['ratio']:.2f}; PCA "
              f"{[round(v, 3) for v in summary['pca_explained_variance_ratio']]}", flush=True)


if __name__ == "__main__":
    main()
