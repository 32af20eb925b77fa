"""Pre-training changes only the intended block; task training leaves W_rec bit-identical."""

import keras
import numpy as np
import pytest
from molap_fake_tasks import NAMES, make_all

from ctxrnn import masks
from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import network as net
from ctxrnn.molap import training as tr

SIZES = (10, 6)
UNITS = sum(SIZES)


@pytest.fixture(scope="module")
def tasks():
    return make_all()


@pytest.fixture(scope="module")
def pretrained(tasks):
    config = tr.PretrainConfig.fast(4, batch_size=8, corpus_trials=24, learning_rate=0.05)
    return tr.pretrain_modules(tasks, units=UNITS, module_sizes=SIZES, config=config, seed=3)


def test_each_phase_changes_only_its_block(pretrained):
    before = pretrained.initial_kernel
    for module, after in enumerate(pretrained.module_kernels):
        block = masks.intra_module_mask(SIZES, module).astype(bool)
        np.testing.assert_array_equal(after[~block], before[~block])  # bit-identical
        assert np.all(after[block] != before[block]) or np.mean(after[block] != before[block]) > 0.9
        before = after
    np.testing.assert_array_equal(pretrained.recurrent_kernel, pretrained.module_kernels[-1])
    assert len(pretrained.losses) == len(SIZES) and all(len(l) == 4 for l in pretrained.losses)


def test_pretraining_uses_the_primitives(pretrained):
    assert pretrained.primitives.n_components == len(SIZES)
    assert pretrained.primitives.correlations_[0] > 0.5


def test_module_sizes_must_sum_to_units(tasks):
    with pytest.raises(ValueError, match="module_sizes"):
        tr.pretrain_modules(tasks, units=12, module_sizes=(5, 5))


def test_stage_schedule():
    config = tr.PretrainConfig(iterations=3, stages=2, learning_rate=0.3, stage_factor=0.5)
    assert tr._schedule(config) == [0.3] * 3 + [0.15] * 3
    with pytest.raises(ValueError, match="iterations"):
        tr._schedule(tr.PretrainConfig(iterations=0))


def test_default_schedule_is_200_iterations_per_stage():
    """Paper A.2 / Table 2 with the reference code's stages: 5 x 200 (pre-training and
    task heads), lr x 1/3 per stage."""
    pre, heads = tr.PretrainConfig(), tr.HeadConfig()
    assert (pre.iterations, pre.stages, pre.learning_rate) == (200, 5, 3e-3)
    assert (heads.iterations, heads.stages, heads.learning_rate) == (200, 5, 1e-2)
    assert pre.total_iterations == 1000 and heads.total_iterations == 1000
    schedule = tr._schedule(heads)
    assert len(schedule) == 1000 and schedule[0] == 1e-2
    assert np.isclose(schedule[200], 1e-2 / 3) and np.isclose(schedule[-1], 1e-2 / 3 ** 4)
    fast = tr.HeadConfig.fast()
    assert fast.total_iterations == 20 and tr.PretrainConfig.fast(7).total_iterations == 7


@pytest.fixture(scope="module")
def heads(tasks, pretrained):
    config = tr.HeadConfig.fast(3, batch_size=6)
    return tr.train_heads(pretrained.recurrent_kernel, tasks, NAMES, config=config, seed=1)


def test_recurrent_kernel_bit_identical_during_task_training(heads, pretrained):
    core = find_ctrnn(heads.model)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(core.recurrent_kernel),
                                  pretrained.recurrent_kernel)
    trainable = {w.path for w in heads.model.trainable_weights}
    assert not any("recurrent_kernel" in path for path in trainable)
    layout = heads.layout
    expected = UNITS * layout.total_inputs + (UNITS + 1) * layout.total_outputs
    assert heads.trainable_parameters == expected
    assert heads.iterations == 3 and len(heads.losses) == 3


def test_heads_learn(tasks, pretrained, heads):
    fresh = net.build_network(heads.layout, UNITS, recurrent_kernel=pretrained.recurrent_kernel,
                              seed=1)
    before = keras.ops.convert_to_numpy(find_ctrnn(fresh).kernel)
    after = keras.ops.convert_to_numpy(find_ctrnn(heads.model).kernel)
    assert not np.array_equal(before, after)


def test_head_of_one_task_gets_gradient_only_from_its_trials(tasks, pretrained):
    layout = net.HeadLayout.from_tasks(tasks, NAMES)
    model = net.build_network(layout, UNITS, recurrent_kernel=pretrained.recurrent_kernel,
                              l2=0.0, seed=2)
    batches = [task.generate(4, seed=0) for task in tasks]
    for index in range(len(tasks)):
        batches[index] = tasks[index].generate(4, seed=0) if index == 2 else _empty(batches[index])
    stacked = layout.stack(batches)
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss = net.masked_mse(stacked.packed_targets, model(stacked.inputs))
    w_in, w_out = find_ctrnn(model).cell.kernel, model.get_layer("readout").kernel
    g_in, g_out = (g.numpy() for g in tape.gradient(loss, [w_in, w_out]))
    rows, cols = layout.input_slice(2), layout.output_slice(2)
    assert np.abs(g_in[rows]).sum() > 0 and np.abs(g_out[:, cols]).sum() > 0
    g_in[rows] = 0
    g_out[:, cols] = 0
    assert np.all(g_in == 0) and np.all(g_out == 0)


