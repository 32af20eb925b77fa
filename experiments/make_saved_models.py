"""Train the small networks shipped in `ctxrnn/saved_models/` and write their cards.

Each model is `NAME.keras` + `NAME.json` (its card: suite, cell, training
configuration and seed, per-task accuracy on fresh held-out trials, versions,
date, SHA-256) + `NAME.regression.npz` (a few fixed input trials and the
outputs this version computes for them: the regression fixture that later
versions must reproduce on load).

    python experiments/make_saved_models.py                      # all models
    python experiments/make_saved_models.py --models jarne_context5
    python experiments/make_saved_models.py --out /tmp/zoo       # somewhere else

Models:

- `jarne_context5`: the default context-multitask network (`TrainConfig()`:
  100 units, AND, OR, XOR, NOT, time reproduction, one-hot context).
- `jarne_context4`: the same without XOR (the held-out task of
  `experiments/transfer.py`).
- `jarne_context_osc`: AND, OR, XOR, NOT, oscillation and flip-flop in one
  network (issue 16 item 3: fixed-point and oscillatory regimes by context).
- `dubreuil_dm_cdm`: DM and CDM (Dubreuil, Valente et al. 2022) in one network.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import tempfile
import time

import numpy as np

from ctxrnn import io, zoo
from ctxrnn.training import TrainConfig, load_run, train_run

EVAL_TRIALS = 400  # per task, for the card's accuracy
EVAL_SEED = 2024  # distinct from the training (seed), validation (seed+1), test (seed+2) seeds
REGRESSION_TRIALS = 2  # per task, in the regression fixture
REGRESSION_SEED = 7

MODELS = {
    "jarne_context5": (
        TrainConfig(),
        "Jarne's context multitask network: one 100-unit CTRNN (dt 5 ms, tau 10 ms) doing AND, "
        "OR, XOR, NOT and time reproduction, selected by a one-hot context input; "
        "`ctxrnn train` defaults.",
    ),
    "jarne_context4": (
        TrainConfig(tasks=("and", "or", "not", "time_reproduction")),
        "The default context multitask network trained without XOR (AND, OR, NOT, time "
        "reproduction): the pre-trained core of the transfer experiment, where XOR is added "
        "as a new context.",
    ),
    "jarne_context_osc": (
        TrainConfig(tasks=("and", "or", "xor", "not", "oscillation", "flip_flop")),
        "Jarne's context multitask network with an oscillatory and a memory task: one 100-unit "
        "CTRNN (dt 5 ms, tau 10 ms) doing AND, OR, XOR, NOT, stimulus-triggered oscillation and "
        "flip-flop, selected by a one-hot context input; the dynamics-analysis model of "
        "`experiments/dynamics_shipped.py` (fixed-point and oscillatory regimes by context).",
    ),
    "dubreuil_dm_cdm": (
        TrainConfig(tasks=("dm", "cdm"), dt=20.0, tau=100.0, epochs=30),
        "Perceptual decision (DM) and context-dependent decision (CDM) of Dubreuil, Valente et "
        "al. 2022 in one 100-unit CTRNN (dt 20 ms, tau 100 ms as in their code), selected by a "
        "one-hot task context.",
    ),
}


def make_model(name: str, out: pathlib.Path) -> dict:
    config, description = MODELS[name]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_run(pathlib.Path(tmp) / name, config, verbose=0, report=False)
        _, _, suite, model = load_run(pathlib.Path(tmp) / name)
    seconds = time.perf_counter() - start
    accuracy = zoo.evaluate(model, suite, n_per_task=EVAL_TRIALS, seed=EVAL_SEED)
    card = zoo.save(
        model, out / f"{name}.keras", suite=suite, accuracy=accuracy, description=description,
        training={**dataclasses.asdict(config), "trainer": "ctxrnn.training.train_run",
                  "seconds": round(seconds, 1), "machine": "2-core CPU"},
        evaluation={"n_per_task": EVAL_TRIALS, "seed": EVAL_SEED,
                    "rule": "suite.validation_data(n_per_task, seed); suite.correct"},
        extra={"regression": f"{name}.regression.npz"},
    )
    batch = suite.validation_data(REGRESSION_TRIALS, seed=REGRESSION_SEED)
    outputs = model.predict(batch.inputs, verbose=0)
    io.save_npz(out / f"{name}.regression.npz", inputs=batch.inputs, outputs=outputs)
    return card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=pathlib.Path, default=zoo.SAVED_MODELS_DIR)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        card = make_model(name, args.out)
        accuracy = " ".join(f"{k}={100 * v:.1f}%" for k, v in card["accuracy"].items())
        print(f"{name}: {card['size_bytes'] / 1e3:.0f} kB, {card['training']['seconds']} s, "
              f"{accuracy}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
