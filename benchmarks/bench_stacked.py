"""A seed study's cost: K networks trained stacked vs one after another vs JAX `jit(vmap)`.

Trains K = 20 leaky networks of N = 100 units (batch 64, T = 100, recurrent and
input noise on, 3 inputs, 2 outputs, MSE, Adam) for 50 steps each, three ways,
in one run:

1. sequential: K ordinary ctxrnn models, each built, compiled and `fit` in turn;
2. stacked: one `ctxrnn.StackedModel` of the K networks, one `fit` (and the same
   with `noise_sampler="exact"`, whose normals cost what JAX's do);
3. JAX (when `jax` and `optax` are installed): `jit(vmap(train_step))` over the K
   networks (`lax.scan` forward, autodiff backward, optax Adam), noise drawn per
   network per step with `jax.random.normal`.

A tiny Dense fit first starts TensorFlow's runtime, so the first arm timed does not
pay the process's start.

Prints, for each, the first call (building and tracing the model plus its first
step; for JAX the compile and first step) and the remaining steps separately, the
totals, and the ratios sequential / stacked and JAX / stacked. Then the floor
under the stacked time: its recurrent matmuls alone at their shapes
(`step_matmul_seconds`), and the largest ratios that floor allows.

    python benchmarks/bench_stacked.py              # K=20, 50 steps
    python benchmarks/bench_stacked.py --threads 1  # one intra-op thread (TF and XLA)
    python benchmarks/bench_stacked.py --threads 1 --inter-op 2  # two groups side by side
    python benchmarks/bench_stacked.py --networks 4 --steps 10   # a quick look
"""

from __future__ import annotations

import argparse
import os
import time

UNITS, BATCH, STEPS_T, N_INPUTS, N_OUTPUTS = 100, 64, 100, 3, 2
DT, TAU, RECURRENT_NOISE, INPUT_NOISE, LEARNING_RATE = 20.0, 100.0, 0.05, 0.01, 1e-3


def _data(steps: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps * BATCH, STEPS_T, N_INPUTS)).astype("float32")
    y = np.tanh(np.cumsum(x[..., :N_OUTPUTS], axis=1) / 10).astype("float32")
    return x, y


def _first_batch_clock():
    import keras

    class FirstBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                self.time = time.perf_counter()

    return FirstBatch()


def _cell_options():
    return {"dt": DT, "tau": TAU, "recurrent_noise": RECURRENT_NOISE, "input_noise": INPUT_NOISE}


def run_sequential(networks: int, x, y) -> tuple[float, float]:
    """K ordinary models trained one after another: (first calls, the other steps) in s."""
    import keras

    import ctxrnn

    first = rest = 0.0
    for k in range(networks):
        keras.backend.clear_session()
        start = time.perf_counter()
        inputs = keras.Input((STEPS_T, N_INPUTS))
        states = ctxrnn.CTRNN(UNITS, seed=k, **_cell_options())(inputs)
        model = keras.Model(inputs, keras.layers.Dense(N_OUTPUTS)(states))
        model.compile(keras.optimizers.Adam(LEARNING_RATE), "mse")
        clock = _first_batch_clock()
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[clock])
        end = time.perf_counter()
        first += clock.time - start
        rest += end - clock.time
    return first, rest


def warm_up() -> None:
    """Starts TensorFlow's runtime and Keras' trainer on a tiny Dense model (no ctxrnn
    kernel), so that the first arm timed does not pay the process's one-time start."""
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(LEARNING_RATE), "mse")
    model.fit(np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32"), verbose=0)
    keras.backend.clear_session()


def run_stacked(networks: int, x, y, sampler: str = "table") -> tuple[float, float]:
    """One StackedModel of the K networks: (first call, the other steps) in s."""
    import keras

    import ctxrnn

    keras.backend.clear_session()
    start = time.perf_counter()
    inputs = keras.Input((STEPS_T, N_INPUTS))
    states = ctxrnn.CTRNN(UNITS, networks=networks, seed=list(range(networks)),
                          noise_sampler=sampler, **_cell_options())(inputs)
    outputs = ctxrnn.StackedDense(N_OUTPUTS, networks=networks)(states)
    model = ctxrnn.StackedModel(inputs, outputs)
    model.compile(keras.optimizers.Adam(LEARNING_RATE), "mse")
    clock = _first_batch_clock()
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[clock])
    end = time.perf_counter()
    return clock.time - start, end - clock.time


def run_jax(networks: int, x, y, steps: int) -> tuple[float, float] | None:
    """`jit(vmap)` over the K networks: (compile + first step, the other steps) in s."""
    import jax_anchor

    if not jax_anchor.available():
        return None
    import jax

    init, train_step, optimizer = jax_anchor.leaky_rnn(
        UNITS, N_INPUTS, N_OUTPUTS, dt=DT, tau=TAU, recurrent_noise=RECURRENT_NOISE,
        input_noise=INPUT_NOISE, learning_rate=LEARNING_RATE)
    step_all = jax.jit(jax.vmap(train_step, in_axes=(0, 0, None, None, 0)))
    keys = jax.random.split(jax.random.PRNGKey(0), networks)
    start = time.perf_counter()
    params = jax.vmap(init)(keys)
    state = jax.vmap(optimizer.init)(params)
    first_done = None
    for i in range(steps):
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        step_keys = jax.vmap(lambda key: jax.random.fold_in(key, i))(keys)
        params, state, value = step_all(params, state, xb, yb, step_keys)
        if i == 0:
            value.block_until_ready()
            first_done = time.perf_counter()
    value.block_until_ready()
    return first_done - start, time.perf_counter() - first_done


