"""Pre-training changes only the intended block; task training leaves W_rec bit-identical."""

import dataclasses

import keras
import numpy as np
import pytest
from molap_fake_tasks import NAMES, make_all

from ctxrnn import masks, seeding
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


@pytest.fixture(scope="module")
def pretrained_module_wiring(tasks):
    config = tr.PretrainConfig.fast(4, batch_size=8, corpus_trials=24, learning_rate=0.05,
                                    wiring="module")
    return tr.pretrain_modules(tasks, units=UNITS, module_sizes=SIZES, config=config, seed=3)


@pytest.mark.parametrize("wiring", ["reference", "module"])
def test_each_phase_changes_only_its_block(wiring, pretrained, pretrained_module_wiring):
    pretrained = pretrained if wiring == "reference" else pretrained_module_wiring
    before = pretrained.initial_kernel
    for module, after in enumerate(pretrained.module_kernels):
        block = masks.intra_module_mask(SIZES, module).astype(bool)
        np.testing.assert_array_equal(after[~block], before[~block])  # bit-identical
        assert np.all(after[block] != before[block]) or np.mean(after[block] != before[block]) > 0.9
        before = after
    np.testing.assert_array_equal(pretrained.recurrent_kernel, pretrained.module_kernels[-1])
    assert len(pretrained.losses) == len(SIZES) and all(len(l) == 4 for l in pretrained.losses)


def test_reference_wiring_input_row_and_readout_span_all_units_and_carry_over(pretrained):
    """One input row into all N units (learned in module 1's phase, frozen after), one
    readout of all N units plus a bias and a trainable h0 carried from phase to phase;
    the core's random bias stays frozen."""
    start, after_first, after_second = pretrained.phase_weights
    assert start["kernel"].shape == (1, UNITS) and np.all(start["kernel"] != 0)
    assert start["readout"].shape == (UNITS, 1) and np.all(start["readout"] != 0)
    assert np.all(after_first["kernel"] != start["kernel"])  # learned in phase 1 ...
    np.testing.assert_array_equal(after_second["kernel"], after_first["kernel"])  # ... only
    for name in ("readout", "readout_bias", "initial_state"):
        # phase 2 starts from phase 1's values (one network) and keeps training them
        assert not np.array_equal(after_first[name], start[name]), name
        assert not np.array_equal(after_second[name], after_first[name]), name
    for weights in (start, after_first, after_second):
        np.testing.assert_array_equal(weights["bias"], pretrained.recurrent_bias)
    np.testing.assert_array_equal(pretrained.recurrent_bias, tr.initial_recurrent_bias(UNITS,
                                                                                       seed=3))
    assert np.isclose(np.std(tr.initial_recurrent_bias(400, 1.5, seed=0)), 1.5 / np.sqrt(401),
                      rtol=0.1)
    assert pretrained.model.get_layer("readout").kernel.shape == (UNITS, 1)


def test_module_wiring_reads_only_its_module(pretrained_module_wiring):
    weights = pretrained_module_wiring.phase_weights[-1]
    assert weights["readout"].shape == (SIZES[1], 1)
    assert weights["bias"] is None and weights["initial_state"] is None
    assert np.all(weights["kernel"][0, :SIZES[0]] == 0) and np.all(weights["kernel"][0, SIZES[0]:] != 0)
    assert pretrained_module_wiring.recurrent_bias is None
    with pytest.raises(ValueError, match="wiring"):
        tr.PretrainConfig(wiring="modules")


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


