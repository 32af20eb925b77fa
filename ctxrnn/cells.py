"""`CTRNNCell`: one Euler step of a continuous-time recurrent network."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

try:  # Keras has no public test for it
    from keras.src.backend.common.stateless_scope import in_stateless_scope
except ImportError:  # pragma: no cover - Keras internals moved
    def in_stateless_scope():
        return False

from ctxrnn import masks as masks_lib
from ctxrnn import seeding
from ctxrnn.checks import positive_int
from ctxrnn.constraints import MaskedUpdate, MinValue, PerNetwork
from ctxrnn.initializers import (
    resolve,
    resolve_kernel_initializer,
    resolve_recurrent_initializer,
)
from ctxrnn.noise import SAMPLERS, add_noise, add_stacked_noise

MASK_NAMES = (
    "recurrent_connectivity",
    "recurrent_plasticity",
    "kernel_connectivity",
    "kernel_plasticity",
)
# Key of the noise generator's state in the cell's saved variables (after "0", "1", ...).
_NOISE_STATE_KEY = "noise_seed_state"
#: Weights of a `CTRNNCell` that `frozen=` can make non-trainable.
FREEZABLE = ("kernel", "recurrent_kernel", "bias", "initial_state", "tau")


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"Argument `{name}` must be a positive number; received {name}={value!r}.")
    return float(value)


def _check_tau(tau, dt, units):
    array = np.asarray(tau, dtype=np.float64)
    if array.ndim not in (0, 1) or (array.ndim == 1 and array.shape != (units,)):
        raise ValueError(
            f"Argument `tau` must be a number or a sequence of {units} per-unit time "
            f"constants (ms); received shape {array.shape}."
        )
    if not np.all(np.isfinite(array)) or np.any(array < dt):
        raise ValueError(
            f"Argument `tau` must be finite and >= dt={dt} ms (alpha = dt / tau <= 1); "
            f"received tau={tau!r}. Lower `dt` or raise `tau`."
        )
    return float(array) if array.ndim == 0 else [float(v) for v in array]


def check_finite_weights(weights, owner: str):
    """Raises if an array of a `set_weights` list holds NaN or inf."""
    for array in weights:
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
            raise ValueError(
                f"Argument `weights` of {owner}.set_weights holds NaN or inf (an array "
                f"of shape {array.shape}); expected finite values."
            )


def _check_networks(networks):
    if networks is None:
        return None
    if isinstance(networks, bool) or not isinstance(networks, (int, np.integer)) or networks < 1:
        raise ValueError(
            f"Argument `networks` must be None (one network) or a positive integer; received "
            f"networks={networks!r}."
        )
    return int(networks)


def network_seeds(seed, networks: int | None):
    """The seeds of the K stacked networks of a cell (`None` for an unstacked cell).

    Args:
        seed: `None`, a non-negative int (network `k` gets
            `seeding.derive(seed, "network", k)`) or a sequence of K ints, one per
            network.
        networks: K, or `None` for one ordinary network.

    Returns:
        A list of K seeds (ints or `None`), or `None` when `networks` is `None`.
    """
    if networks is None:
        return None
    if seed is None:
        return [None] * networks
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = list(seed)
        if len(seeds) != networks or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
                for s in seeds):
            raise ValueError(
                f"Argument `seed` of a stack of {networks} networks must be one non-negative "
                f"int or {networks} of them, one per network; received seed={seed!r}."
            )
        return [int(s) for s in seeds]
    return [seeding.derive(seed, "network", k) for k in range(networks)]


def _stacked_initializer(initializers):
    """An initializer of a `(K, ...)` weight: network k's slice from `initializers[k]`."""
    def initialize(shape, dtype=None):
        return ops.stack([init(tuple(shape[1:]), dtype=dtype) for init in initializers])
    return initialize


def _check_rank(rank, units):
    if rank is None:
        return None
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 < rank <= units:
        raise ValueError(
            f"Argument `rank` must be None (full rank) or an integer in [1, units={units}]; "
            f"received rank={rank!r}."
        )
    return int(rank)


