"""Least-squares readouts: the exact minimiser of a masked MSE in the readout weights.

With everything upstream of a linear `Dense` readout held fixed, the training
loss `sum(mask * (y - h W - b)**2) / sum(mask) + l2 * |W|**2` is a quadratic in
`(W, b)` and has one closed-form minimiser. Gradient descent reaches it slowly
when the states `h` are badly conditioned, as the states of a frozen random
core are (condition numbers of 1e7 are common): on a frozen random g = 1.5
core with trained input weights, the Adam-trained readout of Mem DM1 got 64 %
of responses within delta where the least-squares readout of the same states
got 95 % (experiments/RESULTS_molap.md). `fit_readout` solves the normal equations,
accumulated in float64 over chunks of trials, one output column at a time
(columns with the same loss mask share one Gram matrix, so the stacked heads of
a multi-head model cost one matrix per task).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import scipy.linalg


@dataclasses.dataclass(frozen=True)
class ReadoutFit:
    """What `fit_readout` returns.

    Attributes:
        kernel: `(units, outputs)` solved readout kernel (assigned to the layer).
        bias: `(outputs,)` solved bias (zeros for a bias-free readout).
        loss_before: masked MSE of the readout it replaced, on the fitting trials.
        loss_after: masked MSE of the solved readout, on the same trials.
        l2: the L2 coefficient used.
    """

    kernel: np.ndarray
    bias: np.ndarray
    loss_before: float
    loss_after: float
    l2: float


#: Name of the readout `Dense` layer of ctxrnn's builders; heads added by
#: `ctxrnn.add_task_head` are `readout_<task>`.
READOUT_NAME = "readout"


def find_readouts(model: keras.Model) -> list[keras.layers.Dense]:
    """The model's readout heads: `Dense` layers named `readout` or `readout_<task>`.

    In layer order, which is the order of their outputs in a model grown by
    `ctxrnn.add_task_head`. A model with a single `Dense` layer of another name
    has that layer as its readout.

    Args:
        model: a ctxrnn model (`Input -> CTRNN -> Dense readout(s)`).

    Returns:
        The list of readout `Dense` layers (empty if there is none).
    """
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    named = [layer for layer in dense
             if layer.name == READOUT_NAME or layer.name.startswith(READOUT_NAME + "_")]
    return named or (dense if len(dense) == 1 else [])


def find_readout(model: keras.Model, name: str = READOUT_NAME) -> keras.layers.Dense:
    """The `Dense` readout named `name` (or the model's only readout head).

    Args:
        model: a ctxrnn model.
        name: the readout's layer name. Default: `"readout"`.

    Returns:
        The `Dense` layer.

    Raises:
        ValueError: no such layer, it is not `Dense`, or several heads and none named `name`.
    """
    layers = {layer.name: layer for layer in model.layers}
    layer = layers.get(name)
    if layer is None:
        heads = find_readouts(model)
        if len(heads) != 1:
            raise ValueError(
                f"Expected a Dense readout layer named {name!r} in {model.name!r}; its Dense "
                f"layers are {[l.name for l in model.layers if isinstance(l, keras.layers.Dense)]}.")
        layer = heads[0]
    if not isinstance(layer, keras.layers.Dense):
        raise ValueError(f"The readout {name!r} of {model.name!r} must be a Dense layer; "
                         f"received {type(layer).__name__}.")
    return layer


def readout_layer(model: keras.Model, name: str = READOUT_NAME) -> keras.layers.Dense:
    """The model's linear readout (`find_readout`), checked to be linear."""
    layer = find_readout(model, name)
    activation = keras.activations.serialize(layer.activation)
    if (activation if isinstance(activation, str) else activation.get("config")) != "linear":
        raise ValueError(
            f"fit_readout needs a linear readout; {layer.name!r} has activation {activation!r}."
        )
    return layer


def _l2_of(layer: keras.layers.Dense) -> float:
    regularizer = layer.kernel_regularizer
    if regularizer is None:
        return 0.0
    config = regularizer.get_config()
    if set(config) - {"l2", "l1"} or config.get("l1", 0.0):
        raise ValueError(
            f"fit_readout solves an L2-regularised readout; {layer.name!r} has the regularizer "
            f"{config!r}. Pass `l2=` explicitly."
        )
    return float(config["l2"])


def _check_arrays(targets, loss_mask, n_outputs):
    targets = np.asarray(targets, np.float64)
    if targets.ndim != 3 or targets.shape[-1] != n_outputs:
        raise ValueError(
            f"Argument `targets` must have shape (batch, time, {n_outputs}); received "
            f"{targets.shape}."
        )
    if not np.all(np.isfinite(targets)):
        raise ValueError("Argument `targets` holds NaN or inf; expected finite values.")
    mask = np.ones_like(targets) if loss_mask is None else np.asarray(loss_mask, np.float64)
    if mask.ndim == 2:
        mask = mask[..., None]
    try:
        mask = np.broadcast_to(mask, targets.shape)
    except ValueError:
        raise ValueError(
            f"Argument `loss_mask` must have shape {targets.shape[:2]} or {targets.shape}; "
            f"received {np.shape(loss_mask)}."
        ) from None
    if np.any(mask < 0) or mask.sum() <= 0:
        raise ValueError("Argument `loss_mask` must be >= 0 with at least one positive entry.")
    return targets, mask


def _rows(x, start, stop):
    if isinstance(x, dict):
        return {key: value[start:stop] for key, value in x.items()}
    return x[start:stop]


def fit_readout(model: keras.Model, x, targets, loss_mask=None, *, l2: float | None = None,
                readout: str = "readout", batch_size: int = 500) -> ReadoutFit:
    """Replaces the model's linear readout by the least-squares one on `x`.

    Solves, for the readout `(W, b)` with everything else in the model fixed,
    `min sum(mask * (targets - h W - b)**2) / sum(mask) + l2 * |W|**2`, the
    loss `ctxrnn.losses.masked_mse` trains (the bias is not regularised, as in
    Keras), and assigns the solution to the layer. Noise is off.

    Args:
        model: a model whose output is a linear `Dense` readout (named
            `readout`, or its last layer) of upstream features (a `CTRNN`'s
            states, for example).
        x: the model's inputs, `(batch, time, channels)` (or a dict of them).
        targets: `(batch, time, outputs)` targets.
        loss_mask: optional `(batch, time)` or `(batch, time, outputs)` weights;
            default all 1.
        l2: L2 coefficient on the kernel; default the readout's own
            `kernel_regularizer` (0 without one).
        readout: name of the readout layer. Default: `"readout"`.
        batch_size: trials per forward pass.

    Returns:
        A `ReadoutFit`.

    Example:

    ```python
    batch = task.generate(2000, seed=1)
    fit = fit_readout(model, batch.inputs, batch.targets, batch.loss_mask)
    fit.loss_before, fit.loss_after
    ```
    """
    layer = readout_layer(model, readout)
    n_out = int(layer.units)
    targets, mask = _check_arrays(targets, loss_mask, n_out)
    l2 = _l2_of(layer) if l2 is None else float(l2)
    if not l2 >= 0:
        raise ValueError(f"Argument `l2` must be >= 0; received l2={l2!r}.")
    features = keras.Model(model.inputs, layer.input)
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    bias = (keras.ops.convert_to_numpy(layer.bias).astype(np.float64) if layer.use_bias
            else np.zeros(n_out))
    units = kernel.shape[0]
    width = units + int(layer.use_bias)
    flat_mask = mask.reshape(-1, n_out)
    group_of = _mask_groups(flat_mask)
    grams = np.zeros((max(group_of) + 1, width, width))
    cross = np.zeros((width, n_out))
    target_energy = np.zeros(n_out)  # sum(mask * y**2) per column
    old_error = 0.0
    steps = targets.shape[1]
    for start in range(0, len(targets), batch_size):
        stop = min(start + batch_size, len(targets))
        h = np.asarray(features.predict(_rows(x, start, stop), batch_size=batch_size,
                                        verbose=0), np.float64)
        if h.shape[:2] != (stop - start, steps):
            raise ValueError(
                f"The readout's input has shape {h.shape[:2]} for trials {start}-{stop}; "
                f"`targets` has {steps} steps per trial."
            )
        h = h.reshape(-1, units)
        y = targets[start:stop].reshape(-1, n_out)
        m = flat_mask[start * steps:stop * steps]
        old_error += float(np.sum(m * (h @ kernel + bias - y) ** 2))
        design = np.concatenate([h, np.ones((len(h), 1))], axis=1) if layer.use_bias else h
        for group in range(len(grams)):
            c = group_of.index(group)
            rows = m[:, c] > 0
            used = design[rows]  # only the steps this mask weighs
            grams[group] += (used * m[rows, c:c + 1]).T @ used
        cross += design.T @ (m * y)
        target_energy += np.sum(m * y * y, axis=0)
    total = flat_mask.sum()
    penalty = np.diag([l2 * total] * units + [0.0] * int(layer.use_bias))
    solution = np.zeros((width, n_out))
    new_error = 0.0
    for c in range(n_out):
        gram = grams[group_of[c]]
        try:
            w = scipy.linalg.solve(gram + penalty, cross[:, c], assume_a="sym")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            w = np.linalg.lstsq(gram + penalty, cross[:, c], rcond=None)[0]
        solution[:, c] = w
        new_error += target_energy[c] - 2.0 * w @ cross[:, c] + w @ gram @ w
    new_kernel = solution[:units].astype(np.float32)
    new_bias = (solution[units] if layer.use_bias else np.zeros(n_out)).astype(np.float32)
    layer.kernel.assign(new_kernel)
    if layer.use_bias:
        layer.bias.assign(new_bias)
    return ReadoutFit(new_kernel, new_bias, old_error / total, max(new_error, 0.0) / total, l2)


def _mask_groups(flat_mask: np.ndarray) -> list[int]:
    """Group index of every output column; columns with identical masks share one."""
    groups: list[int] = []
    representatives: list[int] = []
    for c in range(flat_mask.shape[1]):
        for group, r in enumerate(representatives):
            if np.array_equal(flat_mask[:, c], flat_mask[:, r]):
                groups.append(group)
                break
        else:
            representatives.append(c)
            groups.append(len(representatives) - 1)
    return groups
