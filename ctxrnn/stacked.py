"""Many independent networks in one model: `StackedModel`, `StackedDense`, `NetworkSum`.

A seed study trains K networks that differ only in their seeds (or masks). Built
as one model whose weights carry a leading network axis, they train in one
`fit`: each step runs the K networks as batched matmuls, which removes the
per-model overhead (building and tracing a train step per model) and most of the
per-op overhead of small networks (`shared/PERFORMANCE.md`).

- `ctxrnn.CTRNN(units, networks=K, seed=[...])` holds the K recurrent networks;
  network k is initialised and driven by noise exactly as `CTRNN(units,
  seed=seed[k])`.
- `StackedDense(outputs, networks=K)` is one `Dense` readout per network.
- `StackedModel` is a functional `keras.Model` whose training keeps the networks
  independent: the loss is the *sum* of the K networks' losses (`NetworkSum`; a
  mean would shrink each network's gradient by 1/K) and gradient norms are
  clipped per network (an optimizer's `clipnorm` would mix the K slices of a
  weight). Its `unstack()` returns K ordinary ctxrnn models.

```python
inputs = keras.Input((100, 3))                       # shared by the 20 networks
states = ctxrnn.CTRNN(100, networks=20, seed=list(range(20)), recurrent_noise=0.05)(inputs)
outputs = ctxrnn.StackedDense(2, networks=20)(states)  # (batch, 20, 100, 2)
model = ctxrnn.StackedModel(inputs, outputs)
model.compile(keras.optimizers.Adam(1e-3), "mse", clipnorm=1.0)
model.fit(x, y, epochs=5)                            # y: (batch, 100, 2) or (batch, 20, 100, 2)
models = model.unstack()                             # 20 ordinary keras models
```
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ctxrnn import seeding
from ctxrnn.cells import CTRNNCell, _check_networks, network_seeds
from ctxrnn.checks import positive_int
from ctxrnn.layers import CTRNN
from ctxrnn.models import build_optimizer


@keras.saving.register_keras_serializable(package="ctxrnn")
class StackedDense(keras.layers.Layer):
    """K independent `Dense` layers applied to K stacked networks' states.

    Args:
        units: int, outputs per network.
        networks: int K, the number of networks.
        activation: Keras activation. Default: `None` (linear).
        use_bias: bool. Default: `True`.
        kernel_initializer: initializer of one network's `(inputs, units)`
            kernel. Default: `"glorot_uniform"`.
        bias_initializer: Default: `"zeros"`.
        seed: `None`, an int or K ints (as `CTRNN(..., networks=K)`): network
            k's kernel is drawn from the `readout` stream of its seed.

    Call arguments:
        inputs: `(batch, K, ..., features)`.

    Returns:
        `(batch, K, ..., units)`: network k's slice is
        `activation(inputs[:, k] @ kernel[k] + bias[k])`.

    Example:

    >>> layer = StackedDense(2, networks=4)
    >>> layer(np.zeros((8, 4, 10, 16), "float32")).shape
    TensorShape([8, 4, 10, 2])
    """

    def __init__(self, units: int, networks: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        positive_int("units", units)
        if _check_networks(networks) is None:
            raise ValueError(f"Argument `networks` must be a positive integer; received "
                             f"networks={networks!r}.")
        self.units, self.networks = int(units), int(networks)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.network_seeds = network_seeds(seed, self.networks)
        self.seed = list(self.network_seeds) if isinstance(seed, (list, tuple, np.ndarray)) else seed

    def _kernel_initializers(self):
        config = self.kernel_initializer.get_config()
        if "seed" not in config:
            return [self.kernel_initializer] * self.networks
        return [type(self.kernel_initializer).from_config(
            {**config, "seed": None if s is None else seeding.derive(s, "readout")})
            for s in self.network_seeds]

    def build(self, input_shape):
        if len(input_shape) < 3 or input_shape[1] != self.networks or input_shape[-1] is None:
            raise ValueError(
                f"{self.name} expects inputs of shape (batch, {self.networks}, ..., features) "
                f"with known features; received input_shape={tuple(input_shape)}."
            )
        initializers = self._kernel_initializers()

        def kernel_initializer(shape, dtype=None):
            return ops.stack([init(tuple(shape[1:]), dtype=dtype) for init in initializers])

        self.kernel = self.add_weight(shape=(self.networks, input_shape[-1], self.units),
                                      name="kernel", initializer=kernel_initializer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.networks, self.units), name="bias",
                                        initializer=self.bias_initializer)

    def call(self, inputs):
        # y^T = kernel^T x^T as (B, K, units, F) @ (B, K, M, F)^T: the states are never
        # transposed (1.7x faster than transposing them to (K, B*M, F) at K=20, N=100),
        # only the small kernel and output are; and the kernel's gradient is then
        # dy^T x, which ran 2x faster than the x^T dy of y = x kernel (readout forward
        # and backward 21 -> 16 ms at K=20, N=100, T=100, batch 64; same values).
        # The kernel is broadcast explicitly: TF's matmul broadcasting a batch axis of
        # size 1 crashes.
        shape = tf.shape(inputs)
        x = tf.reshape(inputs, tf.concat([shape[:2], [-1, inputs.shape[-1]]], 0))
        kernel_t = tf.linalg.matrix_transpose(tf.cast(self.kernel, x.dtype))
        kernel_t = tf.broadcast_to(kernel_t, tf.concat([shape[:1], tf.shape(kernel_t)], 0))
        y = tf.linalg.matrix_transpose(tf.matmul(kernel_t, x, transpose_b=True))
        if self.bias is not None:
            y = y + tf.cast(self.bias, x.dtype)[:, None]
        return self.activation(tf.reshape(y, tf.concat([shape[:-1], [self.units]], 0)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "networks": self.networks,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "seed": self.seed}


class _FunctionLoss(keras.losses.Loss):
    """A loss function (`"mse"`, a callable) with Keras' default reduction, as
    `compile` applies it."""

    def __init__(self, function):
        super().__init__(name=getattr(function, "__name__", "loss"))
        self.function = function

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred)


# Optimizers whose update of a weight depends on the whole weight, not entry by entry
# (Adafactor's factored moments, Lamb's trust ratio, Muon's orthogonalisation): on a
# stacked weight they would couple the K networks.
_COUPLING_OPTIMIZERS = ("Adafactor", "Lamb", "Muon")


def _check_per_network_optimizer(optimizer) -> None:
    name = type(optimizer).__name__
    if name in _COUPLING_OPTIMIZERS:
        raise ValueError(
            f"StackedModel.compile: {name} updates each weight as a whole, so on stacked "
            f"weights it would couple the networks; received optimizer={name}. Use an "
            "element-wise optimizer (SGD, Adam, AdamW, RMSprop, Nadam, Lion, ...).")
    if getattr(optimizer, "use_ema", False):
        warnings.warn(
            f"StackedModel.compile: {name}(use_ema=True) copies its moving averages into the "
            "weights without their constraints, so frozen or absent entries do not stay "
            "exact (as in an ordinary model); each network's averages are its own.",
            stacklevel=3)


def _as_loss(identifier) -> keras.losses.Loss:
    loss = keras.losses.get(identifier)
    if isinstance(loss, keras.losses.Loss):
        return loss
    if not callable(loss):
        raise ValueError(f"Argument `loss` of NetworkSum must be a Keras loss; received "
                         f"loss={identifier!r}.")
    return _FunctionLoss(loss)


def _repeated_for_networks(values, y_pred):
    """Shared `values` `(batch, ...)` repeated on a network axis, `(batch, K, ...)`, to
    go with the predictions `y_pred` `(batch, K, ...)`."""
    values = ops.expand_dims(ops.convert_to_tensor(values), 1)
    shape = ops.shape(values)
    return ops.broadcast_to(values, (shape[0], ops.shape(y_pred)[1], *shape[2:]))


def _fits(shape, within) -> bool:
    """Whether `shape` broadcasts as a leading part of `within` (sizes equal, 1 or unknown)."""
    return len(shape) <= len(within) and all(
        a is None or b is None or a == b or a == 1 for a, b in zip(shape, within))


def _weights_per_network(weight_shape, prediction_shape, targets_per_network: bool) -> bool:
    """Whether sample weights of `weight_shape` hold one set per network, `(batch, K, ...)`,
    rather than one shared by the networks, `(batch, ...)`, for predictions of
    `prediction_shape` `(batch, K, ...)`. Read from the weights' own shape; a shape that
    reads both ways (time steps as many as networks, unknown sizes) follows the targets'
    layout. Raises `ValueError` for a shape that reads neither way."""
    networks, network_shape = prediction_shape[1], prediction_shape[2:]
    weight_shape = tuple(weight_shape)
    per_network = (len(weight_shape) >= 2 and weight_shape[1] in (None, networks)
                   and _fits(weight_shape[2:], network_shape))
    shared = _fits(weight_shape[1:], network_shape)
    if not per_network and not shared:
        raise ValueError(
            f"NetworkSum: `sample_weight` must be shared, (batch, ...) leading to "
            f"{tuple(network_shape)}, or per network, (batch, {networks}, ...); received "
            f"sample_weight of shape {weight_shape} for predictions of shape "
            f"{tuple(prediction_shape)}.")
    return per_network if per_network != shared else targets_per_network


@keras.saving.register_keras_serializable(package="ctxrnn")
class NetworkSum(keras.losses.Loss):
    """The sum over K stacked networks of one loss, each network's loss as alone.

    Predictions are `(batch, K, ...)`. Targets (and `sample_weight`, such as a
    loss mask) are either shared by the networks, `(batch, ...)`, or one per
    network, `(batch, K, ...)`. The result is `sum_k loss(y_true_k, y_pred[:, k],
    sample_weight_k)`, so network k's gradient is the gradient it would get
    trained alone with `loss`.

    Args:
        loss: a Keras loss (name, function or `Loss`, e.g. `ctxrnn.MaskedMSE()`).
            Default: `"mse"`.

    Example:

    ```python
    model.compile(keras.optimizers.Adam(1e-3), loss=NetworkSum(ctxrnn.MaskedMSE()))
    ```
    """

    def __init__(self, loss="mse", name: str = "network_sum", **kwargs):
        super().__init__(name=name, **kwargs)
        self.loss = loss
        self._loss = _as_loss(loss)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        networks = y_pred.shape[1]
        per_network = len(y_true.shape) == len(y_pred.shape)
        if (not per_network and len(y_true.shape) != len(y_pred.shape) - 1) or (
                per_network and y_true.shape[1] not in (None, networks)):
            raise ValueError(
                f"NetworkSum: targets must be shared, shape (batch, ...) of rank "
                f"{len(y_pred.shape) - 1}, or per network, (batch, {networks}, ...); received "
                f"targets of shape {tuple(y_true.shape)} for predictions of shape "
                f"{tuple(y_pred.shape)}."
            )
        # One unstack per tensor, not K slices: the gradient of K slices was K
        # zero-filled full-size tensors summed; the unstack's is one stack.
        predictions = tf.unstack(y_pred, axis=1)
        targets = tf.unstack(y_true, axis=1) if per_network else [y_true] * networks
        weights = [sample_weight] * networks
        if sample_weight is not None:
            sample_weight = ops.convert_to_tensor(sample_weight)
            if _weights_per_network(sample_weight.shape, tuple(y_pred.shape), per_network):
                weights = tf.unstack(sample_weight, axis=1)
        total = 0.0
        for target, prediction, weight in zip(targets, predictions, weights, strict=True):
            total = total + self._network_loss(target, prediction, weight)
        return total

    def _network_loss(self, y_true, y_pred, weight):
        """One network's loss. Inside a traced step, one traced graph of the loss is
        called K times instead of putting K copies of it (and of their gradients)
        in the step's graph; eagerly (`run_eagerly=True`, a direct call), the loss
        runs eagerly, as Keras runs it."""
        if tf.executing_eagerly():
            return self._loss(y_true, y_pred, sample_weight=weight)
        if getattr(self, "_traced_loss", None) is None:
            self._traced_loss = tf.function(
                lambda y_true, y_pred, weight: self._loss(y_true, y_pred, sample_weight=weight),
                reduce_retracing=True)
        return self._traced_loss(y_true, y_pred, weight)

    def call(self, y_true, y_pred):  # pragma: no cover - __call__ is overridden
        return self(y_true, y_pred)

    def get_config(self):
        loss = self.loss if isinstance(self.loss, str) else keras.losses.serialize(self.loss)
        return {**super().get_config(), "loss": loss}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if not isinstance(config["loss"], str):
            config["loss"] = keras.losses.deserialize(config["loss"])
        return cls(**config)


def clip_per_network(grads, clipnorm=None, global_clipnorm=None, scale=1.0):
    """Clips gradients of stacked weights (leading network axis) network by network.

    Args:
        grads: list of gradient tensors `(K, ...)` (or `None`).
        clipnorm: float or `None`: each weight's slice k is rescaled to norm
            at most `clipnorm` (Keras' `clipnorm`, per network).
        global_clipnorm: float or `None`: network k's slices of all weights
            together are rescaled to norm at most `global_clipnorm` (Keras'
            `global_clipnorm`, per network).
        scale: the factor the gradients carry (a loss scale): the norms are
            clipped at `clipnorm * scale` and `global_clipnorm * scale`, which is
            clipping the unscaled gradients.

    Returns:
        The list of clipped gradients.
    """
    grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]

    def squared_norms(g):
        return tf.reduce_sum(tf.square(g), axis=list(range(1, g.shape.rank)))

    def scaled(g, norms, limit):
        limit = tf.cast(limit * scale, norms.dtype)
        factor = limit / tf.maximum(norms, limit)
        return g * tf.reshape(tf.cast(factor, g.dtype), [-1] + [1] * (g.shape.rank - 1))

    if clipnorm:
        grads = [None if g is None else scaled(g, tf.sqrt(squared_norms(g)), clipnorm)
                 for g in grads]
    if global_clipnorm:
        norms = tf.sqrt(tf.add_n([squared_norms(g) for g in grads if g is not None]))
        grads = [None if g is None else scaled(g, norms, global_clipnorm) for g in grads]
    return grads


def _check_clip(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"Argument `{name}` must be a positive number or None; received "
                         f"{name}={value!r}.")
    return float(value)


@keras.saving.register_keras_serializable(package="ctxrnn")
class StackedModel(keras.Model):
    """A functional model of K stacked, independent networks, trained by one `fit`.

    Build it like a functional model from an input through
    `ctxrnn.CTRNN(..., networks=K)` to `StackedDense(..., networks=K)` outputs
    `(batch, K, ...)`. Compared with `keras.Model` it:

    - wraps the compiled loss in `NetworkSum` (per-network losses summed);
    - clips gradients per network (`compile(clipnorm=..., global_clipnorm=...)`;
      a `clipnorm`/`global_clipnorm` set on the optimizer is taken over and
      applied per network, since the optimizer's own would mix networks);
    - gives back K ordinary models with `unstack()`.

    With an element-wise optimizer (Adam, RMSprop, SGD), the optimizer state of
    network k lives in slice k of each slot, so K networks trained stacked follow
    the same trajectories as the K trained one by one on the same batches. Masks
    and frozen entries are per network (`CTRNN.set_masks` with `(K, ...)` masks).

    Example:

    ```python
    model = ctxrnn.StackedModel(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), ctxrnn.MaskedMSE(), clipnorm=1.0)
    model.fit(dataset, epochs=10)
    separate = model.unstack()
    ```
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.network_clipnorm = None
        self.network_global_clipnorm = None

    @property
    def networks(self) -> int:
        """K, the number of stacked networks."""
        return _stacked_layer(self).networks

    def compile(self, optimizer="rmsprop", loss=None, *args, clipnorm=None,
                global_clipnorm=None, **kwargs):
        """`keras.Model.compile` with per-network loss sum and gradient clipping.

        Args:
            optimizer, loss, *args, **kwargs: as `keras.Model.compile`; `loss`
                is wrapped in `NetworkSum` unless it is one already.
            clipnorm: clip each weight's per-network slice to this norm.
            global_clipnorm: clip each network's whole gradient to this norm.
        """
        optimizer = keras.optimizers.get(optimizer)
        # A loss-scaling wrapper's inner optimizer is the one that would clip.
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        _check_per_network_optimizer(inner)
        # The clipping taken over from this optimizer by an earlier compile (which set
        # the optimizer's own to None): compiling again with it keeps clipping.
        taken = getattr(inner, "_ctxrnn_network_clipping", (None, None))
        if (clipnorm is not None and inner.clipnorm is not None) or (
                global_clipnorm is not None and inner.global_clipnorm is not None):
            raise ValueError(
                "StackedModel.compile: pass the clipping once, either on the optimizer or as "
                f"`clipnorm`/`global_clipnorm`; received both (optimizer clipnorm="
                f"{inner.clipnorm}, global_clipnorm={inner.global_clipnorm}).")
        if clipnorm is None:
            clipnorm = inner.clipnorm if inner.clipnorm is not None else taken[0]
        if global_clipnorm is None:
            global_clipnorm = (inner.global_clipnorm if inner.global_clipnorm is not None
                               else taken[1])
        clipnorm = _check_clip("clipnorm", clipnorm)
        global_clipnorm = _check_clip("global_clipnorm", global_clipnorm)
        if (clipnorm is not None or global_clipnorm is not None) and \
                inner.gradient_accumulation_steps:
            raise ValueError(
                "StackedModel.compile: per-network clipping with `gradient_accumulation_steps`"
                f"={inner.gradient_accumulation_steps} would clip each micro-batch's gradient, "
                "not the accumulated one that an unstacked model clips; drop one of them "
                "(or use a larger batch).")
        inner.clipnorm = inner.global_clipnorm = None  # clipped per network instead
        inner._ctxrnn_network_clipping = (clipnorm, global_clipnorm)
        self.network_clipnorm, self.network_global_clipnorm = clipnorm, global_clipnorm
        if loss is not None and not isinstance(loss, NetworkSum):
            loss = NetworkSum(loss)
        super().compile(optimizer, loss, *args, **kwargs)

    def get_compile_config(self):
        config = super().get_compile_config()
        if self.compiled and config is not None:
            config = {**config, "clipnorm": self.network_clipnorm,
                      "global_clipnorm": self.network_global_clipnorm}
        return config

    def compile_from_config(self, config):
        """Recompiles a loaded model, per-network clipping included. A model saved
        compiled in a way `compile` now refuses loads uncompiled, with a warning."""
        try:
            self.compile(**keras.saving.deserialize_keras_object(config))
        except ValueError as error:
            warnings.warn(f"{self.name} loads uncompiled: {error}", stacklevel=2)
            return
        build_optimizer(self)  # the loaded optimizer state goes into its slots

    def make_train_function(self, force=False):
        # The optimizer's slots made before the first trace, so that the train
        # step (K networks' graph) is traced once, not twice (`build_optimizer`).
        build_optimizer(self)
        return super().make_train_function(force)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            # What keras.Model.train_step does with the loss, which it does not expose.
            self._loss_tracker.update_state(
                loss, sample_weight=tf.shape(keras.tree.flatten(x)[0])[0])
            loss = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        self._check_network_axis(weights)
        grads = tape.gradient(loss, weights)
        # Clipped as an unstacked model clips them: at the norms times mixed precision's
        # loss scale, which the loss-scaling optimizer removes afterwards.
        scale = (self.optimizer.scale_loss(tf.constant(1.0)) if isinstance(
            self.optimizer, keras.optimizers.LossScaleOptimizer) else 1.0)
        grads = clip_per_network(grads, self.network_clipnorm, self.network_global_clipnorm,
                                 scale=scale)
        self.optimizer.apply(grads, weights)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Compiled metrics see `(batch, K, ...)` arrays, shared targets and weights
        repeated for each network: with shared (or equal-total) weights a metric is the
        mean over the networks of what each reports alone."""
        if y is not None and y_pred is not None:
            y_pred_tensor = ops.convert_to_tensor(y_pred)
            targets_per_network = len(ops.shape(y)) == len(y_pred_tensor.shape)
            if not targets_per_network:
                y = _repeated_for_networks(y, y_pred_tensor)
            if sample_weight is not None:
                sample_weight = ops.convert_to_tensor(sample_weight)
                if not _weights_per_network(sample_weight.shape, tuple(y_pred_tensor.shape),
                                            targets_per_network):
                    sample_weight = _repeated_for_networks(sample_weight, y_pred_tensor)
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _check_network_axis(self, weights):
        networks = self.networks
        bad = [w.path for w in weights if not w.shape or w.shape[0] != networks]
        if bad:
            raise ValueError(
                f"Every trainable weight of a StackedModel needs a leading axis of the "
                f"{networks} networks (for per-network clipping); these do not: {bad}. Use "
                "StackedDense for readouts, or freeze them."
            )

    def unstack(self) -> list[keras.Model]:
        """K ordinary models, network k's weights, masks and noise state in model k.

        The model must be a chain `Input -> CTRNN(networks=K) -> StackedDense ...`.
        Model k is `Input -> CTRNN -> Dense ...` (uncompiled) and predicts what
        network k of the stack predicts; its CTRNN has network k's seed, so it
        also continues network k's noise sequence.

        Returns:
            A list of K uncompiled `keras.Model`s.
        """
        return [self._network_model(k) for k in range(self.networks)]

    def _network_model(self, k: int) -> keras.Model:
        layers = [layer for layer in self.layers if not isinstance(layer, keras.layers.InputLayer)]
        if len(self.inputs) != 1 or not layers or not isinstance(layers[0], CTRNN) or not all(
                isinstance(layer, StackedDense) for layer in layers[1:]):
            raise ValueError(
                "StackedModel.unstack needs a chain Input -> CTRNN(networks=K) -> StackedDense "
                f"...; {self.name!r} has layers {[type(layer).__name__ for layer in layers]}."
            )
        shape = tuple(self.inputs[0].shape[1:])
        inputs = keras.Input(shape[1:] if len(shape) == 3 else shape,
                             name=self.inputs[0].name.split(":")[0])
        outputs = inputs
        for layer in layers:
            config = layer.get_config()
            config.pop("networks")
            if isinstance(layer, StackedDense):
                config.pop("seed")
                single = keras.layers.Dense.from_config(config)
            else:
                config["seed"] = layer.cell.network_seeds[k]
                single = CTRNN.from_config(config)
            outputs = single(outputs)
        model = keras.Model(inputs, outputs, name=f"{self.name}_{k}")
        self.copy_network(k, model)
        return model

    def copy_network(self, k: int, model: keras.Model) -> None:
        """Sets the weights, masks and noise state of `model`, one of `unstack()`'s
        models (or a model of the same layers), to network k's.

        Cheaper than `unstack()` when the same K models follow a stack in training.
        """
        for stacked, single in self._layer_pairs(model, "copy_network"):
            values = [np.reshape(ops.convert_to_numpy(w)[k], tuple(v.shape))
                      for w, v in zip(stacked.weights, single.weights)]
            for variable, value in zip(single.weights, values):
                variable.assign(value)
            if isinstance(single, CTRNNCell):
                single._initial_projection_pending = False
                single.seed_generator.state.assign(stacked.seed_generators[k].state)

    def set_network(self, k: int, model: keras.Model) -> None:
        """Makes network k of the stack `model` (an ordinary `Input -> CTRNN ->
        Dense ...` model of the same layers): its weights, masks and noise state.

        Example: start network k from the model `train_run` would build for its
        seed, so that the stack trains what K separate runs would (to float
        rounding).
        """
        for stacked, single in self._layer_pairs(model, "set_network"):
            for variable, value in zip(stacked.weights, single.weights):
                array = ops.convert_to_numpy(variable).copy()
                array[k] = np.reshape(ops.convert_to_numpy(value), array.shape[1:])
                variable.assign(array)
            if isinstance(single, CTRNNCell):
                stacked.seed_generators[k].state.assign(single.seed_generator.state)

    def _layer_pairs(self, model, caller):
        """(stack layer or cell, `model`'s layer or cell) pairs, in order."""
        layers = [layer for layer in self.layers if not isinstance(layer, keras.layers.InputLayer)]
        singles = [layer for layer in model.layers
                   if not isinstance(layer, keras.layers.InputLayer)]
        if len(singles) != len(layers):
            raise ValueError(f"StackedModel.{caller}: `model` must have the stack's "
                             f"{len(layers)} layers; {model.name!r} has {len(singles)}.")
        return [(layer.cell, single.cell) if isinstance(layer, CTRNN) else (layer, single)
                for layer, single in zip(layers, singles)]


def _stacked_layer(model) -> CTRNN:
    found = [layer for layer in model.layers
             if isinstance(layer, CTRNN) and layer.networks is not None]
    if len(found) != 1:
        raise ValueError(f"A StackedModel needs exactly one CTRNN(networks=K) layer; "
                         f"{model.name!r} has {len(found)}.")
    return found[0]
