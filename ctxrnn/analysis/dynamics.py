"""Fixed and slow points of a trained CTRNN, their linearisation and stability.

The network's one-step map under a constant input `x` is

    F(h) = h + alpha * (f(h @ W_rec + x @ W_in + b) - h)

(`alpha = dt / tau`, a scalar or one value per unit; `F(h) = f(...)` for a
discrete network). Its fixed points are the same for every `alpha`, so the
speed minimised and reported here is the alpha-free one,

    q(h) = 0.5 * ||(F(h) - h) / alpha||**2 = 0.5 * ||f(z) - h||**2,

which is Golub & Sussillo's `q` for a discrete network (`alpha = 1`) and
their `q / alpha**2` for a leaky one: a tolerance means the same residual at
any `alpha`. (MSE-style tools use `2 q / N`.)

Candidates are optimised all at once in TensorFlow: Adam with a rate per
candidate (halved when that candidate's q rises, grown slowly while it
falls) and a stop per candidate (q below `tol_q`, a change of q below
`tol_dq * rate`, or `max_iters`); candidates still above `tol_q` then take
up to `newton_steps` batched Levenberg-Marquardt steps on `f(z) - h`, which
finish in a few steps what Adam approaches only slowly. Jacobians `dF/dh` of
all points come from one batched call, and their eigenvalues from one batched
`numpy.linalg.eig`.

Example:

```python
from ctxrnn.analysis import dynamics

network = dynamics.NetworkMap.from_model(model)
points = dynamics.find_fixed_points(network, inputs=np.zeros(network.n_inputs),
                                    trajectories=states, n_initial=512, seed=0)
points.summary()          # counts by stability
points.states[points.is_stable]
```
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from ctxrnn import runs as run_layout
from ctxrnn import seeding
from ctxrnn.checks import positive_int

# |lambda| within this of 1 counts as marginal (neither stable nor unstable).
MARGINAL_TOLERANCE = 1e-6
STABILITY_LABELS = ("stable", "marginal", "saddle", "unstable")


# ---------------------------------------------------------------- the map
@dataclasses.dataclass(eq=False)
class NetworkMap:
    """The one-step map of a CTRNN, as plain arrays.

    Attributes:
        kernel: `(inputs, units)` input weights (masks applied).
        recurrent_kernel: `(units, units)` recurrent weights in the layer's row
            convention (`z = h @ recurrent_kernel`; masks and Dale signs applied).
        bias: `(units,)` bias (zeros when the layer has none).
        alpha: `dt / tau`, scalar or `(units,)`.
        activation: the unit non-linearity `f` (a Keras activation).
        dt: step in ms.
        leaky: `False` for the discrete network (`alpha == 1` fixed).
        readout: optional `(kernel, bias)` of the Dense layer reading the states.
    """

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    alpha: np.ndarray
    activation: Callable
    dt: float = 1.0
    leaky: bool = True
    readout: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self):
        self.recurrent_kernel = np.asarray(self.recurrent_kernel, np.float64)
        n = self.recurrent_kernel.shape[0]
        if self.recurrent_kernel.shape != (n, n):
            raise ValueError(f"Argument `recurrent_kernel` must be square; received shape "
                             f"{self.recurrent_kernel.shape}.")
        self.kernel = np.asarray(self.kernel, np.float64).reshape(-1, n)
        self.bias = (np.zeros(n) if self.bias is None
                     else np.asarray(self.bias, np.float64).reshape(n))
        self.alpha = np.asarray(self.alpha, np.float64)
        if self.alpha.shape not in ((), (n,)) or np.any(self.alpha <= 0) or np.any(self.alpha > 1):
            raise ValueError(f"Argument `alpha` must be a scalar or ({n},) array in (0, 1]; "
                             f"received {self.alpha!r}.")
        self.activation = keras.activations.get(self.activation)

    n_units = property(lambda self: self.recurrent_kernel.shape[0])
    n_inputs = property(lambda self: self.kernel.shape[0])

    @classmethod
    def from_model(cls, model: keras.Model) -> NetworkMap:
        """Reads the map (and the readout Dense after the CTRNN) from a ctxrnn model.

        Args:
            model: a Keras model with one `ctxrnn.CTRNN` layer.

        Returns:
            A `NetworkMap`.
        """
        from ctxrnn.layers import find_ctrnn

        layer = find_ctrnn(model)
        weights = layer.effective_weights()
        cell = layer.cell
        return cls(weights["kernel"], weights["recurrent_kernel"], weights.get("bias"),
                   keras.ops.convert_to_numpy(cell.alpha), cell.activation, dt=float(cell.dt),
                   leaky=bool(cell.leaky), readout=_readout_fed_by(model, layer))

    def step(self, h, x):
        """`F(h)` for `(batch, units)` states and `(batch, inputs)` inputs (TF tensors)."""
        dtype = h.dtype
        r = self._rate(h, x)
        if not self.leaky:
            return r
        return h + tf.constant(self.alpha, dtype) * (r - h)

    def _rate(self, h, x):
        dtype = h.dtype
        z = (tf.matmul(h, tf.constant(self.recurrent_kernel, dtype))
             + tf.matmul(x, tf.constant(self.kernel, dtype)) + tf.constant(self.bias, dtype))
        return self.activation(z)

    def speed(self, h, x):
        """The alpha-free speed `q = 0.5 ||f(z) - h||^2` per row (TF tensors)."""
        return 0.5 * tf.reduce_sum(tf.square(self._rate(h, x) - h), axis=-1)

    def simulate(self, h0, x, steps: int, *, dtype=tf.float64) -> np.ndarray:
        """Free-runs the map `steps` steps under constant inputs.

        Args:
            h0: `(batch, units)` initial states.
            x: `(batch, inputs)` or `(inputs,)` constant input.
            steps: number of steps.

        Returns:
            `(batch, steps, units)` states `h_1..h_steps`.
        """
        h0 = tf.constant(np.asarray(h0, np.float64), dtype)
        x = tf.constant(np.broadcast_to(np.asarray(x, np.float64),
                                        (h0.shape[0], self.n_inputs)), dtype)
        return np.transpose(self._simulate(h0, x, int(steps)).numpy(), (1, 0, 2))

    @tf.function(reduce_retracing=True)
    def _simulate(self, h0, x, steps):
        out = tf.TensorArray(h0.dtype, size=steps)
        h = h0
        for t in tf.range(steps):
            h = self.step(h, x)
            out = out.write(t, h)
        return out.stack()

    def read_out(self, states: np.ndarray) -> np.ndarray | None:
        """The readout of `(..., units)` states, or `None` without a readout."""
        if self.readout is None:
            return None
        kernel, bias = self.readout
        return np.asarray(states) @ kernel + bias

    def jacobians(self, states, inputs, *, batch_size: int = 1024) -> np.ndarray:
        """`dF/dh` at every state, batched: `(n, units, units)`, `J[k, i, j] = dF_i/dh_j`.

        Args:
            states: `(n, units)` states.
            inputs: `(n, inputs)` constant inputs paired with the states.
            batch_size: points per batched call.

        Returns:
            float64 array `(n, units, units)` in the column convention
            (`dh_{t+1} = J dh_t`), whose eigenvectors are state-space directions.
        """
        states = np.asarray(states, np.float64).reshape(-1, self.n_units)
        inputs = np.asarray(inputs, np.float64).reshape(len(states), self.n_inputs)
        out = np.empty((len(states), self.n_units, self.n_units))
        for start in range(0, len(states), batch_size):
            stop = start + batch_size
            out[start:stop] = self._jacobian(tf.constant(states[start:stop]),
                                             tf.constant(inputs[start:stop])).numpy()
        return out

    @tf.function(reduce_retracing=True)
    def _jacobian(self, h, x):
        with tf.GradientTape() as tape:
            tape.watch(h)
            y = self.step(h, x)
        return tape.batch_jacobian(y, h)


def _readout_fed_by(model: keras.Model, layer) -> tuple[np.ndarray, np.ndarray] | None:
    """The `(kernel, bias)` arrays of the first Dense layer fed by `layer`'s output, if any
    (through the graph: unlike `ctxrnn.readout.find_readout`, no layer name is needed)."""
    for candidate in model.layers:
        if not isinstance(candidate, keras.layers.Dense):
            continue
        for node in candidate._inbound_nodes:
            parents = [tensor._keras_history[0] for tensor in node.input_tensors]
            if any(parent is layer for parent in parents):
                kernel = keras.ops.convert_to_numpy(candidate.kernel)
                bias = (keras.ops.convert_to_numpy(candidate.bias) if candidate.use_bias
                        else np.zeros(kernel.shape[1]))
                return np.asarray(kernel, np.float64), np.asarray(bias, np.float64)
    return None


def as_network(model_or_network) -> NetworkMap:
    """A `NetworkMap` from a model (or the map itself)."""
    if isinstance(model_or_network, NetworkMap):
        return model_or_network
    if isinstance(model_or_network, keras.Model):
        return NetworkMap.from_model(model_or_network)
    raise TypeError(f"Argument `model` must be a keras.Model with a ctxrnn.CTRNN layer or a "
                    f"NetworkMap; received {type(model_or_network).__name__}.")


# ---------------------------------------------------------------- result
@dataclasses.dataclass
class FixedPoints:
    """Fixed (or slow) points found by `find_fixed_points`, one row per point.

    Attributes:
        states: `(n, units)` points.
        inputs: `(n, inputs)` the constant input of each point.
        condition: `(n,)` int, index of the input condition.
        q: `(n,)` alpha-free speed `0.5 ||f(z) - h||^2`.
        n_iters: `(n,)` optimisation steps taken.
        eigenvalues: `(n, units)` complex eigenvalues of `dF/dh`, by decreasing modulus.
        eigenvectors: `(n, units, units)` right eigenvectors (columns), or `None`.
        n_unstable: `(n,)` eigenvalues with `|lambda| > 1 + MARGINAL_TOLERANCE`.
        stability: `(n,)` `"stable"`, `"marginal"`, `"saddle"` or `"unstable"`.
        is_outlier: `(n,)` far from the initial states (reported, not removed).
        alpha: the network's alpha (scalar or `(units,)`).
        dt: step in ms.
        n_candidates: how many candidates ended in this set before duplicates
            merged (`None` when not from a search).
    """

    states: np.ndarray
    inputs: np.ndarray
    condition: np.ndarray
    q: np.ndarray
    n_iters: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    n_unstable: np.ndarray
    stability: np.ndarray
    is_outlier: np.ndarray
    alpha: Any = 1.0
    dt: float = 1.0
    n_candidates: int | None = None

    def __len__(self) -> int:
        return len(self.states)

    is_stable = property(lambda self: self.stability == "stable")

    @property
    def mu(self) -> np.ndarray:
        """Eigenvalues of the continuous-time system in units of `alpha`:
        `mu = (lambda - 1 + alpha) / alpha` (the mean alpha when it is per unit)."""
        alpha = float(np.mean(self.alpha))
        return (self.eigenvalues - 1.0 + alpha) / alpha

    @property
    def time_constants(self) -> np.ndarray:
        """Time constant of every mode, `-dt / ln|lambda|` ms (negative: growing;
        inf: marginal)."""
        with np.errstate(divide="ignore"):
            return -self.dt / np.log(np.abs(self.eigenvalues))

    def select(self, index) -> FixedPoints:
        """The points at `index` (int array or boolean mask)."""
        fields = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            per_point = isinstance(value, np.ndarray) and field.name != "alpha"
            fields[field.name] = value[index] if per_point else value
        return FixedPoints(**fields)

    def summary(self) -> dict[str, Any]:
        """Counts by stability and by number of unstable directions (JSON-ready)."""
        labels, counts = np.unique(self.stability, return_counts=True)
        saddles = self.n_unstable[self.stability == "saddle"]
        k, kc = np.unique(saddles, return_counts=True)
        return {"n": len(self), **{f"n_{label}": 0 for label in STABILITY_LABELS},
                **{f"n_{label}": int(c) for label, c in zip(labels, counts)},
                "saddles_by_unstable_directions": {int(a): int(b) for a, b in zip(k, kc)},
                "n_outliers": int(np.sum(self.is_outlier)), "n_candidates": self.n_candidates,
                "max_q": float(np.max(self.q)) if len(self) else None}

    def to_dict(self, *, readout: np.ndarray | None = None) -> dict[str, Any]:
        """JSON-ready lists (eigenvalues as `[re, im]`; eigenvectors left out)."""
        record = {
            "states": self.states.tolist(), "inputs": self.inputs.tolist(),
            "condition": self.condition.tolist(), "q": self.q.tolist(),
            "n_iters": self.n_iters.tolist(), "stability": self.stability.tolist(),
            "n_unstable": self.n_unstable.tolist(), "is_outlier": self.is_outlier.tolist(),
            "eigenvalues": np.stack([self.eigenvalues.real, self.eigenvalues.imag], -1).tolist(),
            "summary": self.summary(),
        }
        if readout is not None:
            record["readout"] = np.asarray(readout).tolist()
        return record


def classify(eigenvalues: np.ndarray, *, tolerance: float = MARGINAL_TOLERANCE):
    """Stability of discrete-map fixed points from their Jacobian eigenvalues.

    Args:
        eigenvalues: `(n, units)` complex eigenvalues.
        tolerance: `|lambda|` within this of 1 is marginal.

    Returns:
        `(n_unstable, labels)`: `(n,)` int and `(n,)` str, labels in
        `STABILITY_LABELS` (`"unstable"`: every direction grows).
    """
    modulus = np.abs(np.asarray(eigenvalues))
    n_unstable = np.sum(modulus > 1 + tolerance, axis=-1)
    n_marginal = np.sum(np.abs(modulus - 1) <= tolerance, axis=-1)
    units = modulus.shape[-1]
    labels = np.where(n_unstable == 0, np.where(n_marginal > 0, "marginal", "stable"),
                      np.where(n_unstable == units, "unstable", "saddle"))
    return n_unstable.astype(int), labels.astype(object if units == 0 else str)


def decompose(jacobians: np.ndarray, *, vectors: bool = False):
    """Batched eigen-decomposition sorted by decreasing `|lambda|`.

    Returns:
        `(eigenvalues (n, units), eigenvectors (n, units, units) or None)`.
    """
    if len(jacobians) == 0:
        n = jacobians.shape[-1]
        return np.zeros((0, n), complex), (np.zeros((0, n, n), complex) if vectors else None)
    if vectors:
        values, vecs = np.linalg.eig(jacobians)
    else:
        values, vecs = np.linalg.eigvals(jacobians), None
    order = np.argsort(-np.abs(values), axis=-1, kind="stable")
    values = np.take_along_axis(values, order, -1).astype(complex)
    if vecs is not None:
        vecs = np.take_along_axis(vecs, order[:, None, :], -1).astype(complex)
    return values, vecs


def linearise(network, states, inputs, *, vectors: bool = False):
    """Jacobians at `states` and their eigen-decomposition (see `classify`)."""
    network = as_network(network)
    values, vecs = decompose(network.jacobians(states, inputs), vectors=vectors)
    return values, vecs


# ----------------------------------------------------------- candidates
def sample_states(trajectories, n: int, *, noise: float = 0.0, mask=None,
                  seed: int | np.random.SeedSequence = 0) -> np.ndarray:
    """Draws `n` states (with replacement) from `(batch, time, units)` trajectories.

    Args:
        trajectories: `(batch, time, units)` noise-free hidden states.
        n: number of states.
        noise: sd of i.i.d. Gaussian noise added to each state.
        mask: optional `(batch, time)` boolean: the steps to draw from (a task period).
        seed: int or `numpy.random.SeedSequence`.

    Returns:
        `(n, units)` float64 states.
    """
    trajectories = np.asarray(trajectories, np.float64)
    if trajectories.ndim != 3:
        raise ValueError(f"Argument `trajectories` must have shape (batch, time, units); "
                         f"received shape {trajectories.shape}.")
    flat = trajectories.reshape(-1, trajectories.shape[-1])
    if mask is not None:
        mask = np.asarray(mask, bool).reshape(-1)
        if mask.shape[0] != flat.shape[0]:
            raise ValueError(f"Argument `mask` must have shape {trajectories.shape[:2]}; "
                             f"received {np.shape(mask)}.")
        flat = flat[mask]
    if len(flat) == 0:
        raise ValueError("Argument `mask` selects no state of `trajectories`.")
    rng = np.random.default_rng(seed)
    picked = flat[rng.integers(0, len(flat), size=int(n))]
    return picked + noise * rng.standard_normal(picked.shape)


def _input_conditions(inputs, n_inputs: int) -> np.ndarray:
    array = np.asarray(inputs, np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != n_inputs:
        raise ValueError(f"Argument `inputs` must have shape ({n_inputs},) or (conditions, "
                         f"{n_inputs}); received shape {np.shape(inputs)}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("Argument `inputs` holds NaN or infinite values.")
    return array


# ----------------------------------------------------------- optimiser
@dataclasses.dataclass(eq=False)
class _State:
    h: tf.Variable
    m: tf.Variable
    v: tf.Variable
    lr: tf.Variable
    t: tf.Variable
    q: tf.Variable
    done: tf.Variable


def _make_chunk(network: NetworkMap, hps: dict[str, float]):
    b1, b2, eps = hps["beta_1"], hps["beta_2"], hps["epsilon"]

    @tf.function
    def chunk(s: _State, x, steps):
        for _ in tf.range(steps):
            active = tf.logical_not(s.done)
            h_old = s.h.read_value()
            with tf.GradientTape() as tape:
                tape.watch(h_old)
                q_old = network.speed(h_old, x)
                total = tf.reduce_sum(q_old)
            g = tape.gradient(total, h_old)
            a = tf.cast(active, s.h.dtype)[:, None]
            t = s.t + tf.cast(active, s.t.dtype)
            m = s.m + a * (1 - b1) * (g - s.m)
            v = s.v + a * (1 - b2) * (tf.square(g) - s.v)
            tf_ = tf.cast(tf.maximum(t, 1), s.h.dtype)[:, None]
            step = s.lr[:, None] * (m / (1 - b1 ** tf_)) / (tf.sqrt(v / (1 - b2 ** tf_)) + eps)
            h = h_old - a * step
            q_new = network.speed(h, x)
            worse = q_new > q_old
            lr = tf.where(active, tf.where(worse, s.lr * hps["lr_decrease"],
                                           tf.minimum(s.lr * hps["lr_increase"], hps["lr_max"])),
                          s.lr)
            # A step that made q worse is undone, so q never rises.
            keep = tf.logical_and(active, tf.logical_not(worse))[:, None]
            h = tf.where(keep, h, h_old)
            q = tf.where(keep[:, 0], q_new, q_old)
            stalled = tf.logical_and(tf.abs(q_old - q) < hps["tol_dq"] * lr,
                                     tf.logical_not(worse))
            done = s.done | (q < hps["tol_q"]) | stalled | (t >= hps["max_iters"])
            s.h.assign(h), s.m.assign(m), s.v.assign(v), s.lr.assign(lr), s.t.assign(t)
            s.q.assign(q), s.done.assign(done)
        return tf.reduce_all(s.done)

    return chunk


def optimize_candidates(model, initial_states, inputs, *, progress: bool = False, **optimizer):
    """Runs the batched speed minimisation on given candidates, without filtering.

    Args:
        model: a Keras model with one `ctxrnn.CTRNN` layer, or a `NetworkMap`.
        initial_states: `(n, units)` candidates.
        inputs: `(n, inputs)` constant input of each candidate.
        progress: show a progress bar.
        **optimizer: overrides of `DEFAULT_HPS` (`newton_steps=0` turns the
            final Levenberg-Marquardt refinement off).

    Returns:
        `(states, q, n_iters)` arrays of the `n` optimised candidates
        (`n_iters` counts Adam and refinement steps).
    """
    network = as_network(model)
    unknown = set(optimizer) - set(DEFAULT_HPS)
    if unknown:
        raise ValueError(f"Unknown optimizer arguments {sorted(unknown)}; expected some of "
                         f"{sorted(DEFAULT_HPS)}.")
    h0 = np.asarray(initial_states, np.float64)
    x = np.asarray(inputs, np.float64)
    if h0.ndim != 2 or h0.shape[1] != network.n_units or x.shape != (len(h0), network.n_inputs):
        raise ValueError(f"Arguments `initial_states` and `inputs` must have shapes (n, "
                         f"{network.n_units}) and (n, {network.n_inputs}); received "
                         f"{h0.shape} and {x.shape}.")
    hps = {**DEFAULT_HPS, **optimizer}
    h, q, iters = _optimise(network, h0, x, hps, progress)
    return _refine(network, h, x, q, iters, hps)


def _new_state(arrays: dict[str, np.ndarray]) -> _State:
    return _State(**{name: tf.Variable(value) for name, value in arrays.items()})


# Finished candidates are dropped from the batch once at most this share is active
# (and more than _MIN_ROWS remain), so stragglers do not pay for the whole batch.
_COMPACT_SHARE = 0.5
_MIN_ROWS = 64


def _optimise(network, h0, x, hps, progress):
    n, units = h0.shape
    arrays = {"h": h0.astype(np.float64), "m": np.zeros((n, units)), "v": np.zeros((n, units)),
              "lr": np.full(n, float(hps["lr_init"])), "t": np.zeros(n, np.int32),
              "q": np.full(n, np.inf), "done": np.zeros(n, bool)}
    rows = np.arange(n)  # the candidates in the current batch
    s, x_batch = _new_state(arrays), tf.constant(x, tf.float64)
    chunk = _make_chunk(network, hps)
    bar = keras.utils.Progbar(hps["max_iters"], unit_name="step",
                              stateful_metrics=["active", "max_q"]) if progress else None
    steps = int(hps["chunk"])
    taken = 0
    while taken < hps["max_iters"]:
        all_done = bool(chunk(s, x_batch, tf.constant(min(steps, hps["max_iters"] - taken))))
        taken += steps
        done = s.done.numpy()
        if bar is not None:
            bar.update(min(taken, hps["max_iters"]),
                       [("active", float(np.sum(~done))), ("max_q", float(np.max(s.q.numpy())))])
        if all_done:
            break
        if len(rows) > _MIN_ROWS and np.mean(~done) <= _COMPACT_SHARE:
            current = {name: getattr(s, name).numpy() for name in arrays}
            for name, value in current.items():
                arrays[name][rows] = value
            rows, keep = rows[~done], ~done
            s = _new_state({name: value[keep] for name, value in current.items()})
            x_batch = tf.constant(x[rows], tf.float64)
    if bar is not None and taken < hps["max_iters"]:
        bar.update(hps["max_iters"], finalize=True)
    for name in ("h", "q", "t"):
        arrays[name][rows] = getattr(s, name).numpy()
    return arrays["h"], arrays["q"], arrays["t"]


DEFAULT_HPS = {"lr_init": 0.1, "lr_max": 1.0, "lr_decrease": 0.5, "lr_increase": 1.05,
               "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-3, "tol_q": 1e-12,
               "tol_dq": 1e-20, "max_iters": 5000, "chunk": 100, "newton_steps": 20,
               "newton_damping": 1e-3}


def _residual(network, h, x) -> np.ndarray:
    """The alpha-free residual `f(z) - h` (whose half squared norm is q), as numpy."""
    h = tf.constant(h, tf.float64)
    return (network._rate(h, tf.constant(x, tf.float64)) - h).numpy()


def _refine(network, h, x, q, iters, hps):
    """Batched Levenberg-Marquardt steps on the residual `f(z) - h` for every
    candidate Adam left at `q >= tol_q`.

    Adam creeps near a root where the gradient of q vanishes quadratically;
    Gauss-Newton converges there in a few steps, at saddles as well as at
    stable points. A step is kept only if it lowers q (so q never rises); the
    damping of each candidate shrinks tenfold after a kept step and grows
    tenfold after a rejected one, and a candidate stops at `tol_q` or once its
    damping exceeds 1e8 (no root nearby: a genuine slow point).
    """
    h, q, iters = h.copy(), q.copy(), iters.copy()
    rows = np.flatnonzero(np.isfinite(q) & (q >= hps["tol_q"]) & np.all(np.isfinite(h), axis=1))
    damping = np.full(len(rows), float(hps["newton_damping"]))
    identity = np.eye(network.n_units)
    # dF/dh = I + alpha (dr/dh - I), alpha per row; a discrete network's is dr/dh.
    scale = np.reshape(network.alpha, (-1, 1)) if network.leaky else 1.0
    for _ in range(int(hps["newton_steps"])):
        if len(rows) == 0:
            break
        hr, xr = h[rows], x[rows]
        residual = _residual(network, hr, xr)
        a = (network.jacobians(hr, xr) - identity) / scale  # d(f(z) - h)/dh
        at = np.swapaxes(a, 1, 2)
        normal = at @ a + damping[:, None, None] * identity
        with np.errstate(all="ignore"):
            delta = np.linalg.solve(normal, -(at @ residual[..., None]))[..., 0]
            trial = hr + delta
            q_trial = 0.5 * np.sum(_residual(network, trial, xr) ** 2, axis=1)
        better = np.isfinite(q_trial) & (q_trial < q[rows])
        h[rows[better]], q[rows[better]] = trial[better], q_trial[better]
        iters[rows] += 1
        damping = np.where(better, np.maximum(damping * 0.1, 1e-12), damping * 10.0)
        active = (q[rows] >= hps["tol_q"]) & (damping <= 1e8)
        rows, damping = rows[active], damping[active]
    return h, q, iters


def _unique(states, inputs, q, tol_unique):
    """Indices of the points kept after merging those within `tol_unique` (2-norm
    over `[state, input]`), keeping the lowest q of each group."""
    order = np.argsort(q, kind="stable")
    joint = np.concatenate([states, inputs], axis=1)[order]
    kept: list[int] = []
    for i in range(len(order)):
        if kept and np.min(np.linalg.norm(joint[kept] - joint[i], axis=1)) <= tol_unique:
            continue
        kept.append(i)
    return order[kept]


def _empty_points(network: NetworkMap, vectors: bool) -> FixedPoints:
    n, i = network.n_units, network.n_inputs
    return FixedPoints(np.zeros((0, n)), np.zeros((0, i)), np.zeros(0, int), np.zeros(0),
                       np.zeros(0, int), np.zeros((0, n), complex),
                       np.zeros((0, n, n), complex) if vectors else None, np.zeros(0, int),
                       np.zeros(0, str), np.zeros(0, bool), network.alpha, network.dt)


def _points(network, states, inputs, condition, q, iters, outlier, vectors):
    if len(states) == 0:
        return _empty_points(network, vectors)
    values, vecs = linearise(network, states, inputs, vectors=vectors)
    n_unstable, labels = classify(values)
    return FixedPoints(states, inputs, condition, q, iters, values, vecs, n_unstable, labels,
                       outlier, network.alpha, network.dt)


def find_fixed_points(model, inputs, *, initial_states=None, trajectories=None,
                      trajectory_mask=None, n_initial: int = 256, noise: float = 0.5,
                      tol_q: float = 1e-12, slow_q: float = 1e-4, tol_unique: float = 1e-3,
                      max_iters: int = 5000, outlier_scale: float = 10.0,
                      eigenvectors: bool = False, seed: int = 0, progress: bool = False,
                      return_unconverged: bool = False, **optimizer):
    """Finds fixed and slow points of the network under constant inputs.

    Args:
        model: a Keras model with one `ctxrnn.CTRNN` layer, or a `NetworkMap`.
        inputs: `(inputs,)` one constant input, or `(conditions, inputs)`: the
            search runs for every condition (e.g. every context).
        initial_states: `(n, units)` candidates used for every condition, or
            `(conditions, n, units)`. Default: drawn from `trajectories`.
        trajectories: `(batch, time, units)` noise-free states to draw from
            (`sample_states`). Default (with no `initial_states`): the network
            free-run 200 steps under each condition from N(0, 0.5^2) states.
        trajectory_mask: optional `(batch, time)` steps to draw from.
        n_initial: candidates per condition when drawing.
        noise: sd of the noise added to drawn candidates. Default: `0.5`.
        tol_q: fixed-point tolerance on the alpha-free speed q. Default: `1e-12`.
        slow_q: points with `tol_q <= q < slow_q` are slow points. Default: `1e-4`.
        tol_unique: points closer than this (2-norm over `[state, input]`) merge.
        max_iters: optimisation steps at most.
        outlier_scale: a point farther from the initial states' centroid than this
            times their mean distance to it is flagged `is_outlier`.
        eigenvectors: also return right eigenvectors.
        seed: int or `numpy.random.SeedSequence` of the candidates.
        progress: show a progress bar of the optimisation.
        return_unconverged: also return the candidates that ended at
            `q >= slow_q` (or non-finite), which are neither fixed nor slow
            points (typically local minima of q, where its gradient vanishes
            with q > 0).
        **optimizer: overrides of `DEFAULT_HPS` (`lr_init`, `epsilon`, `chunk`, ...).

    Returns:
        `(fixed, slow)`: two `FixedPoints`, unique points with `q < tol_q` and
        with `tol_q <= q < slow_q`, each sorted by q. With
        `return_unconverged=True`, `(fixed, slow, unconverged)`: the third the
        unique finite candidates with `q >= slow_q`, its `n_candidates`
        attribute the number of candidates (non-finite ones included) that
        ended there.

    Example:

    ```python
    fixed, slow = find_fixed_points(model, np.zeros(3), trajectories=states)
    fixed.summary()["n_stable"]
    ```
    """
    network = as_network(model)
    conditions = _input_conditions(inputs, network.n_inputs)
    for name, value in (("tol_q", tol_q), ("slow_q", slow_q), ("tol_unique", tol_unique),
                        ("noise", noise + 1.0), ("outlier_scale", outlier_scale)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"Argument `{name}` must be a positive number; received {value!r}.")
    positive_int("max_iters", max_iters)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seeds = root.spawn(len(conditions))
    units, c = network.n_units, len(conditions)
    if initial_states is not None:
        init = np.asarray(initial_states, np.float64)
        if init.ndim == 2:
            init = np.broadcast_to(init, (c,) + init.shape)
        if init.ndim != 3 or init.shape[0] != c or init.shape[2] != units:
            raise ValueError(f"Argument `initial_states` must have shape (n, {units}) or "
                             f"({c}, n, {units}); received shape {np.shape(initial_states)}.")
    elif trajectories is not None:
        init = np.stack([sample_states(trajectories, n_initial, noise=noise, mask=trajectory_mask,
                                       seed=s) for s in seeds])
    else:
        init = []
        for x, s in zip(conditions, seeds):
            rng = np.random.default_rng(s)
            runs = network.simulate(0.5 * rng.standard_normal((max(n_initial // 8, 4), units)),
                                    x, 200)
            init.append(sample_states(runs, n_initial, noise=noise, seed=s.spawn(1)[0]))
        init = np.stack(init)
    if not np.all(np.isfinite(init)):
        raise ValueError("The initial states hold NaN or infinite values.")
    n_per = init.shape[1]
    h0 = init.reshape(-1, units)
    condition = np.repeat(np.arange(c), n_per)
    x = conditions[condition]
    h, q, iters = optimize_candidates(network, h0, x, progress=progress,
                                      **{**optimizer, "tol_q": tol_q, "max_iters": max_iters})
    finite = np.isfinite(q) & np.all(np.isfinite(h), axis=1)
    centroid = h0.mean(0)
    scale = np.mean(np.linalg.norm(h0 - centroid, axis=1)) or 1.0
    outlier = np.linalg.norm(h - centroid, axis=1) / scale >= outlier_scale
    groups = [finite & (q < tol_q), finite & (q >= tol_q) & (q < slow_q)]
    if return_unconverged:
        groups.append(finite & (q >= slow_q))
    results = []
    for keep in groups:
        index = np.flatnonzero(keep)
        index = index[_unique(h[index], x[index], q[index], tol_unique)]
        results.append(_points(network, h[index], x[index], condition[index], q[index],
                               iters[index], outlier[index], eigenvectors))
    for points, keep in zip(results, groups):
        points.n_candidates = int(np.sum(keep))
    if return_unconverged:
        results[2].n_candidates = int(np.sum(~(groups[0] | groups[1])))
    return tuple(results)


# ------------------------------------------------------------ analyze
DYNAMICS_FILE = run_layout.DYNAMICS_FILE
FIGURE_NAMES = {"dynamics_trajectories": "Mean trajectories per task (PC1-PC2) and the fixed "
                                         "points of each context, coloured by stability",
                "dynamics_spectra": "Jacobian eigenvalues at the fixed points, per context",
                "dynamics_regimes": "Free runs from trial end states under each context input "
                                    "(PC1): the regime they settle into"}


def load_target(run_or_model: str):
    """`(model, suite)` of a run directory (`model.keras`, `config.json`) or a shipped model.

    Args:
        run_or_model: a run directory written by `ctxrnn train`, or a name of
            `ctxrnn.list_models()` (or a model card path).
    """
    import pathlib

    from ctxrnn import training, zoo

    if run_layout.is_run_directory(run_or_model):
        _, _, suite, model = training.load_run(run_or_model)
        return model, suite
    if pathlib.Path(str(run_or_model)).is_dir():
        raise ValueError(f"Argument `run_or_model` is a directory without config.json: "
                         f"{run_or_model!r}; expected a run directory or a shipped model name.")
    model, card = zoo.load(run_or_model)
    return model, zoo.suite_from_card(card)


def analyze(model, suite, out_dir, *, progress: bool = True, n_per_task: int = 20,
            n_initial: int = 256, noise: float = 0.1, free_run_steps: int = 2000,
            seed: int = 0, max_iters: int = 5000) -> dict[str, Any]:
    """Fixed points, regimes and trajectories of a trained context network; writes files.

    Per task of `suite`, candidates are drawn from that task's noise-free
    validation trajectories (plus noise) and searched under the task's context
    input with every stimulus at 0 (`regimes.context_inputs`); the network is
    free-run under the same input from the trials' end states to find its
    regime. Writes `out_dir/dynamics.json` and `out_dir/figures/dynamics_*.png`.

    Args:
        model: a trained ctxrnn model (one `CTRNN`).
        suite: its `TaskSuite` (`ctxrnn.zoo.suite_from_card(card)`).
        out_dir: directory to write into (created).
        progress: progress bar of each optimisation.
        n_per_task: validation trials per task.
        n_initial: candidates per context.
        noise: sd of the candidates' noise.
        free_run_steps: length of the free runs.
        seed: seed of trials and candidates.
        max_iters: optimisation steps at most.

    Returns:
        The summary written to `dynamics.json` (JSON-ready dict).

    Example:

    ```python
    model, suite = dynamics.load_target("jarne_context5")
    summary = dynamics.analyze(model, suite, "out/jarne_context5")
    summary["contexts"]["and"]["regime"]["regime"]
    ```
    """
    import pathlib

    from ctxrnn import io
    from ctxrnn.analysis import dynamics_figures, figures, regimes
    from ctxrnn.layers import hidden_states

    out = pathlib.Path(out_dir)
    network = NetworkMap.from_model(model)
    batch = suite.validation_data(n_per_task, seed=seeding.derive(seed, "validation"))
    trajectories = hidden_states(model, batch.inputs)
    conditions = regimes.context_inputs(suite)
    seeds = np.random.SeedSequence(seed).spawn(len(suite.task_names))
    pca = dynamics_figures.fit_pca(trajectories)
    summary: dict[str, Any] = {
        "units": network.n_units, "alpha": np.asarray(network.alpha).tolist(),
        "dt": network.dt, "leaky": network.leaky, "speed": "q = 0.5 ||f(z) - h||^2 (alpha-free)",
        "pca_explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
        "contexts": {}}
    dominance = regimes.eigen_dominance(network, trajectories)
    summary["eigen_dominance"] = {k: v for k, v in dominance.items() if k != "eigenvalues"}
    spectra, points, runs, regime_of, means = {}, [], {}, {}, {}
    for k, name in enumerate(suite.task_names):
        own = batch.task_ids == k
        means[name] = trajectories[own].mean(0)
        fixed, slow, unconverged = find_fixed_points(
            network, conditions[k], trajectories=trajectories[own], n_initial=n_initial,
            noise=noise, seed=seeds[k], progress=progress, max_iters=max_iters,
            return_unconverged=True)
        found = regimes.regime(network, conditions[k], trajectories[own][:, -1],
                               steps=free_run_steps)
        found.pop("final_states")
        runs[name] = network.simulate(trajectories[own][:3, -1], conditions[k], 400)
        regime_of[name] = found
        spectra[name] = fixed.eigenvalues
        points.append((name, fixed.states, fixed.stability))
        readout = network.read_out(fixed.states)
        summary["contexts"][name] = {
            "input": conditions[k].tolist(), "regime": found,
            "fixed_points": fixed.to_dict(readout=readout), "slow_points": slow.summary(),
            "unconverged": {**unconverged.summary(), "q": unconverged.q.tolist()},
            "pca_fixed_points": pca.transform(fixed.states).tolist() if len(fixed) else []}
    io.write_json(out / DYNAMICS_FILE, summary)
    made = {"dynamics_trajectories": dynamics_figures.trajectories_figure(pca, means, points),
            "dynamics_spectra": dynamics_figures.spectra_figure(spectra),
            "dynamics_regimes": dynamics_figures.regimes_figure(pca, runs, regime_of, network.dt)}
    for name, figure in made.items():
        png = figures.figure_to_png(figure)
        io.write_bytes(out / run_layout.FIGURES_DIR / f"{name}.png", png)
    return summary


def report_section(out_dir) -> str:
    """The HTML fragment of the report's dynamics section, from `analyze`'s files.

    Args:
        out_dir: the directory `analyze` wrote (`dynamics.json`, `figures/`).

    Returns:
        HTML (a table per context and the figures embedded as base64 PNG), to
        place inside `<section><h2>Dynamics</h2>...</section>`.
    """
    import base64
    import html
    import pathlib

    from ctxrnn import io

    out = pathlib.Path(out_dir)
    summary = io.read_json(out / DYNAMICS_FILE)
    rows = []
    for name, context in summary["contexts"].items():
        counts = context["fixed_points"]["summary"]
        found = context["regime"]
        period = "" if found["period_ms"] is None else f"{found['period_ms']:.0f}"
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (
            name, found["regime"], period, f"{found['amplitude']:.3g}", counts["n_stable"],
            counts["n_saddle"], counts["n_marginal"] + counts["n_unstable"],
            context["slow_points"]["n"],
            context.get("unconverged", {}).get("n_candidates", ""))) + "</tr>")
    header = "".join(f"<th>{title}</th>" for title in (
        "context", "regime", "period (ms)", "amplitude", "stable", "saddles",
        "marginal/unstable", "slow points", "unconverged candidates"))
    dominance = summary["eigen_dominance"]
    parts = [
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
        f"<p>{dominance['n_outside']} eigenvalues of W<sub>rec</sub> lie outside the unit "
        f"circle; their eigen-directions ({dominance['dimension']} real dimensions) hold "
        f"{100 * dominance['variance_fraction']:.1f} % of the activity's variance "
        f"(a random subspace of that dimension: {100 * dominance['chance_fraction']:.1f} %).</p>"]
    for name, caption in FIGURE_NAMES.items():
        path = out / run_layout.FIGURES_DIR / f"{name}.png"
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(caption)}" '
                         f'src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "".join(parts)
