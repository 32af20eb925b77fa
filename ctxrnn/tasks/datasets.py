"""`TrialDataset`: a seeded Keras `PyDataset` over any trial generator (a task or a suite)."""

from __future__ import annotations

import keras
import numpy as np

from ctxrnn.checks import positive_int


def check_batch_size(batch_size) -> int:
    """`batch_size` as an int, or `ValueError` unless it is a positive integer."""
    return positive_int("batch_size", batch_size)


class TrialDataset(keras.utils.PyDataset):
    """Infinite-in-spirit seeded stream of trial batches for `model.fit`.

    Batch `index` of epoch `epoch` is `source.generate(batch_size, seed=s)`
    with `s` drawn from `SeedSequence([seed, epoch, index])`: the stream never
    repeats within a run, the same seed gives the same stream, and a fit
    resumed at epoch `k` (`epoch=k`) sees the batches an uninterrupted one would.
    `fit`'s default `shuffle=True` permutes each epoch's indices with Python's
    global `random`; pass `shuffle=False` when a resumed fit must repeat an
    uninterrupted one exactly (the batches are independent draws anyway).

    Args:
        source: anything with `generate(n, seed=...) -> TrialBatch` (a `Task`,
            a `TaskSuite`).
        batch_size: trials per batch.
        steps_per_epoch: batches per epoch (the dataset's `len`).
        seed: seed of the stream.
        epoch: the epoch the stream starts at. Default: `0`.
        to_arrays: `batch -> (inputs, targets, loss_mask)`; default
            `TrialBatch.as_keras` (e.g. a transfer lays trials out in a grown
            suite's channels).
    """

    def __init__(self, source, batch_size: int, steps_per_epoch: int, seed: int, epoch: int = 0,
                 to_arrays=None):
        super().__init__()
        check_batch_size(batch_size)
        for name, value, low in (("steps_per_epoch", steps_per_epoch, 1), ("epoch", epoch, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"Argument `{name}` must be an integer >= {low}; received "
                                 f"{name}={value!r}.")
        self.source, self.batch_size, self.steps, self.seed = (
            source, batch_size, int(steps_per_epoch), seed)
        self.epoch = int(epoch)
        self.to_arrays = to_arrays

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        sequence = np.random.SeedSequence([self.seed, self.epoch, int(index)])
        batch = self.source.generate(self.batch_size, seed=sequence.generate_state(1)[0])
        return batch.as_keras() if self.to_arrays is None else self.to_arrays(batch)

    def on_epoch_end(self):
        self.epoch += 1