def step_matmul_seconds(networks: int, repeats: int = 5) -> float:
    """Seconds of one stacked training step's recurrent matmuls alone, at their shapes.

    The step holds, per time step, the forward `h W` and the backward `dZ W^T`
    as `(k, B, N) @ (k, N, N)` batched matmuls inside a sequential loop, and
    after the loop one `H^T dZ` over all steps, `(k, N, T*B) @ (k, T*B, N)`, for
    each group of k networks the stack runs side by side (`network_groups`).
    Timed here as two XLA while-loops of T batched matmuls plus the weight
    matmul per group, the groups as independent ops as in the layer: what the
    step's arithmetic costs at the speed this CPU does those shapes, with no
    noise, activation, optimizer or framework overhead. K networks' 50 steps
    cannot take less than 50 times this.
    """
    import tensorflow as tf

    from ctxrnn import layers

    @tf.function(jit_compile=True)
    def matmuls(h, w, history):
        def body(t, state):
            return t + 1, tf.tanh(tf.matmul(state, w))

        _, forward = tf.while_loop(lambda t, _: t < STEPS_T, body, (0, h))
        _, backward = tf.while_loop(lambda t, _: t < STEPS_T, body, (0, forward))
        return tf.reduce_sum(backward) + tf.reduce_sum(
            tf.matmul(history, history, transpose_a=True))

    groups = []
    for part in layers.network_groups(networks, layers._parallel_threads()):
        k = part.stop - part.start
        groups.append((tf.random.normal((k, BATCH, UNITS)),
                       tf.random.normal((k, UNITS, UNITS)) / UNITS**0.5,  # states stay O(1)
                       tf.random.normal((k, STEPS_T * BATCH, UNITS))))

    @tf.function
    def step():
        return tf.add_n([matmuls(*arrays) for arrays in groups])

    step().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step().numpy()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--steps", type=int, default=50, help="Adam steps per network")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads for TF and XLA (0: their defaults)")
    parser.add_argument("--inter-op", type=int, default=None,
                        help="inter-op threads, one stacked group each (default: 1 with "
                             "--threads, else TF's default)")
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.threads:
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_cpu_multi_thread_eigen={args.threads > 1}"
                                   + f" intra_op_parallelism_threads={args.threads}").strip()
    if args.threads or args.inter_op:
        os.environ["TF_NUM_INTEROP_THREADS"] = str(args.inter_op or 1)
    import tensorflow as tf

    from ctxrnn import layers

    x, y = _data(args.steps)
    k, steps = args.networks, args.steps
    print(f"TensorFlow {tf.__version__}, cores: {os.cpu_count()}, threads: "
          f"{args.threads or 'default'} intra-op, {args.inter_op or 'default'} inter-op "
          f"({len(layers.network_groups(k, layers._parallel_threads()))} stacked groups); "
          f"{k} networks of N={UNITS}, batch {BATCH}, T={STEPS_T}, "
          f"noise on, {steps} Adam steps each")
    warm_up()
    results = {}
    if not args.skip_sequential:
        results["sequential fits"] = run_sequential(k, x, y)
    results["stacked (one fit)"] = run_stacked(k, x, y)
    # JAX draws exact normals (jax.random.normal); ctxrnn's default sampler maps one
    # 32-bit word to two: the same stack with exact normals too, for a like-for-like ratio.
    results["stacked, exact noise"] = run_stacked(k, x, y, sampler="exact")
    jax_times = run_jax(k, x, y, steps)
    if jax_times is not None:
        results["JAX jit(vmap)"] = jax_times
    print(f"{'':<20}{'first call s':>13}{'other steps s':>15}{'total s':>10}"
          f"{'ms/network-step':>17}")
    for name, (first, rest) in results.items():
        per = rest / (k * max(steps - 1, 1)) * 1e3
        print(f"{name:<20}{first:>13.2f}{rest:>15.2f}{first + rest:>10.2f}{per:>17.2f}")
    stacked = sum(results["stacked (one fit)"])
    stacked_rest = results["stacked (one fit)"][1]
    for name in ("sequential fits", "JAX jit(vmap)"):
        if name in results:
            print(f"{name} / stacked: {sum(results[name]) / stacked:.2f}x in total, "
                  f"{results[name][1] / stacked_rest:.2f}x after the first call")
    if "JAX jit(vmap)" in results:
        exact = results["stacked, exact noise"]
        print(f"JAX jit(vmap) / stacked with exact noise: "
              f"{sum(results['JAX jit(vmap)']) / sum(exact):.2f}x in total, "
              f"{results['JAX jit(vmap)'][1] / exact[1]:.2f}x after the first call")
    if jax_times is None:
        print("JAX jit(vmap): not run (pip install jax optax)")
    matmul = step_matmul_seconds(k)
    floor = (steps - 1) * matmul  # the first call holds the first step
    flops = 3 * 2 * STEPS_T * BATCH * UNITS * UNITS * k
    first = results["stacked (one fit)"][0]
    print(f"the step's matmuls alone, at their shapes: {matmul * 1e3:.1f} ms per stacked step "
          f"({flops / matmul / 1e9:.0f} GFLOP/s), {floor:.2f} s for the {steps - 1} steps "
          "after the first call")
    for name in ("sequential fits", "JAX jit(vmap)"):
        if name in results:
            print(f"  so {name} / stacked is at most {sum(results[name]) / (first + floor):.2f}x "
                  f"with this first call, {sum(results[name]) / floor:.2f}x with none")


if __name__ == "__main__":
    main()