def test_default_schedules_have_a_constant_rate():
    """The reference code's Adam step size is constant (its stages only print smaller
    ones); pre-training defaults to its 4 x 200 at 5e-3."""
    pre, heads = tr.PretrainConfig(), tr.HeadConfig()
    assert (pre.iterations, pre.stages, pre.learning_rate, pre.wiring) == (200, 4, 5e-3,
                                                                            "reference")
    assert pre == tr.PretrainConfig.reference()
    assert (heads.iterations, heads.stages, heads.learning_rate) == (200, 5, 1e-2)
    assert tr._schedule(pre) == [5e-3] * 800 and tr._schedule(heads) == [1e-2] * 1000
    main, short = tr.HeadConfig.reference(), tr.HeadConfig.reference("short")
    assert (main.iterations, main.stages, main.learning_rate, main.batch_size) == (500, 9, 1e-3,
                                                                                   500)
    assert (short.iterations, short.stages, short.learning_rate, short.batch_size) == (
        200, 9, 1e-2, 200)
    assert set(tr._schedule(main)) == {1e-3}
    with pytest.raises(ValueError, match="budget"):
        tr.HeadConfig.reference("long")
    assert heads.per_task_initial_state and heads.initial_state_std == 1.0
    fast = tr.HeadConfig.fast()
    assert fast.total_iterations == 20 and tr.PretrainConfig.fast(7).total_iterations == 7


@pytest.fixture(scope="module")
def heads(tasks, pretrained):
    config = tr.HeadConfig.fast(3, batch_size=6)
    return tr.train_heads(pretrained.recurrent_kernel, tasks, NAMES,
                          recurrent_bias=pretrained.recurrent_bias, config=config, seed=1)


def test_heads_keep_the_core_bias_frozen_and_learn_h0_from_a_normal_start(heads, pretrained):
    core = find_ctrnn(heads.model)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(core.cell.bias),
                                  pretrained.recurrent_bias)
    assert not core.cell.bias.trainable
    h0 = heads.model.get_layer("initial_states")
    assert h0.kernel.trainable and h0.kernel.shape == (len(NAMES), UNITS)
    fresh = net.build_network(heads.layout, UNITS, per_task_initial_state=True,
                              initial_state_std=1.0, seed=0)
    start = keras.ops.convert_to_numpy(fresh.get_layer("initial_states").kernel)
    assert 0.8 < start.std() < 1.2


def test_recurrent_kernel_bit_identical_during_task_training(heads, pretrained):
    core = find_ctrnn(heads.model)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(core.recurrent_kernel),
                                  pretrained.recurrent_kernel)
    trainable = {w.path for w in heads.model.trainable_weights}
    assert not any("recurrent_kernel" in path for path in trainable)
    layout = heads.layout
    expected = (UNITS * layout.total_inputs + (UNITS + 1) * layout.total_outputs
                + UNITS * len(layout.names))
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
    outputs = heads.model.predict(net.task_inputs(heads.model, stacked), verbose=0)
    per_task = heads.layout.split_outputs(outputs, stacked)
    for name in ("mem_dm1", "multi_mem"):
        index = heads.layout.index(name)
        single = net.task_model(heads.model, heads.layout, name)
        mine = single.predict(stacked.batches[index].inputs, verbose=0)
        # the single model adds core and head bias before the step, the stacked one in
        # its matmul: float32 rounding, grown over 110 chaotic steps
        np.testing.assert_allclose(mine, per_task[index], rtol=1e-4, atol=1e-4)


def test_heads_trained_per_task_land_in_the_multihead_model(tasks, pretrained, monkeypatch):
    """Each head is trained alone, from the joint model's initial head and on the trials
    joint training would give it; the multi-head model then does for every task exactly
    what that task's trained head does."""
    trained, fit = [], tr.fit_multihead

    def recording(model, task_list, layout, config, **kwargs):
        result = fit(model, task_list, layout, config, **kwargs)
        trained.append(result)
        return result

    monkeypatch.setattr(tr, "fit_multihead", recording)
    heads = tr.train_heads(pretrained.recurrent_kernel, tasks, NAMES,
                           recurrent_bias=pretrained.recurrent_bias, seed=4,
                           config=tr.HeadConfig.fast(3, batch_size=6))
    assert heads.task_attempts == dict.fromkeys(NAMES, 1) and len(trained) == len(NAMES)
    assert [result.layout.names for result in trained] == [(name,) for name in NAMES]
    stacked = tr.stacked_batch(tasks, heads.layout, 4, seed=9)
    outputs = heads.layout.split_outputs(
        heads.model.predict(net.task_inputs(heads.model, stacked), verbose=0), stacked)
    for index, result in enumerate(trained):
        alone = tr.stacked_batch([tasks[index]], result.layout, 4, seed=9)
        np.testing.assert_allclose(
            result.model.predict(net.task_inputs(result.model, alone), verbose=0),
            outputs[index], atol=1e-5)
    joint = tr.train_heads(pretrained.recurrent_kernel, tasks, NAMES, seed=4,
                           recurrent_bias=pretrained.recurrent_bias,
                           config=tr.HeadConfig.fast(3, batch_size=6, head_training="joint"))
    assert joint.task_attempts is None and len(trained) == len(NAMES) + 1


