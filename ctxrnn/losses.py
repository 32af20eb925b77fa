"""Losses for trial data with a loss mask."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ctxrnn")
class MaskedMSE(keras.losses.Loss):
    """Mean squared error over the entries where the loss mask is on.

    Pass the `(batch, time, outputs)` loss mask as `sample_weight` (a
    `TaskSuite` dataset does): the loss is `sum(mask * (y - y_hat)**2) /
    sum(mask)` over the batch (Dubreuil/Valente's convention), so blank steps
    and unused outputs neither count nor dilute the mean. A `(batch, time)`
    mask applies to all outputs. Without a mask it is the plain MSE.

    Example:

    ```python
    model.compile(optimizer="adam", loss=MaskedMSE())
    model.fit(inputs, targets, sample_weight=loss_mask)
    ```
    """

    def __init__(self, name: str = "masked_mse", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_pred - ops.cast(y_true, y_pred.dtype)), axis=-1)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            return super().__call__(y_true, y_pred)
        y_pred = ops.convert_to_tensor(y_pred)
        error = ops.square(y_pred - ops.cast(y_true, y_pred.dtype))
        mask = ops.cast(sample_weight, y_pred.dtype)
        if len(mask.shape) == len(error.shape) - 1:
            mask = ops.expand_dims(mask, -1)
        mask = ops.broadcast_to(mask, ops.shape(error))
        return ops.sum(mask * error) / ops.maximum(ops.sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="ctxrnn")
def masked_mse(y_true, y_pred):
    """Mean squared error over the entries where the loss mask is 1.

    `y_true` is `[targets | loss_mask]` along the last axis
    (`StackedBatch.packed_targets`); the result is
    `sum(mask * (y_pred - targets)**2) / sum(mask)`.
    """
    n = ops.shape(y_pred)[-1]
    targets, mask = y_true[..., :n], y_true[..., n:]
    return ops.sum(mask * ops.square(y_pred - targets)) / ops.maximum(ops.sum(mask), 1.0)
