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
- `molap_core`: MoLaP's pre-trained core (CCA primitives, reference wiring) with its nine
  task heads (`ctxrnn molap` defaults, seed 0; kind `"molap"`). `--from-run DIR` packages
  the `molap` model of a finished `ctxrnn molap --out DIR` run instead of training.
- `driscoll15`: Driscoll, Shenoy & Sussillo (2024)'s 15 rules with Yang's encodings in one
  256-unit leaky softplus network (`ctxrnn.motifs.fit`; issue 17). Long on a 2-core CPU: it saves
  `--checkpoints/driscoll15.keras` after every evaluation, stops at the criterion or after
  `--max-minutes`, and `--from-checkpoint` packages a saved checkpoint instead of training.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import tempfile
import time

import keras
import numpy as np

from ctxrnn import io, motifs, seeding, zoo
from ctxrnn.training import TrainConfig, load_run, train_run

EVAL_TRIALS = 400  # per task, for the card's accuracy
EVAL_SEED = 2024  # distinct from the training (seed), validation (seed+1), test (seed+2) seeds

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


# Driscoll's 256 units; the 0.95 validation criterion keeps the 400-trial card accuracy
# of every rule above 0.9 (at 0.9 one rule's card accuracy fell below it:
# experiments/RESULTS_motifs.md). About 16 min on an idle 2-core CPU.
MOTIF_MODELS = {
    "driscoll15": (
        {"units": 256, "steps": 30000, "batch_size": 64, "learning_rate": 1e-3, "eval_every": 500,
         "seed": 0, "fast": True, "criterion": 0.95},
        "Driscoll, Shenoy & Sussillo (2024)'s 15 rules (Yang et al. 2019's encodings: fixation, "
        "two 32-unit stimulus rings, one rule input per task; fixation output and a 32-unit "
        "response ring) in one 256-unit leaky softplus CTRNN (dt 20 ms, tau 100 ms, recurrent "
        "noise 0.05, W_rec starting at 0.6 I), trained with `ctxrnn.motifs.fit` on the shorter "
        "CPU timing (`ctxrnn.tasks.yang.FAST_TIMING`); accuracy by Yang's rule (last step, "
        "0.2 pi).",
    ),
}


#: MoLaP models: the pipeline seed and the card's description.
MOLAP_MODELS = {
    "molap_core": (
        0,
        "MoLaP (Marton, Gagnon, Rajan & Lajoie): a 100-unit discrete tanh core in two modules "
        "of 50, pre-trained on two CCA latent primitives of the nine-task corpus with the "
        "reference code's wiring (one primitive input row and one readout over all units, "
        "frozen random bias), then frozen; one input/readout head per task (input rows, a "
        "bias channel, initial state and readout) for Delay Pro, Delay Anti, Mem Pro, Mem Anti, "
        "Mem DM1, Mem DM2, Context Mem DM1, Context Mem DM2 and Multi Mem, each trained alone on "
        "the frozen core (`ctxrnn molap` defaults). Inputs: each task's channels in its own "
        "block (`ctxrnn.zoo.tasks_from_card`, `HeadLayout.stack`) plus a one-hot `task` input "
        "that selects the head's initial state.",
    ),
}


def make_molap_model(name: str, out: pathlib.Path, from_run: pathlib.Path | None = None) -> dict:
    """Trains (or takes from a finished run) the `molap` model of a MoLaP pipeline run and
    ships it with its card: accuracy on the pipeline's 2000 test trials per task."""
    from ctxrnn.molap import pipeline
    from ctxrnn.molap.network import HeadLayout

    seed, description = MOLAP_MODELS[name]
    with tempfile.TemporaryDirectory() as tmp:
        run = from_run
        if run is None:
            run = pathlib.Path(tmp) / name
            config = pipeline.PipelineConfig(approaches=("molap",), seed=seed)
            pipeline.run_pipeline(config, run, progress=lambda line: print(line, flush=True))
        config = io.read_json(run / "config.json")
        results = io.read_json(run / "results.json")
        model = keras.saving.load_model(run / "models" / "molap.keras")
    tasks = pipeline.tasks_of_run(config)
    layout = HeadLayout.for_model(model, tasks, config["tasks"])
    rescale = config["heads"].get("rescale")
    card = zoo.save(
        model, out / f"{name}.keras", suite=tasks, layout=layout, kind="molap",
        accuracy=results["accuracy"]["molap"], description=description,
        training={**{k: v for k, v in config.items() if not k.startswith(("separate", "dni"))},
                  "approaches": ["molap"], "trainer": "ctxrnn.molap.run_pipeline",
                  "seconds": round(results["seconds"]["molap"], 1),
                  "machine": "2-core CPU, one TensorFlow thread",
                  "head_attempts": results.get("molap_attempts"),
                  "primitives": results.get("primitives")},
        evaluation={"n_per_task": config["test_trials"],
                    "seed": seeding.derive(config["seed"], "evaluation"), "rescale": rescale,
                    "rule": "ctxrnn.molap.evaluate: each task's `correct` (paper A.3)"},
        extra={"regression": f"{name}.regression.npz"},
    )
    # nine input blocks side by side: mostly zeros
    zoo.write_regression(model, card, out / f"{name}.regression.npz", compressed=True)
    return card


