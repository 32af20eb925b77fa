"""The `ctxrnn` command: train, report, prune, analyze, tasks, molap, models, transfer, sweep.

    ctxrnn train --out runs/demo            # train a context network, write its report
    ctxrnn train --out runs/demo --resume   # continue a run that was killed
    ctxrnn report runs/demo                 # (re)write report.html of a run
    ctxrnn prune runs/demo                  # (re)compute the damage curves of a run
    ctxrnn analyze runs/demo                # fixed points, regimes per context, trajectories
    ctxrnn analyze runs/demo --lesions      # task-variance clusters and cluster lesions
    ctxrnn tasks [NAME --plot FILE]         # list tasks / draw trials
    ctxrnn molap --out runs/molap           # MoLaP pipeline
    ctxrnn models [NAME]                    # shipped models and their cards
    ctxrnn transfer MODEL --task NAME       # learn a new task on a frozen network
    ctxrnn sweep SPEC --out runs/study      # a study: a grid of runs, resumable

`ctxrnn --intra-op-threads N --inter-op-threads M COMMAND ...` sets TensorFlow's
thread pools before the command runs (`ctxrnn.configure_threads`).

Each subcommand lives in a module of this package with an `add_parser(subparsers)`
function; they are imported explicitly, so a broken one is an error at start-up.
"""

from __future__ import annotations

import argparse
import sys

from ctxrnn.cli import analyze, molap, run, sweep, tasks, zoo

# Order of the subcommands in `ctxrnn --help`.
_COMMANDS = (run, analyze, tasks, molap, zoo, sweep)


def build_parser() -> argparse.ArgumentParser:
    """The `ctxrnn` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="ctxrnn", description=__doc__.splitlines()[0])
    for pool in ("intra", "inter"):
        parser.add_argument(f"--{pool}-op-threads", type=int, default=None, metavar="N",
                            help=f"TensorFlow {pool}-op threads (default: TensorFlow's choice; "
                                 "0 too)")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in _COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv=None) -> int:
    """Runs the `ctxrnn` command with `argv` (default `sys.argv[1:]`); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.intra_op_threads is not None or args.inter_op_threads is not None:
            from ctxrnn import configure_threads

            configure_threads(intra_op=args.intra_op_threads, inter_op=args.inter_op_threads)
        return int(args.func(args) or 0)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
