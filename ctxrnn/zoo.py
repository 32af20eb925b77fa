"""Saved-model reuse: shipped trained networks, model cards, `load` and `save`.

A saved ctxrnn model is two files side by side: `NAME.keras` (the Keras
archive) and `NAME.json`, its **model card**: the task suite (tasks, their
configs and the context encoding, so the exact input/output channel layout can
be rebuilt), the CTRNN configuration, the training configuration and seed, the
accuracy per task measured on held-out trials, the package versions, the date
and the SHA-256 of the archive. Small trained networks ship inside the package
(`ctxrnn/saved_models/`); `list_models()` names them and `load(name)` returns
`(model, card)`. `load` also takes any path to a `.keras` file (or its card).

```python
import ctxrnn

ctxrnn.list_models()                       # ['jarne_context5', ...]
model, card = ctxrnn.load("jarne_context5")
suite = ctxrnn.zoo.suite_from_card(card)   # the suite it was trained on
ctxrnn.zoo.evaluate(model, card, n_per_task=200, seed=123)
```

Two kinds of model are shipped. A `"context_multitask"` model reads one
`TaskSuite` (`suite_from_card`). A `"molap"` model is MoLaP's frozen core with
one input/readout head per task (`ctxrnn.molap`); its card holds the task list
and the heads' channel layout instead of a suite (`tasks_from_card`).
`evaluate` and the regression fixture (`write_regression`,
`regression_fixture`) serve both.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from ctxrnn import io

SAVED_MODELS_DIR = pathlib.Path(__file__).resolve().parent / "saved_models"
CARD_FORMAT = "ctxrnn.model_card"
CARD_VERSION = 1
_REQUIRED_CARD_KEYS = ("format", "format_version", "name", "kind", "suite", "cell", "accuracy")
KINDS = ("context_multitask", "molap")


# ------------------------------------------------------------------ listing
def list_models() -> list[str]:
    """Names of the models shipped with the package (sorted)."""
    if not SAVED_MODELS_DIR.is_dir():
        return []
    return sorted(p.stem for p in SAVED_MODELS_DIR.glob("*.keras")
                  if p.with_suffix(".json").is_file())


def is_shipped_name(text: str) -> bool:
    """Whether `resolve` reads `text` as the name of a shipped model (no folder, no
    `.keras`/`.json` suffix), not as a path, even where a file of that name exists."""
    return os.sep not in text and "/" not in text and not text.endswith((".keras", ".json"))


def resolve(name_or_path: str | os.PathLike) -> tuple[pathlib.Path, pathlib.Path]:
    """The `(archive, card)` paths of a shipped name or of a path.

    A path may name the `.keras` archive or its `.json` card; the other file
    is the one with the same stem beside it.

    Raises:
        FileNotFoundError: the name is not shipped and no such file exists, or
            the archive or its card is missing.
    """
    text = os.fspath(name_or_path)
    shipped = SAVED_MODELS_DIR / f"{text}.keras"
    if is_shipped_name(text):
        if not shipped.is_file():
            raise FileNotFoundError(
                f"No shipped ctxrnn model named {text!r} and no such file; shipped models are "
                f"{list_models()} (or pass the path of a .keras file)."
            )
        archive = shipped
    else:
        path = pathlib.Path(text)
        archive = path.with_suffix(".keras") if path.suffix == ".json" else path
    if archive.suffix != ".keras":
        raise ValueError(
            f"{str(archive)!r} is not a ctxrnn saved model: expected a `.keras` file (with its "
            f"`.json` card beside it); received a {archive.suffix or 'suffix-less'} path."
        )
    card = archive.with_suffix(".json")
    if not archive.is_file():
        raise FileNotFoundError(f"Model file {str(archive)!r} does not exist.")
    if not card.is_file():
        raise FileNotFoundError(
            f"The model card {str(card)!r} of {str(archive)!r} is missing: a ctxrnn saved model is "
            "a `.keras` file plus a `.json` card with the same name (write both with "
            "`ctxrnn.zoo.save`)."
        )
    return archive, card


# -------------------------------------------------------------------- cards
def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (hex digits)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """Reads and checks a model card (`.json`).

    Raises:
        ValueError: the file is not JSON or not a ctxrnn model card, or it is
            of a newer card format than this version reads.
    """
    path = pathlib.Path(path)
    try:
        card = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Model card {str(path)!r} is not valid JSON ({error}).") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a ctxrnn model card: expected a JSON object with "
            f"\"format\": {CARD_FORMAT!r}."
        )
    missing = [key for key in _REQUIRED_CARD_KEYS if key not in card]
    if missing:
        raise ValueError(f"Model card {str(path)!r} lacks the keys {missing}.")
    if not isinstance(card["format_version"], int) or card["format_version"] > CARD_VERSION:
        raise ValueError(
            f"Model card {str(path)!r} has format_version={card['format_version']!r}; this "
            f"ctxrnn reads versions up to {CARD_VERSION}. Upgrade ctxrnn."
        )
    return card


def model_card(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """The card of a shipped model or of a saved model path (the archive is not loaded)."""
    return read_card(resolve(name_or_path)[1])


def _rebuild_tasks(card: Mapping[str, Any]) -> list:
    """The task objects of a card's `suite.tasks` (name plus `get_config()` each)."""
    from ctxrnn import tasks

    built = []
    for config in card["suite"]["tasks"]:
        config = dict(config)
        name = config.pop("name")
        try:
            built.append(tasks.make(name, **config))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Cannot rebuild task {name!r} of model {card.get('name')!r} from its card: "
                f"{error} (the task's definition changed since the model was saved; the model "
                "itself still loads)."
            ) from None
    return built