class _WallClock(keras.callbacks.Callback):
    """Saves the model and the epoch logs after every epoch; stops once `seconds` have passed."""

    def __init__(self, seconds: float, checkpoint: pathlib.Path):
        super().__init__()
        self.deadline = time.perf_counter() + seconds
        self.checkpoint = checkpoint
        self.logs: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        from ctxrnn.training import save_model_atomic

        save_model_atomic(self.model, self.checkpoint)
        self.logs.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        io.write_json(self.checkpoint.with_suffix(".progress.json"), self.logs)
        if time.perf_counter() > self.deadline:
            self.model.stop_training = True


def make_motif_model(name: str, out: pathlib.Path, checkpoints: pathlib.Path,
                     max_minutes: float, from_checkpoint: bool = False,
                     trained_seconds: float | None = None, continued: bool = False,
                     units: int | None = None, criterion: float | None = None) -> dict:
    options, description = MOTIF_MODELS[name]
    options = dict(options)
    if criterion is not None:
        options["criterion"] = criterion
    if units is not None:
        options["units"] = units
        description = description.replace("in one 256-unit leaky", f"in one {units}-unit leaky")
    fast = options.pop("fast")
    suite = motifs.motif_suite(fast=fast)
    checkpoints.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoints / f"{name}.keras"
    history_path = checkpoints / f"{name}.history.json"
    if continued:
        model, result_fields = _continue_shipped(name, out, suite, options, max_minutes,
                                                 checkpoint)
    elif from_checkpoint:
        model = keras.saving.load_model(checkpoint)
        if history_path.is_file():
            result_fields = io.read_json(history_path)
        else:  # training was stopped from outside: its epoch logs are the record
            progress = io.read_json(checkpoint.with_suffix(".progress.json"))
            worst = [min(v for k, v in r.items() if k.startswith("val_accuracy_"))
                     for r in progress]
            reached = [r["epoch"] for r, w in zip(progress, worst)
                       if w >= motifs.DEFAULT_CRITERION]
            result_fields = {"steps": progress[-1]["epoch"] * options["eval_every"],
                             "steps_to_criterion": reached[0] * options["eval_every"]
                             if reached else None, "seconds": trained_seconds,
                             "stopped": "from outside; packaged from the last checkpoint"}
    else:
        keras.utils.set_random_seed(options["seed"])
        result = motifs.fit(suite, callbacks=[_WallClock(60 * max_minutes, checkpoint)],
                            **options)
        model = result.model
        result_fields = {"history": result.history, "steps": result.steps,
                         "seconds": round(result.seconds, 1),
                         "steps_to_criterion": result.steps_to_criterion}
        io.write_json(history_path, result_fields)
    accuracy = zoo.evaluate(model, suite, n_per_task=EVAL_TRIALS, seed=EVAL_SEED)
    card = zoo.save(
        model, out / f"{name}.keras", suite=suite, accuracy=accuracy, description=description,
        training={**options, "fast_timing": fast, "trainer": "ctxrnn.motifs.fit",
                  "criterion": options.get("criterion", motifs.DEFAULT_CRITERION),
                  "machine": "2-core CPU (shared)",
                  **{k: v for k, v in result_fields.items() if k != "history"}},
        evaluation={"n_per_task": EVAL_TRIALS, "seed": EVAL_SEED,
                    "rule": "suite.validation_data(n_per_task, seed); suite.correct "
                            "(Yang: last step, fixation > 0.5, population vector within 0.2 pi)"},
        extra={"regression": f"{name}.regression.npz"},
    )
    # 15 rules x 110 steps x 80 channels: 1.5 MB raw, mostly zeros
    zoo.write_regression(model, card, out / f"{name}.regression.npz", compressed=True)
    return card


