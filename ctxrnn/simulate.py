"""Run one trained network under many weight variants as one batched computation.

Pruning curves, lesions, weight noise and unit silencing all ask the same
question: how does the trained network behave if its recurrent weights (or its
units) were different? Rebuilding a model per variant costs seconds each; here
`K` variants share one compiled loop: states `(K, batch, N)` advance with a
batched matmul against `(K, N, N)` kernels. Noise is off (inference).
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from ctxrnn.layers import CTRNN, find_ctrnn

_MAX_FLOATS_PER_CHUNK = 40_000_000  # bounds memory of the (K, chunk, T, N) states


@functools.lru_cache(maxsize=None)
def _variant_loop(activation, leaky: bool, project: bool, masked: bool):
    """Compiled loop over time. With `project` it stores `h_t @ w_out[k]` instead
    of `h_t`, so that a readout with few outputs never materialises `(K, B, T, N)`;
    with `masked` it multiplies the states by the unit masks at every step."""

    def loop(u_tbn, h0_kbn, kernels_knn, alpha, unit_masks_kn, w_out_kno):
        steps = tf.shape(u_tbn)[0]
        states = tf.TensorArray(u_tbn.dtype, size=steps)
        keep = unit_masks_kn[:, None, :]

        def body(t, h, states):
            r = activation(tf.matmul(h, kernels_knn) + u_tbn[t][None])
            h = h + alpha * (r - h) if leaky else r
            if masked:
                h = h * keep
            return t + 1, h, states.write(t, tf.matmul(h, w_out_kno) if project else h)

        h0 = h0_kbn * keep if masked else h0_kbn
        _, _, states = tf.while_loop(
            lambda t, *_: t < steps, body, (0, h0, states),
            parallel_iterations=1, maximum_iterations=steps,
        )
        return states.stack()  # (T, K, B, N or outputs)

    return tf.function(loop, jit_compile=True, reduce_retracing=True, autograph=False)


def _check_variants(layer: CTRNN, recurrent_kernels, unit_masks):
    n = layer.units
    if recurrent_kernels is None:
        recurrent_kernels = keras.ops.convert_to_numpy(layer.effective_recurrent_kernel)[None]
    recurrent_kernels = np.asarray(recurrent_kernels, dtype=np.float32)
    if recurrent_kernels.ndim == 2:
        recurrent_kernels = recurrent_kernels[None]
    if recurrent_kernels.shape[1:] != (n, n):
        raise ValueError(
            f"Argument `recurrent_kernels` must have shape (K, {n}, {n}); received "
            f"{recurrent_kernels.shape}."
        )
    if unit_masks is None:
        unit_masks = np.ones((1, n), np.float32)
    unit_masks = np.asarray(unit_masks, dtype=np.float32)
    if unit_masks.ndim != 2 or unit_masks.shape[1] != n:
        raise ValueError(
            f"Argument `unit_masks` must have shape (K, {n}); received {unit_masks.shape}."
        )
    k = max(len(recurrent_kernels), len(unit_masks))
    if {len(recurrent_kernels), len(unit_masks)} - {1, k}:
        raise ValueError(
            f"Arguments `recurrent_kernels` ({len(recurrent_kernels)} variants) and `unit_masks` "
            f"({len(unit_masks)} variants) must have the same number of variants, or 1."
        )
    recurrent_kernels = np.broadcast_to(recurrent_kernels, (k, n, n))
    unit_masks = np.broadcast_to(unit_masks, (k, n))
    if not (np.all(np.isfinite(recurrent_kernels)) and np.all(np.isfinite(unit_masks))):
        raise ValueError("Arguments `recurrent_kernels` and `unit_masks` must be finite.")
    return recurrent_kernels, unit_masks


def _state_chunks(layer: CTRNN, inputs, recurrent_kernels, unit_masks, w_out=None):
    """Yields states (K, b, T, N) chunk by chunk over the batch, in order; with
    `w_out` (N, O), the projections `states @ w_out` (K, b, T, O) instead."""
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 3 or inputs.shape[-1] != layer.kernel.shape[0]:
        raise ValueError(
            f"Argument `inputs` must have shape (batch, time, {layer.kernel.shape[0]}); "
            f"received {inputs.shape}."
        )
    if not np.all(np.isfinite(inputs)):
        raise ValueError("Argument `inputs` holds NaN or inf; expected finite values.")
    kernels, unit_masks = _check_variants(layer, recurrent_kernels, unit_masks)
    cell = layer.cell
    k, (batch, steps, _) = len(kernels), inputs.shape
    width = layer.units if w_out is None else w_out.shape[-1]
    chunk = max(1, min(batch, _MAX_FLOATS_PER_CHUNK // max(1, k * steps * width)))
    masked = not np.all(unit_masks == 1.0)
    if masked and w_out is not None:
        # only outputs are wanted: a silenced unit is one whose outgoing recurrent
        # weights and readout weights are 0 (its own state is never seen), which
        # costs nothing per step, unlike multiplying the states by the mask
        kernels = kernels * unit_masks[:, :, None]
        w_out = unit_masks[:, :, None] * np.asarray(w_out, np.float32)[None]
        masked = False
    elif w_out is not None:
        w_out = np.broadcast_to(np.asarray(w_out, np.float32), (k, *np.shape(w_out)))
    loop = _variant_loop(cell.activation, cell.leaky, w_out is not None, masked)
    w_out = tf.zeros([k, 0, 0]) if w_out is None else tf.constant(w_out, tf.float32)
    kernels_t = tf.constant(kernels)
    masks_t = tf.constant(unit_masks)
    alpha = tf.cast(cell.alpha, tf.float32)
    w_in = tf.cast(cell.effective_kernel, tf.float32)
    for start in range(0, batch, chunk):
        x_tbi = tf.transpose(tf.constant(inputs[start:start + chunk]), [1, 0, 2])
        u_tbn = tf.matmul(x_tbi, w_in)
        if cell.bias is not None:
            u_tbn = u_tbn + cell.bias
        h0 = cell.get_initial_state(tf.shape(x_tbi)[1])[0]
        h0_kbn = tf.broadcast_to(tf.cast(h0, tf.float32)[None], [k, *h0.shape])
        states = loop(u_tbn, h0_kbn, kernels_t, alpha, masks_t, w_out)
        yield tf.transpose(states, [1, 2, 0, 3])


def run_variants(layer: CTRNN, inputs, recurrent_kernels=None, unit_masks=None, *,
                 readout_kernel=None) -> np.ndarray:
    """States of a `CTRNN` layer under `K` weight/unit variants.

    Args:
        layer: a built `CTRNN` layer (its input kernel, bias, tau, activation
            and initial state are used as they are).
        inputs: `(batch, time, channels)` array.
        recurrent_kernels: `(K, N, N)` (or `(N, N)`) effective recurrent
            kernels; `None` uses the layer's own.
        unit_masks: `(K, N)` multiplicative masks on the states (0 silences a
            unit at every step); `None` silences nothing.
        readout_kernel: optional `(N, O)` matrix; the states are projected on it
            inside the time loop, which returns `states @ readout_kernel` and
            keeps memory at `O` instead of `N` numbers per step (a readout of a
            few units under many variants runs faster this way).

    Returns:
        float32 array `(K, batch, time, N)`, or `(K, batch, time, O)` with
        `readout_kernel`.
    """
    if readout_kernel is not None:
        readout_kernel = np.asarray(readout_kernel, np.float32)
        if readout_kernel.ndim != 2 or readout_kernel.shape[0] != layer.units:
            raise ValueError(
                f"Argument `readout_kernel` must have shape ({layer.units}, outputs); received "
                f"{readout_kernel.shape}."
            )
    pieces = [states.numpy() for states in _state_chunks(layer, inputs, recurrent_kernels,
                                                          unit_masks, readout_kernel)]
    return np.concatenate(pieces, axis=1)


def _readout_of(model: keras.Model):
    from ctxrnn.readout import find_readouts

    heads = find_readouts(model)
    if len(heads) != 1:
        raise ValueError(
            f"predict_variants needs a model with one Dense readout applied to the CTRNN states; "
            f"{model.name!r} has {len(heads)} ({[h.name for h in heads]}). Pass `readout=`."
        )
    return heads[0]


def predict_variants(
    model: keras.Model, inputs, recurrent_kernels=None, unit_masks=None, readout=None
) -> np.ndarray:
    """Outputs of an `Input -> CTRNN -> Dense` model under `K` variants.

    Args:
        model: the trained model (not modified).
        inputs: `(batch, time, channels)` array.
        recurrent_kernels: `(K, N, N)` effective recurrent kernels, or `None`.
        unit_masks: `(K, N)` masks on the states, or `None`.
        readout: the `Dense` readout layer; defaults to the model's last layer.

    Returns:
        float32 array `(K, batch, time, outputs)`.

    Example:

    ```python
    fractions = [0.0, 0.1, 0.2]
    kernels = masks.pruning_masks(w, fractions) * w
    outputs = predict_variants(model, batch.inputs, recurrent_kernels=kernels)
    ```
    """
    layer = find_ctrnn(model)
    readout = readout or _readout_of(model)
    w_out = tf.cast(readout.kernel, tf.float32)
    outputs = []
    for y in _state_chunks(layer, inputs, recurrent_kernels, unit_masks, w_out):
        if readout.use_bias:
            y = y + readout.bias
        outputs.append(readout.activation(y).numpy())
    return np.concatenate(outputs, axis=1)
