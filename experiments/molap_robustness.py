"""MoLaP Figs. 3, 4, S1-S5 over seeds: accuracy after modular/global lesions, weight
noise and unit silencing, for every approach of every run.

    python experiments/molap_robustness.py OUT_DIR RUN_DIR [RUN_DIR ...] [--draws 30]
        [--trials 250] [--approaches molap no_pretraining pca separate dni]

Each RUN_DIR is the output of `ctxrnn molap` for one seed (`ctxrnn molap --seeds`
writes OUT/seed<k>/; `--robustness` there runs this too). Writes
`rows_seed<k>_<approaches>.json` per run (a rerun skips runs already written),
`summary.json`, `robustness.md` and one PNG per sweep into OUT_DIR (`ctxrnn.molap.robustness.evaluate_runs`).
"""

import argparse
import sys

from ctxrnn.molap import pipeline, robustness


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--trials", type=int, default=250)
    parser.add_argument("--approaches", nargs="+", default=list(pipeline.APPROACHES),
                        choices=pipeline.APPROACHES)
    parser.add_argument("--sweeps", nargs="+", default=list(robustness.SWEEP_LABELS),
                        choices=robustness.SWEEP_LABELS)
    args = parser.parse_args(argv)
    robustness.evaluate_runs(args.out, args.runs, draws=args.draws, trials=args.trials,
                             approaches=args.approaches, sweeps=args.sweeps)
    print(open(f"{args.out}/robustness.md").read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
