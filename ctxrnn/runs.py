"""The layout of a training run directory, and small loaders and writers for it.

The training CLI, the callbacks (`WeightStatistics`, `PruningSweep`) and the
report all go through this module, so the file names live in one place:

```
run/
  config.json             training configuration (tasks, units, dt, tau, seed, ...)
  model.keras             the trained model
  history.json            Keras `History.history`: {metric: [value per epoch]}
  weights/initial.npz     weights before training   } arrays named in
  weights/final.npz       weights after training    } `WEIGHT_ARRAYS`
  statistics.json         {"records": [record, ...]}, one record per (epoch, weight)
  eigenvalues/epoch_0003_recurrent_kernel.npy   complex eigenvalues of a record
  pruning.json            damage curves of the trained network (see `PRUNING_FAMILIES`)
  evaluation.json         {"per_task_accuracy", "accuracy", "per_task_distance"}
  examples.npz            a few test trials per task with the network's outputs
  report.html, figures/*.png, stats.json   written by `ctxrnn.report.write_report`
  dynamics.json           fixed points, regimes per context (`ctxrnn analyze`)
  status.json             {"state": "training" | "complete" | "failed", "epoch", "message"}
  checkpoint/             the last completed epoch of an unfinished run (`ctxrnn train --resume`)
  tensorboard/            TensorBoard event files (`ctxrnn train --tensorboard`)
```

A run is *complete* when `status.json` says so (runs written before status
files existed count as complete when they hold `evaluation.json`).

A directory is a run directory when it holds `config.json`. Every other file is
optional until something needs it; a `load_*` method raises `FileNotFoundError`
naming the run and the missing file, and `ValueError` when a file does not have
the documented structure. Writers (`write_*`, `save_*`) are atomic
(`ctxrnn.io`).

Example:

```python
from ctxrnn.runs import RunDirectory

run = RunDirectory("runs/ctx_and_or", create=True)
run.write_config({"tasks": ["and", "or"], "units": 50, "seed": 0})
...
run = RunDirectory("runs/ctx_and_or")
final = run.load_weights("final")["recurrent_kernel"]
```
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ctxrnn import io

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
WEIGHTS_DIR = "weights"
INITIAL_WEIGHTS_FILE = "weights/initial.npz"
FINAL_WEIGHTS_FILE = "weights/final.npz"
STATISTICS_FILE = "statistics.json"
EIGENVALUES_DIR = "eigenvalues"
PRUNING_FILE = "pruning.json"
EVALUATION_FILE = "evaluation.json"
EXAMPLES_FILE = "examples.npz"
REPORT_FILE = "report.html"
FIGURES_DIR = "figures"
REPORT_STATS_FILE = "stats.json"
STATUS_FILE = "status.json"
DYNAMICS_FILE = "dynamics.json"
CHECKPOINT_DIR = "checkpoint"
TENSORBOARD_DIR = "tensorboard"
#: States of `status.json`.
RUN_STATES = ("training", "complete", "failed")
# Everything a training run writes at its top level: what `clear` removes.
RUN_ENTRIES = (
    CONFIG_FILE, MODEL_FILE, HISTORY_FILE, WEIGHTS_DIR, STATISTICS_FILE, EIGENVALUES_DIR,
    PRUNING_FILE, EVALUATION_FILE, EXAMPLES_FILE, REPORT_FILE, FIGURES_DIR,
    REPORT_STATS_FILE, STATUS_FILE, CHECKPOINT_DIR, TENSORBOARD_DIR, DYNAMICS_FILE,
)

# Arrays stored in weights/initial.npz and weights/final.npz. The recurrent
# kernel follows Keras' convention: entry [i, j] is the connection from unit i
# to unit j (the mathematical W_rec is its transpose).
WEIGHT_ARRAYS = (
    "recurrent_kernel",
    "kernel",
    "bias",
    "readout_kernel",
    "readout_bias",
    "recurrent_connectivity",
    "recurrent_m",  # the loadings of a low-rank network (`CTRNN(rank=R)`)
    "recurrent_n",
)
WEIGHT_STAGES = ("initial", "final")

# Keys of one record in statistics.json (produced by
# `ctxrnn.analysis.weight_statistics` plus "epoch" and "weight").
STATISTICS_RECORD_KEYS = (
    "epoch",
    "weight",
    "mean",
    "std",
    "skewness",
    "kurtosis",
    "spectral_radius",
    "n_outside_unit_circle",
    "histogram",
)

# Jarne's damage families in pruning.json: family -> arguments
# (`order`, `sign`) of `ctxrnn.masks.pruning_masks`.
PRUNING_FAMILIES = {
    "magnitude": {"order": "magnitude", "sign": "both"},
    "positive": {"order": "magnitude", "sign": "positive"},
    "negative": {"order": "magnitude", "sign": "negative"},
    "random": {"order": "random", "sign": "both"},
}
# Per-fraction curves of one family in pruning.json.
PRUNING_CURVES = ("distance", "accuracy")

EVALUATION_KEYS = ("per_task_accuracy", "accuracy", "per_task_distance")
EXAMPLES_ARRAYS = (
    "inputs",
    "targets",
    "outputs",
    "loss_mask",
    "task_ids",
    "task_names",
    "input_names",
    "output_names",
    "dt",
)

# Characters allowed in the weight part of an eigenvalue file name; others
# (the "/" of a Keras weight path) become "_".
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def is_run_directory(path: io.PathLike) -> bool:
    """Whether `path` is a directory holding a run's `config.json`.

    Args:
        path: a directory path.

    Returns:
        `True` if `path/config.json` exists.
    """
    path = pathlib.Path(path)
    return path.is_dir() and (path / CONFIG_FILE).is_file()


def eigenvalues_filename(epoch: int, weight: str) -> str:
    """File name of a record's eigenvalues: `epoch_{epoch:04d}_{weight}.npy`.

    Characters of `weight` other than letters, digits, `_`, `.` and `-` become
    `_` (so a Keras weight path `"ctrnn/recurrent_kernel"` gives
    `"ctrnn_recurrent_kernel"`).

    Args:
        epoch: the epoch number, a non-negative int.
        weight: the weight's name as stored in the statistics record.

    Returns:
        The file name (no directory).
    """
    if int(epoch) != epoch or epoch < 0:
        raise ValueError(
            f"Argument `epoch` must be a non-negative integer; received epoch={epoch!r}."
        )
    safe = _UNSAFE_NAME.sub("_", str(weight)).strip("_")
    if not safe:
        raise ValueError(
            f"Argument `weight` must contain a letter or digit; received weight={weight!r}."
        )
    return f"epoch_{int(epoch):04d}_{safe}.npy"


class RunDirectory:
    """A training run directory: paths, loaders and atomic writers.

    Args:
        path: the run directory.
        create: if `True`, create the directory (and parents) when missing and do
            not require `config.json` yet (a run being set up). If `False`
            (default), `path` must be an existing run directory.

    Raises:
        FileNotFoundError: if `path` does not exist (and `create=False`).
        ValueError: if `path` is not a directory, or has no `config.json`
            (and `create=False`).

    Example:

    ```python
    run = RunDirectory("runs/ctx")
    records = run.load_statistics()
    pruning = run.load_pruning() if run.pruning_path.exists() else None
    ```
    """

    def __init__(self, path: io.PathLike, *, create: bool = False):
        self.path = pathlib.Path(path)
        if create:
            if self.path.exists() and not self.path.is_dir():
                raise ValueError(
                    f"Cannot create run directory {str(self.path)!r}: a file with that "
                    "name exists."
                )
            self.path.mkdir(parents=True, exist_ok=True)
            return
        if not self.path.exists():
            raise FileNotFoundError(
                f"Run directory {str(self.path)!r} does not exist."
            )
        if not self.path.is_dir():
            raise ValueError(
                f"Expected a run directory, but {str(self.path)!r} is a file."
            )
        if not self.config_path.is_file():
            raise ValueError(
                f"{str(self.path)!r} is not a ctxrnn run directory: it has no "
                f"{CONFIG_FILE}. Pass the directory a training run wrote, or use "
                "`RunDirectory(path, create=True)` to start a new one."
            )

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # Paths ---------------------------------------------------------------
    @property
    def config_path(self) -> pathlib.Path:
        return self.path / CONFIG_FILE

    @property
    def model_path(self) -> pathlib.Path:
        return self.path / MODEL_FILE

    @property
    def history_path(self) -> pathlib.Path:
        return self.path / HISTORY_FILE

    @property
    def weights_dir(self) -> pathlib.Path:
        return self.path / WEIGHTS_DIR

    @property
    def initial_weights_path(self) -> pathlib.Path:
        return self.path / INITIAL_WEIGHTS_FILE

    @property
    def final_weights_path(self) -> pathlib.Path:
        return self.path / FINAL_WEIGHTS_FILE

    @property
    def statistics_path(self) -> pathlib.Path:
        return self.path / STATISTICS_FILE

    @property
    def eigenvalues_dir(self) -> pathlib.Path:
        return self.path / EIGENVALUES_DIR

    @property
    def pruning_path(self) -> pathlib.Path:
        return self.path / PRUNING_FILE

    @property
    def evaluation_path(self) -> pathlib.Path:
        return self.path / EVALUATION_FILE

    @property
    def examples_path(self) -> pathlib.Path:
        return self.path / EXAMPLES_FILE

    @property
    def report_path(self) -> pathlib.Path:
        return self.path / REPORT_FILE

    @property
    def figures_dir(self) -> pathlib.Path:
        return self.path / FIGURES_DIR

    @property
    def report_stats_path(self) -> pathlib.Path:
        return self.path / REPORT_STATS_FILE

    @property
    def status_path(self) -> pathlib.Path:
        return self.path / STATUS_FILE

    @property
    def checkpoint_dir(self) -> pathlib.Path:
        return self.path / CHECKPOINT_DIR

    @property
    def tensorboard_dir(self) -> pathlib.Path:
        return self.path / TENSORBOARD_DIR

    def weights_path(self, stage: str) -> pathlib.Path:
        """Path of `weights/{stage}.npz`, `stage` in `WEIGHT_STAGES`."""
        if stage not in WEIGHT_STAGES:
            raise ValueError(
                f"Argument `stage` must be one of {WEIGHT_STAGES}; received {stage!r}."
            )
        return self.weights_dir / f"{stage}.npz"

    def eigenvalues_path(self, epoch: int, weight: str) -> pathlib.Path:
        """Path of the eigenvalues of the record (`epoch`, `weight`)."""
        return self.eigenvalues_dir / eigenvalues_filename(epoch, weight)

    # Loaders -------------------------------------------------------------
    def _require(self, path: pathlib.Path, written_by: str) -> pathlib.Path:
        if not path.is_file():
            raise FileNotFoundError(
                f"Run directory {str(self.path)!r} has no "
                f"{path.relative_to(self.path).as_posix()} (written by {written_by})."
            )
        return path

    def _invalid(self, path: pathlib.Path, problem: str) -> ValueError:
        return ValueError(
            f"{path.relative_to(self.path).as_posix()} in run directory "
            f"{str(self.path)!r} is malformed: {problem}."
        )

    def load_config(self) -> dict[str, Any]:
        """Returns the training configuration (`config.json`) as a dict."""
        config = io.read_json(self._require(self.config_path, "the training CLI"))
        if not isinstance(config, dict):
            raise self._invalid(self.config_path, "expected a JSON object")
        return config

    def load_history(self) -> dict[str, list[float]]:
        """Returns the Keras history (`history.json`): `{metric: [per epoch]}`."""
        path = self._require(self.history_path, "the training CLI")
        history = io.read_json(path)
        if not isinstance(history, dict) or not all(
            isinstance(values, list) for values in history.values()
        ):
            raise self._invalid(path, "expected an object of lists {metric: [values]}")
        return history

    def load_weights(self, stage: str = "final") -> dict[str, np.ndarray]:
        """Returns the arrays of `weights/{stage}.npz` by name.

        Args:
            stage: `"initial"` or `"final"`. Default: `"final"`.

        Returns:
            dict name -> numpy array (the names in `WEIGHT_ARRAYS` that were
            saved; `recurrent_kernel` is required).
        """
        path = self._require(self.weights_path(stage), "the training CLI")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if "recurrent_kernel" not in arrays:
            raise self._invalid(
                path, f"no 'recurrent_kernel' array (found {sorted(arrays)})"
            )
        return arrays

    def load_statistics(self) -> list[dict[str, Any]]:
        """Returns the records of `statistics.json`, sorted by epoch then weight.

        Returns:
            list of dicts with the keys in `STATISTICS_RECORD_KEYS`.
        """
        path = self._require(self.statistics_path, "the WeightStatistics callback")
        content = io.read_json(path)
        records = content.get("records") if isinstance(content, dict) else None
        if not isinstance(records, list):
            raise self._invalid(path, 'expected {"records": [...]}')
        for index, record in enumerate(records):
            if not isinstance(record, dict) or not {"epoch", "weight"} <= set(record):
                raise self._invalid(
                    path, f"record {index} lacks 'epoch' or 'weight': {record!r:.200}"
                )
        return sorted(records, key=lambda record: (record["epoch"], str(record["weight"])))

    def load_eigenvalues(self, epoch: int, weight: str) -> np.ndarray:
        """Returns the complex eigenvalues stored for (`epoch`, `weight`)."""
        path = self._require(
            self.eigenvalues_path(epoch, weight), "the WeightStatistics callback"
        )
        return np.load(path, allow_pickle=False)

    def load_pruning(self) -> dict[str, Any]:
        """Returns `pruning.json`, checked for structure.

        Returns:
            dict with `"fractions"`, `"families"` (family -> `{"distance": [...],
            "accuracy": [...], "per_task_accuracy": {task: [...]}}`, each list as
            long as `fractions`), and optionally `"knee"` and `"baseline"`.
        """
        path = self._require(self.pruning_path, "the PruningSweep callback or `ctxrnn prune`")
        pruning = io.read_json(path)
        if not isinstance(pruning, dict) or not {"fractions", "families"} <= set(pruning):
            raise self._invalid(path, "expected an object with 'fractions' and 'families'")
        n = len(pruning["fractions"])
        for family, curves in pruning["families"].items():
            lists = {key: curves[key] for key in PRUNING_CURVES if key in curves}
            lists.update(
                {
                    f"per_task_accuracy[{task}]": values
                    for task, values in curves.get("per_task_accuracy", {}).items()
                }
            )
            for key, values in lists.items():
                if len(values) != n:
                    raise self._invalid(
                        path,
                        f"family {family!r} has {len(values)} values of {key} for "
                        f"{n} fractions",
                    )
        return pruning

    def load_evaluation(self) -> dict[str, Any]:
        """Returns `evaluation.json` (`per_task_accuracy`, `accuracy`, `per_task_distance`)."""
        path = self._require(self.evaluation_path, "the training CLI")
        evaluation = io.read_json(path)
        if not isinstance(evaluation, dict) or "per_task_accuracy" not in evaluation:
            raise self._invalid(path, "expected an object with 'per_task_accuracy'")
        return evaluation

    def load_examples(self) -> dict[str, Any]:
        """Returns the example trials of `examples.npz`.

        Returns:
            dict with arrays `inputs`, `targets`, `outputs`, `loss_mask` (shape
            `(trials, time, channels)`), `task_ids` (shape `(trials,)`), the name
            lists `task_names`, `input_names`, `output_names` (lists of str) and
            `dt` (float, ms).
        """
        path = self._require(self.examples_path, "the training CLI")
        with np.load(path, allow_pickle=False) as archive:
            examples = {name: archive[name] for name in archive.files}
        missing = [name for name in EXAMPLES_ARRAYS if name not in examples]
        if missing:
            raise self._invalid(path, f"missing arrays {missing}")
        for name in ("task_names", "input_names", "output_names"):
            examples[name] = [str(value) for value in examples[name].tolist()]
        examples["dt"] = float(examples["dt"])
        return examples

    def load_status(self) -> dict[str, Any]:
        """Returns `status.json`; a run without one is `complete` if it has `evaluation.json`."""
        if not self.status_path.is_file():
            state = "complete" if self.evaluation_path.is_file() else "training"
            return {"state": state, "epoch": None, "message": ""}
        status = io.read_json(self.status_path)
        if not isinstance(status, dict) or status.get("state") not in RUN_STATES:
            raise self._invalid(self.status_path, f"expected a 'state' among {RUN_STATES}")
        return status

    @property
    def is_complete(self) -> bool:
        """Whether training finished and every output was written."""
        return self.load_status()["state"] == "complete"

    def require_complete(self) -> "RunDirectory":
        """Returns `self`; raises `ValueError` naming the state if training did not finish."""
        status = self.load_status()
        if status["state"] != "complete":
            detail = f": {status['message']}" if status.get("message") else ""
            raise ValueError(
                f"Run {str(self.path)!r} did not finish (status {status['state']!r}{detail}); "
                "resume it with `ctxrnn train --out DIR --resume` or train it again with "
                "`--overwrite`.")
        return self

    def has_outputs(self) -> bool:
        """Whether any entry a training run writes (`RUN_ENTRIES`) exists here."""
        return any((self.path / name).exists() for name in RUN_ENTRIES)

    def clear(self) -> None:
        """Removes every entry a training run writes (`RUN_ENTRIES`), nothing else."""
        import shutil

        for name in RUN_ENTRIES:
            entry = self.path / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.exists() or entry.is_symlink():
                entry.unlink()

    def load_model(self, **kwargs: Any):
        """Loads `model.keras` with `keras.saving.load_model(path, **kwargs)`."""
        import keras

        return keras.saving.load_model(
            self._require(self.model_path, "the training CLI"), **kwargs
        )

    # Writers -------------------------------------------------------------
    def write_config(self, config: Mapping[str, Any]) -> pathlib.Path:
        """Writes `config.json` (makes this directory a run directory)."""
        return io.write_json(self.config_path, dict(config))

    def write_status(self, state: str, *, epoch: int | None = None,
                     message: str = "") -> pathlib.Path:
        """Writes `status.json`: `state` in `RUN_STATES`, the last completed epoch, a message."""
        if state not in RUN_STATES:
            raise ValueError(f"Argument `state` must be one of {RUN_STATES}; received {state!r}.")
        return io.write_json(self.status_path,
                             {"state": state, "epoch": epoch, "message": str(message)})

    def write_history(self, history: Mapping[str, Sequence[float]]) -> pathlib.Path:
        """Writes `history.json` from a Keras `History.history` dict."""
        return io.write_json(
            self.history_path, {key: list(values) for key, values in history.items()}
        )

    def save_weights(self, stage: str, **arrays: Any) -> pathlib.Path:
        """Writes `weights/{stage}.npz` with the given arrays (see `WEIGHT_ARRAYS`)."""
        unknown = sorted(set(arrays) - set(WEIGHT_ARRAYS))
        if unknown:
            raise ValueError(
                f"Unknown weight array names {unknown}; expected names among "
                f"{WEIGHT_ARRAYS}."
            )
        return io.save_npz(self.weights_path(stage), **arrays)

    def write_statistics(self, records: Sequence[Mapping[str, Any]]) -> pathlib.Path:
        """Writes `statistics.json` as `{"records": records}`."""
        return io.write_json(self.statistics_path, {"records": list(records)})

    def save_eigenvalues(self, epoch: int, weight: str, values: Any) -> pathlib.Path:
        """Writes `eigenvalues/epoch_{epoch:04d}_{weight}.npy` (complex)."""
        return io.save_npy(
            self.eigenvalues_path(epoch, weight), np.asarray(values, dtype=np.complex128)
        )

    def write_pruning(self, pruning: Mapping[str, Any]) -> pathlib.Path:
        """Writes `pruning.json` (structure as returned by `load_pruning`)."""
        return io.write_json(self.pruning_path, dict(pruning))

    def write_evaluation(self, evaluation: Mapping[str, Any]) -> pathlib.Path:
        """Writes `evaluation.json`."""
        return io.write_json(self.evaluation_path, dict(evaluation))

    def save_examples(self, **arrays: Any) -> pathlib.Path:
        """Writes `examples.npz`; names in `EXAMPLES_ARRAYS` are all required."""
        missing = [name for name in EXAMPLES_ARRAYS if name not in arrays]
        if missing:
            raise ValueError(
                f"`save_examples` is missing arrays {missing}; expected all of "
                f"{EXAMPLES_ARRAYS}."
            )
        converted = {name: np.asarray(value) for name, value in arrays.items()}
        for name in ("task_names", "input_names", "output_names"):
            converted[name] = np.asarray([str(v) for v in arrays[name]], dtype=np.str_)
        return io.save_npz(self.examples_path, **converted)
