"""Fast transfer by reusing a pre-trained core (Driscoll, Shenoy & Sussillo 2024).

A new task is learned two ways, on the same trial stream, for the same number
of epochs:

- `frozen_core`: a shipped context network gets a new context channel (one new
  input-kernel row, plus rows for new stimulus channels); the recurrent kernel,
  bias, old input rows and readout are frozen; only the new rows learn
  (`ctxrnn.transfer_task`).
- `scratch`: a fresh network of the same size (`context_multitask` on the new
  task alone), every weight plastic, at the default learning rate and at the
  transfer learning rate.

Reported per condition and seed: epochs to criterion (accuracy on 200
validation trials after each epoch), final accuracy (400 test trials), plastic
parameters, seconds. Also checks that the old tasks' outputs of the grown
model are bit-identical to the shipped model's.

    python experiments/transfer.py --out experiments/results/transfer
    python experiments/transfer.py --pairs jarne_context4:xor --seeds 0 --epochs 5  # quick
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from ctxrnn import seeding
from ctxrnn import io, tasks, zoo
from ctxrnn import transfer as tr
from ctxrnn.models import context_multitask

PAIRS = ("jarne_context4:xor", "jarne_context5:flip_flop")
SCRATCH_LEARNING_RATE = 2e-3  # TrainConfig default (trains the shipped models)


def _old_outputs_unchanged(model, suite, grown_model, grown) -> bool:
    batch = suite.validation_data(50, seed=99)
    old = model.predict(batch.inputs, verbose=0)
    new = grown_model.predict(tr.remap(batch, suite.input_names, grown.input_names), verbose=0)
    columns = [grown.output_names.index(name) for name in suite.output_names]
    return bool(np.array_equal(old, new[..., columns]))


def run_pair(pair: str, seed: int, args) -> list[dict]:
    name, task = pair.split(":")
    model, card = zoo.load(name)
    suite = zoo.suite_from_card(card)
    common = {"epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
              "batch_size": args.batch_size, "criterion": args.criterion, "seed": seed}
    rows = []
    start = time.perf_counter()
    result = tr.transfer_task(model, task, suite, learning_rate=args.transfer_learning_rate, **common)
    rows.append({
        "pair": pair, "seed": seed, "condition": "frozen_core",
        "learning_rate": args.transfer_learning_rate,
        "epochs_to_criterion": result.epochs_to_criterion, "final_accuracy": result.accuracy,
        "history": result.history, "plastic_parameters": result.trainable_parameters,
        "seconds": time.perf_counter() - start,
        "old_outputs_bit_identical": _old_outputs_unchanged(model, suite, result.model,
                                                            result.suite),
    })
    single = tasks.TaskSuite([tasks.make(task, dt=suite.dt)], context=suite.context)
    units = card["cell"]["units"]
    for learning_rate in dict.fromkeys((SCRATCH_LEARNING_RATE, args.transfer_learning_rate)):
        start = time.perf_counter()
        fresh = context_multitask(single, units, tau=card["cell"]["tau"], seed=seed,
                                  input_noise=card["cell"]["input_noise"])
        history, reached = tr.fit_task(fresh, single, single, learning_rate=learning_rate,
                                       **common)
        test = single.validation_data(400, seed=seeding.derive(seed, "test"))
        rows.append({
            "pair": pair, "seed": seed, "condition": "scratch", "learning_rate": learning_rate,
            "epochs_to_criterion": reached,
            "final_accuracy": tr.task_accuracy(fresh, single, single, test), "history": history,
            "plastic_parameters": tr.plastic_parameter_count(fresh),
            "seconds": time.perf_counter() - start,
        })
    for row in rows:
        print(f"{pair} seed={seed} {row['condition']:<11} lr={row['learning_rate']:g}: "
              f"criterion at epoch {row['epochs_to_criterion']}, final "
              f"{100 * row['final_accuracy']:.1f} %, {row['plastic_parameters']} plastic, "
              f"{row['seconds']:.0f} s", flush=True)
    return rows


def summary_markdown(rows: list[dict], args, command: str) -> str:
    lines = [
        "| pair (model:new task) | condition | lr | plastic params | epochs to criterion "
        "(per seed) | final accuracy (mean, min) |",
        "|---|---|---|---|---|---|",
    ]
    keys = dict.fromkeys((r["pair"], r["condition"], r["learning_rate"]) for r in rows)
    for pair, condition, lr in keys:
        chosen = [r for r in rows if (r["pair"], r["condition"], r["learning_rate"]) ==
                  (pair, condition, lr)]
        reached = ", ".join(str(r["epochs_to_criterion"] or f">{args.epochs}") for r in chosen)
        final = [100 * r["final_accuracy"] for r in chosen]
        lines.append(f"| {pair} | {condition} | {lr:g} | {chosen[0]['plastic_parameters']} | "
                     f"{reached} | {np.mean(final):.1f} %, {np.min(final):.1f} % |")
    identical = all(r.get("old_outputs_bit_identical", True) for r in rows)
    return "\n".join(lines) + (
        f"\n\nCriterion {100 * args.criterion:.0f} % on 200 validation trials after each epoch "
        f"({args.steps_per_epoch} steps of {args.batch_size} trials); final accuracy on 400 "
        f"test trials after {args.epochs} epochs. Old tasks' outputs of every grown model "
        f"bit-identical to the shipped model's: {identical}.\n\nCommand: `{command}`\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/transfer"))
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS),
                        help="MODEL:TASK pairs (shipped model, new task)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--criterion", type=float, default=tr.DEFAULT_CRITERION)
    parser.add_argument("--transfer-learning-rate", type=float,
                        default=tr.DEFAULT_TRANSFER_LEARNING_RATE)
    args = parser.parse_args(argv)
    command = "python experiments/transfer.py " + " ".join(argv or __import__("sys").argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for pair in args.pairs:
        for seed in args.seeds:
            rows += run_pair(pair, seed, args)
    io.write_json(args.out / "results.json", {"rows": rows, "arguments": {
        k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()}})
    markdown = summary_markdown(rows, args, command.strip())
    io.write_text(args.out / "results.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
