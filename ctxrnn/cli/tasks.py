"""`ctxrnn tasks`: list the registered tasks, describe one, or draw its trials.

    ctxrnn tasks                                  # every task: family, channels, trial length
    ctxrnn tasks dms                              # one task: epochs, channels, noise
    ctxrnn tasks dms --plot dms.png --trials 3    # picture of 3 trials (png, pdf or svg)
"""

from __future__ import annotations

import pathlib

DEFAULT_PLOT_TRIALS = 2
PLOT_FORMATS = ("png", "pdf", "svg")


def _family(task) -> str:
    return type(task).__module__.rsplit(".", 1)[-1]


def _describe_timing(value) -> str:
    if isinstance(value, tuple):
        return f"U({value[0]:g}, {value[1]:g})"
    if not isinstance(value, (int, float)):  # a list of choices
        return "{" + ", ".join(f"{v:g}" for v in value) + "}"
    return f"{value:g}"


def _list(names) -> int:
    from ctxrnn.tasks.registry import make

    rows = []
    for name in names:
        task = make(name)
        rows.append((name, _family(task), f"{task.dt:g}", str(task.n_steps),
                     f"{task.n_steps * task.dt:g}", ", ".join(task.input_names),
                     ", ".join(task.output_names)))
    header = ("task", "family", "dt ms", "steps", "trial ms", "inputs", "outputs")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def _describe(task) -> None:
    print(f"{task.name} ({_family(task)}, {type(task).__name__}): dt {task.dt:g} ms, "
          f"{task.n_steps} steps = {task.n_steps * task.dt:g} ms")
    print(f"  inputs : {', '.join(task.input_names)}   (noise std {task.input_noise:g})")
    print(f"  outputs: {', '.join(task.output_names)}")
    print("  epochs (ms; the last one ends the trial):")
    for epoch, value in task.timing.items():
        print(f"    {epoch:<12} {_describe_timing(value)}")


def _plot(task, args) -> int:
    from ctxrnn.io import write_bytes
    from ctxrnn.tasks.plotting import figure_bytes, plot_trial

    path = pathlib.Path(args.plot)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"Argument `--plot` must end in one of {['.' + f for f in PLOT_FORMATS]}; "
                         f"received {args.plot!r}.")
    if args.trials < 1:
        raise ValueError(f"Argument `--trials` must be a positive integer; received {args.trials}.")
    batch = task.generate(args.trials, seed=args.seed)
    figure = plot_trial(batch, trials=range(args.trials), suite=task)
    write_bytes(path, figure_bytes(figure, format=fmt))
    print(f"wrote {path} ({args.trials} trial{'s' if args.trials > 1 else ''} of {task.name}, "
          f"dt {task.dt:g} ms, seed {args.seed})")
    return 0


def run(args) -> int:
    """Runs `ctxrnn tasks` with parsed `args` (see `add_parser`); returns the exit status."""
    from ctxrnn.tasks.registry import list_tasks, make

    if args.name is None:
        if args.plot is not None:
            raise ValueError("Argument `--plot` needs a task name: ctxrnn tasks NAME --plot FILE.")
        return _list(list_tasks())
    task = make(args.name, **({} if args.dt is None else {"dt": args.dt}))
    if args.plot is None:
        _describe(task)
        return 0
    return _plot(task, args)


def add_parser(subparsers):
    """Registers the `tasks` subcommand on an `argparse` subparsers object.

    Args:
        subparsers: the object returned by `ArgumentParser.add_subparsers`.

    Returns:
        The new subparser.
    """
    parser = subparsers.add_parser("tasks", help="list tasks, describe one, or draw its trials",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default=None, help="task to describe or draw")
    parser.add_argument("--plot", default=None, metavar="FILE",
                        help="write a picture of trials to FILE (.png, .pdf or .svg)")
    parser.add_argument("--dt", type=float, default=None, help="step in ms (default: the task's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn trials")
    parser.add_argument("--trials", type=int, default=DEFAULT_PLOT_TRIALS,
                        help="number of trials to draw")
    parser.set_defaults(func=run)
    return parser
