"""`CTRNN`: a continuous-time recurrent layer with a fast training path."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from ctxrnn import recurrence
from ctxrnn._startup import inter_op_threads
from ctxrnn.cells import CTRNNCell, check_finite_weights


def _in_xla_cluster() -> bool:
    """True when the current graph is being compiled whole by XLA."""
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - TF internals moved
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


@keras.saving.register_keras_serializable(package="ctxrnn")
class CTRNN(keras.layers.Layer):
    """Continuous-time recurrent layer: runs a `CTRNNCell` over a sequence.

    The dynamics, noise, masks and arguments are those of `CTRNNCell` (all its
    arguments are accepted here). The layer does not step the cell through
    `keras.layers.RNN`: it projects the inputs of all steps at once, draws the
    noise for all steps at once, and runs forward and backward passes as two
    compiled loops with a hand-written gradient (`ctxrnn.recurrence`). The
    result equals `keras.layers.RNN(cell)` (noise off) and trains at the speed
    of `keras.layers.SimpleRNN` under a plain `compile`/`fit`.

    **Stacked networks.** With `networks=K` the layer holds K independent
    networks with a leading network axis on every weight and mask (see
    `CTRNNCell`): the same loops run all K at once as batched matmuls. Inputs
    are `(batch, time, channels)` (shared by the K networks) or `(batch, K,
    time, channels)` (one input per network); states are `(batch, K, time,
    units)`. Train a stack with `ctxrnn.StackedModel` (per-network summed loss
    and gradient clipping) and take it apart with `StackedModel.unstack`.

    Keep Keras' default `jit_compile="auto"` (which does not use XLA on CPU):
    compiling the whole training step with XLA makes RNN training several times
    slower on CPU, and the layer warns if that is forced.

    Args:
        units: int, number of units.
        return_sequences: bool, return the state at every step `(batch, time,
            units)` (the hidden-state sequence, for a readout or for analysis)
            or only the last `(batch, units)`. Default: `True`.
        return_state: bool, also return the final state. Default: `False`.
        **cell_kwargs: arguments of `CTRNNCell` (`dt`, `tau`, `activation`,
            `recurrent_noise`, masks, ...).

    Call arguments:
        inputs: `(batch, time, channels)` tensor; with `networks=K` also
            `(batch, K, time, channels)`.
        initial_state: optional `(batch, units)` tensor (or a one-element list);
            `(batch, K, units)` with `networks=K`.
        training: bool, turns noise on.
        mask: optional `(batch, time)` boolean tensor (given by a `Masking` or
            `Embedding(mask_zero=True)` layer before this one, or passed
            explicitly). As in `keras.layers.RNN`, a masked step carries the
            previous state forward, and the output at a masked step is the
            output of the last unmasked step (zeros before the first one).

    Example:

    ```python
    inputs = keras.Input((100, 3))
    states = ctxrnn.CTRNN(100, dt=10.0, tau=100.0, recurrent_noise=0.05)(inputs)
    outputs = keras.layers.Dense(1, name="readout")(states)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    ```
    """

    def __init__(self, units: int, return_sequences: bool = True, return_state: bool = False,
                 **cell_kwargs):
        base_kwargs = {
            key: cell_kwargs.pop(key)
            for key in ("name", "dtype", "trainable", "autocast", "activity_regularizer")
            if key in cell_kwargs
        }
        super().__init__(**base_kwargs)
        self.cell = CTRNNCell(units, name="cell", **cell_kwargs)
        self.units = self.cell.units
        self.networks = self.cell.networks
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.input_spec = (keras.layers.InputSpec(ndim=3) if self.networks is None
                           else keras.layers.InputSpec(min_ndim=3, max_ndim=4))
        self.supports_masking = True
        self._warned_xla = False

    def build(self, input_shape):
        per_network = (self.networks is not None and len(input_shape) == 4
                       and input_shape[1] == self.networks)
        if len(input_shape) != 3 and not per_network:
            expected = "(batch, time, channels)" + (
                "" if self.networks is None
                else f" or (batch, {self.networks}, time, channels)")
            raise ValueError(
                f"{self.name} expects inputs of shape {expected}; received "
                f"input_shape={tuple(input_shape)}."
            )
        self.cell.build((input_shape[0], input_shape[-1]))
        self.input_spec = keras.layers.InputSpec(ndim=len(input_shape),
                                                 axes={-1: input_shape[-1]})

    # The cell's weights, masks and mask setters, read through the layer.
    @property
    def kernel(self):
        """The input kernel `W_in`, `(channels, units)` (the cell's)."""
        return self.cell.kernel

    @property
    def recurrent_kernel(self):
        """The recurrent kernel `W_rec`, `(units, units)` (the cell's); `None` with `rank`."""
        return self.cell.recurrent_kernel

    @property
    def rank(self):
        """`None` (full rank) or R, the rank of `W_rec = n m^T / N` (the cell's)."""
        return self.cell.rank

    @property
    def recurrent_m(self):
        """With `rank`, the `(units, R)` loadings `m` (unit i gets `m_i . kappa`), else `None`."""
        return self.cell.recurrent_m

    @property
    def recurrent_n(self):
        """With `rank`, the `(units, R)` loadings `n` (`kappa = n^T h / N`), else `None`."""
        return self.cell.recurrent_n

    @property
    def bias(self):
        """The bias `(units,)`, or `None` without `use_bias` (the cell's)."""
        return self.cell.bias

    @property
    def tau_weight(self):
        """The time-constant variable (ms), scalar or `(units,)` (the cell's)."""
        return self.cell.tau_weight

    @property
    def initial_state(self):
        """The trainable initial state `(units,)`, or `None` (zeros) (the cell's)."""
        return self.cell.initial_state

    @property
    def recurrent_signs(self):
        """Dale's-law signs `(units,)`, or `None` without `dale` (the cell's)."""
        return self.cell.recurrent_signs

    @property
    def recurrent_connectivity(self):
        """0/1 mask of the recurrent connections that exist (the cell's)."""
        return self.cell.recurrent_connectivity

    @property
    def recurrent_plasticity(self):
        """0/1 mask of the recurrent entries that may learn (the cell's)."""
        return self.cell.recurrent_plasticity

    @property
    def kernel_connectivity(self):
        """0/1 mask of the input connections that exist (the cell's)."""
        return self.cell.kernel_connectivity

    @property
    def kernel_plasticity(self):
        """0/1 mask of the input entries that may learn (the cell's)."""
        return self.cell.kernel_plasticity

    @property
    def alpha(self):
        """`dt / tau`, a scalar or `(units,)` tensor (the cell's)."""
        return self.cell.alpha

    @property
    def dt(self):
        """The Euler step in ms (the cell's)."""
        return self.cell.dt

    @property
    def tau(self):
        """The configured time constant(s) in ms (the cell's)."""
        return self.cell.tau

    @property
    def effective_kernel(self):
        """`kernel_connectivity * kernel`, the input kernel the network uses."""
        return self.cell.effective_kernel

    @property
    def effective_recurrent_kernel(self):
        """`recurrent_connectivity * recurrent_kernel`, the recurrent kernel the network uses."""
        return self.cell.effective_recurrent_kernel

    def set_masks(self, **new_masks):
        """Replaces masks between `fit` calls; see `CTRNNCell.set_masks`."""
        return self.cell.set_masks(**new_masks)

    def get_masks(self) -> dict[str, np.ndarray]:
        """Returns the four masks as numpy arrays; see `CTRNNCell.get_masks`."""
        return self.cell.get_masks()

    def set_recurrent_signs(self, signs):
        """Sets Dale's-law signs and projects the kernel; see `CTRNNCell.set_recurrent_signs`."""
        return self.cell.set_recurrent_signs(signs)

    def effective_weights(self) -> dict[str, np.ndarray]:
        """The weights the network uses (masks applied), as numpy arrays."""
        cell = self.cell
        weights = {
            "kernel": keras.ops.convert_to_numpy(cell.effective_kernel),
            "recurrent_kernel": keras.ops.convert_to_numpy(cell.effective_recurrent_kernel),
            "tau": keras.ops.convert_to_numpy(cell.tau_weight),
        }
        if cell.bias is not None:
            weights["bias"] = keras.ops.convert_to_numpy(cell.bias)
        if cell.rank is not None:
            weights["recurrent_m"] = keras.ops.convert_to_numpy(cell.recurrent_m)
            weights["recurrent_n"] = keras.ops.convert_to_numpy(cell.recurrent_n)
        return weights

    def set_weights(self, weights):
        """Sets the cell's weights (NaN/inf refused); frozen entries keep the given values."""
        check_finite_weights(weights, self.name)
        self.cell._maybe_project_initial_weights()
        super().set_weights(weights)
        self.cell._commit_kernels()

    # ------------------------------------------------------------- forward
    def _warn_if_xla_on_cpu(self):
        if self._warned_xla or not _in_xla_cluster():
            return
        if not tf.config.list_physical_devices("GPU"):
            warnings.warn(
                "CTRNN is being compiled with XLA on a CPU (jit_compile=True): RNN training "
                "steps are several times slower that way. Use model.compile(jit_compile=False) "
                "or the default 'auto'.",
                stacklevel=3,
            )
            self._warned_xla = True

    def call(self, inputs, initial_state=None, training=False, mask=None):
        self._warn_if_xla_on_cpu()
        if self.networks is not None:
            return self._call_stacked(inputs, initial_state, training, mask)
        cell = self.cell
        cell._maybe_project_initial_weights()
        if training:
            # Frozen entries are restored to their value at the start of the step,
            # whatever assigned the kernels since (keras.Model.set_weights included).
            if cell.recurrent_kernel is not None:
                cell.recurrent_snapshot.assign(cell.recurrent_kernel)
            cell.kernel_snapshot.assign(cell.kernel)
        x_tbi = tf.transpose(inputs, [1, 0, 2])
        dtype = x_tbi.dtype
        noisy = cell.noise_active(training)
        if noisy and cell.input_noise > 0:
            x_tbi = cell.add_noise(x_tbi, cell.input_noise_std())
        kernel = tf.cast(cell.effective_kernel, dtype)
        if cell.bias is not None:
            x_tbi, kernel = _bias_as_input(x_tbi, kernel, tf.cast(cell.bias, dtype))
        u_tbn = tf.matmul(x_tbi, kernel)
        if noisy and cell.recurrent_noise > 0:
            u_tbn = cell.add_noise(u_tbn, cell.noise_std(cell.recurrent_noise))
        batch_size = tf.shape(inputs)[0]
        if initial_state is None:
            h0 = cell.get_initial_state(batch_size)[0]
        else:
            h0 = self._checked_initial_state(initial_state, (self.cell.units,))
        h0 = tf.cast(h0, dtype)
        name = self._activation_name()
        step_mask = None if mask is None else self._step_mask(mask, inputs, dtype)

        def run(kernel):
            return recurrence.run(
                u_tbn, h0, kernel, tf.cast(cell.alpha, dtype), cell.activation, name,
                leaky=cell.leaky, alpha_trainable=cell.tau_trainable, mask=step_mask,
            )

        if cell.rank is None:
            states_tbn = run(tf.cast(cell.effective_recurrent_kernel, dtype))
        else:
            # W = n m^T / N: while no entry is masked (no pruning, no lesion) the loops
            # take the two factors and never form the (N, N) kernel; a masked low-rank
            # kernel runs dense. The choice is made on the mask's value at run time, so
            # set_masks between fits needs no retracing.
            factors = (tf.cast(cell.recurrent_n / cell.units, dtype),
                       tf.cast(tf.transpose(cell.recurrent_m), dtype))
            states_tbn = tf.cond(
                tf.reduce_all(tf.equal(cell.recurrent_connectivity, 1.0)),
                lambda: run(factors),
                lambda: run(tf.cast(cell.effective_recurrent_kernel, dtype)),
            )
        last = states_tbn[-1]
        outputs_tbn = states_tbn
        if step_mask is not None:
            # keras.layers.RNN's output at a masked step is the previous output, which
            # starts from zeros (not h0): zero the steps before the first unmasked one.
            outputs_tbn = states_tbn * tf.cast(tf.cumsum(step_mask, axis=0) > 0, dtype)
        output = tf.transpose(outputs_tbn, [1, 0, 2]) if self.return_sequences else outputs_tbn[-1]
        return (output, last) if self.return_state else output

    def _checked_initial_state(self, initial_state, shape):
        """The `initial_state` tensor, checked to be `(batch, *shape)`."""
        h0 = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        h0 = tf.convert_to_tensor(h0)
        given = tuple(h0.shape)
        if len(given) != len(shape) + 1 or any(
                size is not None and size != expected for size, expected in zip(given[1:], shape)):
            raise ValueError(
                f"{self.name}: `initial_state` must be (batch, {', '.join(map(str, shape))}); "
                f"received initial_state of shape {given}.")
        return h0

    def _call_stacked(self, inputs, initial_state, training, mask):
        """`call` of K stacked networks: network-major arrays `(K, T, B, ...)`."""
        cell, networks = self.cell, self.networks
        if mask is not None:
            raise ValueError(
                f"{self.name} stacks {networks} networks; Keras masks (Masking layers, "
                "`mask=`) are supported only with networks=None. Received a mask."
            )
        cell._maybe_project_initial_weights()
        if training:
            cell.recurrent_snapshot.assign(cell.recurrent_kernel)
            cell.kernel_snapshot.assign(cell.kernel)
        per_network = inputs.shape.rank == 4
        dtype = inputs.dtype
        noisy = cell.noise_active(training)
        # Network-major (K, T, B, ...) from here to the states: each network's noise is
        # then one contiguous draw, and the recurrence's kernel gradient needs no transpose.
        x = (tf.transpose(inputs, [1, 2, 0, 3]) if per_network
             else tf.transpose(inputs, [1, 0, 2])[None])
        x = tf.broadcast_to(x, tf.concat([[networks], tf.shape(x)[1:]], 0))
        if initial_state is None:
            h0 = cell.get_initial_state(tf.shape(inputs)[0])[0]
        else:
            h0 = self._checked_initial_state(initial_state, (networks, cell.units))
            h0 = tf.transpose(h0, [1, 0, 2])
        # Each network draws its own noise as an unstacked cell would: input noise
        # from each generator first, then recurrent noise, as the cell steps.
        input_noise = recurrent_noise = None
        noises = [noisy and cell.input_noise > 0, noisy and cell.recurrent_noise > 0]
        seeds = iter(cell.next_stacked_seeds(sum(noises)) if any(noises) else [])
        if noises[0]:
            input_noise = (_broadcast_per_network(cell.input_noise_std(), dtype, axes=2),
                           next(seeds))
        if noises[1]:
            recurrent_noise = (
                _broadcast_per_network(cell.noise_std(cell.recurrent_noise), dtype, axes=2),
                next(seeds))
        bias = None if cell.bias is None else tf.cast(cell.bias, dtype)
        arrays = (x, tf.cast(cell.effective_kernel, dtype), bias, tf.cast(h0, dtype),
                  tf.cast(cell.effective_recurrent_kernel, dtype),
                  _broadcast_per_network(cell.alpha, dtype))
        groups = [self._run_networks(*(_network_slice(a, part) for a in arrays),
                                     _noise_slice(input_noise, part),
                                     _noise_slice(recurrent_noise, part))
                  for part in network_groups(networks, _parallel_threads())]
        states = groups[0] if len(groups) == 1 else tf.concat(groups, axis=1)
        last = states[:, :, -1]
        output = states if self.return_sequences else last
        return (output, last) if self.return_state else output

    def _run_networks(self, x, kernel, bias, h0, w, alpha, input_noise, recurrent_noise):
        """Noise, input projection and recurrence of one group of stacked networks, from
        their network-major inputs `(k, T, B, C)`: their states `(B, k, T, N)`."""
        cell = self.cell
        if input_noise is not None:
            x = cell.add_stacked_noise(x, *input_noise)
        if bias is not None:
            x, kernel = _bias_as_input(x, kernel, bias)
        shape = tf.shape(x)
        u = tf.matmul(tf.reshape(x, [x.shape[0], -1, shape[-1]]), kernel)
        u = tf.reshape(u, tf.concat([shape[:-1], [cell.units]], 0))
        if recurrent_noise is not None:
            u = cell.add_stacked_noise(u, *recurrent_noise)
        return recurrence.run_stacked(
            u, h0, w, alpha, cell.activation, self._activation_name(),
            leaky=cell.leaky, alpha_trainable=cell.tau_trainable)

    def _activation_name(self):
        """The activation's Keras name when it is a built-in one, else `None`."""
        activation = self.cell.activation
        name = getattr(activation, "__name__", None)
        if name is None or keras.activations.get(name) is not activation:
            return None
        return name

    def _step_mask(self, mask, inputs, dtype):
        """A `(batch, time)` Keras mask as a `(time, batch, 1)` 0/1 tensor."""
        mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        mask = tf.convert_to_tensor(mask)
        if mask.shape.rank != 2:
            raise ValueError(
                f"Argument `mask` of {self.name} must be a (batch, time) boolean tensor; "
                f"received shape {tuple(mask.shape)} for inputs of shape {tuple(inputs.shape)}."
            )
        return tf.transpose(tf.cast(mask, dtype))[:, :, None]

    def compute_mask(self, inputs, mask=None):
        mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        output_mask = mask if self.return_sequences else None
        return [output_mask, None] if self.return_state else output_mask

    def compute_output_shape(self, input_shape):
        batch, time = input_shape[0], input_shape[-2]
        lead = () if self.networks is None else (self.networks,)
        last = (batch, *lead, self.units)
        output = (batch, *lead, time, self.units) if self.return_sequences else last
        return (output, last) if self.return_state else output

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config = {"return_sequences": self.return_sequences, "return_state": self.return_state}
        return {**super().get_config(), **cell_config, **config}


def _bias_as_input(x, kernel, bias):
    """`x` with a constant input 1 appended and `kernel` with `bias` as its weights, so
    that `x @ kernel` adds the bias: adding it to the `(T, [K,] B, N)` drive, and summing
    its gradient back over time and batch, were two more passes over that array."""
    x = tf.concat([x, tf.ones_like(x[..., :1])], axis=-1)
    return x, tf.concat([kernel, bias[..., None, :]], axis=-2)


def network_groups(networks: int, threads: int) -> list[slice]:
    """How a stack of `networks` is split into groups that run side by side.

    TensorFlow runs independent ops at once on its inter-op threads, while one
    stacked recurrence (a loop of small batched matmuls) gains little from more
    intra-op threads: K = 20 networks of N = 100 took a median 170 ms per
    training step as one group on two cores and 143 ms as two groups (TensorFlow's
    default pools; 212 and 156 ms with one intra-op thread). So the stack is cut into as
    many near-equal groups as there are inter-op threads (cores when TensorFlow
    chooses), at most one per network. Each network's arithmetic is the same in
    any group.

    Args:
        networks: K.
        threads: the threads to spread the groups over.

    Returns:
        `min(K, threads)` (at least 1) contiguous slices of the network axis.
    """
    count = max(1, min(networks, threads))
    bounds = np.linspace(0, networks, count + 1).round().astype(int)
    return [slice(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _parallel_threads() -> int:
    """How many groups of networks can run side by side: one on a GPU, whose stream
    would run the groups one after another; on CPUs, TensorFlow's inter-op threads."""
    if tf.config.list_logical_devices("GPU"):
        return 1
    return inter_op_threads()


def _network_slice(value, part: slice):
    """Networks `part` of a per-network `(K, ...)` value (a scalar or `None` as it is)."""
    return value if value is None or not value.shape.rank else value[part]


def _noise_slice(noise, part: slice):
    """`(std, seeds)` of noise restricted to networks `part`."""
    if noise is None:
        return None
    std, seeds = noise
    return _network_slice(std, part), seeds[part]


def _broadcast_per_network(value, dtype, axes: int = 1):
    """A per-network `(K, ...)` value with `axes` unit axes after K: `(K, 1, ...)` to
    broadcast over `(K, B, ...)`, `(K, 1, 1, ...)` over network-major `(K, T, B, ...)`
    arrays (a scalar stays a scalar)."""
    value = tf.cast(value, dtype)
    return value[(slice(None),) + (None,) * axes] if value.shape.rank else value


def find_ctrnn(model: keras.Model) -> CTRNN:
    """Returns the single `CTRNN` layer of `model`.

    Raises:
        ValueError: if the model has no `CTRNN` layer or more than one.
    """
    found = [layer for layer in _walk_layers(model) if isinstance(layer, CTRNN)]
    if len(found) != 1:
        raise ValueError(
            f"Expected a model with exactly one ctxrnn.CTRNN layer; {model.name!r} has {len(found)}."
        )
    return found[0]


def _walk_layers(layer):
    for child in getattr(layer, "layers", []):
        yield child
        yield from _walk_layers(child)


def hidden_states(model: keras.Model, inputs, batch_size: int = 256) -> np.ndarray:
    """Runs `model` on `inputs` and returns its CTRNN's states `(batch, time, units)`.

    Noise is off (inference). The model must be a functional or sequential
    model whose CTRNN returns sequences.
    """
    layer = find_ctrnn(model)
    probe = keras.Model(model.inputs, layer.output)
    return probe.predict(inputs, batch_size=batch_size, verbose=0)


@keras.saving.register_keras_serializable(package="ctxrnn")
class ActivityL2(keras.layers.Layer):
    """Identity layer adding `coefficient * mean(x**2)` to the model's losses.

    MoLaP's activity regularisation (paper A.2: 1e-7) on the hidden states;
    `ctxrnn.molap.build_network` puts it after the `CTRNN`.

    Args:
        coefficient: float >= 0. Default: `1e-7`.
    """

    def __init__(self, coefficient: float = 1e-7, **kwargs):
        super().__init__(**kwargs)
        if not coefficient >= 0:
            raise ValueError(
                f"Argument `coefficient` must be >= 0; received coefficient={coefficient!r}.")
        self.coefficient = float(coefficient)

    def call(self, inputs):
        if self.coefficient > 0:
            self.add_loss(self.coefficient * keras.ops.mean(keras.ops.square(inputs)))
        return inputs

    def get_config(self):
        return {**super().get_config(), "coefficient": self.coefficient}