def _check_std(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(
            f"Argument `{name}` must be a non-negative standard deviation; received {name}={value!r}."
        )
    return float(value)


@keras.saving.register_keras_serializable(package="ctxrnn")
class CTRNNCell(keras.layers.Layer):
    """One Euler step of a continuous-time recurrent neural network.

    Computes, with `alpha = dt / tau`,

        h_{t+1} = (1 - alpha) * h_t + alpha * f(h_t @ W_rec + x_t @ W_in + b + noise)

    i.e. the Euler discretisation of `tau dh/dt = -h + f(W_rec^T h + W_in^T x + b)`.
    With `tau == dt` (alpha = 1) it is the discrete `tanh` network of MoLaP; with
    small alpha the continuous-time network of Jarne & Laje. Context inputs are
    ordinary input channels.

    **Noise.** `input_noise` and `recurrent_noise` are standard deviations. With
    `scale_noise=True` (default) each is multiplied by `sqrt(2 / alpha)` per step
    (Yang et al. 2019), the Euler-Maruyama discretisation of
    `tau dh = (-h + f(...)) dt + sigma sqrt(2 tau) dW`: a linear unit then
    fluctuates with stationary std `sigma / sqrt(1 - alpha / 2)` (≈ sigma for
    small alpha), independent of `dt`. Input noise uses the mean alpha.
    Noise acts in training only, unless `noise_at_inference=True`.

    **Masks** are non-trainable weights saved with the cell (see `ctxrnn.masks`):
    `recurrent_connectivity` / `kernel_connectivity` (1 where a connection
    exists; the forward pass uses `connectivity * W`) and `recurrent_plasticity`
    / `kernel_plasticity` (1 where an entry may learn). After every optimizer
    update a constraint restores frozen entries from a snapshot and zeroes
    absent ones, so frozen weights stay bit-identical under any optimizer
    (momentum, Adam, AdamW's decay) and the kernel you read back is the one
    the network uses. Change masks between `fit` calls with `set_masks`.

    **Low rank.** With `rank=R` the recurrent kernel is not a free `(N, N)`
    weight but `W_rec = n m^T / N` built from two trainable `(N, R)` loading
    matrices `recurrent_m` and `recurrent_n` (Dubreuil, Valente et al. 2022):
    unit i receives `m_i . (n^T h) / N`, so `m_i` is how strongly the latent
    variables `kappa = n^T h / N` drive unit i and `n_i` how much unit i's
    state feeds them. Loadings are O(1) whatever N (initialised N(0, 1)), so
    loadings drawn from the same distribution give the same dynamics at any
    size. Everything else (dynamics, noise, connectivity masks, saving, the
    fast path of `ctxrnn.CTRNN`) is the same code; `recurrent_kernel` is
    `None`, read `effective_recurrent_kernel`; `ctxrnn.CTRNN` steps the factors
    (`(h n / N) m^T`, O(B N R) a step) and forms the `(N, N)` kernel only while
    a recurrent entry is masked. A per-entry plasticity mask,
    Dale's law and `recurrent_constraint` do not apply to a factorised kernel
    and are refused; `frozen=("recurrent_kernel",)` freezes both loadings.

    This cell works inside `keras.layers.RNN` (one step per call, noise drawn
    per step); `ctxrnn.CTRNN` runs it much faster over whole sequences.

    Args:
        units: int, number of units N.
        dt: float, Euler step in ms. Default: `10.0`.
        tau: float or sequence of N floats, time constant(s) in ms, `>= dt`.
            Default: `100.0`.
        tau_trainable: bool, learn `tau` (kept `>= dt`). Default: `False`.
        activation: Keras activation name or callable (element-wise).
            Default: `"tanh"`.
        use_bias: bool. Default: `True`.
        kernel_initializer: initializer of `W_in`: `"standard_normal"` (N(0, 1))
            or any Keras initializer. Default: `"glorot_uniform"`.
        recurrent_initializer: `"orthogonal"`, `"gain_normal"` (`g N(0, 1/N)`),
            `"standard_normal"` (`g N(0, 1)`) or any Keras initializer; with
            `rank`, the initializer of each loading matrix. Default (`None`):
            `"orthogonal"`, with `rank` `"standard_normal"`.
        gain: float, gain `g` of the named recurrent initializers.
            Default: `1.0`.
        rank: `None` (a full `(N, N)` recurrent kernel) or an int R in
            `[1, N]`: the kernel is `n m^T / N` (see "Low rank" above).
            Default: `None`.
        bias_initializer, *_regularizer, *_constraint: as in Keras layers.
        input_noise: float, std of noise added to the inputs. Default: `0.0`.
        recurrent_noise: float, std of noise added to the pre-activation.
            Default: `0.0`.
        scale_noise: bool, multiply noise by `sqrt(2 / alpha)`. Default: `True`.
        noise_at_inference: bool, keep noise on outside training.
            Default: `False`.
        noise_sampler: `"table"` (fast) or `"exact"`; see `ctxrnn.noise`.
        initial_state_trainable: bool, learn the initial state `h_0`.
            Default: `False` (zeros).
        recurrent_connectivity, recurrent_plasticity, kernel_connectivity,
            kernel_plasticity: optional initial 0/1 masks (state, not config:
            they are saved as weights).
        recurrent_signs: optional `(N,)` array of +1/-1: Dale's law, unit i's
            outgoing weights keep sign `recurrent_signs[i]`
            (see `ctxrnn.masks.dale_signs`).
        seed: non-negative int or `None`, seeds the initializers and the noise
            (three `ctxrnn.seeding` streams of it: `kernel`, `recurrent_kernel`,
            `noise`). With `networks=K`, also a sequence of K ints: network k is
            then initialised and driven by noise exactly as an unstacked cell of
            seed `seed[k]` (an int seed gives network k the seed
            `seeding.derive(seed, "network", k)`).
        networks: `None` (one network) or K, the number of independent networks
            stacked on a leading axis: every weight and mask gains a leading
            dimension K (`kernel` `(K, channels, N)`, `recurrent_kernel`
            `(K, N, N)`, `bias` `(K, N)`, `tau` `(K, 1)` or `(K, N)`). A stacked
            cell runs only inside `ctxrnn.CTRNN`. Default: `None`.
        frozen: names of weights made non-trainable (`trainable = False`), a
            subset of `FREEZABLE`. The cell's config records which of them are
            frozen when it is saved (also when set later on the variable, as
            `ctxrnn.freeze` does), so a reloaded model learns the same weights.
            Default: `()`.

    Example:

    >>> cell = CTRNNCell(64, dt=10.0, tau=100.0)
    >>> layer = keras.layers.RNN(cell, return_sequences=True)
    """

    def __init__(
        self,
        units: int,
        dt: float = 10.0,
        tau: float | list[float] = 100.0,
        tau_trainable: bool = False,
        activation="tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        gain: float = 1.0,
        rank: int | None = None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        input_noise: float = 0.0,
        recurrent_noise: float = 0.0,
        scale_noise: bool = True,
        noise_at_inference: bool = False,
        noise_sampler: str = "table",
        initial_state_trainable: bool = False,
        dale: bool = False,
        seed: int | None = None,
        recurrent_connectivity=None,
        recurrent_plasticity=None,
        kernel_connectivity=None,
        kernel_plasticity=None,
        recurrent_signs=None,
        frozen=(),
        networks: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.networks = _check_networks(networks)
        positive_int("units", units)
        self.units = int(units)
        self.dt = _check_positive("dt", dt)
        self.tau = _check_tau(tau, self.dt, self.units)
        self.tau_trainable = bool(tau_trainable)
        self.activation = resolve("activation", activation, keras.activations.get)
        self.use_bias = bool(use_bias)
        self.network_seeds = network_seeds(seed, self.networks)
        self.seed = (list(self.network_seeds)
                     if isinstance(seed, (list, tuple, np.ndarray)) else seed)
        self.gain = _check_positive("gain", gain)
        self.rank = _check_rank(rank, self.units)
        if recurrent_initializer is None:
            recurrent_initializer = "orthogonal" if self.rank is None else "standard_normal"
        self._recurrent_initializer_id = recurrent_initializer
        self.kernel_initializer = resolve_kernel_initializer(kernel_initializer)
        seeds = [self.seed] if self.networks is None else self.network_seeds
        self._kernel_initializers = [
            self._seeded_initializer(self.kernel_initializer, s, "kernel") for s in seeds]
        self.kernel_initializer = self._kernel_initializers[0]
        if self.rank is None:
            self._recurrent_initializers = [
                resolve_recurrent_initializer(
                    recurrent_initializer, self.gain,
                    None if s is None else seeding.derive(s, "recurrent_kernel"))
                for s in seeds
            ]
            self.recurrent_initializer = self._recurrent_initializers[0]
        else:
            if self.networks is not None:
                raise ValueError(
                    f"Argument `rank` does not combine with `networks` yet: a stack of "
                    f"low-rank networks is not implemented; received rank={self.rank}, "
                    f"networks={self.networks}. Use one of them.")
            # m and n need their own seeds: one seeded initializer would draw n == m.
            self._loading_initializers = tuple(
                resolve_recurrent_initializer(
                    recurrent_initializer, self.gain,
                    None if seed is None else seeding.derive(seed, "recurrent_kernel", k))
                for k in (0, 1))
            self.recurrent_initializer = self._loading_initializers[0]
            refused = {"recurrent_plasticity": recurrent_plasticity, "dale": dale or None,
                       "recurrent_signs": recurrent_signs,
                       "recurrent_constraint": recurrent_constraint}
            for name, value in refused.items():
                if value is not None:
                    raise ValueError(
                        f"Argument `{name}` does not apply to a low-rank kernel (rank="
                        f"{self.rank}): W_rec = n m^T / N has no free entries; received "
                        f"{name}={value!r}. Drop it or use rank=None.")
        # A random bias without a seed of its own draws from each network's seed, as the
        # kernels do (one shared initializer gave every network of a stack the same bias);
        # a seed the user gave the initializer is kept.
        bias_initializer = resolve("bias_initializer", bias_initializer, keras.initializers.get)
        self._bias_initializers = (
            [bias_initializer] * len(seeds)
            if bias_initializer.get_config().get("seed") is not None
            else [self._seeded_initializer(bias_initializer, s, "bias") for s in seeds])
        self.bias_initializer = bias_initializer  # as given: get_config saves it
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_noise = _check_std("input_noise", input_noise)
        self.recurrent_noise = _check_std("recurrent_noise", recurrent_noise)
        self.scale_noise = bool(scale_noise)
        self.noise_at_inference = bool(noise_at_inference)
        if noise_sampler not in SAMPLERS:
            raise ValueError(
                f"Argument `noise_sampler` must be one of {SAMPLERS}; received {noise_sampler!r}."
            )
        self.noise_sampler = noise_sampler
        self.initial_state_trainable = bool(initial_state_trainable)
        self.dale = bool(dale) or recurrent_signs is not None
        self._pending_masks = {
            name: value
            for name, value in zip(
                MASK_NAMES,
                (recurrent_connectivity, recurrent_plasticity, kernel_connectivity, kernel_plasticity),
            )
            if value is not None
        }
        self._pending_signs = recurrent_signs
        frozen = [frozen] if isinstance(frozen, str) else list(frozen)
        unknown = sorted(set(frozen) - set(FREEZABLE))
        if unknown:
            raise ValueError(
                f"Argument `frozen` must name weights among {FREEZABLE}; received {frozen!r}."
            )
        self._frozen = tuple(name for name in FREEZABLE if name in frozen)
        # One noise generator per network, seeded as an unstacked cell of its seed.
        self.seed_generators = [
            keras.random.SeedGenerator(None if s is None else seeding.derive(s, "noise"))
            for s in seeds
        ]
        self.seed_generator = self.seed_generators[0]
        self.state_size = self.units
        self.output_size = self.units

    def _seeded_initializer(self, initializer, seed, stream: str):
        """`initializer` (one that takes a seed) for one network: drawing from `seed`'s
        `stream`, or a fresh copy (its own default seed) when `seed` is None."""
        config = initializer.get_config()
        if "seed" not in config:
            return initializer
        if seed is not None:
            config = {**config, "seed": seeding.derive(seed, stream)}
        elif self.networks is None:
            return initializer
        return type(initializer).from_config(config)

    def _initializer(self, per_network):
        """`per_network` (a list, one initializer per network, or one for all) as the
        initializer of a weight of this cell."""
        if self.networks is None:
            return per_network[0] if isinstance(per_network, list) else per_network
        if not isinstance(per_network, list):
            per_network = [keras.initializers.get(per_network)] * self.networks
        return _stacked_initializer(per_network)

    def _network_constraint(self, constraint):
        """The user's `constraint` of one network's weight, applied per network when stacked."""
        if constraint is None or self.networks is None:
            return constraint
        return PerNetwork(constraint)

    @property
    def _lead(self) -> tuple[int, ...]:
        """The leading shape of every weight: `(K,)` when stacked, else `()`."""
        return () if self.networks is None else (self.networks,)

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                "The last (channel) dimension of the inputs of a CTRNNCell must be known; "
                f"received input_shape={input_shape}."
            )
        n, lead = self.units, self._lead
        self.kernel = self.add_weight(
            shape=(*lead, input_dim, n), name="kernel",
            initializer=self._initializer(self._kernel_initializers),
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.recurrent_m = self.recurrent_n = None
        if self.rank is None:
            self.recurrent_kernel = self.add_weight(
                shape=(*lead, n, n), name="recurrent_kernel",
                initializer=self._initializer(self._recurrent_initializers),
                regularizer=self.recurrent_regularizer,
            )
        else:
            self.recurrent_m, self.recurrent_n = (
                self.add_weight(shape=(n, self.rank), name=f"recurrent_{side}",
                                initializer=initializer, regularizer=self.recurrent_regularizer)
                for side, initializer in zip("mn", self._loading_initializers))
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(*lead, n), name="bias", initializer=self._initializer(self._bias_initializers),
                regularizer=self.bias_regularizer,
                constraint=self._network_constraint(self.bias_constraint),
            )
        # A stacked scalar tau is (K, 1), so that alpha broadcasts over units.
        tau_shape = (() if isinstance(self.tau, float) else (n,)) if not lead else (
            (*lead, 1) if isinstance(self.tau, float) else (*lead, n))
        self.tau_weight = self.add_weight(
            shape=tau_shape, name="tau", initializer=keras.initializers.Constant(self.tau),
            trainable=self.tau_trainable, constraint=MinValue(self.dt),
        )
        self.initial_state = None
        if self.initial_state_trainable:
            self.initial_state = self.add_weight(
                shape=(*lead, n), name="initial_state", initializer="zeros")
        # A low-rank kernel has a connectivity mask (pruning, lesions) but no free
        # entries to freeze one by one: no plasticity mask, no snapshot.
        self.recurrent_plasticity = self.recurrent_snapshot = None
        for name, shape in (("recurrent", (*lead, n, n)), ("kernel", (*lead, input_dim, n))):
            kinds = ("connectivity",) if name == "recurrent" and self.rank else (
                "connectivity", "plasticity", "snapshot")
            for kind in kinds:
                setattr(self, f"{name}_{kind}", self.add_weight(
                    shape=shape, name=f"{name}_{kind}",
                    initializer="zeros" if kind == "snapshot" else "ones", trainable=False))
        self.recurrent_signs = None
        if self.dale:
            self.recurrent_signs = self.add_weight(
                shape=(*lead, n), name="recurrent_signs", initializer="ones", trainable=False)
        if self.recurrent_kernel is not None:
            self.recurrent_kernel.constraint = MaskedUpdate(
                self.recurrent_connectivity, self.recurrent_plasticity, self.recurrent_snapshot,
                self.recurrent_signs, self._network_constraint(self.recurrent_constraint),
            )
        self.kernel.constraint = MaskedUpdate(
            self.kernel_connectivity, self.kernel_plasticity, self.kernel_snapshot,
            None, self._network_constraint(self.kernel_constraint),
        )
        for name in self._frozen:
            for weight in self._freezable_weights(name):
                weight.trainable = False
        # A subclassed model is first built while `fit` traces it symbolically, in a
        # stateless scope: there the new variables hold no values yet and assignments
        # are dropped, so the checks and projections wait for the first real call.
        self._initial_projection_pending = True
        self._maybe_project_initial_weights()

    def _maybe_project_initial_weights(self):
        """Once the variables hold values: refuses NaN/inf initial weights and applies
        the constructor's Dale signs and masks (eagerly, also from a traced call)."""
        if not getattr(self, "_initial_projection_pending", False) or in_stateless_scope():
            return
        self._initial_projection_pending = False
        with tf.init_scope():
            self._project_initial_weights()

    def _project_initial_weights(self):
        for weight in (self.kernel, self.recurrent_kernel, self.recurrent_m, self.recurrent_n,
                       self.bias):
            if weight is not None and not np.all(np.isfinite(ops.convert_to_numpy(weight))):
                raise ValueError(
                    f"The initial `{weight.name}` of {self.name} holds NaN or inf; check its "
                    "initializer."
                )
        if self.dale:
            # Default signs are all +1: project the initial kernel onto them too, so
            # the kernel used before the first update already obeys Dale's law.
            signs = (self._pending_signs if self._pending_signs is not None
                     else np.ones((*self._lead, self.units)))
            self.set_recurrent_signs(signs)
        # Not `set_masks`: before `built` is set it would only queue them.
        self._assign_masks(self._pending_masks)
        self._pending_masks, self._pending_signs = {}, None

    # ------------------------------------------------------------------ masks
    def set_masks(self, **new_masks):
        """Replaces masks, validated, between `fit` calls.

        Args:
            **new_masks: any of `recurrent_connectivity`, `recurrent_plasticity`,
                `kernel_connectivity`, `kernel_plasticity`: arrays of 0/1 (or
                bool) with the shape of the matching kernel. A stacked cell takes
                `(K, ...)` masks, one per network, or one network's shape for all.

        Absent connections are zeroed in the kernel at once (a removed
        connection that is restored later starts from 0); the frozen entries'
        snapshot is refreshed from the current kernels.
        """
        unknown = set(new_masks) - set(MASK_NAMES)
        if unknown:
            raise ValueError(
                f"Unknown mask name(s) {sorted(unknown)}; expected some of {list(MASK_NAMES)}."
            )
        if not self.built:
            self._pending_masks.update({k: v for k, v in new_masks.items() if v is not None})
            return
        self._maybe_project_initial_weights()
        self._assign_masks(new_masks)

    def _assign_masks(self, new_masks):
        """Validates and assigns masks (the variables must exist), then commits."""
        checked = {}
        for name, value in new_masks.items():
            if value is None:
                continue
            variable = getattr(self, name)
            if variable is None:
                raise ValueError(
                    f"Argument `{name}` does not apply to a low-rank kernel (rank={self.rank}); "
                    "only `recurrent_connectivity` masks its entries.")
            shape = tuple(variable.shape)
            if self.networks is not None and np.shape(value) == shape[1:]:
                # One mask for every network of the stack.
                value = np.broadcast_to(np.asarray(value), shape)
            checked[name] = masks_lib.validate_mask(value, shape, name)
        for name, value in checked.items():
            getattr(self, name).assign(value)
        self._commit_kernels()

    def set_recurrent_signs(self, signs):
        """Sets Dale's-law signs (+1/-1 per unit) and projects the kernel onto them.

        The magnitudes of the current recurrent kernel are kept and each row
        takes its unit's sign.
        """
        if not self.dale:
            raise ValueError(f"{self.name} was built without Dale's law; pass `dale=True`.")
        self._maybe_project_initial_weights()
        signs = np.asarray(signs, dtype=np.float32)
        shape = (*self._lead, self.units)
        if signs.shape not in (shape, (self.units,)) or not np.all(np.isin(signs, (-1.0, 1.0))):
            expected = f"{self.units}" + ("" if self.networks is None else f" or {shape}")
            raise ValueError(
                f"Argument `recurrent_signs` must be {expected} values of +1 or -1; received "
                f"shape {signs.shape} with values {np.unique(signs)[:5].tolist()}."
            )
        signs = np.broadcast_to(signs, shape)
        self.recurrent_signs.assign(signs)
        magnitude = np.abs(ops.convert_to_numpy(self.recurrent_kernel))
        self.recurrent_kernel.assign(magnitude * signs[..., :, None])
        self._commit_kernels()

    def _commit_kernels(self):
        """Zeroes absent entries and makes the snapshot match the kernels."""
        for kernel, connectivity, snapshot in (
            (self.recurrent_kernel, self.recurrent_connectivity, self.recurrent_snapshot),
            (self.kernel, self.kernel_connectivity, self.kernel_snapshot),
        ):
            if kernel is None:  # low rank: the mask is applied in the forward pass
                continue
            kernel.assign(kernel * connectivity)
            snapshot.assign(kernel)

    def set_weights(self, weights):
        """Sets the weights from numpy arrays, refusing NaN/inf, then commits the kernels.

        The snapshot of frozen entries is refreshed from the kernels given here
        (absent entries are zeroed), so training keeps those values frozen.
        """
        check_finite_weights(weights, self.name)
        self._maybe_project_initial_weights()
        super().set_weights(weights)
        self._commit_kernels()

    def get_masks(self) -> dict[str, np.ndarray]:
        """Returns the masks as numpy arrays (all four; three with `rank`)."""
        return {name: ops.convert_to_numpy(getattr(self, name)) for name in MASK_NAMES
                if getattr(self, name) is not None}

    # ---------------------------------------------------------- saved state
    def save_own_variables(self, store):
        """Saves the weights, then the noise generator's state.

        The state is saved so that a model reloaded (or restored by
        `keras.callbacks.BackupAndRestore`) continues the same noise sequence.
        """
        super().save_own_variables(store)
        if self.networks is None:
            store[_NOISE_STATE_KEY] = self.seed_generator.state
        else:
            store[_NOISE_STATE_KEY] = np.stack(
                [ops.convert_to_numpy(g.state) for g in self.seed_generators])

    def load_own_variables(self, store):
        """Loads the weights and, when the file has it, the noise generator's state.

        Files saved before the state was saved load as before (the generator
        keeps the state it was seeded with).
        """
        # Loaded values replace the initial ones: nothing is left to project.
        self._initial_projection_pending = False
        keys = list(store.keys())
        if _NOISE_STATE_KEY in keys:
            states = np.asarray(store[_NOISE_STATE_KEY])
            for generator, state in zip(self.seed_generators,
                                        states if self.networks is not None else [states]):
                generator.state.assign(state)
            store = {key: store[key] for key in keys if key != _NOISE_STATE_KEY}
        super().load_own_variables(store)

    # -------------------------------------------------------------- dynamics
    @property
    def alpha(self):
        """`dt / tau`, a scalar or `(units,)` tensor."""
        return self.dt / self.tau_weight

    @property
    def leaky(self) -> bool:
        """`False` when alpha is exactly 1 and fixed (the discrete network)."""
        return self.tau_trainable or not (isinstance(self.tau, float) and self.tau == self.dt)

    @property
    def effective_kernel(self):
        return self.kernel_connectivity * self.kernel

    @property
    def effective_recurrent_kernel(self):
        if self.rank is None:
            return self.recurrent_connectivity * self.recurrent_kernel
        low_rank = ops.matmul(self.recurrent_n, ops.transpose(self.recurrent_m)) / self.units
        return self.recurrent_connectivity * low_rank

    def noise_active(self, training) -> bool:
        return bool(training) or self.noise_at_inference

    def noise_std(self, sigma):
        """Per-step noise std: `sigma * sqrt(2 / alpha)` when `scale_noise`."""
        if not self.scale_noise:
            return sigma
        return sigma * ops.sqrt(2.0 / self.alpha)

    def input_noise_std(self):
        """Per-step input-noise std (scalar; `(K, 1)` when stacked)."""
        if not self.scale_noise:
            return self.input_noise
        mean_alpha = (ops.mean(self.alpha) if self.networks is None
                      else ops.mean(self.alpha, axis=-1, keepdims=True))
        return self.input_noise * ops.sqrt(2.0 / mean_alpha)

    def add_noise(self, values, std):
        """`values` plus `std` times fresh standard normals from this cell's seed stream."""
        seed = ops.cast(self.seed_generator.next(), "int32")
        return add_noise(values, std, seed, sampler=self.noise_sampler)

    def next_stacked_seeds(self, draws: int = 1) -> list:
        """The next `draws` stateless seeds of each stacked network's generator.

        What `draws` calls of each generator's `next()` give, as `draws` int32
        `(K, 2)` tensors, with one read and one update per generator (K calls of
        `next()` each were a large part of tracing a stacked training step).
        """
        states = [generator.state for generator in self.seed_generators]
        seeds = ops.cast(ops.stack([state.value for state in states]), "int32")
        for state in states:
            state.assign_add(ops.convert_to_tensor([0, draws], dtype=state.dtype))
        return [seeds + ops.convert_to_tensor([0, i], "int32") for i in range(draws)]

    def add_stacked_noise(self, values, std, seeds):
        """Network-major `(k, ...)` `values` plus noise: network i's slice gets the draw of
        `seeds[i]` (from `next_stacked_seeds`), as an unstacked cell of its seed adds it."""
        return add_stacked_noise(values, std, seeds, 0, sampler=self.noise_sampler)

    def get_initial_state(self, batch_size=None):
        shape = (*self._lead, batch_size, self.units)
        if self.initial_state is not None:
            initial = self.initial_state if self.networks is None else self.initial_state[:, None]
            return [ops.cast(ops.broadcast_to(initial, shape), self.compute_dtype)]
        return [ops.zeros(shape, dtype=self.compute_dtype)]

    def call(self, inputs, states, training=False):
        if self.networks is not None:
            raise ValueError(
                f"{self.name} stacks {self.networks} networks (networks={self.networks}); a "
                "stacked cell runs only inside ctxrnn.CTRNN, not keras.layers.RNN."
            )
        self._maybe_project_initial_weights()
        h = states[0] if isinstance(states, (list, tuple)) else states
        x = inputs
        noisy = self.noise_active(training)
        if noisy and self.input_noise > 0:
            x = self.add_noise(x, self.input_noise_std())
        z = ops.matmul(x, self.effective_kernel) + ops.matmul(h, self.effective_recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        if noisy and self.recurrent_noise > 0:
            z = self.add_noise(z, self.noise_std(self.recurrent_noise))
        r = self.activation(z)
        h_new = h + self.alpha * (r - h) if self.leaky else r
        return h_new, ([h_new] if isinstance(states, (list, tuple)) else h_new)

    def _freezable_weights(self, name) -> list:
        if name == "recurrent_kernel" and self.rank is not None:
            return [self.recurrent_m, self.recurrent_n]
        weight = getattr(self, "tau_weight" if name == "tau" else name, None)
        return [] if weight is None else [weight]

    def _frozen_now(self) -> list[str]:
        """Names in `FREEZABLE` whose variable exists and is not trainable (a `tau`
        that is not `tau_trainable` is a constant, not a frozen weight)."""
        if not self.built:
            return list(self._frozen)
        return [name for name in FREEZABLE
                if (weights := self._freezable_weights(name))
                and not any(weight.trainable for weight in weights)
                and (name != "tau" or self.tau_trainable)]

    # --------------------------------------------------------------- config
    def get_config(self):
        config = {
            "units": self.units,
            "dt": self.dt,
            "tau": self.tau,
            "tau_trainable": self.tau_trainable,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": (
                self._recurrent_initializer_id
                if isinstance(self._recurrent_initializer_id, str)
                else keras.initializers.serialize(self.recurrent_initializer)
            ),
            "gain": self.gain,
            "rank": self.rank,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "input_noise": self.input_noise,
            "recurrent_noise": self.recurrent_noise,
            "scale_noise": self.scale_noise,
            "noise_at_inference": self.noise_at_inference,
            "noise_sampler": self.noise_sampler,
            "initial_state_trainable": self.initial_state_trainable,
            "dale": self.dale,
            "seed": self.seed,
            "frozen": self._frozen_now(),
            "networks": self.networks,
        }
        return {**super().get_config(), **config}


def stationary_noise_std(sigma: float, alpha: float) -> float:
    """Stationary std of a linear, unconnected unit driven by the cell's noise.

    `h <- (1 - alpha) h + alpha * sqrt(2 / alpha) * sigma * xi` has variance
    `sigma**2 / (1 - alpha / 2)`.
    """
    return sigma / math.sqrt(1.0 - alpha / 2.0)
