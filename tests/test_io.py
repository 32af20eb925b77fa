"""Tests for ctxrnn.io: atomic writers and JSON encoding."""

import json
import os

import numpy as np
import pytest

from ctxrnn import io


class Unserialisable:
    """An object json cannot write."""


def test_write_json_numpy_and_complex(tmp_path):
    path = tmp_path / "sub" / "a.json"
    obj = {
        "f32": np.float32(0.5),
        "i64": np.int64(3),
        "bool": np.bool_(True),
        "array": np.arange(4).reshape(2, 2),
        "complex": 1 + 2j,
        "eigs": np.array([1j, 2.0]),
        "nan": float("nan"),
        "inf": np.float64(np.inf),
        "tuple": (1, 2),
        3: "int key",
        "path": tmp_path,
    }
    io.write_json(path, obj)
    loaded = json.loads(path.read_text())
    assert loaded["f32"] == 0.5 and loaded["i64"] == 3 and loaded["bool"] is True
    assert loaded["array"] == [[0, 1], [2, 3]]
    assert loaded["complex"] == {"real": 1.0, "imag": 2.0}
    assert loaded["eigs"] == [{"real": 0.0, "imag": 1.0}, {"real": 2.0, "imag": 0.0}]
    assert loaded["nan"] is None and loaded["inf"] is None
    assert loaded["tuple"] == [1, 2] and loaded["3"] == "int key"
    assert loaded["path"] == str(tmp_path)
    back = io.read_json(path, complex=True)
    assert back["complex"] == 1 + 2j and back["eigs"] == [1j, 2 + 0j]


def test_write_json_failure_midway_leaves_old_file(tmp_path):
    path = tmp_path / "a.json"
    io.write_json(path, {"old": 1})
    big = {"first": list(range(5000)), "bad": Unserialisable()}
    with pytest.raises(TypeError, match="Unserialisable"):
        io.write_json(path, big)
    assert json.loads(path.read_text()) == {"old": 1}
    assert os.listdir(tmp_path) == ["a.json"]  # no temporary file left


def test_failure_with_no_previous_file_writes_nothing(tmp_path):
    path = tmp_path / "new.json"
    with pytest.raises(TypeError):
        io.write_json(path, [1, 2, Unserialisable()])
    assert not path.exists() and os.listdir(tmp_path) == []


def test_atomic_open_midway_exception(tmp_path):
    path = tmp_path / "b.bin"
    io.write_bytes(path, b"old")
    with pytest.raises(RuntimeError):
        with io.atomic_open(path, "wb") as handle:
            handle.write(b"partial")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["b.bin"]


def test_npz_and_npy_exact_paths(tmp_path):
    w = np.random.default_rng(0).normal(size=(3, 3))
    path = io.save_npz(tmp_path / "w" / "final.npz", recurrent_kernel=w)
    assert path.name == "final.npz"
    with np.load(path) as archive:
        np.testing.assert_array_equal(archive["recurrent_kernel"], w)
    eigs = np.linalg.eigvals(w)
    npy = io.save_npy(tmp_path / "e.npy", eigs)
    np.testing.assert_array_equal(np.load(npy), eigs)


def test_text_and_mode(tmp_path):
    path = io.write_text(tmp_path / "r.html", "<p>é</p>")
    assert path.read_text(encoding="utf-8") == "<p>é</p>"
    assert (path.stat().st_mode & 0o777) == io.NEW_FILE_MODE
    with pytest.raises(TypeError, match="`text`"):
        io.write_text(tmp_path / "x", b"bytes")


def test_to_jsonable_rejects_unknown_key():
    with pytest.raises(TypeError, match="key"):
        io.to_jsonable({(1, 2): 3})
