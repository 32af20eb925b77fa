"""`ctxrnn sweep SPEC`: run a study (a grid of train, molap, transfer or analyze runs).

    ctxrnn sweep experiments/sweeps/jarne_units.toml --out runs/jarne_units
    ctxrnn sweep SPEC --out DIR --workers 2          # process pool, one TF thread per run
    ctxrnn sweep SPEC --out DIR --engine ray         # Ray Tune trials (ctxrnn[ray])
    ctxrnn sweep SPEC --out DIR --engine dask --address tcp://scheduler:8786
    ctxrnn sweep SPEC --out /shared/DIR --engine dask --cluster slurm --workers 32 \
        --cluster-option queue=short --cluster-option walltime=04:00:00
    ctxrnn sweep SPEC --out /shared/DIR --shard $SLURM_ARRAY_TASK_ID/8   # a job array
    ctxrnn sweep SPEC --list                         # the runs, without running them

Rerunning the same command skips the runs that finished and resumes the rest.
The spec format is described in `ctxrnn.sweep`; a `train` job with `stack = K`
trains its seeds K at a time as one stacked network in one worker.
"""

from __future__ import annotations

import json
import pathlib

from ctxrnn.cli._types import positive_int


def _asha(text: str) -> dict:
    """`METRIC:MODE[:MAX_T[:GRACE]]` -> the Ray ASHA options."""
    import argparse

    parts = text.split(":")
    if len(parts) < 2 or parts[1] not in ("min", "max"):
        raise argparse.ArgumentTypeError(
            f"expected METRIC:MODE[:MAX_T[:GRACE_PERIOD]] with MODE min or max, got {text!r}")
    options = {"metric": parts[0], "mode": parts[1]}
    for name, value in zip(("max_t", "grace_period"), parts[2:]):
        options[name] = positive_int(value)
    return options


def _key_value(text: str) -> tuple[str, str]:
    import argparse

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _shard(text: str) -> tuple[int, int]:
    import argparse

    index, sep, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N, got {text!r}")
    return shard


def _sweep(args) -> int:
    from ctxrnn import sweep

    spec = sweep.load_spec(args.spec)
    if args.list:
        for run in spec.runs():
            stack = f"  stack {run['stack'][:8]}" if run.get("stack") else ""
            print(f"{run['key']}  {run['job']:<16} {json.dumps(run['point'])}{stack}")
        return 0
    out = pathlib.Path(args.out) if args.out else pathlib.Path("runs") / spec.name
    options = {k: v for k, v in (("address", args.address), ("storage", args.storage),
                                 ("asha", args.asha), ("cluster", args.cluster)) if v is not None}
    if args.cluster_option:
        options["cluster_options"] = dict(args.cluster_option)
    result = sweep.run_sweep(spec, out, engine=args.engine, workers=args.workers,
                             threads=args.threads, shard=args.shard, progress=not args.quiet,
                             **options)
    return 1 if result["failed"] else 0


def add_parser(subparsers):
    """Registers `sweep` on an `argparse` subparsers object."""
    from ctxrnn.sweep import ENGINES, JOB_QUEUES

    parser = subparsers.add_parser(
        "sweep", help="run a study: a grid of runs from a TOML/YAML spec, resumable")
    parser.add_argument("spec", help="the sweep spec (.toml, or .yaml with pyyaml installed)")
    parser.add_argument("--out", help="output directory (default: runs/<spec name>)")
    parser.add_argument("--engine", default="pool", choices=ENGINES,
                        help="pool: worker processes on this machine (default); ray: Ray Tune "
                             "trials (ctxrnn[ray]); dask: a Dask cluster (ctxrnn[dask])")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="runs at once (default: one per core)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="TensorFlow intra-op threads of each run (default 1)")
    parser.add_argument("--address", help="Ray or Dask cluster to attach to (default: start a "
                                          "local one)")
    parser.add_argument("--storage", help="Ray Tune storage_path, shared by all nodes "
                                          "(default: OUT/ray)")
    parser.add_argument("--asha", type=_asha, metavar="METRIC:MODE[:MAX_T[:GRACE]]",
                        help="Ray only: stop poor train runs early with ASHA on an epoch metric "
                             "(e.g. loss:min:30:5)")
    parser.add_argument("--cluster", choices=sorted(JOB_QUEUES),
                        help="Dask only: start the workers as batch jobs (dask-jobqueue), one "
                             "job per worker")
    parser.add_argument("--cluster-option", type=_key_value, action="append", metavar="KEY=VALUE",
                        help="Dask --cluster only: an argument of the dask-jobqueue cluster, "
                             "e.g. queue=short walltime=02:00:00 memory=4GB (repeatable)")
    parser.add_argument("--shard", type=_shard, metavar="I/N",
                        help="run only every N-th run starting at I (task I of a job array "
                             "of N, e.g. I=$SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--list", action="store_true", help="print the runs and their keys")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=_sweep)
    return parser

__all__ = ["add_parser"]
