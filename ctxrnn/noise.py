"""Fast Gaussian noise for the recurrent time loop.

Drawing `(time, batch, units)` standard normals with TensorFlow's Philox +
Box-Muller kernel costs more than the rest of a small network's training step
on a CPU (see `shared/PERFORMANCE.md`). The default `"table"` sampler draws one
32-bit random word per *pair* of normals (Threefry-2x32, counter-based, inside
XLA: on the CPU XLA's Threefry is about 3x faster than TensorFlow's Philox
kernel, XLA's Philox about 80x slower) and maps each 16-bit half through a
table of the 65 536 equiprobable quantiles of N(0, 1) (inverse-transform
sampling at 16-bit resolution). `add_noise` fuses the draw, the scaling and
the addition into one XLA kernel, so noisy inputs cost one pass over memory.
Its samples:

- have mean 0 and variance exactly 1 (the table is rescaled to unit variance);
- are within 1/131 072 of N(0, 1) in Kolmogorov-Smirnov distance;
- never exceed |z| = 4.33, a tail that holds 1.5e-5 of N(0, 1)'s mass.

`"exact"` uses `tf.random.stateless_normal` instead (about 3x slower).
Both are driven by explicit stateless seeds, so the same seed gives the same noise.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf
from scipy import special

SAMPLERS = ("table", "exact")
_TABLE_BITS = 16
_HALF_MASK = (1 << _TABLE_BITS) - 1


@functools.lru_cache(maxsize=None)
def quantile_table() -> np.ndarray:
    """The 2**16 midpoint quantiles of N(0, 1), rescaled to unit variance."""
    levels = 1 << _TABLE_BITS
    table = special.ndtri((np.arange(levels) + 0.5) / levels)
    return (table / np.sqrt(np.mean(table**2))).astype(np.float32)


def _pairs_shape(shape):
    """The shape of the 32-bit words for normals of `shape`: one word per pair on the last axis."""
    return tf.concat([shape[:-1], [(shape[-1] + 1) // 2]], axis=0)


def _words_to_normals(words, last, table):
    """Normals from 32-bit `words` (pairs on their last axis): each 16-bit half indexes
    the quantile `table`; `last` is the normals' last size."""
    high = tf.bitwise.right_shift(words, _TABLE_BITS)
    low = tf.bitwise.bitwise_and(words, _HALF_MASK)
    index = tf.cast(tf.concat([high, low], axis=-1), tf.int32)
    return tf.gather(table, index)[..., :last]


def _table_normals(shape, seed, table):
    """Inside XLA: normals of the dynamic-but-compile-time-known `shape`, from `seed`."""
    words = tf.random.stateless_uniform(_pairs_shape(shape), seed, minval=None, maxval=None,
                                        dtype=tf.uint32, alg="threefry")
    return _words_to_normals(words, shape[-1], table)


def _per_network(draw, shape, seeds, axis, dtype=tf.float32):
    """`draw(network_shape, seeds[k])` for each network k (seeds is `(K, 2)`), stacked
    on `axis`: network k's noise is what an unstacked layer of its seed adds."""
    network_shape = _without_axis(shape, axis)
    # A loop over the networks, not K unrolled draws: XLA compiles the draw once
    # (unrolled, compiling 20 networks' noise took 5.6 s of a stacked model's first step).
    draws = tf.map_fn(lambda seed: draw(network_shape, seed), seeds,
                      fn_output_signature=dtype)
    return _network_axis_to(draws, axis)


def _without_axis(shape, axis):
    """A 1-D `shape` tensor without entry `axis` (one network's shape in a stack's)."""
    return tf.concat([shape[:axis], shape[axis + 1:]], axis=0)


def _network_axis_to(values, axis):
    """Moves the leading network axis of `values` to `axis`."""
    rank = values.shape.rank
    return tf.transpose(values, [*range(1, axis + 1), 0, *range(axis + 1, rank)])


# Threefry-2x32 (20 rounds) as XLA's `RngBitGenerator` computes it, written out so that
# K networks' words come from one elementwise kernel with a key per network instead of
# a loop over the networks (a stacked draw and add 17.2 -> 13.4 ms at K = 10 networks
# of (100, 64, 100)); the words are bit for bit those of `stateless_uniform`.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA


def _rotate_left(x, bits):
    return tf.bitwise.bitwise_or(tf.bitwise.left_shift(x, tf.constant(bits, tf.uint32)),
                                 tf.bitwise.right_shift(x, tf.constant(32 - bits, tf.uint32)))


