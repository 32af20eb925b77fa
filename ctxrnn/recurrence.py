"""The time loop of a `CTRNN`: forward and backward, each one compiled XLA loop.

For all steps `t = 1..T` (time-major arrays):

    z_t = h_{t-1} @ W + u_t            (u_t: input projection + bias + noise)
    h_t = h_{t-1} + alpha * (f(z_t) - h_{t-1})

With a step mask `m_t` (0/1, `(T, B, 1)`) a masked step carries the state:
`h_t = m_t * step(h_{t-1}) + (1 - m_t) * h_{t-1}`. Without one, the loops hold
no mask operation at all.

Stacked networks (`CTRNN(..., networks=K)`, `run_stacked`) run loops of their own
on network-major arrays: drive `(K, T, B, N)`, kernels `(K, N, N)`; each step's
matmul is one batched matmul over the K networks.

A low-rank kernel can be given as its factors, `W = left @ right` with `left`
`(N, R)` and `right` `(R, N)`: each step then costs two thin matmuls,
`(h @ left) @ right`, O(B N R) instead of O(B N^2), and the kernel is never
formed (at N = 4096 the dense step is 16 M multiply-adds per trial).

The gradient is written by hand (`tf.custom_gradient`) so that:
- the loop bodies hold only what must be sequential (one matmul and a few
  element-wise ops per step);
- the weight gradient is one matmul over all steps, `dW = H_{t-1}^T dZ`;
- `f'` of a built-in activation is formed inside the backward loop from the
  stored outputs (no separate pass over a (T, B, N) array); of any other
  activation, for all steps at once by autodiff before the loop.
Autodiff through a compiled while-loop is 8-14x slower on CPU
(`shared/PERFORMANCE.md`); these two small compiled loops are not. They are
traced without autograph (their loops are explicit `tf.while_loop`s): converting
the source of these and the noise kernels took ~1 s of a new model's first call.
"""

from __future__ import annotations

import functools

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

# Derivatives of common activations from their *output* r = f(z), so the
# forward loop need not store z.
_DERIVATIVE_FROM_OUTPUT = {
    "tanh": lambda r: 1.0 - tf.square(r),
    "sigmoid": lambda r: r * (1.0 - r),
    "relu": lambda r: tf.cast(r > 0, r.dtype),
    "linear": tf.ones_like,
}


def _times(x, factors):
    """`x @ factors[0] @ factors[1] ...`, left to right (a dense kernel is one factor)."""
    for factor in factors:
        x = tf.matmul(x, factor)
    return x


@functools.lru_cache(maxsize=None)
def _forward_loop(activation, leaky: bool, keep_preactivation: bool, masked: bool,
                  factors: int = 1):
    # `factors` is a cache key: one traced loop per factor count, since
    # reduce_retracing would relax a loop traced for both to unknown shapes.
    def forward(u, h0, w, alpha, mask):
        steps = tf.shape(u)[0]
        states = tf.TensorArray(u.dtype, size=steps)
        outputs = tf.TensorArray(u.dtype, size=steps)

        def body(t, h, states, outputs):
            z = _times(h, w) + u[t]
            r = activation(z)
            stepped = h + alpha * (r - h) if leaky else r
            h = tf.where(mask[t] > 0, stepped, h) if masked else stepped
            return t + 1, h, states.write(t, h), outputs.write(t, z if keep_preactivation else r)

        _, _, states, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (0, h0, states, outputs),
            parallel_iterations=1, maximum_iterations=steps,
        )
        return states.stack(), outputs.stack()

    return tf.function(forward, jit_compile=True, reduce_retracing=True, autograph=False)


