"""MoLaP Fig. 2 over seeds: mean and spread of the accuracy per task per approach.

    python experiments/molap_seeds.py OUT_DIR RUN_DIR [RUN_DIR ...]

Each RUN_DIR is the output of `ctxrnn molap` (or `experiments/molap_fig2.py`),
one per seed; runs may hold different approaches (an approach's statistics use
the runs that have it). Writes `seeds.json` (per approach and task: the values,
mean, standard deviation over seeds), `seeds.md` (the table) and
`accuracy_seeds.png` (bars: mean; error bars: std over seeds) and
`molap_seeds.json` (issue 15's schema, `ctxrnn.molap.seeds.seeds_json`).
`--previous FILE` adds the values of an earlier `molap_seeds.json` for the
(approach, seed) pairs the runs lack (runs whose directories are gone).
"""

import argparse
import sys

from ctxrnn import io
from ctxrnn.molap.seeds import markdown, write_summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--previous", help="an earlier molap_seeds.json to merge")
    args = parser.parse_args(argv)
    previous = io.read_json(args.previous) if args.previous else None
    table = write_summary(args.out, args.runs, previous)
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
