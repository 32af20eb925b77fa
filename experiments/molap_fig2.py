"""MoLaP Fig. 2 and Table 1: accuracy per task per approach, parameter counts.

    python experiments/molap_fig2.py OUT_DIR [--task-module ctxrnn.tasks] [--quick]

Runs MoLaP (CCA), MoLaP without pre-training, MoLaP with PCA primitives,
separate networks and DNI (projected continual learning) at paper sizes, and writes
`results.json`, `accuracy.png`, `table1.md` and the trained models to OUT_DIR.
"""

import argparse
import sys

from ctxrnn.cli import molap as molap_cli


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    molap_cli.add_parser(sub)
    args = parser.parse_args(["molap", "--out", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