def _continue_shipped(name: str, out: pathlib.Path, suite, options: dict, max_minutes: float,
                      checkpoint: pathlib.Path):
    """Trains the shipped model further (fresh Adam, the next seed's trials) to the criterion.

    The card keeps the whole record: steps and seconds of both phases added, and each
    phase's own numbers under `phases`.
    """
    path = out / f"{name}.keras"
    model, card = zoo.load(path, compile=False)
    previous = card["training"]
    seed = options["seed"] + 1 + len(previous.get("phases", []))
    settings = {**options, "seed": seed}
    start = time.perf_counter()
    result = motifs.fit(suite, model, callbacks=[_WallClock(60 * max_minutes, checkpoint)],
                        **{k: v for k, v in settings.items() if k != "units"})
    seconds = round(time.perf_counter() - start, 1)
    phases = previous.get("phases") or [{k: previous.get(k) for k in
                                         ("steps", "seconds", "steps_to_criterion", "seed",
                                          "stopped")}]
    phases.append({"steps": result.steps, "seconds": seconds, "seed": seed,
                   "criterion": settings.get("criterion", motifs.DEFAULT_CRITERION),
                   "steps_to_criterion": result.steps_to_criterion,
                   "optimizer": "fresh Adam (the shipped file holds no optimizer state)"})
    io.write_json(checkpoint.with_suffix(".continued.json"), {"history": result.history,
                                                              "phases": phases})
    fields = {"steps": sum(p["steps"] or 0 for p in phases),
              "seconds": round(sum(p["seconds"] or 0 for p in phases), 1),
              "steps_to_criterion": (None if result.steps_to_criterion is None else
                                     sum(p["steps"] or 0 for p in phases[:-1])
                                     + result.steps_to_criterion),
              "phases": phases}
    return model, fields


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
    zoo.write_regression(model, card, out / f"{name}.regression.npz")
    return card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    every = list(MODELS) + list(MOLAP_MODELS) + list(MOTIF_MODELS)
    parser.add_argument("--models", nargs="+", default=every, choices=every)
    parser.add_argument("--out", type=pathlib.Path, default=zoo.SAVED_MODELS_DIR)
    parser.add_argument("--checkpoints", type=pathlib.Path,
                        default=pathlib.Path("runs/motifs"))
    parser.add_argument("--max-minutes", type=float, default=70.0)
    parser.add_argument("--from-checkpoint", action="store_true")
    parser.add_argument("--trained-seconds", type=float, default=None,
                        help="wall time of a training stopped from outside (for the card)")
    parser.add_argument("--units", type=int, default=None,
                        help="motif models: another network size (driscoll15: Driscoll's 256); "
                             "use another --out and --checkpoints")
    parser.add_argument("--criterion", type=float, default=None,
                        help="motif models: the validation accuracy every rule must reach "
                             "(driscoll15: 0.95, a margin above Driscoll's 0.9 that keeps the "
                             "400-trial card accuracy above 0.9 too)")
    parser.add_argument("--from-run", type=pathlib.Path, default=None,
                        help="MoLaP models: package the molap model of this finished "
                             "`ctxrnn molap --out DIR` run instead of training")
    parser.add_argument("--continue", dest="continued", action="store_true",
                        help="train the shipped motif model further (to the criterion or "
                             "--max-minutes) and re-ship it; its card records both phases")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        if name in MOTIF_MODELS:
            card = make_motif_model(name, args.out, args.checkpoints, args.max_minutes,
                                    args.from_checkpoint, args.trained_seconds,
                                    args.continued, args.units, args.criterion)
        elif name in MOLAP_MODELS:
            card = make_molap_model(name, args.out, args.from_run)
        else:
            card = make_model(name, args.out)
        accuracy = " ".join(f"{k}={100 * v:.1f}%" for k, v in card["accuracy"].items())
        print(f"{name}: {card['size_bytes'] / 1e3:.0f} kB, {card['training']['seconds']} s, "
              f"{accuracy}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
