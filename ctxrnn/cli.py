"""The `ctxrnn` command: train, report, prune, tasks, molap, models, transfer.

    ctxrnn train --out runs/demo            # train a context network, write its report
    ctxrnn report runs/demo                 # (re)write report.html of a run
    ctxrnn prune runs/demo                  # (re)compute the damage curves of a run
    ctxrnn tasks [NAME --plot FILE]         # list tasks / draw trials
    ctxrnn molap --out runs/molap           # MoLaP pipeline
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommands owned by other modules: (module, function adding the parser).
_EXTERNAL_COMMANDS = (
    ("ctxrnn.tasks.cli", "add_parser"),
    ("ctxrnn.molap_cli", "add_parser"),
    ("ctxrnn.zoo_cli", "add_parser"),
)


def _train(args) -> int:
    from ctxrnn.training import TrainConfig, train_run

    config = TrainConfig(
        tasks=args.tasks, units=args.units, dt=args.dt, tau=args.tau, context=args.context,
        epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        learning_rate=args.learning_rate, input_noise=args.input_noise,
        recurrent_noise=args.recurrent_noise,
        recurrent_initializer=args.recurrent_initializer, seed=args.seed,
    )
    run = train_run(args.out, config, verbose=args.verbose)
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
        print(f"error: {args.run!r} is not a ctxrnn run directory (no config.json)",
              file=sys.stderr)
        return 2
    print(f"report: {write_report(RunDirectory(args.run))}")
    return 0


def _prune(args) -> int:
    from ctxrnn.report import write_report
    from ctxrnn.training import prune_run

    try:
        options = {} if args.tolerance is None else {"tolerance": args.tolerance}
        result = prune_run(args.run, **options)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"pruning knee: {100 * result['knee']['fraction']:.0f} % of W_rec connections "
          f"(accuracy within {result['knee']['tolerance']:g} of {result['baseline']['accuracy']:.3f})")
    print(f"report: {write_report(args.run)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ctxrnn.training import DEFAULT_TASKS, TrainConfig

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="ctxrnn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a context multitask network")
    train.add_argument("--out", required=True, help="run directory to write")
    train.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    train.add_argument("--units", type=int, default=defaults.units)
    train.add_argument("--dt", type=float, default=defaults.dt, help="Euler step (ms)")
    train.add_argument("--tau", type=float, default=None, help="time constant (ms); default 2*dt")
    train.add_argument("--context", default=defaults.context)
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--steps-per-epoch", type=int, default=defaults.steps_per_epoch)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    train.add_argument("--input-noise", type=float, default=defaults.input_noise)
    train.add_argument("--recurrent-noise", type=float, default=defaults.recurrent_noise)
    train.add_argument("--recurrent-initializer", default=defaults.recurrent_initializer,
                       help="W_rec initializer: orthogonal, gain_normal or a Keras name")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    train.set_defaults(func=_train)

    report = commands.add_parser("report", help="write report.html of a run directory")
    report.add_argument("run")
    report.set_defaults(func=_report)

    prune = commands.add_parser("prune", help="damage curves and pruning knee of a run")
    prune.add_argument("run")
    prune.add_argument("--tolerance", type=float, default=None,
                       help="accuracy drop tolerated at the knee (default: ctxrnn.analysis.knee.DEFAULT_TOLERANCE)")
    prune.set_defaults(func=_prune)

    for module_name, function in _EXTERNAL_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        getattr(module, function)(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