def suite_from_card(card: Mapping[str, Any]):
    """Rebuilds the `TaskSuite` (same tasks, configs, context, channel order) of a card.

    Raises:
        ValueError: the card is of a `"molap"` model (it has no suite: use
            `tasks_from_card`), or the tasks changed since the model was saved.
    """
    from ctxrnn import tasks

    if card.get("kind") == "molap":
        raise ValueError(
            f"Model {card.get('name')!r} is a MoLaP multi-head model (kind 'molap'): it reads "
            "one input block per task, not a context TaskSuite. Rebuild its tasks with "
            "`ctxrnn.zoo.tasks_from_card(card)`; suite-based tools (transfer, analyze) need a "
            "'context_multitask' model."
        )
    suite_config = card["suite"]
    built = _rebuild_tasks(card)
    suite = tasks.TaskSuite(built, context=suite_config["context"],
                            mixing=suite_config.get("mixing", "per_trial"),
                            cue_ms=suite_config.get("cue_ms", tasks.suite.DEFAULT_CUE_MS),
                            seed=suite_config.get("seed", 0))
    for key in ("input_names", "output_names"):
        if key in suite_config and list(getattr(suite, key)) != list(suite_config[key]):
            raise ValueError(
                f"The suite rebuilt from the card has {key}={getattr(suite, key)}, the card says "
                f"{suite_config[key]}; the task definitions changed since the model was saved."
            )
    return suite


