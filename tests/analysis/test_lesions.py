"""Cluster lesions with known answers (analysis.md 5.2, item 3)."""

import keras
import numpy as np
import pytest

from ctxrnn import masks, tasks
from ctxrnn.analysis import dynamics, lesions
from ctxrnn.layers import find_ctrnn, hidden_states
from ctxrnn.models import context_multitask
from ctxrnn.simulate import predict_variants
from ctxrnn.tasks.base import Task, sign_choice


class _Hold(Task):
    """Report the sign of a cue held through the response on this task's own channels."""

    default_dt = 10.0
    default_input_noise = 0.0
    timing = {"stimulus": 50.0, "response": 50.0}

    def _trials(self, rng, n):
        return {"sign": rng.choice([-1.0, 1.0], size=n)}

    def _fill(self, batch, epochs, truth):
        shown = self.window(epochs, "stimulus", "response")
        batch["inputs"][..., 0] = shown * truth["sign"][:, None]
        batch["targets"][..., 0] = self.window(epochs, "response") * truth["sign"][:, None]
        batch["loss_mask"][...] = self.window(epochs, "response")[..., None]

    def correct(self, outputs, batch):
        return sign_choice(outputs, batch)


class HoldA(_Hold):
    name, input_names, output_names = "hold_a", ("a",), ("out_a",)


class HoldB(_Hold):
    name, input_names, output_names = "hold_b", ("b",), ("out_b",)


def two_modules():
    """Units 0-2 carry `a` to `out_a`, units 3-5 carry `b` to `out_b`; W_rec block-diagonal."""
    suite = tasks.TaskSuite([HoldA(), HoldB()])
    model = context_multitask(suite, units=6, tau=10.0, activation="tanh", seed=0)
    cell = find_ctrnn(model).cell
    kernel = np.zeros((suite.n_inputs, 6), np.float32)
    kernel[suite.input_names.index("a"), :3] = 1.0
    kernel[suite.input_names.index("b"), 3:] = 1.0
    block = masks.module_mask((3, 3), inter_density=0.0)
    cell.kernel.assign(kernel)
    cell.recurrent_kernel.assign(0.4 * block * np.random.default_rng(0).uniform(0.5, 1, (6, 6)))
    cell.bias.assign(np.zeros(6, np.float32))
    readout = np.zeros((6, 2), np.float32)
    readout[:3, suite.output_names.index("out_a")] = 1.0
    readout[3:, suite.output_names.index("out_b")] = 1.0
    model.get_layer("readout").kernel.assign(readout)
    return model, suite