def _empty(batch):
    import dataclasses
    return dataclasses.replace(batch, inputs=batch.inputs[:0], targets=batch.targets[:0],
                               loss_mask=batch.loss_mask[:0], decision_mask=batch.decision_mask[:0])


def test_task_model_matches_its_head(tasks, heads):
    stacked = tr.stacked_batch(tasks, heads.layout, 5, seed=7)
    outputs = heads.model.predict(stacked.inputs, verbose=0)
    per_task = heads.layout.split_outputs(outputs, stacked)
    for name in ("mem_dm1", "multi_mem"):
        index = heads.layout.index(name)
        single = net.task_model(heads.model, heads.layout, name)
        mine = single.predict(stacked.batches[index].inputs, verbose=0)
        np.testing.assert_allclose(mine, per_task[index], rtol=1e-5, atol=1e-5)


def test_layout_stack_masks_other_blocks(tasks):
    layout = net.HeadLayout.from_tasks(tasks, NAMES)
    assert layout.total_inputs == 25 and layout.total_outputs == 22
    stacked = tr.stacked_batch(tasks, layout, 3, seed=0)
    for index in range(len(NAMES)):
        rows = stacked.rows(index)
        outside = np.ones(22, bool)
        outside[layout.output_slice(index)] = False
        assert np.all(stacked.loss_mask[rows][..., outside] == 0)
        inside_in = np.ones(25, bool)
        inside_in[layout.input_slice(index)] = False
        assert np.all(stacked.inputs[rows][..., inside_in] == 0)
    with pytest.raises(ValueError, match="batches"):
        layout.stack(stacked.batches[:2])
    with pytest.raises(ValueError, match="Unknown task"):
        layout.index("nope")


def test_evaluate_returns_fraction_per_task(tasks, heads):
    accuracy = tr.evaluate(heads.model, tasks, heads.layout, n_trials=20, chunk=10)
    assert set(accuracy) == set(NAMES)
    assert all(0.0 <= value <= 1.0 for value in accuracy.values())


def test_a_saved_molap_model_loads_with_only_ctxrnn_imported(tmp_path):
    """`import ctxrnn` registers every layer and loss a MoLaP model is saved with
    (a fresh interpreter that never imports `ctxrnn.molap`)."""
    import subprocess
    import sys

    tasks = make_all()[:2]
    layout = net.HeadLayout.from_tasks(tasks, NAMES[:2])
    model = net.build_network(layout, 12, seed=0)
    model.compile(optimizer="adam", loss=net.masked_mse)
    stacked = tr.stacked_batch(tasks, layout, 4, seed=0)
    expected = model.predict(stacked.inputs, verbose=0)
    np.save(tmp_path / "inputs.npy", stacked.inputs)
    np.save(tmp_path / "expected.npy", expected)
    model.save(tmp_path / "molap.keras")
    script = (
        "import sys, numpy as np, keras, ctxrnn\n"
        "assert 'ctxrnn.molap' not in sys.modules\n"
        f"d = {str(tmp_path)!r}\n"
        "m = keras.models.load_model(d + '/molap.keras')\n"
        "out = m.predict(np.load(d + '/inputs.npy'), verbose=0)\n"
        "np.testing.assert_array_equal(out, np.load(d + '/expected.npy'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_input_bias_is_a_constant_channel_per_head(tasks, heads):
    plain = net.HeadLayout.from_tasks(tasks, NAMES)
    biased = net.HeadLayout.from_tasks(tasks, NAMES, input_bias=True)
    assert biased.total_inputs == plain.total_inputs + len(NAMES)
    stacked = biased.stack([task.generate(3, seed=0) for task in tasks])
    for index, batch in enumerate(stacked.batches):
        block = stacked.inputs[stacked.rows(index)][..., biased.input_slice(index)]
        np.testing.assert_array_equal(block[..., -1], 1.0)  # the bias channel, every step
        np.testing.assert_array_equal(block[..., :-1], batch.inputs)
    # a reloaded model's layout is read from its input width
    assert heads.layout.input_bias
    assert net.HeadLayout.for_model(heads.model, tasks, NAMES) == heads.layout
    with pytest.raises(ValueError, match="input channels"):
        net.HeadLayout.for_model(heads.model, tasks[:2], NAMES[:2])
