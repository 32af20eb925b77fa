"""Recurrent weight initialisers used in the reference papers."""

from __future__ import annotations

import math

import keras


@keras.saving.register_keras_serializable(package="ctxrnn")
class GainNormal(keras.initializers.Initializer):
    """Gain-scaled normal: entries ~ `gain * N(0, 1) / sqrt(fan_in)`.

    With `gain = 1.5` and `fan_in = N` this is MoLaP's `W_rec ~ g N(0, 1/N)`
    (Sompolinsky's chaotic regime for g > 1); Jarne's "pepe" init is `gain = 1`.

    Args:
        gain: float, the multiplier `g`. Default: `1.0`.
        seed: int or `None`, seed of the draw.

    Example:

    >>> init = GainNormal(gain=1.5, seed=0)
    >>> w = init((100, 100))
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        if not gain > 0:
            raise ValueError(f"Argument `gain` must be a positive number; received gain={gain}.")
        self.gain = float(gain)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        std = self.gain / math.sqrt(shape[0])
        return keras.random.normal(shape, stddev=std, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


RECURRENT_INITIALIZERS = ("orthogonal", "gain_normal", "standard_normal")


def resolve_recurrent_initializer(identifier, gain: float, seed: int | None):
    """Resolves the `recurrent_initializer` argument of `CTRNNCell`.

    `"orthogonal"`, `"gain_normal"` and `"standard_normal"` (`gain * N(0, 1)`)
    take `gain`; any other Keras initializer
    identifier is passed to `keras.initializers.get` and must keep `gain=1`.
    """
    if identifier == "orthogonal":
        return keras.initializers.Orthogonal(gain=gain, seed=seed)
    if identifier == "gain_normal":
        return GainNormal(gain=gain, seed=seed)
    if identifier == "standard_normal":  # O(1) loadings of a low-rank kernel
        return keras.initializers.RandomNormal(stddev=gain, seed=seed)
    if gain != 1.0:
        raise ValueError(
            f"Argument `gain` applies to recurrent_initializer in {RECURRENT_INITIALIZERS}; "
            f"received gain={gain} with recurrent_initializer={identifier!r}."
        )
    return resolve("recurrent_initializer", identifier, keras.initializers.get)


def resolve_kernel_initializer(identifier):
    """Resolves the `kernel_initializer` argument of `CTRNNCell`: `"standard_normal"`
    (N(0, 1) input weights, Dubreuil et al. 2022) or any Keras identifier."""
    if identifier == "standard_normal":
        return keras.initializers.RandomNormal(stddev=1.0)
    return resolve("kernel_initializer", identifier, keras.initializers.get)


def resolve(name: str, identifier, getter):
    """Calls a Keras `get` and re-raises its error naming our argument."""
    try:
        return getter(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Argument `{name}` could not be interpreted: received {identifier!r}. "
            f"Use a Keras identifier (a name, a config dict or an object). ({error})"
        ) from None