def _threefry2x32(x0, x1, k0, k1):
    keys = (k0, k1, tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(k0, k1),
                                           tf.constant(_KEY_PARITY, tf.uint32)))
    x0, x1 = x0 + k0, x1 + k1
    for block in range(5):
        for bits in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = tf.bitwise.bitwise_xor(x0, _rotate_left(x1, bits))
        x0 = x0 + keys[(block + 1) % 3]
        x1 = x1 + keys[(block + 2) % 3] + tf.constant(block + 1, tf.uint32)
    return x0, x1


def _split_words(shape, seeds, split):
    """`(K, *shape)` words when XLA halves `shape` on axis `split`: counter c, row-major
    over the halved shape, gives the two words at positions 2j and 2j + 1 of that axis
    (XLA's `SplitShapeIntoHalves`)."""
    half = tf.tensor_scatter_nd_update(shape, [[split]], [(shape[split] + 1) // 2])
    counters = tf.cast(tf.range(tf.reduce_prod(half)), tf.uint32)[None]
    keys = tf.bitcast(seeds, tf.uint32)
    words = _threefry2x32(counters, tf.zeros_like(counters), keys[:, :1], keys[:, 1:])
    networks = tf.shape(seeds)[:1]
    words = tf.stack([tf.reshape(w, tf.concat([networks, half], 0)) for w in words],
                     axis=split + 2)
    paired = tf.tensor_scatter_nd_update(half, [[split]], [2 * half[split]])
    words = tf.reshape(words, tf.concat([networks, paired], 0))
    full = tf.concat([networks, shape], 0)
    return tf.slice(words, tf.zeros_like(full), full)


def _split_axis(shape) -> int | None:
    """The axis on which XLA halves a draw of static `shape` (its first axis of even size,
    else the first of the largest), or `None` while a size that decides it is unknown."""
    for axis, size in enumerate(shape):
        if size is None:
            return None
        if size % 2 == 0:
            return axis
    return max(range(len(shape)), key=lambda axis: (shape[axis], -axis))


def _stacked_normals(template, seeds, table, axis):
    """Normals shaped like `template`, network k's (index k of `axis`) drawn from
    `seeds[k]` exactly as `_table_normals` draws them for that seed."""
    shape = tf.shape(template)
    network_shape = _without_axis(shape, axis)
    static = template.shape.as_list()
    del static[axis]
    pairs = [*static[:-1], None if static[-1] is None else (static[-1] + 1) // 2]
    split = _split_axis(pairs)
    if split is None:  # a batch size that decides XLA's split is only known at run time
        return _per_network(lambda s, k: _table_normals(s, k, table), shape, seeds, axis)
    words = _split_words(_pairs_shape(network_shape), seeds, split)
    return _network_axis_to(_words_to_normals(words, network_shape[-1], table), axis)


def _normals(shape, seed, table, axis=None):
    return _table_normals(shape, seed, table)


def _add_normals(values, scale, seed, table, axis=None):
    normals = (_table_normals(tf.shape(values), seed, table) if axis is None
               else _stacked_normals(values, seed, table, axis))
    return values + tf.cast(scale, values.dtype) * tf.cast(normals, values.dtype)


# (draw, draw-and-add) compiled once each. Stacked draws need the number of networks
# (seeds' first dimension) static, so they are traced per shape; single draws trace
# once for any shape. No autograph: the kernels hold no Python control flow on
# tensors, and converting their source took a large part of a model's first call.
_SINGLE_KERNELS = tuple(tf.function(f, jit_compile=True, reduce_retracing=True, autograph=False)
                        for f in (_normals, _add_normals))
_STACKED_KERNELS = tuple(tf.function(f, jit_compile=True, autograph=False)
                         for f in (_stacked_normals, _add_normals))


def _sum_to_shape(x, shape):
    """Sums the broadcast `x` back to the (static) `shape` it was broadcast from."""
    lead = x.shape.rank - len(shape)
    axes = list(range(lead)) + [lead + i for i, size in enumerate(shape) if size == 1]
    return tf.reshape(tf.reduce_sum(x, axis=axes), shape)


def _add_table_noise(values, scale, seed, axis=None):
    """`values + scale * normals`, drawn and added in one XLA kernel. The gradient is
    written by hand: identity for `values`; for `scale` (a trainable time constant)
    the normals are drawn again from the same seed, so the forward kernel need not
    write them out (differentiating the XLA kernel itself made a step 3x slower)."""
    table = tf.constant(quantile_table())
    draw, draw_and_add = _SINGLE_KERNELS if axis is None else _STACKED_KERNELS

    @tf.custom_gradient
    def add(values, scale, seed):
        def grad(upstream):
            shape_of = tf.shape(values) if axis is None else upstream  # stacked: a template
            normals = tf.cast(draw(shape_of, seed, table, axis), upstream.dtype)
            scale_grad = _sum_to_shape(upstream * normals, scale.shape)
            return upstream, tf.cast(scale_grad, scale.dtype), None

        # Inputs cut from the tape: an eager tape would otherwise record the XLA call
        # itself and ask it for its intermediates (the stacked draw's loop state,
        # which cannot leave XLA).
        return draw_and_add(tf.stop_gradient(values), tf.stop_gradient(scale), seed, table,
                            axis), grad

    return add(values, scale, tf.identity(seed))


def _check_sampler(sampler):
    if sampler not in SAMPLERS:
        raise ValueError(f"Argument `sampler` must be one of {SAMPLERS}; received {sampler!r}.")


def _seed(seed):
    return tf.cast(seed, tf.int32)


def add_noise(values, scale, seed, sampler: str = "table"):
    """`values + scale * standard_normal(shape(values), seed)`, as one fused kernel.

    Args:
        values: float tensor the noise is added to.
        scale: scalar (or tensor broadcasting against `values`): the noise's std.
        seed: int32 tensor of shape `(2,)`, a stateless seed.
        sampler: `"table"` (fast, 16-bit inverse transform) or `"exact"`.

    Returns:
        A tensor of the shape and dtype of `values`.

    Example:

    >>> noisy = add_noise(tf.zeros((2, 3)), 0.1, tf.constant([1, 2]))
    """
    _check_sampler(sampler)
    values = tf.convert_to_tensor(values)
    if sampler == "exact":
        return values + tf.cast(scale, values.dtype) * tf.random.stateless_normal(
            tf.shape(values), _seed(seed), dtype=values.dtype)
    return _add_table_noise(values, tf.cast(scale, tf.float32), _seed(seed))


def add_stacked_noise(values, scale, seeds, axis: int, sampler: str = "table"):
    """`add_noise` for K stacked networks: network k (index `k` of `axis`) gets the
    noise `add_noise` would draw from `seeds[k]` for its slice, bit for bit.

    Args:
        values: float tensor with the network axis at `axis`.
        scale: tensor broadcasting against `values` (per-network stds on `axis`).
        seeds: K int32 seeds of shape `(2,)` (a list, or a `(K, 2)` tensor).
        axis: the network axis of `values` (non-negative).
        sampler: `"table"` or `"exact"`.

    Returns:
        A tensor of the shape and dtype of `values`.
    """
    _check_sampler(sampler)
    values = tf.convert_to_tensor(values)
    seeds = tf.cast(tf.stack(list(seeds)) if isinstance(seeds, (list, tuple)) else seeds,
                    tf.int32)
    if sampler == "exact":
        normals = _per_network(
            lambda shape, seed: tf.random.stateless_normal(shape, seed, dtype=values.dtype),
            tf.shape(values), seeds, axis, values.dtype)
        return values + tf.cast(scale, values.dtype) * normals
    return _add_table_noise(values, tf.cast(scale, tf.float32), seeds, axis)


def stacked_standard_normal(shape, seeds, axis: int, dtype=tf.float32, sampler: str = "table"):
    """`standard_normal(shape, seed)` for each seed, stacked along `axis`.

    Equals `tf.stack([standard_normal(shape, s, dtype, sampler) for s in seeds], axis)`
    bit for bit (stacked networks' noise).
    """
    shape = tf.unstack(tf.convert_to_tensor(shape, dtype=tf.int32))
    shape.insert(axis, len(seeds))
    return add_stacked_noise(tf.zeros(tf.stack(shape), dtype), 1.0, seeds, axis, sampler)


def standard_normal(shape, seed, dtype=tf.float32, sampler: str = "table"):
    """Draws standard normal noise.

    Args:
        shape: 1-D int tensor or list; the last dimension must be static.
        seed: int32 tensor of shape `(2,)`, a stateless seed.
        dtype: float dtype of the result.
        sampler: `"table"` (fast, 16-bit inverse transform) or `"exact"`.

    Returns:
        A tensor of the given shape and dtype (what `add_noise` adds to zeros of
        that shape with `scale=1`).
    """
    return add_noise(tf.zeros(shape, dtype), 1.0, seed, sampler)