@functools.lru_cache(maxsize=None)
def _backward_loop(leaky: bool, keep_state_gradients: bool, masked: bool, factors: int = 1,
                   derivative: str | None = None):
    """The backward loop. With `derivative` (a key of `_DERIVATIVE_FROM_OUTPUT`) its
    `slopes` argument holds the forward outputs `r` and each step forms its own
    `alpha * f'(r_t)` (one pass over memory fewer than forming all slopes first);
    without, `slopes` holds them ready."""
    slope_from_output = _DERIVATIVE_FROM_OUTPUT[derivative] if derivative else None

    def backward(grad_states, slopes, w_transposed, alpha, mask):
        steps = tf.shape(grad_states)[0]
        one_minus_alpha = 1.0 - alpha
        grad_z = tf.TensorArray(grad_states.dtype, size=steps)
        grad_h = tf.TensorArray(grad_states.dtype, size=steps if keep_state_gradients else 0)

        def body(t, carry, grad_z, grad_h):
            dh = grad_states[t] + carry
            slope = slopes[t]
            if slope_from_output is not None:
                slope = slope_from_output(slope)
                if leaky:
                    slope = alpha * slope
                if masked:
                    slope = mask[t] * slope
            dz = dh * slope
            carry = _times(dz, w_transposed)
            if leaky:
                carry = carry + one_minus_alpha * dh
            if masked:
                # A masked step copied h_{t-1}: its gradient passes through whole.
                carry = tf.where(mask[t] > 0, carry, dh)
            if keep_state_gradients:
                grad_h = grad_h.write(t, dh)
            return t - 1, carry, grad_z.write(t, dz), grad_h

        _, carry, grad_z, grad_h = tf.while_loop(
            lambda t, *_: t >= 0,
            body,
            (steps - 1, tf.zeros_like(grad_states[0]), grad_z, grad_h),
            parallel_iterations=1,
            maximum_iterations=steps,
        )
        stacked_h = grad_h.stack() if keep_state_gradients else tf.zeros([0], grad_states.dtype)
        return grad_z.stack(), carry, stacked_h

    return tf.function(backward, jit_compile=True, reduce_retracing=True, autograph=False)


def _activation_slopes(activation, preactivations):
    """f'(z) for all steps at once, by autodiff (activations without a known derivative)."""
    with tf.GradientTape() as tape:
        tape.watch(preactivations)
        values = activation(preactivations)
    return tape.gradient(values, preactivations)


def run(u, h0, w, alpha, activation, activation_name, *, leaky=True, alpha_trainable=False,
        mask=None):
    """Runs the recurrence over all steps and returns the states `(T, B, N)`.

    Args:
        u: `(T, B, N)` input drive (projected inputs + bias + noise).
        h0: `(B, N)` initial state.
        w: `(N, N)` effective recurrent kernel; or a pair `(left, right)` of
            `(N, R)` and `(R, N)` factors of a low-rank kernel `W = left @ right`,
            which is then never formed.
        alpha: `dt / tau`, broadcastable to `(1, N)`.
        activation: element-wise callable.
        activation_name: its name (`"tanh"`, ...) or `None` for a custom one.
        leaky: `False` only when `alpha` is exactly 1 and not trained.
        alpha_trainable: whether a gradient for `alpha` is needed.
        mask: optional `(T, B, 1)` float tensor of 0/1 per step; a step with 0
            carries the previous state. `None` runs the unmasked loops.

    Returns:
        The states `h_1..h_T`, shaped like `u`.
    """
    factors = tuple(w) if isinstance(w, (tuple, list)) else (w,)
    if len(factors) not in (1, 2) or (len(factors) == 2 and factors[0].shape.rank != 2):
        raise ValueError(
            "Argument `w` must be a kernel (N, N) or a pair of low-rank factors "
            f"(N, R), (R, N); received {len(factors)} tensors of shapes "
            f"{[tuple(f.shape) for f in factors]}.")
    keep_z = activation_name not in _DERIVATIVE_FROM_OUTPUT
    masked = mask is not None
    forward = _forward_loop(activation, leaky, keep_z, masked, len(factors))
    backward = _backward_loop(leaky, alpha_trainable, masked, len(factors),
                              None if keep_z else activation_name)
    # The loops take the mask as an argument either way; an unmasked run gets a
    # placeholder it never reads.
    step_mask = tf.stop_gradient(tf.cast(mask, u.dtype)) if masked else tf.zeros([0], u.dtype)

    last = factors[-1]
    units = tf.shape(last)[-1]
    # alpha enters the loops broadcast to (1, N): a scalar alpha traced after a vector
    # one (reduce_retracing) would relax to unknown rank and break the loop.
    # Broadcasting here, outside the custom gradient, lets autodiff sum alpha's
    # gradient back to its own shape.
    alpha = tf.convert_to_tensor(alpha, dtype=u.dtype)
    alpha_shape = [1, last.shape[-1]] if last.shape[-1] is not None else tf.stack([1, units])
    alpha_n = tf.broadcast_to(alpha, alpha_shape)

    @tf.custom_gradient
    def recurrence(u, h0, alpha_n, *kernel):
        # stop_gradient: the hand-written gradient below replaces autodiff, so no
        # tape may trace the compiled loop for its own backward pass.
        states, outputs = forward(tf.stop_gradient(u), tf.stop_gradient(h0),
                                  tuple(tf.stop_gradient(f) for f in kernel),
                                  tf.stop_gradient(alpha_n), step_mask)
        # The loops relax their shapes after retracing (reduce_retracing); the states
        # have u's shape, which a layer built from them (a subclassed model's) needs.
        states.set_shape(u.shape)

        def grad(grad_states):
            if keep_z:
                slopes = _activation_slopes(activation, outputs)
                slopes = alpha_n * slopes if leaky else slopes
                if masked:
                    slopes = step_mask * slopes
            else:
                # The loop forms the slopes from the outputs. tf.identity: a forward
                # tensor handed straight to the compiled loop is not captured when the
                # recurrence runs in a tf.cond branch (a low-rank kernel's).
                slopes = tf.identity(outputs)
            transposed = tuple(tf.linalg.matrix_transpose(f) for f in reversed(kernel))
            grad_z, grad_h0, grad_h = backward(
                grad_states, slopes, transposed, tf.identity(alpha_n), step_mask)
            previous = tf.concat([h0[None], states[:-1]], axis=0)
            grad_kernel = _kernel_gradients(previous, grad_z, kernel, units)
            grad_alpha = None
            if alpha_trainable:
                responses = activation(outputs) if keep_z else outputs
                change = responses - previous
                if masked:
                    change = step_mask * change
                grad_alpha = tf.reduce_sum(
                    tf.reduce_sum(grad_h * change, axis=0), axis=-2, keepdims=True)
            return (grad_z, grad_h0, grad_alpha, *grad_kernel)

        return states, grad

    return recurrence(u, h0, alpha_n, *factors)


