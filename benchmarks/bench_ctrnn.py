"""Training-step speed of `ctxrnn.CTRNN` against `keras.layers.SimpleRNN`.

Prints, in one run, ms per training step (`train_on_batch` after warm-up; best of
several repeats) for three sizes, and the ratios CTRNN / SimpleRNN with noise off
and on (recurrent + input noise). Then case B with a Keras mask (every sequence
right-padded by 25 %, through `keras.layers.Masking`), for both layers. When jax and
optax are installed, the JAX anchor (`jax_anchor.py`: `lax.scan` + `jit` + optax Adam,
the same network and noise) is timed in the same run; when PyTorch is installed, so is
the PyTorch anchor (`torch_anchor.py`: a plain eager loop with `unbind`, `addmm`, `lerp`
and Adam, in its own process). Both anchors draw exact normals (`jax.random.normal`,
`torch.randn`) where ctxrnn's default `noise_sampler="table"` maps one 32-bit word to
two normals: the noise-off ratios compare the rest of the step alone. Then the achieved GFLOP/s of the
noise-on CTRNN step at N=1024 (case C) beside the float32 matmul peak measured here,
and the peak memory of one T=1000, N=512, batch-64 training step, in a fresh process.

    python benchmarks/bench_ctrnn.py            # all cases
    python benchmarks/bench_ctrnn.py --quick    # case A only, fewer repeats
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CASES = {"A": (100, 200, 100), "B": (256, 64, 200), "C": (1024, 64, 100)}  # N, batch, T
N_INPUTS, N_OUTPUTS = 3, 3


PADDING = 0.25  # fraction of the steps of case B's masked run that are padding


def build(kind: str, units: int, steps: int, masked: bool = False):
    import keras

    import ctxrnn

    inputs = keras.Input((steps, N_INPUTS))
    sequences = keras.layers.Masking(0.0)(inputs) if masked else inputs
    if kind == "SimpleRNN":
        states = keras.layers.SimpleRNN(units, return_sequences=True)(sequences)
    else:
        noise = 0.05 if kind == "CTRNN noise on" else 0.0
        states = ctxrnn.CTRNN(units, dt=20.0, tau=100.0, recurrent_noise=noise,
                              input_noise=noise / 5, seed=0)(sequences)
    outputs = keras.layers.Dense(N_OUTPUTS)(states)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def ms_per_step(model, x, y, repeats: int, steps_per_repeat: int) -> float:
    for _ in range(3):
        model.train_on_batch(x, y)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps_per_repeat):
            model.train_on_batch(x, y)
        best = min(best, (time.perf_counter() - start) / steps_per_repeat * 1e3)
    return best


def training_step_flops(units: int, batch: int, steps: int) -> float:
    """FLOPs (2 per multiply-add) of one training step, counting the N x N products only: the
    forward h @ W_rec and, backward, the state gradient and the W_rec gradient."""
    return 3 * 2 * steps * batch * units * units


def matmul_peak_gflops(size: int = 4096) -> float:
    """Best-of-5 GFLOP/s of a float32 size^3 matmul with TensorFlow's threads."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, a)))
    matmul()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        float(matmul())
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def memory_probe() -> None:
    """Child process: one training step at T=1000, N=512, batch 64; print peak RSS."""
    import numpy as np

    model = build("CTRNN noise on", 512, 1000)
    x = np.random.default_rng(0).normal(size=(64, 1000, N_INPUTS)).astype("float32")
    y = np.zeros((64, 1000, N_OUTPUTS), "float32")
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="case A only, fewer repeats")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe()
        return

    import numpy as np
    import tensorflow as tf

    import jax_anchor
    import torch_anchor

    with_jax = jax_anchor.available()
    with_torch = torch_anchor.available()
    cases = {"A": CASES["A"]} if args.quick else CASES
    repeats = 2 if args.quick else 3
    print(f"TensorFlow {tf.__version__}, devices: "
          f"{[d.device_type for d in tf.config.list_physical_devices()]}, cores: {os.cpu_count()}")
    print(f"{'case':<6}{'N':>6}{'batch':>7}{'T':>6}{'SimpleRNN':>11}{'CTRNN off':>11}"
          f"{'CTRNN on':>10}{'off/Simple':>12}{'on/Simple':>11}"
          + (f"{'JAX off':>9}{'JAX on':>8}{'off/JAX off':>13}{'on/JAX on':>11}"
             if with_jax else "")
          + (f"{'Torch off':>11}{'Torch on':>10}{'off/Torch off':>15}{'on/Torch on':>13}"
             if with_torch else ""))
    rows = [(case, size, 0.0) for case, size in cases.items()]
    if not args.quick:
        rows.append(("B mask", CASES["B"], PADDING))
    for case, (units, batch, steps), padding in rows:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, steps, N_INPUTS)).astype("float32")
        x[:, int(round(steps * (1 - padding))):] = 0.0  # right-padding, masked by Masking(0.0)
        y = rng.normal(size=(batch, steps, N_OUTPUTS)).astype("float32")
        per_repeat = max(2, int(2000 / (units * batch * steps / 1e6 * 10 + 20)))
        times = {
            kind: ms_per_step(build(kind, units, steps, masked=padding > 0), x, y, repeats,
                              per_repeat)
            for kind in ("SimpleRNN", "CTRNN noise off", "CTRNN noise on")
        }
        if with_jax and not padding:
            for noise, label in ((0.0, "JAX off"), (0.05, "JAX on")):
                times[label] = jax_anchor.ms_per_step(
                    units, batch, steps, N_INPUTS, N_OUTPUTS, repeats=repeats,
                    steps_per_repeat=per_repeat, dt=20.0, tau=100.0, recurrent_noise=noise,
                    input_noise=noise / 5)
        if with_torch and not padding:
            for noise, label in ((0.0, "Torch off"), (0.05, "Torch on")):
                times[label] = torch_anchor.ms_per_step(units, batch, steps, noise,
                                                        repeats=repeats,
                                                        steps_per_repeat=per_repeat)
        simple = times["SimpleRNN"]
        note = f"   ({padding:.0%} right-padding, keras.layers.Masking)" if padding else ""
        print(f"{case:<6}{units:>6}{batch:>7}{steps:>6}{simple:>11.1f}"
              f"{times['CTRNN noise off']:>11.1f}{times['CTRNN noise on']:>10.1f}"
              f"{times['CTRNN noise off'] / simple:>12.2f}{times['CTRNN noise on'] / simple:>11.2f}"
              + (f"{times['JAX off']:>9.1f}{times['JAX on']:>8.1f}"
                 f"{times['CTRNN noise off'] / times['JAX off']:>13.2f}"
                 f"{times['CTRNN noise on'] / times['JAX on']:>11.2f}" if "JAX on" in times else "")
              + (f"{times['Torch off']:>11.1f}{times['Torch on']:>10.1f}"
                 f"{times['CTRNN noise off'] / times['Torch off']:>15.2f}"
                 f"{times['CTRNN noise on'] / times['Torch on']:>13.2f}"
                 if "Torch on" in times else "")
              + note)
        if case == "C":
            achieved = training_step_flops(units, batch, steps) / times["CTRNN noise on"] / 1e6
            peak = matmul_peak_gflops()
            print(f"       case C noise on: {achieved:.0f} GFLOP/s = {achieved / peak:.0%} of the "
                  f"float32 matmul peak measured here ({peak:.0f} GFLOP/s, 4096^3 matmul)")
    if not args.quick:
        result = subprocess.run(
            [sys.executable, __file__, "--memory-probe"], capture_output=True, text=True, check=True
        )
        peak = float(result.stdout.strip().splitlines()[-1])
        print(f"peak memory of a T=1000, N=512, batch-64 training step (whole process): "
              f"{peak:.2f} GiB")


if __name__ == "__main__":
    main()
