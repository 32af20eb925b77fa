"""The `ctxrnn molap` subcommand: run the MoLaP reproduction into a run directory.

    ctxrnn molap --out runs/molap                      # paper sizes, all approaches
    ctxrnn molap --out runs/quick --quick              # small fast configuration
    ctxrnn molap --out runs/m --approaches molap no_pretraining --wiring module
    ctxrnn molap --out runs/seeds --seeds 0 1 2 3 4    # every seed, molap_seeds.json
    ctxrnn molap --out runs/paper --no-input-bias --no-solve-readout   # the paper's heads
    ctxrnn molap --out runs/plain --response-weight 1    # the reference code's plain MSE
    ctxrnn molap --out runs/new --core molap_core --tasks mem_pro --task-module my_tasks.py \
        --approaches molap                             # heads for new tasks, shipped core

Schedule (defaults): a constant Adam rate everywhere, as in the reference code
(its "stages" only print smaller rates). Pre-training: 4 x 200 iterations per
module at 5e-3 (the reference's); task heads: 5 x 200 at 1e-2, each head trained
alone on the frozen core (`--head-training joint`: all in one loss, as the
reference); each separate network: 10 x 200 at 1e-3 (the paper's 5 x 200 at 3e-3
stalls: `--baseline-stages 5 --baseline-learning-rate 3e-3`); a head or separate
network below 90 % on its own validation trials is trained again, up to twice
(`--restarts 0`: once, as the paper); DNI (Duncker et al.'s projected continual
learning, N = 200, g = 1.3): at most 3600 iterations per task at 5e-4, a task
ending once it validates at 95 % and trained once more if below 90 %. Every
approach trains with the response weighted 5x in the loss (`--response-weight 1`:
the reference's plain MSE). `--budget reference` runs the reference code's budgets (heads
and separate networks 9 x 500 iterations of batch 500, DNI 3600 iterations of
400 trials per task), every head and network trained once. `--quick` runs one
stage of a tenth of the iterations everywhere, no restarts, and 200 test trials.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from ctxrnn.cli._types import positive_int


def add_parser(subparsers):
    """Registers the `molap` subcommand on an `argparse` subparsers object."""
    from ctxrnn.molap import baselines
    from ctxrnn.molap import training as tr
    from ctxrnn.molap.baselines import DNI_COVARIANCES, DNI_METHODS
    from ctxrnn.molap.pipeline import APPROACHES, PipelineConfig

    # Every default comes from the configuration dataclasses, never re-typed here.
    defaults = PipelineConfig()
    pre, heads, separate = defaults.pretrain, defaults.heads, defaults.separate
    parser = subparsers.add_parser(
        "molap", help="MoLaP: pre-train modules on latent primitives, train one head per task, "
                      "compare with baselines")
    parser.add_argument("--out", required=True, help="run directory to write")
    parser.add_argument("--tasks", nargs="+", default=list(defaults.tasks))
    parser.add_argument("--task-module", default=defaults.task_module,
                        help="module (or .py file) whose make(name) builds the tasks")
    parser.add_argument("--approaches", nargs="+", default=list(defaults.approaches),
                        choices=APPROACHES)
    parser.add_argument("--method", default=pre.method,
                        choices=("cca", "pca", "pca_joint", "cca_history"),
                        help="latent primitives of the MoLaP approach (cca_history: target "
                             "variates related to the input primitives' past, not in the paper)")
    parser.add_argument("--primitive-scale", default=pre.rescale or "raw",
                        choices=("minmax", "centered", "raw"),
                        help="primitives scaled to [0, 1] with bounds fixed on the corpus "
                             "(default, as the reference code), to [-0.5, 0.5] (centered) or "
                             "raw canonical scores")
    parser.add_argument("--pretrain-iterations", type=int, default=pre.iterations,
                        help="pre-training iterations per stage (paper A.2: 200)")
    parser.add_argument("--pretrain-stages", type=int, default=pre.stages,
                        help="stages per module, constant rate (reference code: 4 run)")
    parser.add_argument("--wiring", default=pre.wiring, choices=("reference", "module"),
                        help="pre-training wiring: the reference code's (one input row into "
                             "and one readout from all N units, carried over; frozen random "
                             "bias; trainable h0) or module-local (primitive k into and out of "
                             "module k only)")
    parser.add_argument("--head-iterations", type=int, default=heads.iterations,
                        help="task-training iterations per stage (paper A.2: 200)")
    parser.add_argument("--head-stages", type=int, default=heads.stages,
                        help="task-training stages, constant rate (reference code: 9 run)")
    parser.add_argument("--baseline-iterations", type=int, default=separate.iterations,
                        help="iterations per stage of each separate network")
    parser.add_argument("--baseline-stages", type=int, default=separate.stages,
                        help="stages of the separate networks")
    parser.add_argument("--baseline-learning-rate", type=float, default=separate.learning_rate,
                        help="constant Adam rate of the separate networks (paper: 3e-3)")
    parser.add_argument("--restarts", type=int, default=None,
                        help="times a head or a separate network below 90 %% on its own "
                             f"validation trials is trained again (default {heads.restarts}; "
                             "0 with --quick, --budget reference or --head-training joint: "
                             "train once, as the paper)")
    parser.add_argument("--head-training", default=heads.head_training,
                        choices=tr.HEAD_TRAINING,
                        help="'per_task': each head trained alone on the frozen core (so a "
                             "stalled head can be trained again); 'joint': all heads in one "
                             "loss, as the reference code")
    parser.add_argument("--baseline-gain", type=float, default=defaults.separate_gain,
                        help="start gain g of each separate network's W_rec (paper: 1.5)")
    parser.add_argument("--response-weight", type=float, default=heads.response_weight,
                        help="how many times the response outputs count in the loss during "
                             "the response epoch, for every approach's training (heads, "
                             "separate networks, DNI). Default 5, Yang et al. 2019's weight; "
                             "1: the reference code's plain MSE, under which fully trained "
                             "networks stall at the stimulus-blind answer")
    parser.add_argument("--dni-method", default=defaults.dni_method, choices=DNI_METHODS,
                        help="'projected': Duncker et al.'s DNI, tasks one after another with "
                             "each update projected away from the earlier tasks' activity "
                             "(default); 'joint': the same network trained on all tasks at once")
    projected, joint = baselines.dni_projected_config(), baselines.dni_config(len(defaults.tasks))
    parser.add_argument("--dni-iterations", type=positive_int, default=None,
                        help="iterations per stage of the DNI network, per task when projected "
                             f"(default {projected.iterations}; joint: {joint.iterations})")
    parser.add_argument("--dni-stages", type=positive_int, default=None,
                        help=f"stages of the DNI network (default {projected.stages}; joint: "
                             f"{joint.stages})")
    parser.add_argument("--dni-restarts", type=int, default=None,
                        help="times a task of the projected DNI sequence below 90 %% on its own "
                             "validation trials is trained again from the weights it started "
                             f"from, with a new head and new trials (default {projected.restarts};"
                             " 0 with --quick or --budget reference)")
    parser.add_argument("--dni-stop-at", type=_stop_at, default="auto",
                        help="projected DNI: a task stops training once its validation "
                             "accuracy reaches this (checked every --dni-check-every "
                             "iterations); the iteration options are then the most a task may "
                             "take; 'off': every task trains its whole budget, as the "
                             "reference code (default: 0.95; off with --budget reference)")
    parser.add_argument("--dni-learning-rate", type=float, default=None,
                        help="constant Adam rate of the projected DNI network (default "
                             f"{projected.learning_rate}; the reference code's 1e-3 with "
                             "--budget reference)")
    parser.add_argument("--dni-covariances", default=defaults.dni_covariances,
                        choices=DNI_COVARIANCES,
                        help="projected DNI: combine the earlier tasks' activity covariances "
                             "by their 'mean' (default, the reference code's) or 'sum' "
                             "(ctxrnn before 2026-12-07, a harder projection)")
    parser.add_argument("--dni-input-projection", default="off", choices=("on", "off"),
                        help="projected DNI: 'off' (default) projects only W_rec's updates (a "
                             "task's own input rows never reach an earlier task); 'on' "
                             "projects the task's input-row updates too, as the references "
                             "project their shared input kernel (ctxrnn before 2026-12-07)")
    parser.add_argument("--dni-gain", type=float, default=defaults.dni_gain,
                        help="start gain g of the DNI network's W_rec (default %(default)s, the "
                             "reference code's; a lower gain leaves the projection more free "
                             "state directions)")
    parser.add_argument("--dni-check-every", type=positive_int, default=defaults.dni_check_every,
                        help="iterations between those checks (default %(default)s)")
    parser.add_argument("--budget", default="default", choices=("default", "reference"),
                        help="'reference': the reference code's head schedule (9 x 500 at 1e-3, "
                             "batch 500), separate networks (N = 200, 9 x 500 at 3e-3, batch "
                             "500) and projected DNI (3600 iterations of 400 trials per task); "
                             "overrides the iteration and stage options")
    parser.add_argument("--gain", type=float, default=defaults.gain,
                        help="g of the random core W_rec ~ g N(0, 1) / sqrt(N) (paper A.2: 1.5)")
    parser.add_argument("--initial-state", action=argparse.BooleanOptionalAction,
                        default=heads.per_task_initial_state,
                        help="heads and the projected DNI network learn a per-task initial "
                             "state from h0 ~ N(0, 1), as the reference code (default on)")
    parser.add_argument("--input-bias", action=argparse.BooleanOptionalAction,
                        default=heads.input_bias,
                        help="every head (and baseline network) learns a bias into the core, "
                             "the constant drive of the reference code's [0, 1]-rescaled inputs "
                             "(default on; --no-input-bias: the paper's eq. 1)")
    parser.add_argument("--solve-readout", action=argparse.BooleanOptionalAction,
                        default=heads.solve_readout,
                        help="after the gradient steps, replace each readout by the "
                             "least-squares minimiser of the training loss (default on; "
                             "--no-solve-readout: Adam's readout as in the paper)")
    parser.add_argument("--test-trials", type=int, default=defaults.test_trials)
    parser.add_argument("--quick", action="store_true",
                        help="small fast configuration (one lr stage of 1/10 the iterations, "
                             "200 test trials)")
    parser.add_argument("--trials", default=defaults.trials, choices=("code", "text"),
                        help="memory-task trials: the reference code's (default; produced the "
                             "paper's Fig. 2) or the paper text's (variable stimulus, memory delay)")
    parser.add_argument("--workers", type=_workers, default="auto",
                        help="processes to run the jobs in (each approach and each separate "
                             "network is a job); default 'auto': one per core, or 1 when the "
                             "tasks cannot be sent to another process")
    parser.add_argument("--core", default=defaults.core,
                        help="a shipped MoLaP model (e.g. molap_core) or .keras path: the molap "
                             "approach trains heads for --tasks on its frozen core instead of "
                             "pre-training one")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="run the whole study once per seed (into OUT/seed<k>) and write "
                             "OUT/molap_seeds.json, seeds.md and accuracy_seeds.png")
    parser.add_argument("--robustness", action="store_true",
                        help="with --seeds: then perturb every seed's saved networks (modular "
                             "and global lesions, weight noise, silencing) into "
                             "OUT/robustness/ (robustness.md, summary.json, one PNG per sweep)")
    parser.add_argument("--robustness-draws", type=positive_int, default=30,
                        help="random draws per perturbation level (paper: 30)")
    parser.add_argument("--robustness-trials", type=positive_int, default=250,
                        help="test trials per task of the perturbed networks (paper: 250)")
    parser.set_defaults(func=run)
    return parser


def _stop_at(text: str) -> float | str | None:
    if text in ("auto", "off"):
        return None if text == "off" else text
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"expected a number in (0, 1], 'off' or 'auto', got {text!r}")
    return value


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'auto', got {text!r}") from None


def config_from_args(args):
    """The `PipelineConfig` an argument namespace asks for."""
    from ctxrnn.molap import baselines
    from ctxrnn.molap import training as tr
    from ctxrnn.molap.pipeline import PipelineConfig

    scale = 10 if args.quick else 1

    def stages(value):
        return 1 if args.quick else value

    pre = tr.PretrainConfig(iterations=max(1, args.pretrain_iterations // scale),
                            stages=stages(args.pretrain_stages), method=args.method,
                            rescale=None if args.primitive_scale == "raw" else args.primitive_scale,
                            wiring=args.wiring)
    for flag in ("response_weight", "baseline_gain", "baseline_learning_rate",
                 "dni_learning_rate", "dni_gain"):
        value = getattr(args, flag, None)
        if value is not None and not value > 0:
            raise SystemExit(f"ctxrnn molap: --{flag.replace('_', '-')} must be > 0; received "
                             f"{value!r}")
    restarts = getattr(args, "restarts", None)
    head_training = getattr(args, "head_training", "per_task")
    if restarts is not None and restarts < 0:
        raise SystemExit(f"ctxrnn molap: --restarts must be >= 0; received {restarts!r}")
    if restarts and head_training == "joint":
        raise SystemExit(f"ctxrnn molap: --restarts {restarts} needs --head-training per_task "
                         f"(a head of a joint training cannot be trained again alone)")
    if restarts is None and (args.quick or getattr(args, "budget", "default") == "reference"):
        restarts = 0
    restart_option = {} if restarts is None else {"restarts": restarts}
    head_restarts = {"restarts": 0} if head_training == "joint" else restart_option
    head_options = {"input_bias": args.input_bias, "solve_readout": args.solve_readout,
                    "response_weight": args.response_weight}
    heads = tr.HeadConfig(iterations=max(1, args.head_iterations // scale),
                          stages=stages(args.head_stages), head_training=head_training,
                          per_task_initial_state=args.initial_state, **head_options,
                          **head_restarts)
    baseline_iterations = max(1, args.baseline_iterations // scale)
    baseline_stages = stages(args.baseline_stages)
    separate = baselines.separate_config(iterations=baseline_iterations, stages=baseline_stages,
                                         learning_rate=args.baseline_learning_rate,
                                         **head_options, **restart_option)
    separate_units = baselines.SEPARATE_UNITS
    dni_restarts = getattr(args, "dni_restarts", None)
    if dni_restarts is not None and not (isinstance(dni_restarts, int) and dni_restarts >= 0):
        raise SystemExit(f"ctxrnn molap: --dni-restarts must be >= 0; received {dni_restarts!r}")
    if dni_restarts and args.dni_method != "projected":
        raise SystemExit(f"ctxrnn molap: --dni-restarts {dni_restarts} needs --dni-method "
                         f"projected (the joint network trains all tasks at once)")
    if dni_restarts is None and args.quick:
        dni_restarts = 0
    dni_restart_option = {} if dni_restarts is None else {"restarts": dni_restarts}
    dni_options = dict(dni_restart_option)
    if getattr(args, "dni_learning_rate", None) is not None:
        dni_options["learning_rate"] = args.dni_learning_rate
    dni_default = (baselines.dni_projected_config() if args.dni_method == "projected"
                   else baselines.dni_config(len(args.tasks)))
    dni_iterations = getattr(args, "dni_iterations", None)
    dni_stages = getattr(args, "dni_stages", None)
    dni_schedule = {
        "iterations": max(1, (dni_default.iterations if dni_iterations is None
                              else dni_iterations) // scale),
        "stages": stages(dni_default.stages if dni_stages is None else dni_stages)}
    if args.dni_method == "projected":
        # no least-squares readout: it would refit the earlier tasks' readouts too
        dni = baselines.dni_projected_config(input_bias=args.input_bias,
                                             response_weight=args.response_weight,
                                             per_task_initial_state=args.initial_state,
                                             **dni_options, **dni_schedule)
    else:
        dni = baselines.dni_config(len(args.tasks), **dni_schedule, **head_options)
    if getattr(args, "budget", "default") == "reference":
        heads = tr.HeadConfig.reference(per_task_initial_state=args.initial_state,
                                        **head_options)
        if head_training == "per_task" and restarts:
            heads = dataclasses.replace(heads, head_training="per_task", restarts=restarts)
        separate = baselines.separate_reference_config(**head_options, **restart_option)
        separate_units = baselines.SEPARATE_REFERENCE_UNITS
        if args.dni_method == "projected":
            dni = baselines.dni_reference_config(
                input_bias=args.input_bias, response_weight=args.response_weight,
                per_task_initial_state=args.initial_state,
                **dni_restart_option)
    dni_stop_at = getattr(args, "dni_stop_at", "auto")
    if dni_stop_at == "auto" and getattr(args, "budget", "default") == "reference":
        dni_stop_at = None  # the reference trains every task its whole budget
    check_every = ({"dni_check_every": args.dni_check_every}
                   if hasattr(args, "dni_check_every") else {})
    return PipelineConfig(
        tasks=args.tasks, task_module=args.task_module, gain=args.gain, pretrain=pre, heads=heads,
        approaches=args.approaches, separate=separate, separate_units=separate_units,
        separate_gain=args.baseline_gain,
        dni_gain=getattr(args, "dni_gain", baselines.DNI_REFERENCE["gain"]),
        dni=dni, dni_method=args.dni_method, core=getattr(args, "core", None),
        dni_stop_at=dni_stop_at, **check_every,
        dni_covariances=getattr(args, "dni_covariances", "mean"),
        dni_project_inputs=getattr(args, "dni_input_projection", "off") == "on",
        test_trials=200 if args.quick else args.test_trials, seed=args.seed, trials=args.trials,
    )


def run(args) -> int:
    if getattr(args, "robustness", False) and not getattr(args, "seeds", None):
        raise SystemExit("ctxrnn molap: --robustness needs --seeds (it summarises a seed study); "
                         "for one run use experiments/molap_robustness.py OUT RUN_DIR")
    if getattr(args, "seeds", None):
        return _run_seeds(args)
    return _run_one(args, config_from_args(args), args.out)


def _run_seeds(args) -> int:
    import dataclasses
    import pathlib

    from ctxrnn.molap.seeds import markdown, write_summary

    seeds = list(dict.fromkeys(args.seeds))
    config = config_from_args(args)
    runs = []
    for number, seed in enumerate(seeds):
        print(f"=== seed {seed} ({number + 1}/{len(seeds)}) ===", flush=True)
        run_dir = pathlib.Path(args.out) / f"seed{seed}"
        seed_config = dataclasses.replace(config, seed=seed)
        if _finished(run_dir, seed_config):
            print(f"{run_dir} already holds this seed's finished run; skipped", flush=True)
        else:
            _run_one(args, seed_config, run_dir)
        runs.append(run_dir)
    table = write_summary(args.out, runs)
    print(f"\n% decisions correct over seeds {seeds} (mean ± sd):")
    print(markdown(table))
    print(f"molap_seeds.json in {args.out}")
    if args.robustness:
        from ctxrnn.molap import robustness

        out = pathlib.Path(args.out) / "robustness"
        print(f"\n=== robustness of seeds {seeds} ({args.robustness_draws} draws per level) ===",
              flush=True)
        robustness.evaluate_runs(out, runs, draws=args.robustness_draws,
                                 trials=args.robustness_trials, approaches=config.approaches)
        print((out / "robustness.md").read_text())
    return 0


def _finished(run_dir, config) -> bool:
    """Whether `run_dir` holds a finished run of exactly `config` (so a rerun of
    `--seeds` resumes); a finished run of another configuration is refused."""
    import json

    results, saved = run_dir / "results.json", run_dir / "config.json"
    if not (results.exists() and saved.exists()):
        return False
    # Through JSON so that tuples and lists compare equal.
    wanted = json.loads(json.dumps(config.to_dict()))
    found = json.loads(saved.read_text())
    differing = sorted(k for k in set(wanted) | set(found) if wanted.get(k) != found.get(k))
    if differing:
        raise SystemExit(f"--out: {str(run_dir)!r} holds a finished run whose configuration "
                         f"differs in {differing}; expected an empty directory or the same "
                         f"configuration (choose another --out).")
    return True


def _run_one(args, config, out) -> int:
    from ctxrnn.molap.pipeline import run_pipeline

    start = time.perf_counter()

    def progress(message):
        print(f"[{time.perf_counter() - start:7.1f} s] {message}", flush=True)

    results = run_pipeline(config, out, progress=progress, workers=args.workers)
    print("\n% decisions correct on held-out trials:")
    approaches = list(results["accuracy"])
    print(f"  {'task':<18}" + "".join(f"{a:>16}" for a in approaches))
    for task in config.tasks:
        print(f"  {task:<18}" + "".join(
            f"{100 * results['accuracy'][a][task]:>15.1f}%" for a in approaches))
    ratios = results["ratios"]
    print(f"parameter updates, whole training: DNI / MoLaP = "
          f"{ratios['updates_dni_over_molap']:.1f}, separate / MoLaP = "
          f"{ratios['updates_separate_over_molap']:.1f}; parameters trained per added task: "
          f"DNI / MoLaP = {ratios['per_task_dni_over_molap']:.0f}, separate / MoLaP = "
          f"{ratios['per_task_separate_over_molap']:.0f}")
    print(f"total {results['seconds']['total']:.0f} s in {results['workers']} process(es); "
          f"results in {out}", file=sys.stdout)
    return 0


__all__ = ["add_parser", "config_from_args", "run"]