@functools.lru_cache(maxsize=None)
def _stacked_forward_loop(activation, leaky: bool, keep_preactivation: bool):
    def forward(u, h0, w, alpha):
        networks, steps, batch, units = (tf.shape(u)[i] for i in range(4))
        zeros = tf.zeros(tf.stack([networks, steps + 1, batch, units]), u.dtype)
        # states[:, t] is h_t, h_0 included: the kernel gradient pairs it with dz_t
        # in place. Outputs are also written (B, K, T, N), the layer's layout.
        states = xla.dynamic_update_slice(zeros, h0[:, None], [0, 0, 0, 0])
        responses = tf.zeros_like(u)
        outputs = tf.zeros(tf.stack([batch, networks, steps, units]), u.dtype)

        def body(t, h, states, responses, outputs):
            u_t = xla.dynamic_slice(u, [0, t, 0, 0], tf.stack([networks, 1, batch, units]))
            z = tf.matmul(h, w) + u_t[:, 0]
            r = activation(z)
            h_next = h + alpha * (r - h) if leaky else r
            # A retrace with relaxed shapes can leave u's network count unknown;
            # the loop's state keeps the static shape it entered with.
            h_next.set_shape(h.shape)
            h = h_next
            return (t + 1, h, xla.dynamic_update_slice(states, h[:, None], [0, t + 1, 0, 0]),
                    xla.dynamic_update_slice(responses, (z if keep_preactivation else r)[:, None],
                                             [0, t, 0, 0]),
                    xla.dynamic_update_slice(outputs, tf.transpose(h, [1, 0, 2])[:, :, None],
                                             [0, 0, t, 0]))

        _, _, states, responses, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (0, h0, states, responses, outputs),
            parallel_iterations=1, maximum_iterations=steps)
        return states, responses, outputs

    return tf.function(forward, jit_compile=True, reduce_retracing=True, autograph=False)


@functools.lru_cache(maxsize=None)
def _stacked_backward_loop(leaky: bool, keep_state_gradients: bool, derivative: str | None):
    slope_from_output = _DERIVATIVE_FROM_OUTPUT[derivative] if derivative else None

    def backward(grad_outputs, slopes, w_transposed, alpha):
        networks, steps, batch, units = (tf.shape(slopes)[i] for i in range(4))
        # grad_z[:, t] is dz_t; the extra last slot stays 0 (see the forward's states).
        grad_z = tf.zeros(tf.stack([networks, steps + 1, batch, units]), slopes.dtype)
        grad_h = tf.zeros_like(slopes) if keep_state_gradients else tf.zeros([0], slopes.dtype)
        size = tf.stack([networks, 1, batch, units])

        def body(t, carry, grad_z, grad_h):
            carry_shape = carry.shape
            incoming = xla.dynamic_slice(grad_outputs, [0, 0, t, 0],
                                         tf.stack([batch, networks, 1, units]))
            dh = tf.transpose(incoming[:, :, 0], [1, 0, 2]) + carry
            slope = xla.dynamic_slice(slopes, [0, t, 0, 0], size)[:, 0]
            if slope_from_output is not None:
                slope = slope_from_output(slope)
                slope = alpha * slope if leaky else slope
            dz = dh * slope
            carry = tf.matmul(dz, w_transposed)
            if leaky:
                carry = carry + (1.0 - alpha) * dh
            carry.set_shape(carry_shape)  # as in the forward loop
            if keep_state_gradients:
                grad_h = xla.dynamic_update_slice(grad_h, dh[:, None], [0, t, 0, 0])
            return t - 1, carry, xla.dynamic_update_slice(grad_z, dz[:, None], [0, t, 0, 0]), grad_h

        _, carry, grad_z, grad_h = tf.while_loop(
            lambda t, *_: t >= 0, body,
            (steps - 1, tf.zeros(tf.stack([networks, batch, units]), slopes.dtype), grad_z, grad_h),
            parallel_iterations=1, maximum_iterations=steps)
        return grad_z, carry, grad_h

    return tf.function(backward, jit_compile=True, reduce_retracing=True, autograph=False)