def test_a_stalled_head_is_trained_again(tasks, pretrained):
    lines = []
    config = tr.HeadConfig.fast(2, batch_size=6, restarts=1, restart_below=1.0,
                                validation_trials=10)
    heads = tr.train_heads(pretrained.recurrent_kernel, tasks[:2], NAMES[:2],
                           recurrent_bias=pretrained.recurrent_bias, config=config, seed=4,
                           progress=lines.append)
    # no 2-iteration head is perfect: each is trained twice, the better one kept
    assert heads.task_attempts == dict.fromkeys(NAMES[:2], 2)
    assert sum("training again" in line for line in lines) == 2
    kept = tr.train_heads(pretrained.recurrent_kernel, tasks[:2], NAMES[:2],
                          recurrent_bias=pretrained.recurrent_bias, seed=4,
                          config=dataclasses.replace(config, restart_below=1e-9))
    assert kept.task_attempts == dict.fromkeys(NAMES[:2], 1)
    with pytest.raises(ValueError, match="head_training='per_task'"):
        tr.HeadConfig(head_training="joint", restarts=1)
    with pytest.raises(ValueError, match="head_training"):
        tr.HeadConfig(head_training="apart")


def test_copy_head_moves_one_head_only(tasks):
    layout = net.HeadLayout.from_tasks(tasks, NAMES, input_bias=True)
    core = tr.initial_recurrent_kernel(UNITS, 1.5, seed=0)

    def model(seed):
        return net.build_network(layout, UNITS, recurrent_kernel=core, seed=seed,
                                 per_task_initial_state=True, initial_state_std=1.0)

    source, target = model(1), model(2)
    stacked = tr.stacked_batch(tasks, layout, 3, seed=0)

    def outputs(m):
        return layout.split_outputs(m.predict(net.task_inputs(m, stacked), verbose=0), stacked)

    before, wanted = outputs(target), outputs(source)
    tr.copy_head(source, layout, 3, target, layout, 3)
    after = outputs(target)
    np.testing.assert_array_equal(after[3], wanted[3])
    for index in set(range(len(NAMES))) - {3}:
        np.testing.assert_array_equal(after[index], before[index])
    with pytest.raises(ValueError, match="differ in shape"):
        tr.copy_head(source, layout, 0, target, layout, 4)


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



def test_packed_targets_follow_the_targets_and_mask_also_after_replace(tasks):
    layout = net.HeadLayout.from_tasks(tasks, NAMES)
    stacked = tr.stacked_batch(tasks, layout, 3, seed=0)
    expected = np.concatenate([stacked.targets, stacked.loss_mask], axis=-1)
    np.testing.assert_array_equal(stacked.packed_targets, expected)
    # a replaced mask must not be hidden by the buffer `stack` wrote
    doubled = dataclasses.replace(stacked, loss_mask=2 * stacked.loss_mask)
    np.testing.assert_array_equal(doubled.packed_targets[..., 22:], 2 * stacked.loss_mask)

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


def test_heads_with_core_bias_and_initial_states_survive_save_and_load(tmp_path, tasks):
    layout = net.HeadLayout.from_tasks(tasks[:2], NAMES[:2], input_bias=True)
    model = net.build_network(layout, 12, recurrent_bias=tr.initial_recurrent_bias(12, seed=1),
                              per_task_initial_state=True, initial_state_std=1.0, seed=0)
    model.compile(optimizer="adam", loss=net.masked_mse)
    x = net.task_inputs(model, tr.stacked_batch(tasks[:2], layout, 3, seed=0))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert not find_ctrnn(loaded).cell.bias.trainable
    with pytest.raises(ValueError, match="recurrent_bias"):
        net.build_network(layout, 12, recurrent_bias=np.zeros(5))


