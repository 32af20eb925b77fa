"""Dynamical motifs of a trained multitask network (Driscoll, Shenoy & Sussillo 2024).

Given a saved ctxrnn multitask model and its suite (a `.keras` file with its
card, a run directory or a shipped model name), measures, with
`ctxrnn.analysis.motif_analysis.analyze`:

1. the task variance atlas (variance across noise-free trials per task period,
   active units, max-normalised), unit clusters by Ward linkage with the
   silhouette-best k and by Yang's k-means, and the rotation control;
2. the cluster x task lesion matrix (a cluster's outgoing recurrent weights
   removed through the connectivity mask, its readout rows zeroed) and the
   "all but the cluster" sufficiency lesion;
3. fixed points under every task period's input, the fraction of stable points
   shared between task periods, and rule-input interpolations between task
   pairs (does the number of attractors change on the way?).

Writes `motifs.json` and `figures/motifs_*.png` into `--out` and prints the numbers.

    python experiments/motifs.py experiments/results/motifs_demo/motifs_demo.keras \\
        --out experiments/results/motifs_demo
    python experiments/motifs.py runs/driscoll15 --out runs/driscoll15/motifs --n-initial 64
"""

from __future__ import annotations

import argparse

from ctxrnn.analysis import motif_analysis
from ctxrnn.analysis.dynamics import load_target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="a .keras model with its card, a run directory or a "
                                       "shipped model name")
    parser.add_argument("--out", required=True, help="directory for motifs.json and figures")
    parser.add_argument("--n-per-task", type=int, default=64,
                        help="noise-free trials per task for variance and fixed points")
    parser.add_argument("--lesion-trials", type=int, default=200, help="trials per task")
    parser.add_argument("--n-initial", type=int, default=64,
                        help="fixed-point candidates per task period")
    parser.add_argument("--max-iters", type=int, default=1000)
    parser.add_argument("--pairs", nargs="*", default=None, metavar="A:B",
                        help="task pairs for rule interpolations (default: 3 pairs of "
                             "consecutive tasks)")
    parser.add_argument("--interpolation-steps", type=int, default=11)
    parser.add_argument("--no-fixed-points", action="store_true",
                        help="only variance, clusters and lesions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    model, suite = load_target(args.target)
    summary = motif_analysis.analyze(
        model, suite, args.out, fixed_points=not args.no_fixed_points,
        n_per_task=args.n_per_task, lesion_trials=args.lesion_trials, n_initial=args.n_initial,
        max_iters=args.max_iters,
        pairs=None if args.pairs is None else [tuple(p.split(":")) for p in args.pairs],
        interpolation_steps=args.interpolation_steps, seed=args.seed)
    print("\n".join(motif_analysis.summary_lines(summary)))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