def tasks_from_card(card: Mapping[str, Any]):
    """The tasks and the `ctxrnn.molap.HeadLayout` of a `"molap"` model's card.

    Returns:
        `(tasks, layout)`: the task objects in head order and the layout that
        stacks their trials for the model (`layout.stack`, `ctxrnn.molap.evaluate`).

    Raises:
        ValueError: the card is not of a `"molap"` model, or the rebuilt tasks'
            channels differ from the card's (the task definitions changed).

    Example:

    ```python
    from ctxrnn import molap

    model, card = ctxrnn.load("molap_core")
    tasks, layout = ctxrnn.zoo.tasks_from_card(card)
    molap.evaluate(model, tasks, layout, n_trials=200)
    ```
    """
    from ctxrnn.molap.network import HeadLayout

    if card.get("kind") != "molap":
        raise ValueError(
            f"Argument `card` must be the card of a 'molap' model; received one of kind "
            f"{card.get('kind')!r} (model {card.get('name')!r}): use `suite_from_card`."
        )
    built = _rebuild_tasks(card)
    saved = card["suite"]["layout"]
    layout = HeadLayout.from_tasks(built, card["suite"]["task_names"],
                                   input_bias=bool(saved["input_bias"]))
    for key in ("n_inputs", "n_outputs"):
        if list(getattr(layout, key)) != list(saved[key]):
            raise ValueError(
                f"The tasks rebuilt from the card of {card.get('name')!r} have {key}="
                f"{list(getattr(layout, key))}, the card says {saved[key]}; the task definitions "
                "changed since the model was saved."
            )
    return built, layout


def molap_suite_card(tasks, layout) -> dict[str, Any]:
    """The `suite` section of a `"molap"` model's card: each task's config and the
    heads' channel layout (`ctxrnn.molap.HeadLayout`)."""
    if len(tasks) != len(layout.names):
        raise ValueError(f"Argument `tasks` must hold one task per head of the layout "
                         f"({len(layout.names)}); received {len(tasks)}.")
    return {"tasks": [task.get_config() for task in tasks], "task_names": list(layout.names),
            "dt": float(tasks[0].dt),
            "layout": {"n_inputs": list(layout.n_inputs), "n_outputs": list(layout.n_outputs),
                       "input_bias": bool(layout.input_bias)}}


def suite_card(suite) -> dict[str, Any]:
    """The `suite` section of a card: `suite.get_config()` plus channel names."""
    return {**suite.get_config(), "task_names": list(suite.task_names),
            "cue_ms": suite.cue_steps * suite.dt, "input_names": list(suite.input_names),
            "output_names": list(suite.output_names)}


# ------------------------------------------------------------------- saving
def save(model: keras.Model, path: str | os.PathLike, *, suite, accuracy: Mapping[str, float],
         name: str | None = None, kind: str = "context_multitask", description: str = "",
         training: Mapping[str, Any] | None = None, evaluation: Mapping[str, Any] | None = None,
         extra: Mapping[str, Any] | None = None, layout=None) -> dict[str, Any]:
    """Saves `model` as `path` (`.keras`) plus its card `path.json`; returns the card.

    Both files are written atomically (temporary file, then rename).

    Args:
        model: a model with one `ctxrnn.CTRNN` layer.
        path: the `.keras` path to write.
        suite: the `TaskSuite` the model reads and writes; for `kind="molap"`
            the task objects, one per head, in `layout` order.
        accuracy: `{task: fraction correct}` measured on held-out trials.
        name: the card's name. Default: the file stem.
        kind: one of `KINDS`. Default: `"context_multitask"`.
        description: one-paragraph description.
        training: training configuration (and seed) to record.
        evaluation: how `accuracy` was measured (trials per task, seed).
        extra: more card fields.
        layout: `kind="molap"` only: the model's `ctxrnn.molap.HeadLayout`.
            `evaluation["rescale"]` records a `HeadConfig.rescale` other than
            `None`, so that `evaluate` feeds test trials the same way.
    """
    from ctxrnn import __version__
    from ctxrnn.layers import find_ctrnn
    from ctxrnn.training import save_model_atomic

    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Argument `path` must end in `.keras`; received {str(path)!r}.")
    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {KINDS}; received {kind!r}.")
    if (kind == "molap") != (layout is not None):
        raise ValueError(f"Argument `layout` is required with kind='molap' and only then; "
                         f"received kind={kind!r} and layout={layout!r}.")
    suite_section = molap_suite_card(list(suite), layout) if kind == "molap" else suite_card(suite)
    layer = find_ctrnn(model)
    cell = layer.get_config()
    for key in ("name", "trainable", "dtype"):
        cell.pop(key, None)
    save_model_atomic(model, path)
    os.chmod(path, 0o644)  # a temporary file is private; a saved model is ordinary data
    import tensorflow as tf

    card = {
        "format": CARD_FORMAT,
        "format_version": CARD_VERSION,
        "name": name or path.stem,
        "kind": kind,
        "description": description,
        "file": path.name,
        "sha256": file_sha256(path),
        "size_bytes": path.stat().st_size,
        "suite": suite_section,
        "cell": cell,
        "layers": [{"name": lyr.name, "class": type(lyr).__name__} for lyr in model.layers],
        "training": dict(training or {}),
        "accuracy": {k: float(v) for k, v in accuracy.items()},
        "evaluation": dict(evaluation or {}),
        "versions": {"ctxrnn": __version__, "keras": keras.__version__,
                     "tensorflow": tf.__version__, "numpy": np.__version__},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **dict(extra or {}),
    }
    io.write_json(path.with_suffix(".json"), card)
    return card


