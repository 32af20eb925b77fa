"""A small multitask network for demonstrating `experiments/motifs.py` on 2 CPU cores.

Six MoLaP tasks (Delay Pro/Anti, Mem Pro/Anti, Mem DM 1/2) in one `TaskSuite`
with one-hot rule inputs, one leaky softplus CTRNN in Driscoll's setting where
it is cheap to follow (alpha = dt / tau = 0.2, softplus, recurrent noise 0.05
scaled by sqrt(2 / alpha)), trained with Adam for a fixed number of steps. It
is a stand-in for the 15-rule network, not a reproduction of it. Saves
`<out>/<name>.keras` plus its card (`ctxrnn.zoo.save`), so that

    python experiments/motifs.py <out>/motifs_demo.keras --out <dir>

reads both the model and its suite.

    python experiments/motifs_demo_model.py --out experiments/results/motifs_demo
"""

from __future__ import annotations

import argparse
import pathlib
import time

from ctxrnn import seeding, tasks, zoo
from ctxrnn.models import compile_model, context_multitask

TASKS = ("delay_pro", "delay_anti", "mem_pro", "mem_anti", "mem_dm1", "mem_dm2")
DT = 10.0  # ms, the MoLaP tasks' step
TAU = 50.0  # ms: alpha = 0.2 as in Driscoll et al.
RECURRENT_NOISE = 0.05  # Driscoll et al. (sigma_rec)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory of the saved model and card")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="MoLaP task names")
    parser.add_argument("--name", default="motifs_demo", help="stem of the saved model")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    suite = tasks.TaskSuite([tasks.make(name, dt=DT) for name in args.tasks],
                            seed=seeding.derive(args.seed, "trials"))
    model = context_multitask(suite, args.units, tau=TAU, activation="softplus",
                              recurrent_noise=RECURRENT_NOISE, seed=args.seed)
    compile_model(model, learning_rate=args.learning_rate)
    start = time.perf_counter()
    model.fit(suite.dataset(args.batch_size, args.steps_per_epoch), epochs=args.epochs,
              verbose=2)
    seconds = time.perf_counter() - start
    accuracy = zoo.evaluate(model, suite, n_per_task=200, seed=12345)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    training = {**vars(args), "tau": TAU, "dt": DT, "activation": "softplus",
                "recurrent_noise": RECURRENT_NOISE, "steps": args.epochs * args.steps_per_epoch,
                "seconds": round(seconds, 1)}
    zoo.save(model, out / f"{args.name}.keras", suite=suite, accuracy=accuracy,
             description=f"{len(args.tasks)} MoLaP tasks, one-hot rule inputs, {args.units} "
                         "leaky softplus units (alpha 0.2): a demonstration network of "
                         "experiments/motifs.py.",
             training=training, evaluation={"n_per_task": 200, "seed": 12345})
    print(f"trained {training['steps']} steps in {seconds:.0f} s; accuracy {accuracy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
