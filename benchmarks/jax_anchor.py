"""The JAX anchor of the benchmarks: a leaky tanh RNN trained with `lax.scan` + `jit` and
optax Adam — the stack of the MoLaP reference code and BrainPy, written as its users write it.

`leaky_rnn(...)` returns `(init, train_step)`: `init(key)` gives the parameters
(orthogonal W_rec, Glorot-uniform W_in and readout, zero biases), `train_step(params,
opt_state, x, y, key)` one MSE + Adam step on a batch-major `(batch, T, inputs)` batch
with fresh recurrent and input noise from `key` (std scaled by sqrt(2 / alpha), as
`ctxrnn.CTRNN` scales it). `bench_ctrnn.py` jits one network's step; `bench_stacked.py`
jits `vmap(train_step)` over K networks; both skip the anchor when `available()` is
false (jax or optax missing).
"""

from __future__ import annotations


def available() -> bool:
    try:
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError:
        return False
    return True


def leaky_rnn(units: int, n_inputs: int, n_outputs: int, *, dt: float, tau: float,
              recurrent_noise: float, input_noise: float, learning_rate: float = 1e-3):
    """`(init, train_step, optimizer)` of the leaky RNN (see the module docstring)."""
    import jax
    import jax.numpy as jnp
    import optax

    alpha = dt / tau
    recurrent_std = recurrent_noise * (2.0 / alpha) ** 0.5
    input_std = input_noise * (2.0 / alpha) ** 0.5

    def init(key):
        k_in, k_rec, k_out = jax.random.split(key, 3)
        limit_in = (6.0 / (n_inputs + units)) ** 0.5
        limit_out = (6.0 / (units + n_outputs)) ** 0.5
        q, _ = jnp.linalg.qr(jax.random.normal(k_rec, (units, units)))
        return {"w_in": jax.random.uniform(k_in, (n_inputs, units), minval=-limit_in,
                                           maxval=limit_in),
                "w_rec": q, "b": jnp.zeros(units),
                "w_out": jax.random.uniform(k_out, (units, n_outputs), minval=-limit_out,
                                            maxval=limit_out),
                "b_out": jnp.zeros(n_outputs)}

    def loss(params, xb, yb, key):
        k_in, k_rec = jax.random.split(key)
        x_t = jnp.swapaxes(xb, 0, 1)
        if input_std:
            x_t = x_t + input_std * jax.random.normal(k_in, x_t.shape)
        drive = x_t @ params["w_in"] + params["b"]
        if recurrent_std:
            drive = drive + recurrent_std * jax.random.normal(k_rec, drive.shape)

        def step(h, u):
            h = h + alpha * (jnp.tanh(h @ params["w_rec"] + u) - h)
            return h, h

        _, states = jax.lax.scan(step, jnp.zeros((xb.shape[0], units)), drive)
        out = states @ params["w_out"] + params["b_out"]
        return jnp.mean((jnp.swapaxes(out, 0, 1) - yb) ** 2)

    optimizer = optax.adam(learning_rate)

    def train_step(params, state, xb, yb, key):
        value, grads = jax.value_and_grad(loss)(params, xb, yb, key)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    return init, train_step, optimizer


def ms_per_step(units: int, batch: int, steps: int, n_inputs: int, n_outputs: int, *,
                repeats: int, steps_per_repeat: int, **options) -> float:
    """Best-of-`repeats` ms per jitted training step of one network (after warm-up)."""
    import time

    import jax
    import numpy as np

    init, train_step, optimizer = leaky_rnn(units, n_inputs, n_outputs, **options)
    step = jax.jit(train_step)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, n_inputs)).astype("float32")
    y = rng.normal(size=(batch, steps, n_outputs)).astype("float32")
    key = jax.random.PRNGKey(0)
    params = init(key)
    state = optimizer.init(params)
    count = 0
    for _ in range(3):
        params, state, value = step(params, state, x, y, jax.random.fold_in(key, count))
        count += 1
    value.block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps_per_repeat):
            params, state, value = step(params, state, x, y, jax.random.fold_in(key, count))
            count += 1
        value.block_until_ready()
        best = min(best, (time.perf_counter() - start) / steps_per_repeat * 1e3)
    return best