# ------------------------------------------------------------------ loading
def _import_custom_objects(card: Mapping[str, Any]) -> None:
    """Imports the modules that register the classes a card's model uses."""
    import ctxrnn.losses  # noqa: F401
    import ctxrnn.metrics  # noqa: F401

    if card.get("kind") == "molap":
        import ctxrnn.molap.network  # noqa: F401


def load(name_or_path: str | os.PathLike, *, compile: bool = True,  # noqa: A002
         check_hash: bool = True) -> tuple[keras.Model, dict[str, Any]]:
    """Loads a shipped model by name, or a saved model from a path; returns `(model, card)`.

    Nothing is written, whatever happens.

    Args:
        name_or_path: a name from `list_models()`, or the path of a `.keras`
            file (or of its `.json` card) written by `save`.
        compile: restore the training configuration (optimizer, loss,
            metrics). Default: `True`.
        check_hash: compare the archive with the SHA-256 in its card, if any.
            Default: `True`.

    Returns:
        `(model, card)`: the Keras model and its card (a dict).

    Raises:
        FileNotFoundError: no such shipped name or file, or the card is missing.
        ValueError: the file is not a Keras archive (corrupt or another
            format), does not match its card, or holds no `ctxrnn.CTRNN`.

    Example:

    ```python
    model, card = ctxrnn.load("jarne_context5")
    card["accuracy"]          # {'and': 1.0, ...}
    ```
    """
    from ctxrnn.layers import find_ctrnn

    archive, card_path = resolve(name_or_path)
    card = read_card(card_path)
    where = str(archive)
    if not zipfile.is_zipfile(archive):
        raise ValueError(
            f"{where!r} is not a Keras `.keras` archive (not a zip file): the file is corrupt or "
            "in another format."
        )
    if check_hash and card.get("sha256") and file_sha256(archive) != card["sha256"]:
        raise ValueError(
            f"{where!r} does not match the SHA-256 recorded in its card {str(card_path)!r}: the "
            "file is corrupt or was replaced. Re-save it with `ctxrnn.zoo.save`."
        )
    _import_custom_objects(card)
    try:
        with warnings.catch_warnings():
            # A model saved with frozen vectors (`trainable=False` is not part of a
            # variable's saved state) reloads with a fresh optimizer: expected.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = keras.saving.load_model(archive, compile=compile)
    except Exception as error:  # noqa: BLE001 - any failure inside Keras means a bad archive
        raise ValueError(f"Could not load {where!r} as a Keras model: "
                         f"{type(error).__name__}: {error}") from error
    try:
        find_ctrnn(model)
    except ValueError:
        raise ValueError(
            f"{where!r} is not a ctxrnn model: it holds no ctxrnn.CTRNN layer (layers: "
            f"{[layer.name for layer in model.layers]})."
        ) from None
    return model, card


