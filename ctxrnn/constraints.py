"""Constraints that make connectivity and plasticity masks exact.

`MaskedUpdate` is attached by `CTRNNCell` to its kernels. Keras optimizers call a
variable's constraint after every update (after momentum, Adam moments and
AdamW's decay have moved the entries), so restoring frozen entries there keeps
them bit-identical whatever the optimizer does — which masking the gradient
alone does not.
"""

from __future__ import annotations

import keras
from keras import ops


class MaskedUpdate(keras.constraints.Constraint):
    """Restores frozen entries, zeroes absent ones, keeps Dale's signs.

    After the user's own constraint (if any):
    `w = where(plasticity, w, snapshot)`, then `w = w * connectivity`, then, if
    `signs` is given, plastic entries whose sign disagrees with their row's sign
    are set to 0. The result is also written to `snapshot`, so the snapshot
    always holds the weights as of the last update.

    This object holds references to the cell's mask variables; it is rebuilt
    by the cell in `build` and is not serialized itself (the masks are saved as
    weights of the cell).

    Args:
        connectivity: variable, 1 where a connection exists.
        plasticity: variable, 1 where an entry may learn.
        snapshot: variable holding the last committed weights.
        signs: optional `(rows,)` variable of +1/-1 (Dale's law), or `None`.
        user_constraint: optional constraint applied first.
    """

    def __init__(self, connectivity, plasticity, snapshot, signs=None, user_constraint=None):
        self.connectivity = connectivity
        self.plasticity = plasticity
        self.snapshot = snapshot
        self.signs = signs
        self.user_constraint = user_constraint

    def __call__(self, w):
        if self.user_constraint is not None:
            w = self.user_constraint(w)
        w = ops.where(self.plasticity > 0, w, self.snapshot)
        w = ops.where(self.connectivity > 0, w, ops.zeros_like(w))
        if self.signs is not None:
            signs = ops.expand_dims(self.signs, -1)
            wrong_sign = (signs * w < 0) & (self.plasticity > 0)
            w = ops.where(wrong_sign, ops.zeros_like(w), w)
        self.snapshot.assign(w)
        return w

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="ctxrnn")
class MinValue(keras.constraints.Constraint):
    """Clips a weight from below, e.g. a trainable `tau` to stay >= `dt`.

    Args:
        min_value: float, the smallest allowed value.
    """

    def __init__(self, min_value: float):
        self.min_value = float(min_value)

    def __call__(self, w):
        return ops.maximum(w, ops.cast(self.min_value, w.dtype))

    def get_config(self):
        return {"min_value": self.min_value}


class PerNetwork(keras.constraints.Constraint):
    """A constraint applied to each network's slice of a stacked weight (leading axis
    K) on its own, so that an axis-dependent one (`MaxNorm`, `UnitNorm`) acts on
    network k's weight as it acts on an unstacked network's.

    Built by a stacked `CTRNNCell` around the user's constraint; not serialized
    itself (the cell saves the user's constraint).

    Args:
        constraint: the constraint of one network's weight.
    """

    def __init__(self, constraint):
        self.constraint = constraint

    def __call__(self, w):
        return ops.stack([self.constraint(w[k]) for k in range(w.shape[0])])

    def get_config(self):
        return {}

