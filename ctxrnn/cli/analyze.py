"""`ctxrnn analyze`: fixed points, regimes per context and trajectories of a trained network.

    ctxrnn analyze runs/demo                     # writes runs/demo/dynamics.json, figures, report
    ctxrnn analyze jarne_context5 --out runs/j5  # a shipped model
    ctxrnn analyze runs/lowrank --populations    # populations.json: mixtures, resampling
    ctxrnn analyze runs/dms --populations --fit-statistics 3000 --statistics-learning-rate 1e-3
    ctxrnn analyze runs/demo --clusters          # task variance and unit clusters: motifs.json
    ctxrnn analyze runs/demo --lesions           # clusters plus the cluster x task lesion matrix
"""

from __future__ import annotations

import pathlib


def _analyze(args) -> int:
    from ctxrnn import runs
    from ctxrnn.analysis import dynamics

    is_run = runs.is_run_directory(args.target)
    if not is_run and args.out is None:
        raise ValueError(f"Argument `--out` is required when the target {args.target!r} is not "
                         "a run directory (a shipped model name or a .keras file).")
    out = pathlib.Path(args.out) if args.out is not None else pathlib.Path(args.target)
    model, suite = dynamics.load_target(args.target)
    if args.populations:
        return _populations(args, model, suite, out, is_run)
    if args.clusters or args.lesions:
        from ctxrnn.analysis import motif_analysis

        summary = motif_analysis.analyze(model, suite, out, lesions=args.lesions,
                                         fixed_points=False, seed=args.seed)
        print("\n".join(motif_analysis.summary_lines(summary)))
        print(f"motifs: {out / motif_analysis.MOTIFS_FILE}")
        return 0
    summary = dynamics.analyze(model, suite, out, progress=not args.quiet,
                               n_initial=args.n_initial, seed=args.seed)
    for name, context in summary["contexts"].items():
        counts = context["fixed_points"]["summary"]
        regime = context["regime"]
        period = (f", period {regime['period_ms']:.0f} ms" if regime["period_ms"] is not None
                  else "")
        print(f"  {name:<20} {regime['regime']}{period}; {counts['n_stable']} stable, "
              f"{counts['n_saddle']} saddles")
    print(f"dynamics: {out / runs.DYNAMICS_FILE}")
    if is_run and args.out is None:
        from ctxrnn.report import write_report

        print(f"report: {write_report(out)}")
    return 0


def _populations(args, model, suite, out, is_run) -> int:
    from ctxrnn import runs
    from ctxrnn.analysis import populations

    initial = None
    if is_run and runs.RunDirectory(args.target).weights_path("initial").exists():
        initial = runs.RunDirectory(args.target).load_weights("initial")["recurrent_kernel"]
    summary = populations.analyze(model, suite, out, initial_kernel=initial,
                                  max_populations=args.max_populations,
                                  n_resamples=args.resamples, new_size=args.resample_size,
                                  n_trials=args.trials, n_boot=args.boot, seed=args.seed,
                                  fit_statistics_steps=args.fit_statistics,
                                  statistics_learning_rate=args.statistics_learning_rate)
    if summary["rank"] is not None:
        for row in summary["curve"]["populations"]:
            print(f"  {row['requested']} population(s) {row['counts']}: resampled accuracy "
                  f"{row['mean']:.3f} (min {row['min']:.3f})")
        for row in summary.get("trained_statistics", {}).get("populations", []):
            print(f"  {row['requested']} population(s), statistics trained: resampled "
                  f"accuracy {row['mean']:.3f} (min {row['min']:.3f})")
        stability = summary["stability"]
        print(f"  2-population split: bootstrap ARI {stability['ari']:.2f} (i.i.d. control "
              f"{stability['control_ari']:.2f})")
    else:
        curve = summary["truncation"]
        for rank, accuracy in zip(curve["ranks"], curve["accuracy"]):
            print(f"  rank {rank}: truncated accuracy {accuracy:.3f}")
    print(f"populations: {out / populations.POPULATIONS_FILE}")
    return 0


# (flag, default, help) of the `--populations` options.
_POPULATION_OPTIONS = (
    ("--max-populations", 3, "largest number of populations tried"),
    ("--resamples", 10, "resampled networks per number of populations"),
    ("--resample-size", None, "units of the resampled networks (default: the trained one's)"),
    ("--trials", 200, "evaluation trials per task"),
    ("--boot", 20, "subsamples of the bootstrap stability"),
    ("--fit-statistics", 0, "low rank: also train each mixture's statistics for this many "
                            "steps before resampling (the reference's DMS retraining)"),
)


def add_parser(subparsers):
    """Registers `analyze` on an `argparse` subparsers object."""
    parser = subparsers.add_parser(
        "analyze", help="fixed points, regimes per context and trajectories of a network")
    parser.add_argument("target", help="a run directory, a shipped model name or a .keras path")
    parser.add_argument("--out", help="directory for dynamics.json and figures (default: the "
                                      "run directory, whose report gains a dynamics section)")
    parser.add_argument("--n-initial", type=int, default=256,
                        help="initial states of the fixed-point search per context")
    parser.add_argument("--clusters", action="store_true",
                        help="instead of the dynamics: task variance per task period, unit "
                             "clusters (Ward, k-means) and the rotation control (motifs.json)")
    parser.add_argument("--lesions", action="store_true",
                        help="--clusters plus the cluster x task lesion matrix and the "
                             "'all but the cluster' lesion")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--populations", action="store_true",
                        help="population analysis instead (Dubreuil et al. 2022): Gaussian "
                             "mixtures of the units' loadings, resampled networks, rank truncation")
    for flag, default, text in _POPULATION_OPTIONS:
        parser.add_argument(flag, type=int, default=default, help=f"--populations: {text}")
    parser.add_argument("--statistics-learning-rate", type=float, default=1e-4,
                        help="--fit-statistics: Adam's rate (the reference's 1e-4)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_analyze)
    return parser