# ---------------------------------------------------------------- scoring
def evaluate(model: keras.Model, card_or_suite, *, n_per_task: int = 200,
             seed: int = 12345) -> dict[str, float]:
    """Per-task accuracy of `model` on fresh trials of its tasks.

    Args:
        model: the model.
        card_or_suite: its card (dict) or its `TaskSuite`. A `"molap"` card is
            scored by `ctxrnn.molap.evaluate` (each task's own rule, the
            card's `evaluation["rescale"]`).
        n_per_task: trials per task.
        seed: seed of the trials.
    """
    from ctxrnn.metrics import per_task_accuracy

    if isinstance(card_or_suite, Mapping) and card_or_suite.get("kind") == "molap":
        from ctxrnn.molap.training import evaluate as evaluate_heads

        tasks, layout = tasks_from_card(card_or_suite)
        return evaluate_heads(model, tasks, layout, n_trials=n_per_task, seed=seed,
                              rescale=card_or_suite.get("evaluation", {}).get("rescale"))
    suite = suite_from_card(card_or_suite) if isinstance(card_or_suite, Mapping) else card_or_suite
    batch = suite.validation_data(n_per_task, seed=seed)
    outputs = model.predict(batch.inputs, batch_size=256, verbose=0)
    return per_task_accuracy(outputs, batch, suite.correct)


# ------------------------------------------------------- regression fixture
REGRESSION_TRIALS = 2  # per task
REGRESSION_SEED = 7


def _regression_inputs(model: keras.Model, card: Mapping[str, Any], trials: int, seed: int):
    """Fixed input trials of a card's tasks, as the model takes them (array or dict)."""
    if card.get("kind") == "molap":
        from ctxrnn.molap.network import task_inputs
        from ctxrnn.molap.training import stacked_batch

        tasks, layout = tasks_from_card(card)
        return task_inputs(model, stacked_batch(tasks, layout, trials, seed))
    return suite_from_card(card).validation_data(trials, seed=seed).inputs


def write_regression(model: keras.Model, card: Mapping[str, Any], path: str | os.PathLike, *,
                     trials: int = REGRESSION_TRIALS, seed: int = REGRESSION_SEED,
                     compressed: bool = False) -> None:
    """Writes a regression fixture: fixed input trials and the outputs `model` computes.

    A later version that loads the model must reproduce the outputs
    (`regression_fixture`). Name the file in the card's `"regression"` field
    (`save(..., extra={"regression": "NAME.regression.npz"})`).

    Args:
        model: the saved model.
        card: its card (the tasks the inputs are drawn from).
        path: the `.npz` to write (atomically).
        trials: trials per task. Default: `2`.
        seed: seed of the trials. Default: `7`.
        compressed: write a compressed `.npz` (for wide, mostly-zero inputs).
    """
    inputs = _regression_inputs(model, card, trials, seed)
    outputs = model.predict(inputs, verbose=0)
    arrays = inputs if isinstance(inputs, dict) else {"inputs": inputs}
    io.save_npz(path, **arrays, outputs=outputs, compressed=compressed)


def regression_fixture(name_or_path: str | os.PathLike):
    """The regression fixture of a shipped (or saved) model: `(inputs, outputs)`.

    `model.predict(inputs)` of the loaded model must give `outputs` (up to
    float rounding); `inputs` is an array, or a dict for a model with several
    inputs (`"inputs"`, `"task"`).

    Raises:
        FileNotFoundError: the card names no fixture, or the file is missing.
    """
    archive, card_path = resolve(name_or_path)
    card = read_card(card_path)
    if not card.get("regression"):
        raise FileNotFoundError(f"The card {str(card_path)!r} names no regression fixture.")
    path = archive.parent / card["regression"]
    if not path.is_file():
        raise FileNotFoundError(f"Regression fixture {str(path)!r} of {str(archive)!r} is missing.")
    with np.load(path) as fixture:
        arrays = {key: fixture[key] for key in fixture.files}
    outputs = arrays.pop("outputs")
    inputs = arrays["inputs"] if list(arrays) == ["inputs"] else arrays
    return inputs, outputs