def test_reference_adam_step_matches_the_reference_update():
    """`adam_step="stage"`: Keras Adam with the rate schedule takes the reference code's
    step (bias correction by stage index, dashirn/MoLaP `adam_custom`)."""
    import keras

    config = tr.HeadConfig(learning_rate=1e-2, iterations=3, stages=3, adam_step="stage")
    rates = tr._schedule(config)
    assert len(rates) == 9 and rates[0] == pytest.approx(1e-2)  # t = s = 1: no change
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(9, 4)).astype(np.float64)
    x_ref, m, v = np.zeros(4), np.zeros(4), np.zeros(4)
    for step, g in enumerate(grads):  # the reference's adam_custom, stage index i
        i = step // 3
        m = 0.1 * g + 0.9 * m
        v = 0.001 * g**2 + 0.999 * v
        x_ref = x_ref - 1e-2 * (m / (1 - 0.9 ** (i + 1))) / (np.sqrt(v / (1 - 0.999 ** (i + 1)))
                                                           + 1e-8)
    weight = keras.Variable(np.zeros(4, np.float32))
    optimizer = keras.optimizers.Adam(rates[0], epsilon=1e-8)
    for rate, g in zip(rates, grads):
        optimizer.learning_rate.assign(rate)
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g.astype(np.float32)), weight)])
    np.testing.assert_allclose(weight.numpy(), x_ref, rtol=2e-4, atol=1e-7)
    # warmed-up steps relative to Adam's: ~0.32 in stage 0, ~0.15 in stage 8
    assert tr.reference_adam_factor(4999, 0) == pytest.approx(0.316, abs=0.01)
    assert tr.reference_adam_factor(8 * 500 + 499, 8) == pytest.approx(0.155, abs=0.01)
    with pytest.raises(ValueError, match="adam_step='epoch'"):
        tr._schedule(tr.HeadConfig(adam_step="epoch"))


@pytest.mark.parametrize("fixed", [False, True])
def test_fixed_trials_train_on_one_batch(monkeypatch, fixed):
    """`fixed_trials=True`: every iteration sees iteration 0's trials (the reference
    code's jitted step); otherwise each iteration draws its own."""
    tasks = make_all()[:2]
    layout = net.HeadLayout.from_tasks(tasks, NAMES[:2])
    model = net.build_network(layout, 12, seed=0)
    seen = []
    original = tasks[0].generate

    def recording(batch_size, seed):
        seen.append(seed)
        return original(batch_size, seed)

    monkeypatch.setattr(tasks[0], "generate", recording)
    config = tr.HeadConfig(iterations=3, stages=1, batch_size=4, solve_readout=False,
                           fixed_trials=fixed)
    tr.fit_multihead(model, tasks, layout, config, seed=5)
    assert len(seen) == 3 and (len(set(seen)) == 1) == fixed


