"""Times the fixed-point finder on an N = 100 network: batched vs one candidate at a time.

    python benchmarks/bench_fixed_points.py [--candidates 1000] [--loop 10]

The network is the shipped `jarne_context5` (100 units, tanh, alpha 0.5); the
candidates are states of its own noise-free validation trajectories plus
Gaussian noise (sd 0.1), searched under the AND context input (stimuli 0).

- batched: `optimize_candidates` on all candidates at once, then the batched
  Jacobians (`NetworkMap.jacobians`);
- per point: the same optimisation (same settings) on one candidate at a time,
  and one `GradientTape.jacobian` per point, for `--loop` candidates; its time
  for all candidates is that time scaled by `candidates / loop`.

Prints the seconds, the ratio and how many candidates reached q < 1e-8 (the
rest are slow points, or unconverged: `find_fixed_points(...,
return_unconverged=True)` reports them), measured in this run. The optimisation
includes the final Levenberg-Marquardt refinement (`newton_steps`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import tensorflow as tf

import ctxrnn
from ctxrnn import zoo
from ctxrnn.analysis import dynamics


def per_point_jacobian(network, h, x):
    h = tf.constant(h[None])
    with tf.GradientTape() as tape:
        tape.watch(h)
        y = network.step(h, tf.constant(x[None]))
    return tape.jacobian(y, h)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--loop", type=int, default=10)
    parser.add_argument("--max-iters", type=int, default=5000)
    args = parser.parse_args()

    model, card = ctxrnn.load("jarne_context5")
    suite = zoo.suite_from_card(card)
    network = dynamics.NetworkMap.from_model(model)
    batch = suite.validation_data(20)
    trajectories = ctxrnn.hidden_states(model, batch.inputs)
    x = np.zeros(network.n_inputs)
    x[suite.context_channels[0]] = 1.0
    h0 = dynamics.sample_states(trajectories, args.candidates, noise=0.1, seed=0)
    inputs = np.broadcast_to(x, (args.candidates, network.n_inputs))
    settings = {"max_iters": args.max_iters, "tol_q": 1e-10}
    dynamics.optimize_candidates(network, h0[:2], inputs[:2], max_iters=2)  # trace once

    start = time.perf_counter()
    h, q, iters = dynamics.optimize_candidates(network, h0, inputs, **settings)
    optimise = time.perf_counter() - start
    start = time.perf_counter()
    network.jacobians(h, inputs)
    jacobians = time.perf_counter() - start
    batched = optimise + jacobians

    start = time.perf_counter()
    for k in range(args.loop):
        hk, _, _ = dynamics.optimize_candidates(network, h0[k:k + 1], inputs[k:k + 1], **settings)
        per_point_jacobian(network, hk[0], inputs[k])
    looped = (time.perf_counter() - start) * args.candidates / args.loop

    print(f"N = {network.n_units}, {args.candidates} candidates, tol_q 1e-10, "
          f"max_iters {args.max_iters}")
    print(f"batched: {batched:.1f} s (optimisation {optimise:.1f} s in up to {int(iters.max())} "
          f"steps, Jacobians {jacobians:.2f} s)")
    print(f"q < 1e-8: {int(np.sum(q < 1e-8))} of {args.candidates}; "
          f"1e-8 <= q < 1e-4 (slow): {int(np.sum((q >= 1e-8) & (q < 1e-4)))}; "
          f"q >= 1e-4 (unconverged): {int(np.sum(q >= 1e-4))} at "
          f"{len(dynamics._unique(h[q >= 1e-4], inputs[q >= 1e-4], q[q >= 1e-4], 1e-3))} "
          f"distinct states, q {np.unique(np.round(q[q >= 1e-4], 4)).tolist()}")
    print(f"per point ({args.loop} timed, scaled to {args.candidates}): {looped:.1f} s; "
          f"ratio {looped / batched:.1f}x")


if __name__ == "__main__":
    main()
