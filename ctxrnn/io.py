"""Atomic file writers for run directories and reports.

Every writer here writes to a temporary file in the destination's directory,
flushes and `fsync`s it, then moves it over the destination with `os.replace`
(atomic on POSIX and Windows when both paths are on the same file system). A
reader therefore sees either the old file or the complete new one, never a
half-written file: if serialisation fails midway, the temporary file is removed,
the destination is left untouched and the error propagates. Missing parent
directories are created.

JSON encoding (`write_json`, `to_jsonable`):

- numpy scalars become Python `int`/`float`/`bool`; numpy arrays, tuples and
  sets become (nested) lists; `pathlib.Path` becomes a string.
- complex numbers (Python or numpy) become `{"real": x, "imag": y}` objects;
  complex arrays become lists of such objects. `read_json(path, complex=True)`
  turns them back into Python `complex`.
- non-finite floats (`nan`, `inf`, `-inf`) become `null`, so the files are
  strict JSON that any parser (browsers included) accepts.
- dictionary keys are converted to strings (numpy integer keys included).

Example:

```python
import numpy as np
from ctxrnn import io

io.write_json("run/evaluation.json", {"accuracy": np.float32(0.97)})
io.save_npz("run/weights/final.npz", recurrent_kernel=np.eye(3))
```
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

PathLike = str | os.PathLike

# Permission bits given to a newly created file (the temporary file is created
# 0600 by `tempfile`); an existing destination keeps its own mode.
NEW_FILE_MODE = 0o644
# Indentation of written JSON: readable by a person opening the file.
JSON_INDENT = 2


def _fsync_directory(directory: pathlib.Path) -> None:
    """Flushes a directory entry (the rename) to disk where the OS allows it."""
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # pragma: no cover - exotic file systems
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Opens a temporary file that replaces `path` only if the block succeeds.

    Args:
        path: destination file.
        mode: `"w"` (text, UTF-8 unless `encoding` is given) or `"wb"` (binary).
        **kwargs: passed to `open` (e.g. `newline`).

    Returns:
        A context manager yielding the open temporary file object.

    Raises:
        ValueError: if `mode` is not a write mode.

    Example:

    ```python
    with atomic_open("notes.txt") as handle:
        handle.write("hello")
    ```
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"Argument `mode` must be 'w' or 'wb'; received mode={mode!r}.")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    fd, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    temp = pathlib.Path(temp_name)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        mode_bits = path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE
        os.chmod(temp, mode_bits)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_directory(path.parent)


def _write_with(path: PathLike, mode: str, writer: Callable[[IO], None]) -> pathlib.Path:
    with atomic_open(path, mode) as handle:
        writer(handle)
    return pathlib.Path(path)


def write_bytes(path: PathLike, data: bytes) -> pathlib.Path:
    """Atomically writes `data` to `path`.

    Args:
        path: destination file.
        data: bytes-like object.

    Returns:
        The destination as a `pathlib.Path`.
    """
    return _write_with(path, "wb", lambda handle: handle.write(data))


def write_text(path: PathLike, text: str) -> pathlib.Path:
    """Atomically writes `text` (UTF-8) to `path`.

    Args:
        path: destination file.
        text: the string to write.

    Returns:
        The destination as a `pathlib.Path`.
    """
    if not isinstance(text, str):
        raise TypeError(
            f"Argument `text` must be a str; received an object of type "
            f"{type(text).__name__}."
        )
    return _write_with(path, "w", lambda handle: handle.write(text))


def _complex_to_json(value: complex) -> dict[str, float | None]:
    return {"real": _float_to_json(value.real), "imag": _float_to_json(value.imag)}


def _float_to_json(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def to_jsonable(obj: Any) -> Any:
    """Converts `obj` to plain JSON types (see the module docstring for the rules).

    Args:
        obj: a nest of dicts, lists, tuples, numbers, strings, numpy scalars and
            arrays.

    Returns:
        The same nest made only of `dict`, `list`, `str`, `int`, `float`, `bool`
        and `None`.

    Raises:
        TypeError: for an object with no JSON form, naming its type.
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _float_to_json(obj)
    if isinstance(obj, (complex, np.complexfloating)):
        return _complex_to_json(complex(obj))
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufcUO":
            raise TypeError(f"Cannot write a numpy array of dtype {obj.dtype} as JSON.")
        if obj.ndim == 0:
            return to_jsonable(obj.item())
        return [to_jsonable(item) for item in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, dict):
        return {_key_to_json(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [to_jsonable(item) for item in items]
    raise TypeError(
        f"Object of type {type(obj).__name__} cannot be written as JSON; convert it "
        "to numbers, strings, lists or dicts first."
    )


def _key_to_json(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (bool, np.bool_)):
        return "true" if key else "false"
    if isinstance(key, (int, np.integer, float, np.floating)):
        return str(to_jsonable(key))
    raise TypeError(
        f"JSON object keys must be strings or numbers; received a key of type "
        f"{type(key).__name__}: {key!r}."
    )


class _Encoder(json.JSONEncoder):
    """Encoder that converts lazily, so a failure happens while the file is open."""

    def default(self, obj: Any) -> Any:
        return to_jsonable(obj)

    def iterencode(self, obj: Any, _one_shot: bool = False) -> Iterator[str]:
        return super().iterencode(_prepare(obj), _one_shot)


def _prepare(obj: Any) -> Any:
    """Pre-converts floats and keys that the stdlib encoder would mishandle."""
    if isinstance(obj, dict):
        return {_key_to_json(key): _prepare(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_prepare(item) for item in obj]
    if isinstance(obj, float):
        return _float_to_json(obj)
    return obj


def write_json(path: PathLike, obj: Any) -> pathlib.Path:
    """Atomically writes `obj` as strict JSON (UTF-8, indented, keys unsorted).

    numpy scalars and arrays, complex numbers and non-finite floats are encoded
    as described in the module docstring.

    Args:
        path: destination file.
        obj: the object to write.

    Returns:
        The destination as a `pathlib.Path`.

    Raises:
        TypeError: if part of `obj` cannot be written; the destination is left
            as it was.

    Example:

    ```python
    write_json("stats.json", {"eigenvalue": 1 + 2j, "std": np.float64(0.1)})
    # {"eigenvalue": {"real": 1.0, "imag": 2.0}, "std": 0.1}
    ```
    """

    def writer(handle: IO) -> None:
        json.dump(obj, handle, cls=_Encoder, indent=JSON_INDENT, allow_nan=False)
        handle.write("\n")

    return _write_with(path, "w", writer)


def _decode_complex(obj: dict) -> Any:
    if set(obj) == {"real", "imag"}:
        real = math.nan if obj["real"] is None else obj["real"]
        imag = math.nan if obj["imag"] is None else obj["imag"]
        return complex(real, imag)
    return obj


def read_json(path: PathLike, *, complex: bool = False) -> Any:  # noqa: A002
    """Reads a JSON file written by `write_json`.

    Args:
        path: the file to read.
        complex: if `True`, objects of exactly the form `{"real": x, "imag": y}`
            are turned back into Python complex numbers. Default: `False`.

    Returns:
        The parsed object.
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle, object_hook=_decode_complex if complex else None)


def save_npz(path: PathLike, *, compressed: bool = False, **arrays: Any) -> pathlib.Path:
    """Atomically saves `arrays` into an `.npz` archive at exactly `path`.

    Unlike `numpy.savez`, no `.npz` suffix is appended to `path`. (An array
    cannot be named `compressed`, the name of the keyword argument.)

    Args:
        path: destination file.
        compressed: use `numpy.savez_compressed`. Default: `False`.
        **arrays: the arrays to store, by name.

    Returns:
        The destination as a `pathlib.Path`.

    Example:

    ```python
    save_npz("weights/final.npz", recurrent_kernel=w, bias=b)
    ```
    """
    save = np.savez_compressed if compressed else np.savez
    return _write_with(path, "wb", lambda handle: save(handle, **arrays))


def save_npy(path: PathLike, array: Any) -> pathlib.Path:
    """Atomically saves one array as `.npy` at exactly `path` (complex kept).

    Args:
        path: destination file.
        array: array-like to store (`allow_pickle` is off: no object arrays).

    Returns:
        The destination as a `pathlib.Path`.
    """
    return _write_with(
        path, "wb", lambda handle: np.save(handle, np.asarray(array), allow_pickle=False)
    )
