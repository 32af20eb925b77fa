"""One home for derived seeds: every random stream of a run comes from one integer seed.

A run's streams (trials, validation and test sets, initial weights, noise, ...)
are children of `numpy.random.SeedSequence(seed)`: stream number `k` is the
sequence's `k`-th spawned child (`SeedSequence(seed).spawn(k + 1)[k]`, which is
`SeedSequence(seed, spawn_key=(k,))`). Children are statistically independent
of each other and of the parent, unlike offsets such as `seed + 1` (which make
run 0's validation set run 1's training stream).

Streams are named in `STREAMS`, so a name always gives the same child; a
further key (a module number, a draw index, a task) spawns deeper.

Example:

>>> from ctxrnn import seeding
>>> seeding.derive(0, "validation") == seeding.derive(0, "validation")
True
>>> seeding.derive(0, "validation") != seeding.derive(0, "test")
True
"""

from __future__ import annotations

import numpy as np

#: Named streams of a run, in spawn order (append only: a new name must not
#: change the children of the existing ones).
STREAMS = (
    "trials",            # the training stream of trial batches
    "validation",        # the fixed validation set
    "test",              # the held-out test set
    "kernel",            # W_in initializer
    "recurrent_kernel",  # W_rec initializer
    "noise",             # the cell's noise generator
    "primitives",        # MoLaP latent-primitive corpus
    "pretraining",       # MoLaP module pre-training
    "heads",             # MoLaP task heads
    "baselines",         # MoLaP baselines
    "evaluation",        # evaluation trial sets outside a training run
    "perturbation",      # lesion / noise draws
    "transfer",          # transfer of a saved model to a new task
    "readout",           # readout initializers
    "initial_state",     # learned initial states
    "dni",               # MoLaP's DNI-style / projected-gradient baseline
    "network",           # the seed of network k of a stack (`CTRNN(..., networks=K)`)
    "statistics",        # training of population statistics (draws and trials)
    "bias",              # a random bias initializer (appended: a stream is its index)
)

_MAX_SEED = 2**31 - 1


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Argument `seed` must be a non-negative integer; received seed={seed!r}.")
    return int(seed)


def sequence(seed: int, stream: str, *keys: int) -> np.random.SeedSequence:
    """The `SeedSequence` of a named stream of `seed`, spawned deeper by `keys`.

    Args:
        seed: the run's seed, a non-negative integer.
        stream: a name in `STREAMS`.
        *keys: non-negative integers (a module, a draw, a task index).

    Returns:
        `SeedSequence(seed, spawn_key=(STREAMS.index(stream), *keys))`.

    Raises:
        ValueError: a negative or non-integer seed or key, or an unknown stream.
    """
    seed = _check_seed(seed)
    if stream not in STREAMS:
        raise ValueError(f"Argument `stream` must be one of {STREAMS}; received {stream!r}.")
    for key in keys:
        _check_seed(key)
    return np.random.SeedSequence(seed, spawn_key=(STREAMS.index(stream), *map(int, keys)))


def derive(seed: int, stream: str, *keys: int) -> int:
    """A 31-bit integer seed for a named stream of `seed` (see `sequence`).

    Suited to APIs that take an `int` seed (Keras initializers and
    `SeedGenerator`, `Task.generate`).

    Args:
        seed: the run's seed.
        stream: a name in `STREAMS`.
        *keys: further non-negative integer keys.

    Returns:
        An int in `[0, 2**31 - 1)`.
    """
    return int(sequence(seed, stream, *keys).generate_state(1)[0] % _MAX_SEED)


def rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """A numpy `Generator` on a named stream of `seed` (see `sequence`)."""
    return np.random.default_rng(sequence(seed, stream, *keys))
