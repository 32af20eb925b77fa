"""The DNI network on one task alone: how often does it leave the stimulus-blind plateau?

    python experiments/molap_dni_alone.py OUT_DIR [--task mem_dm1] [--seeds 0 1 2 3]
        [--iterations 2000] [--units 200] [--gain 1.3] [--learning-rate 5e-4]
        [--initial-state | --no-initial-state]

Builds the projected DNI baseline's network (`ctxrnn.molap.baselines.train_dni`'s:
N = 200, g = 1.3, input bias, Adam with clipnorm 1, batches of 200, the response
weighted 5x; `dni_projected_config`) for one task and trains it alone — the first
task of a DNI sequence, where nothing is projected yet — on fresh trials every
iteration, scoring 500 fixed validation trials every 250 iterations. A run that
stays near the stimulus-blind answer (~55 % on the DM tasks: the fixation unit
right, the response not) has stalled. Appends one JSON line per run to
`OUT_DIR/dni_alone.jsonl` (the validation curve and the seconds taken).
"""

import argparse
import json
import pathlib
import sys
import time

from ctxrnn import seeding
from ctxrnn.molap import baselines
from ctxrnn.molap import network as net
from ctxrnn.molap import training as tr
from ctxrnn.molap.pipeline import load_tasks

CHECK_EVERY = 250
VALIDATION_TRIALS = 500


def run(task_name: str, seed: int, iterations: int, units: int, gain: float,
        learning_rate: float, initial_state: bool) -> dict:
    tasks = load_tasks([task_name])
    layout = net.HeadLayout.from_tasks(tasks, [task_name], input_bias=True)
    config = baselines.dni_projected_config(learning_rate=learning_rate,
                                            per_task_initial_state=initial_state)
    model = net.build_network(layout, units, train_recurrent=True, gain=gain, l2=config.l2,
                              activity_l2=config.activity_l2, seed=seeding.derive(seed, "dni"),
                              per_task_initial_state=initial_state,
                              initial_state_std=config.initial_state_std if initial_state else 0.0,
                              name="dni")
    model.compile(optimizer=tr._adam(learning_rate, config.clipnorm), loss=net.masked_mse)
    start, curve = time.perf_counter(), []
    for step in range(iterations):
        batch = tr._training_batch(tasks, layout, config.batch_size,
                                   seeding.derive(seed, "dni", 1, step), None,
                                   config.response_weight)
        model.train_on_batch(net.task_inputs(model, batch), batch.packed_targets)
        if (step + 1) % CHECK_EVERY == 0:
            accuracy = tr.evaluate(model, tasks, layout, n_trials=VALIDATION_TRIALS,
                                   seed=seeding.derive(seed, "dni", 9))[task_name]
            curve.append(round(accuracy, 3))
    return {"task": task_name, "seed": seed, "initial_state": initial_state, "units": units,
            "gain": gain, "learning_rate": learning_rate, "check_every": CHECK_EVERY,
            "curve": curve, "seconds": round(time.perf_counter() - start)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--task", default="mem_dm1")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--units", type=int, default=baselines.DNI_REFERENCE["units"])
    parser.add_argument("--gain", type=float, default=baselines.DNI_REFERENCE["gain"])
    parser.add_argument("--learning-rate", type=float,
                        default=baselines.dni_projected_config().learning_rate)
    parser.add_argument("--initial-state", action=argparse.BooleanOptionalAction, default=True,
                        help="a trainable initial state from h0 ~ N(0, 1) (default on)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        record = run(args.task, seed, args.iterations, args.units, args.gain,
                     args.learning_rate, args.initial_state)
        with open(out / "dni_alone.jsonl", "a") as file:
            file.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
