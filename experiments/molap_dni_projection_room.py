"""How much room DNI's projection leaves: free state directions after each task.

    python experiments/molap_dni_projection_room.py [--gain 1.3] [--units 200] [--tasks 4]
        [--alpha 1e-3] [--seed 0]

Builds the projected DNI baseline's untrained network (`train_dni`'s: N = 200,
g = 1.3, a trainable h0 per task) and, for the first `--tasks` MoLaP tasks in
the pipeline's order, accumulates the covariance of their hidden states (200
trials, all steps, as `train_dni` does) and prints, after each task, the trace
of the soft projection `P = alpha (C + alpha I)^-1` (the number of the N state
directions a later task's update may still use) for the two rules of combining
the tasks' covariances: their mean (the reference implementations') and their
sum (ctxrnn's rule before 2026-12-07). `train_dni` records the same trace for
the trained network (`HeadsResult.task_free_directions`).
"""

import argparse
import sys

import numpy as np

from ctxrnn.layers import hidden_states
from ctxrnn.molap import baselines
from ctxrnn.molap import network as net
from ctxrnn.molap import training as tr
from ctxrnn.molap.pipeline import MOLAP_TASK_NAMES, load_tasks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gain", type=float, default=baselines.DNI_REFERENCE["gain"])
    parser.add_argument("--units", type=int, default=baselines.DNI_REFERENCE["units"])
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tasks = load_tasks(MOLAP_TASK_NAMES)
    layout = net.HeadLayout.from_tasks(tasks, MOLAP_TASK_NAMES, input_bias=True)
    model = net.build_network(layout, args.units, train_recurrent=True, gain=args.gain,
                              seed=args.seed, per_task_initial_state=True, initial_state_std=1.0)
    sample = tr.stacked_batch(tasks, layout, 200, args.seed + 1)
    inputs = net.task_inputs(model, sample)
    covariance = np.zeros((args.units, args.units))
    print(f"g = {args.gain}, N = {args.units}, alpha = {args.alpha}: free directions (trace of P)")
    for index in range(args.tasks):
        rows = sample.rows(index)
        states = hidden_states(model, {key: value[rows] for key, value in inputs.items()})
        states = states.reshape(-1, args.units)
        covariance += states.T @ states / len(states)
        eigenvalues = np.linalg.eigvalsh(covariance)
        room = {rule: float(np.sum(args.alpha / (eigenvalues / divisor + args.alpha)))
                for rule, divisor in (("mean", index + 1), ("sum", 1))}
        print(f"after {MOLAP_TASK_NAMES[index]:>15}: mean {room['mean']:6.1f}   "
              f"sum {room['sum']:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
