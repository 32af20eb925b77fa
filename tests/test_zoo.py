"""Shipped models, model cards, `ctxrnn.zoo.load`/`save` and the `models` command."""

import argparse
import json
import os
import pathlib
import shutil

import keras
import numpy as np
import pytest

from ctxrnn import zoo
from ctxrnn.cli import zoo as zoo_cli

SHIPPED = zoo.list_models()
ACCURACY_TOLERANCE = 0.05  # fresh trials vs the card's (400 trials per task)
MAX_BYTES = 3_000_000


def _snapshot(directory: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def loaded():
    return {name: zoo.load(name) for name in SHIPPED}


def test_the_default_context_network_the_transfer_core_and_molap_core_are_shipped():
    assert {"jarne_context5", "jarne_context4", "molap_core"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_card_describes_the_model(name):
    card = zoo.model_card(name)
    archive = zoo.SAVED_MODELS_DIR / card["file"]
    assert card["format"] == zoo.CARD_FORMAT and card["name"] == name
    assert archive.stat().st_size == card["size_bytes"] <= MAX_BYTES
    assert zoo.file_sha256(archive) == card["sha256"]
    if card["kind"] == "molap":
        names = zoo.tasks_from_card(card)[1].names
    else:
        names = zoo.suite_from_card(card).task_names
    assert list(names) == list(card["accuracy"]) == card["suite"]["task_names"]
    assert card["cell"]["units"] > 0 and "seed" in card["training"]
    assert {"ctxrnn", "keras", "tensorflow"} <= set(card["versions"]) and card["date"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_still_scores_its_card_accuracy_on_fresh_trials(name, loaded):
    model, card = loaded[name]
    fresh = zoo.evaluate(model, card, n_per_task=200, seed=card["evaluation"]["seed"] + 1000)
    for task, expected in card["accuracy"].items():
        assert fresh[task] >= expected - ACCURACY_TOLERANCE, (task, fresh[task], expected)


@pytest.mark.parametrize("name", SHIPPED)
def test_regression_fixture_outputs_are_reproduced(name, loaded):
    """A model saved by an earlier version computes the outputs stored with it."""
    model, _ = loaded[name]
    inputs, expected = zoo.regression_fixture(name)
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_save_then_load_round_trips_outputs_and_card(tmp_path, loaded):
    model, card = loaded["jarne_context4"]
    suite = zoo.suite_from_card(card)
    path = tmp_path / "mine.keras"
    saved = zoo.save(model, path, suite=suite, accuracy=card["accuracy"], description="copy",
                     training={"seed": 3})
    again, read = zoo.load(path)
    assert read == saved and read["name"] == "mine" and read["training"]["seed"] == 3
    x = suite.validation_data(3, seed=0).inputs
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))
    assert zoo.load(tmp_path / "mine.json")[1] == saved  # the card path works too


# --------------------------------------------------------------- MoLaP core
def test_molap_core_is_shipped_as_a_molap_model_that_meets_the_bar(loaded):
    model, card = loaded["molap_core"]
    assert card["kind"] == "molap" and len(card["accuracy"]) == 9
    assert min(card["accuracy"].values()) >= 0.7  # issue 15's bar on every task
    tasks, layout = zoo.tasks_from_card(card)
    assert [task.name for task in tasks] == list(layout.names) == card["suite"]["task_names"]
    assert int(model.inputs[0].shape[-1]) == layout.total_inputs


def test_a_molap_card_has_no_context_suite_and_a_context_card_no_heads(loaded):
    with pytest.raises(ValueError, match="tasks_from_card"):
        zoo.suite_from_card(loaded["molap_core"][1])
    with pytest.raises(ValueError, match="suite_from_card"):
        zoo.tasks_from_card(loaded["jarne_context4"][1])


def test_new_head_on_the_shipped_molap_core_leaves_the_core_as_shipped(loaded):
    from ctxrnn import molap
    from ctxrnn.tasks import make

    model, _ = loaded["molap_core"]
    kernel, bias = molap.core_weights(model)
    heads = molap.train_heads(kernel, [make("delay_pro", memory_delay=False)], ["new"],
                              recurrent_bias=bias, config=molap.HeadConfig.fast(5))
    again_kernel, again_bias = molap.core_weights(heads.model)
    np.testing.assert_array_equal(again_kernel, kernel)
    np.testing.assert_array_equal(again_bias, bias)
    np.testing.assert_array_equal(molap.core_weights(model)[0], kernel)  # shipped model untouched


def test_molap_model_round_trips_through_save_and_load(tmp_path, loaded):
    model, card = loaded["molap_core"]
    tasks, layout = zoo.tasks_from_card(card)
    path = tmp_path / "core.keras"
    saved = zoo.save(model, path, suite=tasks, layout=layout, kind="molap",
                     accuracy=card["accuracy"], training={"seed": 0},
                     extra={"regression": "core.regression.npz"})
    zoo.write_regression(model, saved, tmp_path / "core.regression.npz")
    again, read = zoo.load(path)
    assert read == saved and read["suite"] == card["suite"]
    inputs, expected = zoo.regression_fixture(path)
    np.testing.assert_array_equal(again.predict(inputs, verbose=0), expected)


def test_saving_a_molap_model_needs_its_layout(tmp_path, loaded):
    model, card = loaded["molap_core"]
    tasks, _ = zoo.tasks_from_card(card)
    with pytest.raises(ValueError, match="layout"):
        zoo.save(model, tmp_path / "x.keras", suite=tasks, kind="molap", accuracy={})
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------- bad files
def _copy_shipped(tmp_path, name="jarne_context4", stem="model"):
    shutil.copy(zoo.SAVED_MODELS_DIR / f"{name}.keras", tmp_path / f"{stem}.keras")
    shutil.copy(zoo.SAVED_MODELS_DIR / f"{name}.json", tmp_path / f"{stem}.json")
    return tmp_path / f"{stem}.keras"


def _fails(tmp_path, path, error, *words):
    before = _snapshot(tmp_path)
    with pytest.raises(error) as info:
        zoo.load(path)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert _snapshot(tmp_path) == before  # nothing written, nothing changed
    return message


def test_unknown_name_and_missing_file_raise_file_not_found(tmp_path):
    assert "jarne_context5" in _fails(tmp_path, "no_such_model", FileNotFoundError, "no_such_model")
    _fails(tmp_path, tmp_path / "absent.keras", FileNotFoundError, str(tmp_path / "absent.keras"))


def test_missing_card_names_the_card(tmp_path):
    path = _copy_shipped(tmp_path)
    os.remove(tmp_path / "model.json")
    _fails(tmp_path, path, FileNotFoundError, str(tmp_path / "model.json"), "card")


def test_file_that_is_not_a_keras_archive(tmp_path):
    path = _copy_shipped(tmp_path)
    path.write_text("hello, I am not a model\n")
    _fails(tmp_path, path, ValueError, str(path), "not a Keras")


def test_truncated_archive_is_reported_corrupt(tmp_path):
    path = _copy_shipped(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _fails(tmp_path, path, ValueError, str(path))


def test_archive_that_does_not_match_its_card(tmp_path):
    path = _copy_shipped(tmp_path)
    shutil.copy(zoo.SAVED_MODELS_DIR / "jarne_context5.keras", path)
    _fails(tmp_path, path, ValueError, str(path), "SHA-256")


def test_keras_model_without_ctrnn_is_not_a_ctxrnn_model(tmp_path):
    path = _copy_shipped(tmp_path)
    inputs = keras.Input((None, 3))
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(path)
    card = json.loads((tmp_path / "model.json").read_text())
    card.pop("sha256")
    (tmp_path / "model.json").write_text(json.dumps(card))
    _fails(tmp_path, path, ValueError, str(path), "not a ctxrnn model")


@pytest.mark.parametrize("card_text, words", [
    ("{not json", ("not valid JSON",)),
    ('{"format": "something else"}', ("not a ctxrnn model card",)),
    (None, ("format_version",)),
])
def test_bad_cards(tmp_path, card_text, words):
    path = _copy_shipped(tmp_path)
    if card_text is None:  # a card from a future version
        card = json.loads((tmp_path / "model.json").read_text())
        card["format_version"] = zoo.CARD_VERSION + 1
        card_text = json.dumps(card)
    (tmp_path / "model.json").write_text(card_text)
    _fails(tmp_path, path, ValueError, str(tmp_path / "model.json"), *words)


def test_path_that_is_not_a_keras_file(tmp_path):
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF")
    _fails(tmp_path, tmp_path / "weights.h5", ValueError, "weights.h5", ".keras")


# ---------------------------------------------------------------------- CLI
def _cli(argv):
    parser = argparse.ArgumentParser(prog="ctxrnn")
    zoo_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_models_command_lists_and_shows_cards(capsys):
    assert _cli(["models"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in SHIPPED)
    assert _cli(["models", "jarne_context5"]) == 0
    shown = capsys.readouterr().out
    assert "xor" in shown and "context_xor" in shown and "100 units" in shown
    assert _cli(["models", "jarne_context5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == zoo.model_card("jarne_context5")


def test_models_command_shows_a_molap_card(capsys):
    assert _cli(["models", "molap_core"]) == 0
    shown = capsys.readouterr().out
    assert "molap" in shown and "mem_dm1" in shown and "one head each" in shown
    assert "100 units, frozen" in shown


def test_models_command_reports_a_bad_name(capsys):
    assert _cli(["models", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_top_level_api_reaches_the_zoo_and_transfer_helpers():
    import ctxrnn
    from ctxrnn import transfer, zoo

    assert ctxrnn.list_models() == zoo.list_models()
    assert ctxrnn.load is zoo.load and ctxrnn.freeze is transfer.freeze
    assert ctxrnn.add_task_head is transfer.add_task_head
    assert ctxrnn.transfer_task is transfer.transfer_task
