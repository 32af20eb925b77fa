"""Learning curves of the shipped 15-rule network (`driscoll15`, issue 17 item 2).

Reads the per-evaluation record `experiments/make_saved_models.py` writes while
it trains (`runs/motifs/driscoll15.progress.json`, or the `history` of
`driscoll15.history.json`), draws per-rule accuracy against training steps into
`experiments/figures/motifs/training_curves.png` and prints a Markdown table.

    python experiments/motifs_training.py
"""

from __future__ import annotations

import argparse
import pathlib

from ctxrnn import io
from ctxrnn.tasks.yang import PAPER_NAMES, YANG_RULES

RUNS = pathlib.Path("runs/motifs")
FIGURE = pathlib.Path(__file__).parent / "figures" / "motifs" / "training_curves.png"


def load_records(runs: pathlib.Path, eval_every: int) -> list[dict]:
    history = runs / "driscoll15.history.json"
    if history.is_file() and io.read_json(history).get("history"):
        return io.read_json(history)["history"]
    return [{"step": r["epoch"] * eval_every, **r}
            for r in io.read_json(runs / "driscoll15.progress.json")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=pathlib.Path, default=RUNS)
    parser.add_argument("--eval-every", type=int, default=500)
    args = parser.parse_args(argv)
    records = load_records(args.runs, args.eval_every)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), layout="constrained")
    axis = figure.add_subplot()
    steps = [r["step"] for r in records]
    for k, rule in enumerate(YANG_RULES):
        axis.plot(steps, [r[f"val_accuracy_{rule}"] for r in records], color=f"C{k % 10}",
                  ls="-" if k < 10 else "--", label=PAPER_NAMES[rule])
    axis.axhline(0.9, color="k", lw=0.5, ls=":")
    axis.set(xlabel="training steps (batch 64)", ylabel="validation accuracy (Yang's rule)",
             ylim=(0, 1.02), title="15 rules in one network")
    axis.legend(ncol=3, fontsize=7, frameon=False)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(FIGURE, dpi=120)
    print("| step | " + " | ".join(PAPER_NAMES[r] for r in YANG_RULES) + " | min |")
    print("|---" * (len(YANG_RULES) + 2) + "|")
    for r in records[::max(1, len(records) // 8)] + ([records[-1]] if len(records) > 1 else []):
        values = [r[f"val_accuracy_{rule}"] for rule in YANG_RULES]
        print(f"| {r['step']} | " + " | ".join(f"{100 * v:.0f}" for v in values)
              + f" | {100 * min(values):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