def run_stacked(u, h0, w, alpha, activation, activation_name, *, leaky=True,
                alpha_trainable=False):
    """The leaky recurrence of K stacked networks, network-major.

    Args:
        u: `(K, T, B, N)` input drive (projected inputs + bias + noise).
        h0: `(K, B, N)` initial states.
        w: `(K, N, N)` effective recurrent kernels.
        alpha: `dt / tau`, broadcastable to `(K, 1, N)`.
        activation: element-wise callable.
        activation_name: its name (`"tanh"`, ...) or `None` for a custom one.
        leaky: `False` only when `alpha` is exactly 1 and not trained.
        alpha_trainable: whether a gradient for `alpha` is needed.

    Returns:
        The states `h_1..h_T` as `(B, K, T, N)`, the stacked layer's output layout.

    The arrays stay network-major from the input projection to the kernel
    gradient, which is then one batched matmul over the stored states with no
    transpose or copy: time-major, the same step spent six more passes over
    `(T, K, B, N)` arrays (a concatenation and transposes) on it.
    """
    keep_z = activation_name not in _DERIVATIVE_FROM_OUTPUT
    forward = _stacked_forward_loop(activation, leaky, keep_z)
    backward = _stacked_backward_loop(leaky, alpha_trainable, None if keep_z else activation_name)
    networks, units = tf.shape(w)[0], tf.shape(w)[-1]
    alpha = tf.convert_to_tensor(alpha, dtype=u.dtype)
    alpha_k = tf.broadcast_to(alpha, tf.stack([networks, 1, units]))

    @tf.custom_gradient
    def recurrence(u, h0, alpha_k, w):
        states, responses, outputs = forward(
            tf.stop_gradient(u), tf.stop_gradient(h0), tf.stop_gradient(w),
            tf.stop_gradient(alpha_k))
        outputs.set_shape([u.shape[2], u.shape[0], u.shape[1], u.shape[3]])

        def grad(grad_outputs):
            if keep_z:
                slopes = _activation_slopes(activation, responses)
                slopes = alpha_k[:, None] * slopes if leaky else slopes
            else:
                slopes = tf.identity(responses)  # the loop forms the slopes from them
            grad_z, grad_h0, grad_h = backward(grad_outputs, slopes, tf.linalg.matrix_transpose(w),
                                               tf.identity(alpha_k))
            flat = tf.stack([networks, -1, units])
            grad_w = tf.matmul(tf.reshape(states, flat), tf.reshape(grad_z, flat),
                               transpose_a=True)
            grad_alpha = None
            if alpha_trainable:
                responses_r = activation(responses) if keep_z else responses
                change = responses_r - states[:, :-1]
                grad_alpha = tf.reduce_sum(grad_h * change, axis=[1, 2])[:, None]
            return grad_z[:, :-1], grad_h0, grad_alpha, grad_w

        return outputs, grad

    return recurrence(u, h0, alpha_k, w)


def _kernel_gradients(previous, grad_z, kernel, units):
    """dL/dW = H_{t-1}^T dZ over all steps, one matmul; for factors, its products with them."""
    previous = tf.reshape(previous, [-1, units])
    grad_z = tf.reshape(grad_z, [-1, units])
    if len(kernel) == 1:
        return (tf.matmul(previous, grad_z, transpose_a=True),)
    # W = L R: dL = H^T (dZ R^T), dR = (H L)^T dZ, never forming the (N, N) dW.
    left, right = kernel
    return (tf.matmul(previous, tf.matmul(grad_z, right, transpose_b=True), transpose_a=True),
            tf.matmul(tf.matmul(previous, left), grad_z, transpose_a=True))
