"""Fast transfer by motif reuse (Driscoll, Shenoy & Sussillo 2024, Fig. 6; issue 17 item 6).

Pre-train Driscoll's network on a subset of rules, then learn the held-out rule
MemoryAnti (`delayanti`) by training **only its new rule-input row**
(`ctxrnn.transfer.transfer_task`: `add_task_head` adds the row; W_rec, the
stimulus and old rule rows, the bias and the readout stay frozen). Conditions:

- `motifs`: pre-trained on MemoryPro + DelayAnti (`delaygo`, `fdanti`), which
  hold MemoryAnti's motifs (memory of an angle; anti response);
- `pro_small`: pre-trained on DelayPro + MemoryPro (`fdgo`, `delaygo`), no anti motif;
- `untrained`: the same network never trained, rule row only;
- `scratch`: a fresh network whose every weight learns MemoryAnti alone.

Full networks (pre-training, scratch) learn with Adam at `--learning-rate`
(2e-3), a single rule row at `--transfer-learning-rate` (1e-2, ctxrnn's transfer
default); every condition sees the same evaluation (every `--eval-every` steps,
`--validation` trials, Yang's rule); the summary is the first evaluated step at
which MemoryAnti reaches 90 %. Runs already in `--out` are skipped, so seeds
can run in separate processes (one `--out` each) and be merged into one file.

    python experiments/motifs_transfer.py --seeds 0 1
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from ctxrnn import io, motifs, seeding
from ctxrnn.tasks import make
from ctxrnn.tasks.yang import PAPER_NAMES, fast_timing
from ctxrnn.transfer import DEFAULT_TRANSFER_LEARNING_RATE, transfer_task

TARGET = "delayanti"
PRETRAIN = {"motifs": ("delaygo", "fdanti"), "pro_small": ("fdgo", "delaygo")}
CONDITIONS = ("motifs", "pro_small", "untrained", "scratch")
RESULTS = pathlib.Path(__file__).parent / "results" / "motifs_transfer.json"
FIGURES = pathlib.Path(__file__).parent / "figures" / "motifs"


def run_condition(condition: str, seed: int, args) -> dict:
    start = time.perf_counter()
    target = make(TARGET, timing=fast_timing(TARGET))
    record: dict = {"condition": condition, "seed": seed}
    if condition == "scratch":
        result = motifs.fit(motifs.motif_suite([TARGET]), steps=args.transfer_steps,
                            eval_every=args.eval_every, learning_rate=args.learning_rate,
                            validation_trials=args.validation, seed=seed, units=args.units)
        curve = [h[f"val_accuracy_{TARGET}"] for h in result.history]
        reached = result.steps_to_criterion
        record.update(final=result.accuracy[TARGET], trainable=int(sum(
            np.prod(w.shape) for w in result.model.trainable_weights)))
    else:
        rules = PRETRAIN.get(condition, PRETRAIN["motifs"])
        suite = motifs.motif_suite(rules)
        if condition == "untrained":
            model = motifs.build_network(suite, args.units, seed=seed)
        else:
            pre = motifs.fit(suite, steps=args.pretrain_steps, eval_every=args.eval_every,
                             learning_rate=args.learning_rate,
                             validation_trials=args.validation, seed=seed, units=args.units)
            model = pre.model
            record.update(pretrain_steps=pre.steps, pretrain_reached=pre.steps_to_criterion,
                          pretrain_accuracy=pre.accuracy, pretrain_seconds=round(pre.seconds, 1))
        result = transfer_task(
            model, target, suite, epochs=-(-args.transfer_steps // args.eval_every),
            steps_per_epoch=args.eval_every, learning_rate=args.transfer_learning_rate,
            stop_at_criterion=True, validation_trials=args.validation,
            seed=seeding.derive(seed, "transfer"))
        curve = result.history
        reached = None if result.epochs_to_criterion is None else (
            result.epochs_to_criterion * args.eval_every)
        record.update(final=result.accuracy, trainable=result.trainable_parameters)
    record.update(curve=[float(c) for c in curve], steps_to_criterion=reached,
                  seconds=round(time.perf_counter() - start, 1))
    return record


def summarise(records: list[dict], cap: int) -> dict:
    """Steps to criterion per condition (a run that never got there counts as `cap`, flagged)."""
    out = {}
    for condition in CONDITIONS:
        runs = [r for r in records if r["condition"] == condition]
        if not runs:
            continue
        steps = [r["steps_to_criterion"] or cap for r in runs]
        out[condition] = {"seeds": [r["seed"] for r in runs], "steps": steps,
                          "reached": [r["steps_to_criterion"] is not None for r in runs],
                          "median": float(np.median(steps)), "min": min(steps),
                          "max": max(steps), "final": [round(r["final"], 3) for r in runs]}
    return out


def plot(records: list[dict], eval_every: int, path: pathlib.Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    axis = figure.add_subplot()
    colors = dict(zip(CONDITIONS, ("C0", "C1", "C7", "C3")))
    for r in records:
        steps = eval_every * (1 + np.arange(len(r["curve"])))
        label = r["condition"] if r["seed"] == min(
            q["seed"] for q in records if q["condition"] == r["condition"]) else None
        axis.plot(steps, r["curve"], color=colors[r["condition"]], label=label, alpha=0.8)
    axis.axhline(0.9, color="k", lw=0.5, ls="--")
    axis.set(xlabel="training steps (batch 64)", ylabel=f"{PAPER_NAMES[TARGET]} accuracy",
             ylim=(0, 1.02), title="MemoryAnti: new rule row only (motifs, pro_small, untrained) "
             "vs every weight (scratch)")
    axis.legend(frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def _write(args, records) -> None:
    io.write_json(args.out, {"settings": vars(args) | {"out": str(args.out)}, "runs": records,
                             "summary": summarise(records, args.transfer_steps)})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--pretrain-steps", type=int, default=3000)
    parser.add_argument("--transfer-steps", type=int, default=600)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--validation", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=2e-3,
                        help="Adam step of every full network (pre-training, scratch)")
    parser.add_argument("--transfer-learning-rate", type=float,
                        default=DEFAULT_TRANSFER_LEARNING_RATE,
                        help="Adam step of the rule-row-only conditions")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args(argv)
    saved = io.read_json(args.out) if args.out.is_file() else {}
    records = [r for r in saved.get("runs", [])]
    done = {(r["condition"], r["seed"]) for r in records}
    for seed in args.seeds:
        for condition in args.conditions:
            if (condition, seed) in done:
                continue
            record = run_condition(condition, seed, args)
            records.append(record)
            print(f"{condition} seed {seed}: steps to 90% {record['steps_to_criterion']}, "
                  f"final {record['final']:.3f}, {record['seconds']} s", flush=True)
            _write(args, records)
    _write(args, records)
    plot(records, args.eval_every, FIGURES / "transfer_curves.png")
    for condition, row in summarise(records, args.transfer_steps).items():
        print(condition, row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