def test_lesioning_one_module_drops_only_its_task():
    model, suite = two_modules()
    before = [w.copy() for w in model.get_weights()]
    result = lesions.lesion_matrix(model, suite, [[0, 1, 2], [3, 4, 5]], n_per_task=40)
    assert result.tasks == ("hold_a", "hold_b")
    np.testing.assert_array_equal(result.intact, [1.0, 1.0])
    # lesioning module A: its output is 0, a wrong sign on every trial; B untouched
    np.testing.assert_array_equal(result.accuracy, [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(result.change, [[-1.0, 0.0], [0.0, -1.0]])
    assert result.sizes == (3, 3)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the model itself is unchanged


def test_other_lesion_is_the_sufficiency_test():
    model, suite = two_modules()
    result = lesions.lesion_matrix(model, suite, [[0, 1, 2]], n_per_task=40, other=True)
    assert result.names == ("all but cluster 0",) and result.sizes == (3,)
    np.testing.assert_array_equal(result.accuracy, [[1.0, 0.0]])


def test_lesion_goes_through_the_connectivity_mask():
    model, suite = two_modules()
    units = [1, 4]
    damaged = lesions.lesion(model, units)
    layer, original = find_ctrnn(damaged), find_ctrnn(model)
    connectivity = layer.get_masks()["recurrent_connectivity"]
    np.testing.assert_array_equal(connectivity, masks.outgoing_mask(6, units))
    np.testing.assert_array_equal(original.get_masks()["recurrent_connectivity"], np.ones((6, 6)))
    kept = [0, 2, 3, 5]
    w_damaged = layer.effective_weights()
    w_original = original.effective_weights()
    # incoming weights of the lesioned units and the input kernel are untouched
    np.testing.assert_array_equal(w_damaged["recurrent_kernel"][kept],
                                  w_original["recurrent_kernel"][kept])
    np.testing.assert_array_equal(w_damaged["kernel"], w_original["kernel"])
    assert np.all(w_damaged["recurrent_kernel"][units] == 0)
    readout = keras.ops.convert_to_numpy(damaged.get_layer("readout").kernel)
    assert np.all(readout[units] == 0)
    # perturbing a lesioned unit's state changes no other unit's next state
    network = dynamics.NetworkMap.from_model(damaged)
    import tensorflow as tf

    h = np.random.default_rng(1).normal(size=(5, 6))
    kicked = h.copy()
    kicked[:, units] += 3.0
    x = np.zeros((5, suite.n_inputs))
    step = network.step(tf.constant(h), tf.constant(x)).numpy()
    kicked_step = network.step(tf.constant(kicked), tf.constant(x)).numpy()
    np.testing.assert_allclose(step[:, kept], kicked_step[:, kept], atol=1e-12)
    np.testing.assert_allclose(network.read_out(h), network.read_out(kicked), atol=1e-12)


def test_lesion_equals_silencing_on_a_random_network():
    suite = tasks.TaskSuite([HoldA(), HoldB()])
    model = context_multitask(suite, units=12, tau=30.0, activation="softplus", seed=3)
    batch = suite.validation_data(8, seed=0)
    units = [0, 5, 7]
    keep = np.ones((1, 12), np.float32)
    keep[0, units] = 0
    silenced = predict_variants(model, batch.inputs, unit_masks=keep)[0]
    damaged = lesions.lesion(model, units)
    np.testing.assert_allclose(damaged.predict(batch.inputs, verbose=0), silenced, atol=1e-5)
    # the lesioned units still evolve (softplus units are not clamped at 0)
    assert np.all(hidden_states(damaged, batch.inputs)[:, -1, units] > 0)


def test_bad_lesions_fail_early():
    model, suite = two_modules()
    with pytest.raises(ValueError, match="unit indices"):
        lesions.lesion(model, [0, 6])
    with pytest.raises(ValueError, match="names"):
        lesions.lesion_matrix(model, suite, [[0]], names=["a", "b"], n_per_task=2)
    with pytest.raises(ValueError, match="removed"):
        masks.outgoing_mask(3, [3])


def test_lesion_figure_and_cli(tmp_path, capsys):
    import json

    from ctxrnn import cli, zoo
    from ctxrnn.analysis import motif_figures
    from ctxrnn.analysis.figures import figure_to_png

    model, suite = two_modules()
    result = lesions.lesion_matrix(model, suite, [[0, 1, 2], [3, 4, 5]], n_per_task=4)
    assert figure_to_png(motif_figures.lesion_figure(result), dpi=40)[:4] == b"\x89PNG"
    assert result.to_dict()["change"] == [[-1.0, 0.0], [0.0, -1.0]]
    small = tasks.TaskSuite(["and", "or"], dt=10.0)
    zoo.save(context_multitask(small, units=10, seed=1), tmp_path / "small.keras", suite=small,
             accuracy={"and": 0.5, "or": 0.5})
    out = tmp_path / "motifs"
    assert cli.main(["analyze", str(tmp_path / "small.keras"), "--out", str(out),
                     "--lesions"]) == 0
    summary = json.loads((out / "motifs.json").read_text())
    n = summary["clusters"]["ward"]["n_clusters"]
    assert len(summary["lesions"]["change"]) == n == len(summary["lesions_other"]["change"])
    assert summary["lesions"]["tasks"] == summary["tasks"] == ["and", "or"]
    assert (out / "figures" / "motifs_atlas_ward.png").is_file()
    assert "Ward clusters" in capsys.readouterr().out
