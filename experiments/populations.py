"""Population structure (Dubreuil, Valente et al. 2022): low-rank nets, mixtures, resampling.

Per task and seed: train a low-rank CTRNN (DM and CDM rank 1, DMS rank 2 as in
the reference code's `dms_rank2` models), fit Gaussian mixtures of 1..K
populations to its units' loadings, score 10 networks resampled from each
fit (the functional criterion), and measure the bootstrap stability of the
2-population split against an i.i.d. Gaussian control. With `--full-rank`,
also full-rank nets: accuracy with `W_rec - W_init` truncated to rank r and
with the rank-r part resampled from one population.

The network follows the reference code where ctxrnn allows: dt 20 ms, tau
100 ms (alpha 0.2), N(0, 1) loadings and input weights, per-step recurrent
noise 0.05 (`recurrent_noise = 0.05 / sqrt(2 / alpha)`), a readout
initialised N(0, (4 / N)^2) (their fixed `w_out ~ N(0, 16)` read as
`tanh(x) w_out / N`); unlike the reference, the readout and bias train.

With `--reference`, CDM is the network of the paper's Figs. 4-5 as the
reference code trains it (`training_scripts/train_mante_main.py`): N = 4096,
the task's `ContextDecision.REFERENCE` values (coherences +-1, 2, 4; context
inputs 0.5; 100 ms delay), no bias, the readout fixed at its random start,
trained input weights, Adam 1e-2 with the global gradient norm clipped at
0.1, batches of 32, up to 100 epochs of 25 batches, stopping once an epoch's
mean loss is below 0.01 and keeping the best epoch's weights; resampled at
the trained size. Left as ctxrnn does it: fresh trials every batch (the
reference reuses 800), the rate form, and no trainable output scale (the
reference trains one scalar `so` on its fixed readout). `--reference-wiring`
takes only the reference network's wiring (no bias, readout fixed at its
random start), for any task, and `--no-bias` only its missing bias: the
reference's DMS nets (`train_dms.py`, `LowRankRNN`/`FullRankRNN`) have no bias
either, and a trained bias is a constant drive that a single population can
use for gain modulation.

    python experiments/populations.py --out experiments/results/populations
    python experiments/populations.py --tasks cdm --reference --out runs/pop_ref
    python experiments/populations.py --tasks dm --seeds 0 --epochs 3   # quick look
    python experiments/populations.py --figures-only --out experiments/results/populations
    python experiments/populations.py --figures-only --out all --merge runs/a runs/b  # combine
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time

import keras
import numpy as np

from ctxrnn import io, seeding, tasks
from ctxrnn.analysis import populations as pop
from ctxrnn.layers import find_ctrnn
from ctxrnn.models import compile_model, context_multitask

TAU = 100.0
STEP_NOISE = 0.05  # reference noise_std: per-step std on the state
READOUT_STD = 4.0  # reference w_out ~ N(0, 4^2), output tanh(x) . w_out / N
RANKS = {"dm": 1, "cdm": 1, "dms": 2}
EPOCHS = {"dm": 6, "cdm": 16, "dms": 30}
LEARNING_RATE = 1e-2
FIGURES = pathlib.Path(__file__).parent / "figures" / "populations"


def recurrent_noise(dt: float) -> float:
    """Cell `recurrent_noise` whose per-step std is `STEP_NOISE` (cell scales by sqrt(2/alpha))."""
    return STEP_NOISE / math.sqrt(2.0 * TAU / dt)


REFERENCE = {"units": 4096, "epochs": 100, "steps_per_epoch": 25, "global_clipnorm": 0.1,
             "stop_below_loss": 0.01}  # train_mante_main.py


def make_suite(task: str, seed: int, delay_max: float | None, reference: bool = False):
    options = {}
    if task == "dms" and delay_max is not None:
        options["timing"] = {"delay": (500.0, float(delay_max))}
    if task == "cdm" and reference:
        options.update(tasks.get_class("cdm").REFERENCE)
    return tasks.TaskSuite([tasks.make(task, **options)], context="none",
                           seed=seeding.derive(seed, "trials"))


def build(suite, units: int, seed: int, rank: int | None, gain: float = 0.1,
          reference: bool = False, bias: bool = True):
    options = {"rank": rank} if rank else {"recurrent_initializer": "gain_normal", "gain": gain}
    if reference or not bias:
        options["use_bias"] = False
    model = context_multitask(suite, units, tau=TAU, seed=seed, input_noise=0.0,
                              recurrent_noise=recurrent_noise(suite.dt),
                              kernel_initializer="standard_normal", **options)
    readout = model.get_layer("readout")
    rng = seeding.rng(seed, "readout")
    readout.kernel.assign(rng.normal(0.0, READOUT_STD / units, readout.kernel.shape))
    if reference:  # the reference's wo stays at its random start and has no bias
        readout.bias.assign(np.zeros(readout.bias.shape, "float32"))
        readout.trainable = False
    return model


class StopBelowLoss(keras.callbacks.Callback):
    """Stops once an epoch's mean loss is below `threshold`; restores the best epoch's
    weights (the reference `train(..., early_stop=0.01, keep_best=True)`)."""

    def __init__(self, threshold: float):
        super().__init__()
        self.threshold = threshold
        self.best_loss, self.best_weights, self.epochs = np.inf, None, 0

    def on_epoch_end(self, epoch, logs=None):
        loss = float(logs["loss"])
        self.epochs = epoch + 1
        if loss < self.best_loss:
            self.best_loss, self.best_weights = loss, self.model.get_weights()
        if loss < self.threshold:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def progress_metric(suite):
    """The Keras progress metric of these tasks: sign of the mean output over the response
    epoch (the scores in the results come from `suite.correct`, the same rule)."""
    from ctxrnn.metrics import DecisionAccuracy

    (task,) = suite.tasks
    steps = max(1, round(task.timing["response"] / suite.dt))
    return DecisionAccuracy(window=steps, rule="choice", threshold=0.0)


def train(suite, model, epochs: int, steps: int, batch_size: int, seed: int,
          verbose: int = 0, learning_rate: float = LEARNING_RATE,
          reference: bool = False) -> dict:
    compile_model(model, learning_rate=learning_rate, metrics=[progress_metric(suite)],
                  global_clipnorm=REFERENCE["global_clipnorm"] if reference else None)
    callbacks = [StopBelowLoss(REFERENCE["stop_below_loss"])] if reference else []
    start = time.perf_counter()
    model.fit(suite.dataset(batch_size=batch_size, steps_per_epoch=steps,
                            seed=seeding.derive(seed, "trials")),
              epochs=epochs, shuffle=False, verbose=verbose, callbacks=callbacks)
    info = {"seconds": time.perf_counter() - start}
    if callbacks:
        info.update(epochs=callbacks[0].epochs, best_loss=callbacks[0].best_loss)
    return info


def primed(suite, units: int, seed: int, rank: int, args) -> keras.Model:
    """A low-rank net started from the rank-R SVD of a briefly trained full-rank one.

    The reference code's DMS procedure (`training_scripts/dms_fig1.py`): a
    random rank-2 net sits on the XOR plateau (output 0); a full-rank net with
    a random bulk (gain 1) leaves it, and its leading SVD modes seed m and n.
    """
    wiring, bias = args.reference_wiring, not args.no_bias
    full = build(suite, units, seed, None, gain=1.0, reference=wiring, bias=bias)
    train(suite, full, args.prime_epochs, args.steps_per_epoch, args.batch_size, seed,
          args.verbose, args.prime_learning_rate)
    m, n = pop.low_rank_factors(
        keras.ops.convert_to_numpy(find_ctrnn(full).effective_recurrent_kernel), rank)
    model = build(suite, units, seed, rank, reference=wiring, bias=bias)
    layer, source = find_ctrnn(model), find_ctrnn(full)
    layer.recurrent_m.assign(m.astype("float32"))
    layer.recurrent_n.assign(n.astype("float32"))
    layer.kernel.assign(source.kernel)
    if layer.bias is not None:
        layer.bias.assign(source.bias)
    model.get_layer("readout").set_weights(full.get_layer("readout").get_weights())
    return model


def run_low_rank(task: str, seed: int, args, work: pathlib.Path) -> dict:
    reference = args.reference  # main() allows --reference with --tasks cdm only
    wiring = reference or args.reference_wiring
    suite = make_suite(task, seed, args.dms_delay_max, reference)
    path = work / f"{task}_seed{seed}.keras"
    seconds, fit = None, {}
    if path.exists():
        model = keras.models.load_model(path)
    else:
        start = time.perf_counter()
        model = (primed(suite, args.units, seed, RANKS[task], args) if task == "dms"
                 and args.prime_epochs else build(suite, args.units, seed, RANKS[task],
                                                  reference=wiring, bias=not args.no_bias))
        fit = train(suite, model, args.epochs or EPOCHS[task], args.steps_per_epoch,
                    args.batch_size, seed, args.verbose, reference=reference)
        seconds = time.perf_counter() - start  # priming included
        model.save(path)
    batch = suite.validation_data(args.trials, seed=seeding.derive(seed, "evaluation"))
    start = time.perf_counter()
    names = {"input_names": suite.input_names, "output_names": suite.output_names}
    curve = pop.population_curve(model, batch, suite.correct, max_populations=args.max_populations,
                                 n_resamples=args.resamples, new_size=args.resample_size,
                                 seed=seeding.sequence(seed, "evaluation", 1),
                                 loading_options=names)
    points = pop.loadings(model, **names)
    stability = pop.clustering_stability(points, 2, n_boot=args.boot, seed=seed)
    two = pop.fit_populations(points, 2, seed=seed)
    trained = None
    if args.fit_statistics:
        from ctxrnn.analysis.population_training import trained_statistics_curve

        trained = trained_statistics_curve(
            model, batch, suite.correct, suite, template=points,
            max_populations=args.max_populations, steps=args.fit_statistics,
            batch_size=args.batch_size, learning_rate=args.statistics_learning_rate,
            n_resamples=args.resamples, new_size=args.resample_size,
            train_means=args.train_means, counts=args.statistics_populations,
            conditions=args.conditions,
            seed=seeding.sequence(seed, "statistics"), progress=lambda line: print(
                f"  {line}", flush=True))
    return {"task": task, "seed": seed, "units": args.units, "rank": RANKS[task],
            "reference": reference, "reference_wiring": wiring,
            "recurrent_bias": not (wiring or args.no_bias),
            "resample_size": args.resample_size,
            "epochs_trained": fit.get("epochs"), "best_epoch_loss": fit.get("best_loss"),
            "train_seconds": seconds, "analysis_seconds": time.perf_counter() - start,
            "curve": curve, "trained_statistics": trained,
            "stability": {k: v for k, v in stability.items()
                                          if not k.endswith("_values")},
            "loadings": {"names": points.names, "vectors": points.vectors.tolist(),
                         "labels_2": two.labels.tolist()}}


def run_full_rank(task: str, seed: int, args, work: pathlib.Path) -> dict:
    suite = make_suite(task, seed, args.dms_delay_max)
    path = work / f"{task}_full_seed{seed}.keras"
    model = build(suite, args.units, seed, None, gain=args.full_rank_gain)
    initial = keras.ops.convert_to_numpy(find_ctrnn(model).effective_recurrent_kernel)
    seconds = None
    if path.exists():
        model = keras.models.load_model(path)
    else:
        seconds = train(suite, model, args.epochs or EPOCHS[task], args.steps_per_epoch,
                        args.batch_size, seed, args.verbose,
                        args.prime_learning_rate)["seconds"]
        model.save(path)
    batch = suite.validation_data(args.trials, seed=seeding.derive(seed, "evaluation"))
    curve = pop.truncation_curve(model, initial, batch, suite.correct, ranks=range(1, 10),
                                 resample=True, n_resamples=args.resamples,
                                 seed=seeding.sequence(seed, "evaluation", 2))
    return {"task": task, "seed": seed, "units": args.units, "train_seconds": seconds,
            "truncation": curve}


def summarise(rows: list[dict]) -> dict:
    """Per task: trained accuracy and resampled accuracy per K over seeds (mean, spread, worst)."""
    summary = {}
    for task in sorted({r["task"] for r in rows}):
        chosen = [r for r in rows if r["task"] == task]
        trained = [r["curve"]["trained_accuracy"] for r in chosen]
        entry = {"seeds": [r["seed"] for r in chosen], "trained": _stats(trained),
                 "n_populations": [r["curve"]["n_populations"] for r in chosen],
                 "stability_ari": _stats([r["stability"]["ari"] for r in chosen]),
                 "control_ari": _stats([r["stability"]["control_ari"] for r in chosen]),
                 "resampled": {}}
        for k in range(len(chosen[0]["curve"]["populations"])):
            entry["resampled"][k + 1] = _stats([r["curve"]["populations"][k]["mean"]
                                                for r in chosen])
        summary[task] = entry
    return summary


def markdown(summary: dict) -> str:
    """The summary as a markdown table: mean [min, max] over seeds."""
    def cell(stats):
        return f"{stats['mean']:.3f} [{stats['min']:.3f}, {stats['max']:.3f}]"

    ks = sorted({int(k) for entry in summary.values() for k in entry["resampled"]})
    lines = ["| task | seeds | trained | " + " | ".join(f"resampled, {k} pop." for k in ks)
             + " | K (functional) | ARI 2-split | i.i.d. control ARI |",
             "|---" * (6 + len(ks)) + "|"]
    for task, entry in summary.items():
        resampled = [cell(entry["resampled"][str(k)] if str(k) in entry["resampled"]
                          else entry["resampled"][k]) for k in ks]
        lines.append(f"| {task} | {len(entry['seeds'])} | {cell(entry['trained'])} | "
                     + " | ".join(resampled) + f" | {entry['n_populations']} | "
                     f"{cell(entry['stability_ari'])} | {cell(entry['control_ari'])} |")
    return "\n".join(lines)


def _stats(values) -> dict:
    values = np.asarray(values, float)
    return {"mean": float(values.mean()), "min": float(values.min()),
            "max": float(values.max()), "values": values.tolist()}


def figures(results: dict, out: pathlib.Path) -> list[pathlib.Path]:
    from ctxrnn.analysis import populations_figures as pf
    from ctxrnn.analysis.figures import figure_to_png

    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = results.get("low_rank", [])
    for task in sorted({r["task"] for r in rows}):
        chosen = [r for r in rows if r["task"] == task]
        first = chosen[0]["loadings"]
        figure = pf.loadings_scatter(np.asarray(first["vectors"]), first["names"],
                                     np.asarray(first["labels_2"]),
                                     title=f"{task}, seed {chosen[0]['seed']}: 2 populations")
        written.append(out / f"{task}_loadings.png")
        written[-1].write_bytes(figure_to_png(figure, dpi=80))
        figure = pf.population_curve_figure([r["curve"] for r in chosen], title=task)
        written.append(out / f"{task}_resampled.png")
        written[-1].write_bytes(figure_to_png(figure, dpi=80))
    full = results.get("full_rank", [])
    if full:
        figure = pf.truncation_figure({f"{r['task']} seed {r['seed']}": r["truncation"]
                                       for r in full})
        written.append(out / "truncation.png")
        written[-1].write_bytes(figure_to_png(figure, dpi=80))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiments/results/populations")
    parser.add_argument("--work", default=None, help="trained models (default: OUT/models)")
    parser.add_argument("--tasks", nargs="*", default=["dm", "cdm", "dms"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--reference", action="store_true",
                        help="CDM as train_mante_main.py trains it (see the module docstring)")
    parser.add_argument("--reference-wiring", action="store_true",
                        help="any task: the reference network's wiring alone (no bias, "
                             "readout fixed at its random start; also for the DMS priming "
                             "net), other settings as given")
    parser.add_argument("--no-bias", action="store_true",
                        help="no bias in the recurrent layer (the reference's nets have none); "
                             "the readout still trains")
    parser.add_argument("--units", type=int, default=None,
                        help="default: 256 (--reference: 4096)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: per task (--reference: 100, stopping at loss 0.01)")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="default: 50 (--reference: 25)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--trials", type=int, default=200, help="evaluation trials")
    parser.add_argument("--max-populations", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=10)
    parser.add_argument("--resample-size", type=int, default=None,
                        help="default: 512 (--reference: the trained size)")
    parser.add_argument("--boot", type=int, default=20)
    parser.add_argument("--dms-delay-max", type=float, default=None,
                        help="shorter DMS delays (ms; the task's own: 3000)")
    parser.add_argument("--prime-epochs", type=int, default=0,
                        help="DMS: epochs of full-rank training whose SVD starts the rank-2 net")
    parser.add_argument("--prime-learning-rate", type=float, default=1e-3,
                        help="learning rate of full-rank nets (DMS priming, --full-rank)")
    parser.add_argument("--full-rank-gain", type=float, default=1.0,
                        help="gain of W_init of --full-rank nets (the reference: 0.1)")
    parser.add_argument("--full-rank", nargs="*", default=[], help="tasks for full-rank nets")
    parser.add_argument("--fit-statistics", type=int, default=0, metavar="STEPS",
                        help="also train each K-population mixture's means and covariance "
                             "factors for STEPS steps (networks redrawn every step, as the "
                             "reference retrains its DMS support net) and score resamples")
    parser.add_argument("--statistics-learning-rate", type=float, default=1e-4,
                        help="Adam rate of --fit-statistics (the reference's 1e-4)")
    parser.add_argument("--statistics-populations", nargs="+", type=int, default=None,
                        metavar="K", help="--fit-statistics: only these numbers of "
                                          "populations (default 1..--max-populations)")
    parser.add_argument("--conditions", nargs="*", default=[],
                        help="--fit-statistics: also score the resampled networks per "
                             "condition, trials grouped by these truth names (DMS: stimulus1 "
                             "stimulus2)")
    parser.add_argument("--train-means", action="store_true",
                        help="--fit-statistics: train the population means too (the reference "
                             "keeps them at 0)")
    parser.add_argument("--figures-only", action="store_true")
    parser.add_argument("--figures", default=str(FIGURES), help="directory of the PNGs")
    parser.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity")
    parser.add_argument("--merge", nargs="*", default=[],
                        help="--out directories of other runs whose results join this one's")
    args = parser.parse_args(argv)
    if args.reference and set(args.tasks) - {"cdm"}:
        parser.error(f"--reference applies to cdm only; received --tasks {' '.join(args.tasks)}")
    defaults = ({"units": REFERENCE["units"], "epochs": REFERENCE["epochs"],
                 "steps_per_epoch": REFERENCE["steps_per_epoch"]} if args.reference
                else {"units": 256, "steps_per_epoch": 50})
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.resample_size is None:
        args.resample_size = args.units if args.reference else 512
    out = pathlib.Path(args.out)
    work = pathlib.Path(args.work) if args.work else out / "models"
    work.mkdir(parents=True, exist_ok=True)
    results_path = out / "populations.json"
    results = io.read_json(results_path) if results_path.exists() else {}
    for other in args.merge:  # runs made side by side (one seed or task each)
        merged = io.read_json(pathlib.Path(other) / "populations.json")
        for key in ("low_rank", "full_rank"):
            results.setdefault(key, []).extend(merged.get(key, []))
        if results.get("low_rank"):
            results["summary"] = summarise(results["low_rank"])
        io.write_json(results_path, results)
    if not args.figures_only:
        done = {(r["task"], r["seed"]) for r in results.get("low_rank", [])}
        for task in args.tasks:
            for seed in args.seeds:
                if (task, seed) in done:
                    continue
                row = run_low_rank(task, seed, args, work)
                results.setdefault("low_rank", []).append(row)
                results["summary"] = summarise(results["low_rank"])
                io.write_json(results_path, results)
                print(task, seed, {k["requested"]: round(k["mean"], 3)
                                   for k in row["curve"]["populations"]},
                      "trained", round(row["curve"]["trained_accuracy"], 3),
                      "ARI", round(row["stability"]["ari"], 2),
                      "control", round(row["stability"]["control_ari"], 2), flush=True)
        done = {(r["task"], r["seed"]) for r in results.get("full_rank", [])}
        for task in args.full_rank:
            seed = args.seeds[0]
            if (task, seed) not in done:
                row = run_full_rank(task, seed, args, work)
                results.setdefault("full_rank", []).append(row)
                io.write_json(results_path, results)
                print(task, "full rank", row["truncation"]["accuracy"], flush=True)
    if results.get("summary"):
        print(markdown(results["summary"]))
    for path in figures(results, pathlib.Path(args.figures)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