def test_minmax_rescale_maps_each_batch_to_the_unit_interval_and_is_used(monkeypatch):
    """`HeadConfig(rescale="minmax")`: every training batch reaches the loss with its
    inputs and targets in [0, 1] exactly (the reference's `rescale_activity`), and
    `evaluate` maps the outputs back to task units."""
    task = make_all()[6]  # context_mem_dm1
    batch = task.generate(16, seed=0)
    scaled, (low, high) = tr.minmax_rescale(batch)
    for name in ("inputs", "targets"):
        values = getattr(scaled, name)
        assert values.min() == 0.0 and values.max() == pytest.approx(1.0, abs=1e-6)
        raw = getattr(batch, name)
        np.testing.assert_allclose(values, (raw - raw.min()) / (raw.max() - raw.min()),
                                   atol=1e-6)
    assert (low, high) == (pytest.approx(batch.targets.min()), pytest.approx(batch.targets.max()))
    np.testing.assert_array_equal(scaled.loss_mask, batch.loss_mask)
    assert tr.minmax_rescale(batch, None) == (batch, (0.0, 1.0))

    layout = net.HeadLayout.from_tasks([task], [NAMES[6]], input_bias=True)
    model = net.build_network(layout, 12, train_recurrent=True, seed=0)
    seen = []
    original = model.train_on_batch

    def recording(x, y, **kwargs):
        seen.append((np.asarray(x), np.asarray(y)))
        return original(x, y, **kwargs)

    monkeypatch.setattr(model, "train_on_batch", recording)
    config = tr.HeadConfig(iterations=2, stages=1, batch_size=8, solve_readout=False,
                           rescale="minmax")
    tr.fit_multihead(model, [task], layout, config, seed=1)
    assert len(seen) == 2
    for x, y in seen:
        inputs, targets = x[..., :-1], y[..., :layout.total_outputs]  # bias channel stays 1
        assert inputs.min() == 0.0 and inputs.max() == pytest.approx(1.0, abs=1e-6)
        assert targets.min() == 0.0 and targets.max() == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_array_equal(x[..., -1], 1.0)
    # a model that outputs the rescaled targets scores them perfectly once mapped back
    class Oracle:
        inputs = model.inputs

        def predict(self, x, **kwargs):
            return tr.minmax_rescale(task.generate(len(x), seed=probe))[0].targets

    probe = seeding.derive(9, "evaluation", 0)
    score = tr.evaluate(Oracle(), [task], layout, n_trials=8, seed=9, rescale="minmax")
    assert score[NAMES[6]] == pytest.approx(1.0)


@pytest.mark.parametrize("bad", ["zscore", "MinMax", 1])
def test_bad_rescale_raises(bad):
    with pytest.raises(ValueError, match=f"rescale={bad!r}"):
        tr.HeadConfig(rescale=bad)
    with pytest.raises(ValueError, match="Argument `rescale` must be one of"):
        tr.minmax_rescale(make_all()[0].generate(2, seed=0), bad)


def test_response_weight_scales_only_the_response_outputs_in_the_response_epoch(monkeypatch):
    """`HeadConfig(response_weight=w)`: the loss mask that reaches `train_on_batch` is w on
    the response outputs during the response epoch and unchanged everywhere else
    (fixation output, earlier epochs, the unscored blank steps)."""
    import ctxrnn.tasks

    task = ctxrnn.tasks.make("mem_dm1")
    batch = task.generate(6, seed=0)
    assert tr.weight_response(batch, task, 1.0) is batch
    weighted = tr.weight_response(batch, task, 5.0)
    response = task.window(batch.epochs, "response")
    expected = batch.loss_mask.copy()
    expected[..., 1][response] *= 5.0
    np.testing.assert_array_equal(weighted.loss_mask, expected)
    assert response.sum(axis=1).min() == 25 and expected[:, :10].max() == 0.0
    np.testing.assert_array_equal(weighted.targets, batch.targets)

    layout = net.HeadLayout.from_tasks([task], ["mem_dm1"], input_bias=True)
    model = net.build_network(layout, 8, train_recurrent=True, seed=0)
    seen = []
    original = model.train_on_batch

    def recording(x, y, **kwargs):
        seen.append(np.asarray(y))
        return original(x, y, **kwargs)

    monkeypatch.setattr(model, "train_on_batch", recording)
    config = tr.HeadConfig(iterations=1, stages=1, batch_size=6, solve_readout=False,
                           response_weight=5.0)
    tr.fit_multihead(model, [task], layout, config, seed=1)
    mask = seen[0][..., layout.total_outputs:]
    trial = task.generate(6, seed=seeding.derive(1, "trials", 0))
    np.testing.assert_array_equal(mask, tr.weight_response(trial, task, 5.0).loss_mask)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_bad_response_weight_raises(bad):
    with pytest.raises(ValueError, match="response_weight"):
        tr.HeadConfig(response_weight=bad)
    import ctxrnn.tasks

    task = ctxrnn.tasks.make("mem_dm1")
    with pytest.raises(ValueError, match="`weight`"):
        tr.weight_response(task.generate(2, seed=0), task, bad)
