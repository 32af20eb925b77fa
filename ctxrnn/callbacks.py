"""Keras callbacks that watch what training does to a CTRNN's weights.

- `WeightStatistics`: mean, std, skewness, kurtosis, spectral radius and the
  eigenvalues outside the unit circle of `W_rec` every few epochs.
- `TaskAccuracy`: decision accuracy per task on a fixed validation batch.
- `PruningSweep`: damage curves and the pruning knee of the trained network.

Each puts its scalars into `logs` (so `History`, `CSVLogger` and TensorBoard see
them) and, given a run directory, writes its full record there atomically
(layout: `ctxrnn.runs`). They are reusable across `fit` calls.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence

import keras
import numpy as np

from ctxrnn.analysis.statistics import statistics_and_eigenvalues
from ctxrnn.checks import positive_int
from ctxrnn.layers import find_ctrnn
from ctxrnn.readout import find_readouts
from ctxrnn.metrics import accuracy_summary
from ctxrnn.runs import RunDirectory

LOG_PREFIX = "wrec_"
_LOGGED_STATISTICS = ("mean", "std", "skewness", "kurtosis", "spectral_radius",
                      "n_outside_unit_circle")
WEIGHT_SOURCES = ("recurrent_kernel", "kernel", "readout_kernel")


def model_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """The arrays of `ctxrnn.runs.WEIGHT_ARRAYS` of a `CTRNN -> Dense` model.

    The recurrent and input kernels are the effective ones (masks applied); the
    readout is found by name (`ctxrnn.readout.find_readouts`).
    """
    layer = find_ctrnn(model)
    arrays = layer.effective_weights()
    arrays["recurrent_connectivity"] = keras.ops.convert_to_numpy(layer.recurrent_connectivity)
    arrays.pop("tau", None)
    heads = find_readouts(model)
    if heads:  # a grown model's heads side by side, in output order
        arrays["readout_kernel"] = np.concatenate(
            [keras.ops.convert_to_numpy(head.kernel) for head in heads], axis=1)
        if all(head.use_bias for head in heads):
            arrays["readout_bias"] = np.concatenate(
                [keras.ops.convert_to_numpy(head.bias) for head in heads])
    return arrays


def _as_run(run_dir):
    return None if run_dir is None else RunDirectory(run_dir, create=True)


@keras.saving.register_keras_serializable(package="ctxrnn")
class WeightStatistics(keras.callbacks.Callback):
    """Records statistics and the spectrum of the recurrent weights during training.

    At the start of training (epoch 0 in the record) and after every `every`
    epochs (epoch `e + 1` after the `e`-th), computes for each requested weight
    (the effective `W_rec` by default): mean, std, skewness, excess kurtosis,
    spectral radius, number of eigenvalues outside the unit circle, histogram.
    The scalars of `W_rec` go into `logs` as `wrec_mean`, `wrec_std`,
    `wrec_skewness`, `wrec_kurtosis`, `wrec_spectral_radius`,
    `wrec_n_outside_unit_circle`. With `run_dir`, the records go to
    `statistics.json`, the eigenvalues to `eigenvalues/*.npy`, and the weights
    before the first and after the last epoch to `weights/{initial,final}.npz`.
    A fit that continues a run (a second `fit`, or one resumed at
    `initial_epoch=k`) numbers its records after the run's last one.

    **TensorBoard.** With `log_dir`, or when a default `tf.summary` writer is
    active, the scalars, a histogram of the effective W_rec entries and the
    eigenvalue figure (an image) go to TensorBoard at each record
    (`pip install tensorboard`, part of ctxrnn's dependencies).

    Args:
        run_dir: path of a run directory, or `None` to keep records in memory
            only (`self.records`).
        every: int, record every `every` epochs. Default: `1`.
        weights: which weights to record, from `"recurrent_kernel"`, `"kernel"`,
            `"readout_kernel"`. Default: `("recurrent_kernel",)`.
        bins: int, histogram bins. Default: `50`.
        log_dir: directory of a TensorBoard writer of its own, or `None`
            (write to the default writer only if one is active). Default: `None`.

    Example:

    ```python
    stats = WeightStatistics("runs/demo", every=2)
    history = model.fit(data, epochs=10, callbacks=[stats])
    history.history["wrec_spectral_radius"]
    ```
    """

    def __init__(self, run_dir=None, every: int = 1,
                 weights: Sequence[str] = ("recurrent_kernel",), bins: int = 50,
                 log_dir=None):
        super().__init__()
        positive_int("every", every)
        unknown = [w for w in weights if w not in WEIGHT_SOURCES]
        if unknown:
            raise ValueError(
                f"Argument `weights` has unknown names {unknown}; expected some of "
                f"{list(WEIGHT_SOURCES)}."
            )
        self.run_dir = None if run_dir is None else os.fspath(run_dir)
        self.every = every
        self.weights = tuple(weights)
        self.bins = bins
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.records: list[dict] = []
        self._writer = None

    def on_train_begin(self, logs=None):
        run = _as_run(self.run_dir)
        if run is not None and run.statistics_path.exists():
            self.records = run.load_statistics()  # continue a run across fit calls
        else:
            self.records = []
        # Records count epochs of the whole run: the first epoch of this fit
        # (whatever Keras numbers it, 0 or a resumed `initial_epoch`) follows
        # the last record.
        self._next_epoch = max((r["epoch"] for r in self.records), default=-1) + 1
        self._first_epoch = None
        if self.log_dir is not None and self._writer is None:
            self._writer = tensorboard_writer(self.log_dir)
        if not self.records:
            self._record(0, {})
            if run is not None and not run.initial_weights_path.exists():
                run.save_weights("initial", **model_weights(self.model))
            self._next_epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch is None:
            self._first_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        first = epoch if self._first_epoch is None else self._first_epoch
        if (epoch + 1) % self.every == 0:
            self._record(self._next_epoch + epoch - first, logs)

    def on_train_end(self, logs=None):
        run = _as_run(self.run_dir)
        if run is not None:
            run.save_weights("final", **model_weights(self.model))
        if self._writer is not None:
            self._writer.flush()

    def _record(self, epoch: int, logs: dict):
        arrays = model_weights(self.model)
        run = _as_run(self.run_dir)
        for name in self.weights:
            connectivity = arrays["recurrent_connectivity"] if name == "recurrent_kernel" else None
            stats, eigs = statistics_and_eigenvalues(arrays[name], bins=self.bins,
                                                     connectivity=connectivity)
            self.records.append({"epoch": int(epoch), "weight": name, **stats})
            if name == "recurrent_kernel":
                logs.update({LOG_PREFIX + key: stats[key] for key in _LOGGED_STATISTICS})
                self._summarise(epoch, stats, arrays, eigs)
            if run is not None and eigs is not None:
                run.save_eigenvalues(epoch, name, eigs)
        if run is not None:
            run.write_statistics(self.records)

    def _summarise(self, epoch: int, stats: dict, arrays: dict, eigenvalues) -> None:
        """Writes the W_rec scalars, histogram and spectrum figure to TensorBoard."""
        import tensorflow as tf

        writer = self._writer
        if writer is None and not _default_writer_active():
            return
        context = writer.as_default() if writer is not None else contextlib.nullcontext()
        with context:
            for key in _LOGGED_STATISTICS:
                tf.summary.scalar(LOG_PREFIX + key, float(stats[key]), step=epoch)
            kernel = arrays["recurrent_kernel"][arrays["recurrent_connectivity"] > 0]
            tf.summary.histogram("wrec_entries", kernel, step=epoch, buckets=self.bins)
            if eigenvalues is not None:
                from ctxrnn.analysis.figures import eigenvalue_image

                image = eigenvalue_image(eigenvalues, title=f"W_rec eigenvalues, epoch {epoch}")
                tf.summary.image("wrec_eigenvalues", image[None], step=epoch)

    def get_config(self):
        return {"run_dir": self.run_dir, "every": self.every, "weights": list(self.weights),
                "bins": self.bins, "log_dir": self.log_dir}


def _default_writer_active() -> bool:
    """Whether a `tf.summary` default writer is set (inside `writer.as_default()`)."""
    try:
        from tensorflow.python.ops import summary_ops_v2
    except ImportError:  # pragma: no cover - TF internals moved
        return False
    return bool(summary_ops_v2.has_default_writer())


def tensorboard_writer(log_dir):
    """A `tf.summary` file writer for `log_dir`; a clear error when TensorBoard is missing.

    Raises:
        ImportError: the `tensorboard` package is not installed.
    """
    import tensorflow as tf

    try:
        import tensorboard  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "TensorBoard logging needs the `tensorboard` package: `pip install tensorboard` "
            "(a dependency of ctxrnn; the TensorFlow CPU wheel no longer brings it)."
        ) from error
    return tf.summary.create_file_writer(os.fspath(log_dir))


def validation_logs(outputs, batch, correct) -> dict[str, float]:
    """`val_accuracy` (all trials) and `val_accuracy_<task>` of `outputs` on `batch`."""
    summary = accuracy_summary(outputs, batch, correct)
    return {"val_accuracy": summary["accuracy"],
            **{f"val_accuracy_{name}": value
               for name, value in summary["per_task_accuracy"].items()}}


@keras.saving.register_keras_serializable(package="ctxrnn")
class TaskAccuracy(keras.callbacks.Callback):
    """Decision accuracy per task on a fixed validation batch, logged every epoch.

    Adds `val_accuracy_<task>` for every task and `val_accuracy` (all trials)
    to `logs`.

    Args:
        batch: a fixed `TrialBatch` (e.g. `suite.validation_data(...)`).
        correct: the decision rule, `correct(outputs, batch) -> (batch,)` scores in
            [0, 1] (e.g. `suite.correct`); see `ctxrnn.metrics.score_trials`.
        every: int, evaluate every `every` epochs. Default: `1`.
        batch_size: int, prediction batch size. Default: `256`.
    """

    def __init__(self, batch, correct, every: int = 1, batch_size: int = 256):
        super().__init__()
        positive_int("every", every)
        self.batch = batch
        self.correct = correct
        self.every = every
        self.batch_size = batch_size
        self.last: dict[str, float] = {}

    def evaluate(self) -> dict[str, float]:
        outputs = self.model.predict(self.batch.inputs, batch_size=self.batch_size, verbose=0)
        return validation_logs(outputs, self.batch, self.correct)

    def on_train_begin(self, logs=None):
        self.last = {}

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.last = self.evaluate()
            if logs is not None:
                logs.update(self.last)

    def get_config(self):
        return {"every": self.every, "batch_size": self.batch_size}


@keras.saving.register_keras_serializable(package="ctxrnn")
class PruningSweep(keras.callbacks.Callback):
    """Damage curves and pruning knee of the network at the end of training.

    Runs `ctxrnn.analysis.pruning.pruning_sweep` on a copy of the weights (the
    trained model is never changed), puts `pruning_knee` into the logs of the
    last epoch (so `History` records it; after an early stop it is appended to
    `model.history.history["pruning_knee"]`), keeps the result in
    `self.result` and, with `run_dir`, writes `pruning.json`. With `every`, also sweeps every `every` epochs.

    Args:
        batch: a fixed validation `TrialBatch`.
        correct: the decision rule, as in `TaskAccuracy`.
        run_dir: run directory or `None`.
        every: int or `None`; sweep every `every` epochs too. Default: `None`.
        **sweep_options: `fractions`, `families`, `tolerance`, `seed`.
    """

    def __init__(self, batch, correct, run_dir=None, every: int | None = None, **sweep_options):
        super().__init__()
        positive_int("every", every, allow_none=True)
        self.batch = batch
        self.correct = correct
        self.run_dir = None if run_dir is None else os.fspath(run_dir)
        self.every = every
        self.sweep_options = sweep_options
        self.result = None

    def sweep(self) -> dict:
        from ctxrnn.analysis.pruning import pruning_sweep

        self.result = pruning_sweep(self.model, self.batch, self.correct, **self.sweep_options)
        run = _as_run(self.run_dir)
        if run is not None:
            run.write_pruning(self.result)
        return self.result

    def on_train_begin(self, logs=None):
        self.result = None
        self._last_epoch = None
        self._swept_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        # The sweep of the last epoch runs here, not in `on_train_end`: `History`
        # copies each epoch's logs right after this, so only then does
        # `pruning_knee` reach `model.fit(...).history`.
        self._last_epoch = epoch
        final = (epoch + 1) == (self.params or {}).get("epochs")
        if final or (self.every and (epoch + 1) % self.every == 0):
            self._log(logs, self.sweep())
            self._swept_epoch = epoch

    def on_train_end(self, logs=None):
        if self._last_epoch is None:
            warnings.warn("PruningSweep: training ran no epoch; nothing to sweep.", stacklevel=2)
            return
        if self._swept_epoch != self._last_epoch:  # stopped early (e.g. EarlyStopping)
            history = getattr(self.model, "history", None)
            if isinstance(history, keras.callbacks.History):
                self._log(history.history, self.sweep(), append=True)
            else:
                self.sweep()

    def _log(self, logs, result, append: bool = False):
        if logs is None or "knee" not in result:
            return
        if append:
            logs.setdefault("pruning_knee", []).append(result["knee"]["fraction"])
        else:
            logs["pruning_knee"] = result["knee"]["fraction"]

    def get_config(self):
        return {"run_dir": self.run_dir, "every": self.every}
