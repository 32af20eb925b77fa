"""Builders of connectivity and plasticity masks.

A mask is a float32 array of 0s and 1s with the shape of the weight it acts on.
For the recurrent kernel of a `CTRNN` (shape `(units, units)`), entry `[i, j]` is
the connection **from unit `i` to unit `j`** (Keras' `h @ W` convention; the
mathematical `W_rec` of `dh/dt = -h/tau + f(W_rec h + ...)` is its transpose).

- A *connectivity mask* says which connections exist. Pruning and lesions set
  entries to 0; the layer multiplies its kernel by it in every forward pass.
- A *plasticity mask* says which existing connections may learn. Entries at 0
  stay bit-identical through training (see `ctxrnn.CTRNN`).

Every builder is pure numpy and seeded where it draws random numbers.

Example:

```python
import ctxrnn
from ctxrnn import masks

sizes = (50, 50)
connectivity = masks.module_mask(sizes, inter_density=0.0)  # two isolated modules
plastic = masks.intra_module_mask(sizes, module=0)          # only module 0 learns
layer = ctxrnn.CTRNN(100, recurrent_connectivity=connectivity,
                     recurrent_plasticity=plastic)
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PRUNING_ORDERS = ("magnitude", "random")
PRUNING_SIGNS = ("both", "positive", "negative")


def validate_mask(mask, shape, name: str) -> np.ndarray:
    """Returns `mask` as a float32 array of 0/1, or raises a named error.

    Args:
        mask: array-like to check.
        shape: the expected shape (a tuple of ints).
        name: the argument name used in error messages.

    Returns:
        A float32 numpy array of shape `shape` holding only 0.0 and 1.0.

    Raises:
        ValueError: if the shape differs, or a value is not 0 or 1 (NaN included).
    """
    array = np.asarray(mask)
    if array.dtype == bool:
        array = array.astype(np.float32)
    if array.shape != tuple(shape):
        raise ValueError(
            f"Argument `{name}` must have shape {tuple(shape)}; received an array "
            f"of shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(
            f"Argument `{name}` must be numeric (0/1 or bool); received dtype "
            f"{array.dtype}."
        )
    binary = (array == 0) | (array == 1)
    if not binary.all():
        bad = array[~binary].ravel()[:3]
        raise ValueError(
            f"Argument `{name}` must hold only 0 and 1; received values such as "
            f"{bad.tolist()}."
        )
    return array.astype(np.float32)


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in sizes)
    if not sizes or any(s <= 0 for s in sizes):
        raise ValueError(
            f"Argument `sizes` must be a non-empty sequence of positive module "
            f"sizes; received {sizes}."
        )
    return sizes


def module_labels(sizes: Sequence[int]) -> np.ndarray:
    """Returns the module index of every unit, e.g. `(2, 3)` -> `[0, 0, 1, 1, 1]`."""
    sizes = _check_sizes(sizes)
    return np.repeat(np.arange(len(sizes)), sizes)


def module_mask(
    sizes: Sequence[int], inter_density: float = 1.0, seed: int | None = None
) -> np.ndarray:
    """Connectivity mask of a modular network.

    Intra-module blocks are fully connected; each inter-module connection exists
    with probability `inter_density` (1.0: all, 0.0: isolated modules).

    Args:
        sizes: number of units in each module; `sum(sizes)` is the layer size.
        inter_density: float in [0, 1], fraction of inter-module connections kept.
        seed: int, seed of the random draw when `0 < inter_density < 1`.

    Returns:
        float32 array of shape `(sum(sizes), sum(sizes))`.
    """
    sizes = _check_sizes(sizes)
    if not 0.0 <= inter_density <= 1.0:
        raise ValueError(
            f"Argument `inter_density` must be in [0, 1]; received {inter_density}."
        )
    labels = module_labels(sizes)
    intra = labels[:, None] == labels[None, :]
    if inter_density in (0.0, 1.0):
        inter = np.full(intra.shape, bool(inter_density))
    else:
        inter = np.random.default_rng(seed).random(intra.shape) < inter_density
    return (intra | inter).astype(np.float32)


def intra_module_mask(sizes: Sequence[int], module: int) -> np.ndarray:
    """Mask with 1 only on module `module`'s intra-module block.

    Used as a plasticity mask to pre-train one module while the rest of the
    network is frozen (MoLaP).
    """
    sizes = _check_sizes(sizes)
    if not 0 <= module < len(sizes):
        raise ValueError(
            f"Argument `module` must be in [0, {len(sizes) - 1}]; received {module}."
        )
    in_module = module_labels(sizes) == module
    return (in_module[:, None] & in_module[None, :]).astype(np.float32)


def outgoing_mask(units: int, removed) -> np.ndarray:
    """Connectivity mask without the outgoing connections of the `removed` units.

    Row `i` of a recurrent kernel holds unit `i`'s outgoing connections, so the
    rows of `removed` are 0 and everything else is 1: a unit lesion (Yang et
    al. 2019, Driscoll et al. 2024) whose units still receive input and evolve
    but influence no other unit. Multiply it with the layer's current mask.

    Args:
        units: N.
        removed: indices of the lesioned units (ints in `[0, N)`).

    Returns:
        float32 array of shape `(units, units)`.
    """
    removed = np.asarray(removed)
    if removed.size and (not np.issubdtype(removed.dtype, np.integer) or removed.min() < 0
                         or removed.max() >= units):
        raise ValueError(f"Argument `removed` must hold unit indices in [0, {units}); received "
                         f"{removed.ravel()[:5].tolist()}{' ...' if removed.size > 5 else ''}.")
    mask = np.ones((units, units), np.float32)
    mask[removed.astype(int).ravel()] = 0.0
    return mask


def random_mask(shape: Sequence[int], density: float, seed: int) -> np.ndarray:
    """Random sparse mask: each entry is 1 with probability `density`."""
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"Argument `density` must be in [0, 1]; received {density}.")
    rng = np.random.default_rng(seed)
    return (rng.random(tuple(shape)) < density).astype(np.float32)


def no_self_connections(units: int) -> np.ndarray:
    """Connectivity mask without autapses (zero diagonal)."""
    return (1.0 - np.eye(units)).astype(np.float32)


def dale_signs(
    units: int, excitatory_fraction: float = 0.8, seed: int | None = None
) -> np.ndarray:
    """Sign of every unit's outgoing connections under Dale's law.

    Args:
        units: number of units.
        excitatory_fraction: fraction of units that are excitatory (+1); the rest
            are inhibitory (-1).
        seed: if given, the excitatory units are a random subset; otherwise the
            first units are excitatory.

    Returns:
        float32 array of shape `(units,)` with +1 and -1. Pass it to
        `CTRNN(recurrent_signs=...)`; row `i` of the recurrent kernel then keeps
        the sign of unit `i`.
    """
    if not 0.0 <= excitatory_fraction <= 1.0:
        raise ValueError(
            "Argument `excitatory_fraction` must be in [0, 1]; received "
            f"{excitatory_fraction}."
        )
    n_exc = int(round(units * excitatory_fraction))
    signs = np.where(np.arange(units) < n_exc, 1.0, -1.0).astype(np.float32)
    if seed is not None:
        signs = np.random.default_rng(seed).permutation(signs)
    return signs


def _removal_ranks(weights, connectivity, order, sign, seed) -> tuple[np.ndarray, int]:
    """Orders the candidate entries for removal; returns (flat indices, n_existing)."""
    if order not in PRUNING_ORDERS:
        raise ValueError(
            f"Argument `order` must be one of {PRUNING_ORDERS}; received {order!r}."
        )
    if sign not in PRUNING_SIGNS:
        raise ValueError(
            f"Argument `sign` must be one of {PRUNING_SIGNS}; received {sign!r}."
        )
    flat = weights.ravel()
    exists = connectivity.ravel() > 0
    candidate = exists.copy()
    if sign == "positive":
        candidate &= flat > 0
    elif sign == "negative":
        candidate &= flat < 0
    indices = np.flatnonzero(candidate)
    if order == "magnitude":
        indices = indices[np.argsort(np.abs(flat[indices]), kind="stable")]
    else:
        indices = np.random.default_rng(seed).permutation(indices)
    return indices, int(exists.sum())


def pruning_masks(
    weights,
    fractions: Sequence[float],
    *,
    connectivity=None,
    order: str = "magnitude",
    sign: str = "both",
    seed: int | None = None,
) -> np.ndarray:
    """Connectivity masks with a growing fraction of connections removed.

    For each fraction `f`, `round(f * n)` of the `n` existing connections are
    removed, taken from the candidates (all, positive-only or negative-only) in
    `order`: lowest magnitude first, or random. The masks are nested: a larger
    fraction removes a superset.

    Args:
        weights: array (units, units), the trained recurrent kernel.
        fractions: sequence of floats in [0, 1]; fraction of *existing*
            connections to remove.
        connectivity: optional current connectivity mask; only existing entries
            are candidates. Defaults to all entries.
        order: `"magnitude"` (lowest |w| first, Jarne) or `"random"` (control).
        sign: `"both"`, `"positive"` or `"negative"` — which connections may go.
        seed: int, seed for `order="random"`.

    Returns:
        float32 array of shape `(len(fractions), *weights.shape)`.

    Raises:
        ValueError: if a fraction asks for more connections than the candidates
            (e.g. 60 % removal from the positive ones only when 50 % are positive).
    """
    weights = np.asarray(weights, dtype=np.float32)
    if connectivity is None:
        connectivity = np.ones_like(weights)
    connectivity = validate_mask(connectivity, weights.shape, "connectivity")
    fractions = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if fractions.size and (fractions.min() < 0 or fractions.max() > 1):
        raise ValueError(
            f"Argument `fractions` must lie in [0, 1]; received {fractions.tolist()}."
        )
    ranked, n_existing = _removal_ranks(weights, connectivity, order, sign, seed)
    counts = np.rint(fractions * n_existing).astype(int)
    if counts.size and counts.max() > ranked.size:
        raise ValueError(
            f"Cannot remove {counts.max()} connections with sign={sign!r}: only "
            f"{ranked.size} candidates exist. Lower the largest of `fractions`."
        )
    # rank[k] = position of flat entry k in the removal order (inf if never removed).
    position = np.full(weights.size, np.iinfo(np.int64).max, dtype=np.int64)
    position[ranked] = np.arange(ranked.size)
    removed = position[None, :] < counts[:, None]
    masks = np.broadcast_to(connectivity.ravel(), removed.shape).copy()
    masks[removed] = 0.0
    return masks.reshape((len(counts),) + weights.shape).astype(np.float32)


def prune_lowest_magnitude(weights, fraction: float, connectivity=None) -> np.ndarray:
    """Connectivity mask with the lowest-magnitude `fraction` of connections removed.

    Args:
        weights: array (units, units).
        fraction: float in [0, 1], fraction of existing connections to remove.
        connectivity: optional current connectivity mask.

    Returns:
        float32 mask with the same shape as `weights`.
    """
    return pruning_masks(weights, [fraction], connectivity=connectivity)[0]
