"""`ctxrnn train`, `ctxrnn report` and `ctxrnn prune`: a training run directory.

    ctxrnn train --out runs/demo [--tasks and or ...] [--overwrite | --resume] [--tensorboard]
    ctxrnn report runs/demo
    ctxrnn prune runs/demo [--tolerance 0.05]

The options of `train` are the fields of `ctxrnn.training.TrainConfig` (one flag
each, `--steps-per-epoch` for `steps_per_epoch`), with its defaults.
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import sys
import typing

from ctxrnn.analysis.knee import DEFAULT_TOLERANCE

# One help line per `TrainConfig` field; the default is added from the dataclass.
_FIELD_HELP = {
    "tasks": "task names (see `ctxrnn tasks`)",
    "units": "recurrent units",
    "dt": "Euler step (ms), shared by tasks and network",
    "tau": "time constant (ms)",
    "context": "context encoding of the suite",
    "epochs": "training epochs",
    "steps_per_epoch": "batches per epoch",
    "batch_size": "trials per batch",
    "learning_rate": "Adam learning rate",
    "input_noise": "std of the cell's input noise (scaled by sqrt(2 / alpha))",
    "task_input_noise": "std of the tasks' input noise at their reference step "
                        "(default: each task's own)",
    "recurrent_noise": "std of the cell's recurrent noise (scaled by sqrt(2 / alpha))",
    "recurrent_initializer": "W_rec initializer: orthogonal, gain_normal, standard_normal or "
                             "a Keras name (default: orthogonal; standard_normal with --rank)",
    "validation_trials": "validation trials per task",
    "test_trials": "test trials per task",
    "seed": "seed of weights, noise and trials",
    "rank": "rank R of a low-rank W_rec = n m^T / N (0: full rank)",
    "kernel_initializer": "W_in initializer: standard_normal (N(0, 1), Dubreuil et al.) or a "
                          "Keras name",
}


def _field_type(field: dataclasses.Field):
    """The argparse `type` and `nargs` of a `TrainConfig` field."""
    hint = typing.get_type_hints(_train_config())[field.name]
    if typing.get_origin(hint) is collections.abc.Sequence:  # Sequence[str]
        return typing.get_args(hint)[0], "+"
    optional = [a for a in typing.get_args(hint) if a is not type(None)]  # float | None
    return (optional[0] if optional else hint), None


def _train_config():
    from ctxrnn.training import TrainConfig

    return TrainConfig


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field. Defaults are SUPPRESS, so `args` holds only the
    flags given (what `--resume` compares with the saved run)."""
    defaults = _train_config()()
    for field in dataclasses.fields(defaults):
        kind, nargs = _field_type(field)
        default = getattr(defaults, field.name)
        shown = "2 * dt" if field.name == "tau" else (
            " ".join(default) if isinstance(default, list) else default)
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, type=kind,
                            nargs=nargs, default=argparse.SUPPRESS,
                            help=f"{_FIELD_HELP[field.name]} (default: {shown})")


def given_config(args: argparse.Namespace) -> dict:
    """The `TrainConfig` fields given on the command line."""
    names = {f.name for f in dataclasses.fields(_train_config())}
    return {key: value for key, value in vars(args).items() if key in names}


def _train(args) -> int:
    from ctxrnn.runs import RunDirectory
    from ctxrnn.training import TrainConfig, TrainingDivergedError, train_run

    given = given_config(args)
    if not args.resume:
        config = TrainConfig(**given)
    elif given:  # flags given with --resume must agree with the saved run (train_run checks)
        config = TrainConfig.from_dict({**RunDirectory(args.out).load_config(), **given})
    else:
        config = None  # the saved run's configuration
    try:
        run = train_run(args.out, config, verbose=args.verbose, overwrite=args.overwrite,
                        resume=args.resume, tensorboard=args.tensorboard)
    except TrainingDivergedError as error:
        print(f"error: {error} Run {args.out!r} is marked failed (status.json).",
              file=sys.stderr)
        return 1
    evaluation = run.load_evaluation()
    print("per-task accuracy on held-out trials:")
    for name, value in evaluation["per_task_accuracy"].items():
        print(f"  {name:<20} {100 * value:6.1f} %")
    pruning = run.load_pruning()
    for key, label in (("knee", "accuracy"), ("distance_knee", "output-target distance")):
        if key in pruning:
            print(f"pruning knee ({label}): {100 * pruning[key]['fraction']:.0f} % of W_rec "
                  "connections removable")
    print(f"report: {run.report_path}")
    return 0


def _report(args) -> int:
    from ctxrnn.report import write_report
    from ctxrnn.runs import RunDirectory, is_run_directory

    if not is_run_directory(args.run):
        raise FileNotFoundError(f"{args.run!r} is not a ctxrnn run directory (no config.json)")
    run = RunDirectory(args.run).require_complete()
    print(f"report: {write_report(run)}")
    return 0


def _prune(args) -> int:
    from ctxrnn.report import write_report
    from ctxrnn.training import prune_run

    result = prune_run(args.run, tolerance=args.tolerance)
    print(f"pruning knee: {100 * result['knee']['fraction']:.0f} % of W_rec connections "
          f"(accuracy within {args.tolerance:g} of {result['baseline']['accuracy']:.3f})")
    print(f"report: {write_report(args.run)}")
    return 0


def add_parser(subparsers):
    """Registers `train`, `report` and `prune` on an `argparse` subparsers object."""
    train = subparsers.add_parser("train", help="train a context multitask network")
    train.add_argument("--out", required=True, help="run directory to write")
    _add_config_arguments(train)
    existing = train.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true",
                          help="replace the run already in --out (its files only)")
    existing.add_argument("--resume", action="store_true",
                          help="continue the unfinished run in --out from its last completed "
                               "epoch (its saved configuration; flags given must agree)")
    train.add_argument("--tensorboard", action="store_true",
                       help="also log to OUT/tensorboard (tensorboard --logdir OUT/tensorboard)")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    train.set_defaults(func=_train)

    report = subparsers.add_parser("report", help="write report.html of a run directory")
    report.add_argument("run")
    report.set_defaults(func=_report)

    prune = subparsers.add_parser("prune", help="damage curves and pruning knee of a run")
    prune.add_argument("run")
    prune.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                       help=f"accuracy drop tolerated at the knee (default: {DEFAULT_TOLERANCE})")
    prune.set_defaults(func=_prune)
    return train, report, prune
