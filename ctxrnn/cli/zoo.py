"""The `ctxrnn models` and `ctxrnn transfer` subcommands.

    ctxrnn models                               # the shipped models
    ctxrnn models jarne_context5                # one model's card
    ctxrnn models path/to/model.keras --json    # a saved model's card, as JSON
    ctxrnn transfer jarne_context4 --task xor --out runs/xor
"""

from __future__ import annotations

import inspect
import json
import sys

from ctxrnn import seeding


def add_parser(subparsers):
    """Registers `models` and `transfer` on an `argparse` subparsers object."""
    models = subparsers.add_parser("models", help="list the shipped models or show a model card")
    models.add_argument("model", nargs="?", help="a shipped name or a .keras path")
    models.add_argument("--json", action="store_true", help="print the whole card as JSON")
    models.set_defaults(func=run_models)

    from ctxrnn.transfer import transfer_task

    # Defaults are transfer_task's own, never re-typed here.
    defaults = {name: parameter.default
                for name, parameter in inspect.signature(transfer_task).parameters.items()}
    transfer = subparsers.add_parser(
        "transfer", help="add a task to a saved model and train only the new context/head")
    transfer.add_argument("model", help="a shipped name or a .keras path")
    transfer.add_argument("--task", required=True, help="the new task (see `ctxrnn tasks`)")
    transfer.add_argument("--out", help="directory to save the grown model and its card in")
    transfer.add_argument("--epochs", type=int, default=defaults["epochs"])
    transfer.add_argument("--steps-per-epoch", type=int, default=defaults["steps_per_epoch"])
    transfer.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    transfer.add_argument("--learning-rate", type=float, default=defaults["learning_rate"],
                          help="only the new rows learn, so larger than full training's")
    transfer.add_argument("--criterion", type=float, default=defaults["criterion"],
                          help="accuracy that counts as learned")
    transfer.add_argument("--seed", type=int, default=defaults["seed"])
    transfer.add_argument("--verbose", type=int, default=defaults["verbose"], choices=(0, 1, 2))
    transfer.set_defaults(func=run_transfer)
    return models, transfer


def _percent(accuracy: dict) -> str:
    return " ".join(f"{name}={100 * value:.1f}%" for name, value in accuracy.items())


def run_models(args) -> int:
    from ctxrnn import zoo

    if args.model is None:
        names = zoo.list_models()
        if not names:
            print("no shipped models")
        for name in names:
            card = zoo.model_card(name)
            print(f"{name:<22} {card['kind']:<18} {card['size_bytes'] / 1e3:6.0f} kB  "
                  f"{_percent(card['accuracy'])}")
        return 0
    try:
        card = zoo.model_card(args.model)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(card, indent=2))
        return 0
    suite = card["suite"]
    print(f"{card['name']} ({card['kind']}, {card['size_bytes'] / 1e3:.0f} kB, "
          f"saved {card.get('date', '?')} by ctxrnn {card.get('versions', {}).get('ctxrnn', '?')})")
    if card.get("description"):
        print(f"  {card['description']}")
    cell, training = card["cell"], card.get("training", {})
    if card["kind"] == "molap":
        layout = suite["layout"]
        print(f"  tasks:    {', '.join(suite['task_names'])} (one head each, dt={suite['dt']} ms)")
        print(f"  heads:    input channels {layout['n_inputs']}"
              + (" + a bias channel each" if layout["input_bias"] else "")
              + f", outputs {layout['n_outputs']}")
        print(f"  core:     {cell['units']} units, frozen, activation={cell['activation']}, "
              f"modules {training.get('module_sizes')}, primitives "
              f"{training.get('pretrain', {}).get('method')}")
        print(f"  training: seed={training.get('seed')}, heads "
              f"{training.get('heads', {}).get('stages')} x "
              f"{training.get('heads', {}).get('iterations')} iterations, "
              f"{training.get('heads', {}).get('head_training')}")
    else:
        print(f"  tasks:    {', '.join(suite['task_names'])} (context={suite['context']}, "
              f"dt={suite['dt']} ms)")
        print(f"  inputs:   {', '.join(suite['input_names'])}")
        print(f"  outputs:  {', '.join(suite['output_names'])}")
        print(f"  cell:     {cell['units']} units, tau={cell['tau']} ms, "
              f"activation={cell['activation']}")
        if training:
            print(f"  training: seed={training.get('seed')}, epochs={training.get('epochs')}, "
                  f"steps/epoch={training.get('steps_per_epoch')}, "
                  f"batch={training.get('batch_size')}, lr={training.get('learning_rate')}")
    evaluation = card.get("evaluation", {})
    print(f"  accuracy: {_percent(card['accuracy'])}"
          + (f" ({evaluation['n_per_task']} fresh trials per task)" if evaluation else ""))
    return 0


def run_transfer(args) -> int:
    import pathlib

    from ctxrnn import transfer, zoo

    try:
        model, card = zoo.load(args.model)
        suite = zoo.suite_from_card(card)
        result = transfer.transfer_task(
            model, args.task, suite, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
            batch_size=args.batch_size, learning_rate=args.learning_rate,
            criterion=args.criterion, seed=args.seed, verbose=args.verbose)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    reached = result.epochs_to_criterion
    print(f"{result.task} on the frozen core of {card['name']}: "
          f"{100 * result.accuracy:.1f} % after {len(result.history)} epochs; criterion "
          f"{100 * args.criterion:.0f} % "
          + (f"reached at epoch {reached}" if reached else "not reached")
          + f"; {result.trainable_parameters} plastic parameters")
    evaluation_seed = seeding.derive(args.seed, "evaluation")
    old = zoo.evaluate(result.model, result.suite, n_per_task=200, seed=evaluation_seed)
    print(f"all tasks of the grown model: {_percent(old)}")
    if args.out:
        out = pathlib.Path(args.out)
        name = f"{card['name']}+{result.task}"
        saved = zoo.save(
            result.model, out / f"{name}.keras", suite=result.suite, accuracy=old,
            description=f"{card['name']} with {result.task} added by transfer (recurrent core, "
                        "old input rows and old readout frozen).",
            training={"base_model": card["name"], "base_sha256": card.get("sha256"),
                      "new_task": result.task, "epochs": args.epochs,
                      "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
                      "learning_rate": args.learning_rate, "seed": args.seed,
                      "history": result.history, "epochs_to_criterion": reached},
            evaluation={"n_per_task": 200, "seed": evaluation_seed})
        print(f"saved {out / saved['file']} and its card")
    return 0
