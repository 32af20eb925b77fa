"""Low-rank CTRNN training step: the factored time loop against the dense kernel.

`CTRNN(units, rank=R)` steps `(h n / N) m^T` while no recurrent entry is masked,
and falls back to the dense `(N, N)` kernel `n m^T / N` when one is (pruning,
lesions). This times one `fit` step (batch 32, T = 69, CDM's trial length at
dt = 20 ms, recurrent noise on, Adam) both ways in one run: the dense path is
forced by masking a single recurrent entry, which changes nothing else.

    python benchmarks/bench_low_rank.py                  # N = 256, 1024, 4096
    python benchmarks/bench_low_rank.py --units 512 --steps 20
"""

from __future__ import annotations

import argparse
import time

BATCH, STEPS_T, INPUTS = 32, 69, 4


def _model(units: int, rank: int):
    import keras

    import ctxrnn

    inputs = keras.Input((STEPS_T, INPUTS))
    states = ctxrnn.CTRNN(units, rank=rank, dt=20.0, tau=100.0, seed=0, recurrent_noise=0.01,
                          return_sequences=True, name="ctrnn")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(states))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def seconds_per_step(model, x, y, steps: int) -> float:
    model.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)  # trace
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--rank", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.steps * BATCH, STEPS_T, INPUTS)).astype("float32")
    y = np.tanh(x[..., :1]).astype("float32")
    print(f"rank {args.rank}, batch {BATCH}, T = {STEPS_T}, {args.steps} timed steps each")
    print(f"{'units':>6} {'factored ms':>12} {'dense ms':>10} {'dense / factored':>17}")
    for units in args.units:
        model = _model(units, args.rank)
        factored = seconds_per_step(model, x, y, args.steps)
        layer = model.get_layer("ctrnn")
        mask = layer.get_masks()["recurrent_connectivity"]
        mask[0, 1] = 0.0
        layer.set_masks(recurrent_connectivity=mask)
        dense = seconds_per_step(model, x, y, args.steps)
        print(f"{units:>6} {1e3 * factored:>12.1f} {1e3 * dense:>10.1f} {dense / factored:>17.1f}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
