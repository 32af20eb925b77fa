"""Stacked networks: `CTRNN(..., networks=K)`, `StackedDense`, `NetworkSum`, `StackedModel`."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import ctxrnn
from ctxrnn import seeding
from ctxrnn.stacked import clip_per_network

K, N, T, B, I, O = 3, 8, 10, 12, 2, 2
SEEDS = [4, 9, 17]
NOISY = {"dt": 10.0, "tau": 40.0, "recurrent_noise": 0.1, "input_noise": 0.05}


def _data(seed=0, per_network=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, K, T, I) if per_network else (B, T, I)).astype("float32")
    y = rng.normal(size=(B, T, O)).astype("float32")
    return x, y


def _stacked_model(seeds=SEEDS, **cell):
    inputs = keras.Input((T, I))
    states = ctxrnn.CTRNN(N, networks=len(seeds), seed=seeds, name="ctrnn", **cell)(inputs)
    outputs = ctxrnn.StackedDense(O, networks=len(seeds), seed=seeds, name="readout")(states)
    return ctxrnn.StackedModel(inputs, outputs)


@pytest.mark.parametrize("per_network", [False, True])
def test_stacked_layer_is_unstacked_layers_bit_for_bit_noise_included(per_network):
    x, _ = _data(per_network=per_network)
    stacked = ctxrnn.CTRNN(N, networks=K, seed=SEEDS, **NOISY)
    states = stacked(x, training=True).numpy()
    assert states.shape == (B, K, T, N)
    for k, seed in enumerate(SEEDS):
        single = ctxrnn.CTRNN(N, seed=seed, **NOISY)
        expected = single(x[:, k] if per_network else x, training=True).numpy()
        np.testing.assert_array_equal(states[:, k], expected)
        np.testing.assert_array_equal(stacked.recurrent_kernel.numpy()[k],
                                      single.recurrent_kernel.numpy())


@pytest.mark.parametrize("batch_known", [True, False])
def test_stacked_noise_is_unstacked_noise_when_the_batch_decides_its_layout(batch_known):
    # With an odd number of steps, the layout of XLA's Threefry words depends on the
    # batch size's parity: drawn for the static batch, or network by network while the
    # batch is unknown when the kernel is traced (a Keras model's symbolic batch).
    x = np.random.default_rng(3).normal(size=(B, 7, I)).astype("float32")
    stacked = ctxrnn.CTRNN(N, networks=K, seed=SEEDS, **NOISY)
    stacked.build(x.shape)
    call = lambda inputs: stacked(inputs, training=True)  # noqa: E731
    if not batch_known:
        call = tf.function(call, input_signature=[tf.TensorSpec((None, 7, I))])
    states = call(x).numpy()
    for k, seed in enumerate(SEEDS):
        single = ctxrnn.CTRNN(N, seed=seed, **NOISY)
        np.testing.assert_array_equal(states[:, k], single(x, training=True).numpy())


def test_stacked_noisy_states_in_a_traced_step_are_each_networks_bit_for_bit():
    # Inside a traced function (as in `fit`, batch unknown) at N = 100, the noise once
    # drawn network by network and then added differed from a network's own in the
    # last bit; drawn and added in one kernel, it does not.
    cell = {"dt": 20.0, "tau": 100.0, "recurrent_noise": 0.05, "input_noise": 0.01}
    x = np.random.default_rng(0).normal(size=(16, 20, 3)).astype("float32")
    stacked = ctxrnn.CTRNN(100, networks=2, seed=[0, 1], **cell)
    stacked.build(x.shape)
    traced = tf.function(lambda inputs: stacked(inputs, training=True),
                         input_signature=[tf.TensorSpec((None, 20, 3))])
    states = traced(x).numpy()
    for k in range(2):
        single = ctxrnn.CTRNN(100, seed=k, **cell)
        np.testing.assert_array_equal(states[:, k], single(x, training=True).numpy())


@pytest.mark.parametrize("threads", [2, 3, 8])
def test_networks_run_in_groups_give_what_one_group_gives(monkeypatch, threads):
    # The stack is cut into one group per inter-op thread (fewer, uneven groups
    # included); states, noise and every gradient must not depend on the cut.
    from ctxrnn import layers

    cell = {**NOISY, "tau_trainable": True}
    x, _ = _data()

    def states_and_gradients(threads):
        monkeypatch.setattr(layers, "_parallel_threads", lambda: threads)
        layer = ctxrnn.CTRNN(N, networks=K, seed=SEEDS, **cell)
        layer.build(x.shape)

        # Traced with an unknown batch size, as in fit: the groups' static sizes must
        # survive the cut.
        @tf.function(input_signature=[tf.TensorSpec((None, T, I))])
        def step(x):
            with tf.GradientTape() as tape:
                states = layer(x, training=True)
                loss = tf.reduce_sum(states * tf.range(N, dtype=states.dtype))
            return [states, *tape.gradient(loss, layer.trainable_weights)]

        return [value.numpy() for value in step(x)]

    assert len(layers.network_groups(K, threads)) == min(K, threads)
    for grouped, whole in zip(states_and_gradients(threads), states_and_gradients(1)):
        np.testing.assert_array_equal(grouped, whole)


def test_noisy_stack_gives_the_same_gradients_eagerly_and_traced():
    # A custom training loop under an eager GradientTape once failed: the tape
    # recorded the stacked noise kernel and asked XLA for its loop state.
    x, _ = _data()

    def gradients(run):
        layer = ctxrnn.CTRNN(N, networks=K, seed=SEEDS, tau_trainable=True, **NOISY)
        layer.build(x.shape)

        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x, training=True) ** 2)
            return tape.gradient(loss, layer.trainable_weights)

        return [g.numpy() for g in run(step)()]

    for eager, traced in zip(gradients(lambda f: f), gradients(tf.function)):
        np.testing.assert_allclose(eager, traced, rtol=1e-5, atol=1e-6)


def test_groups_follow_the_inter_op_threads_tensorflow_was_started_with(monkeypatch):
    from ctxrnn import layers

    monkeypatch.setattr(tf.config.threading, "get_inter_op_parallelism_threads", lambda: 0)
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "1")
    assert layers._parallel_threads() == 1  # the variable TensorFlow read, not the cores
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "3")
    assert layers._parallel_threads() == 3
    monkeypatch.setattr(tf.config, "list_logical_devices",
                        lambda kind=None: ["/device:GPU:0"] if kind == "GPU" else [])
    assert layers._parallel_threads() == 1  # a GPU's one stream would run groups in turn


def test_int_seed_gives_each_network_a_derived_seed():
    stacked = ctxrnn.CTRNN(N, networks=K, seed=5)
    stacked.build((None, T, I))
    kernels = stacked.recurrent_kernel.numpy()
    for k in range(K):
        single = ctxrnn.CTRNN(N, seed=seeding.derive(5, "network", k))
        single.build((None, T, I))
        np.testing.assert_array_equal(kernels[k], single.recurrent_kernel.numpy())
    assert not np.array_equal(kernels[0], kernels[1])


def test_unstack_predicts_exactly_what_the_stack_predicts_before_and_after_training():
    x, y = _data()
    model = _stacked_model(**NOISY)
    predicted = model.predict(x, verbose=0)
    assert predicted.shape == (B, K, T, O)
    for k, single in enumerate(model.unstack()):
        assert not isinstance(single, ctxrnn.StackedModel)
        np.testing.assert_array_equal(single.predict(x, verbose=0), predicted[:, k])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    singles = model.unstack()
    predicted = model.predict(x, verbose=0)
    noisy = model(x, training=True).numpy()  # the noise sequence continues in model k too
    for k, single in enumerate(singles):
        np.testing.assert_array_equal(single.predict(x, verbose=0), predicted[:, k])
        np.testing.assert_array_equal(single(x, training=True).numpy(), noisy[:, k])


@pytest.mark.parametrize("variant", [
    {"tau_trainable": True},
    {"activation": "softplus"},  # no derivative from the output: the slopes come from z
    {"tau": 10.0},  # dt == tau: the non-leaky loops
])
def test_stacked_training_equals_separate_training_with_adam(variant):
    """Adam is per-parameter, the loss a sum and the clipping per network: training
    the stack is training each network alone on the same batches."""
    x, y = _data(1)
    cell = {**NOISY, "initial_state_trainable": True, **variant}
    model = _stacked_model(**cell)
    singles = model.unstack()
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=0.3), "mse")
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    losses = []
    for single in singles:
        single.compile(keras.optimizers.Adam(1e-2, clipnorm=0.3), "mse")
        losses.append(single.fit(x, y, batch_size=4, epochs=2, shuffle=False,
                                 verbose=0).history["loss"])
    np.testing.assert_allclose(history, np.sum(losses, axis=0), rtol=1e-5)
    for trained, single in zip(model.unstack(), singles):
        for a, b in zip(trained.get_weights(), single.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        if variant.get("tau_trainable"):
            # tau learned: its gradient took the stacked alpha path of the recurrence.
            assert not np.allclose(trained.layers[1].cell.tau_weight.numpy(), NOISY["tau"])
    assert model.get_layer("ctrnn").cell.leaky == ("tau" not in variant)


def test_frozen_entries_stay_bit_identical_per_network():
    x, y = _data(2)
    model = _stacked_model()
    layer = model.get_layer("ctrnn")
    rng = np.random.default_rng(3)
    plasticity = (rng.random((K, N, N)) < 0.5).astype("float32")
    plasticity[2] = 1.0  # network 2 learns everywhere
    connectivity = (rng.random((K, N, N)) < 0.8).astype("float32")
    kernel_plasticity = np.ones((I, N), "float32")
    kernel_plasticity[0] = 0.0  # one mask for all networks
    layer.set_masks(recurrent_plasticity=plasticity, recurrent_connectivity=connectivity,
                    kernel_plasticity=kernel_plasticity)
    before, kernel_before = layer.recurrent_kernel.numpy(), layer.kernel.numpy()
    model.compile(keras.optimizers.AdamW(5e-2, weight_decay=0.5), "mse")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    after, kernel_after = layer.recurrent_kernel.numpy(), layer.kernel.numpy()
    frozen = (plasticity == 0) & (connectivity == 1)
    np.testing.assert_array_equal(after[frozen], before[frozen])
    assert np.all(after[connectivity == 0] == 0)
    assert np.all(after[(plasticity == 1) & (connectivity == 1)]
                  != before[(plasticity == 1) & (connectivity == 1)])
    np.testing.assert_array_equal(kernel_after[:, 0], kernel_before[:, 0])
    assert not np.any(kernel_after[:, 1] == kernel_before[:, 1])
    for k, single in enumerate(model.unstack()):
        np.testing.assert_array_equal(single.layers[1].get_masks()["recurrent_plasticity"],
                                      plasticity[k])


def test_network_sum_is_the_sum_of_each_networks_loss():
    rng = np.random.default_rng(4)
    y_pred = rng.normal(size=(B, K, T, O)).astype("float32")
    shared = rng.normal(size=(B, T, O)).astype("float32")
    per_network = rng.normal(size=(B, K, T, O)).astype("float32")
    mask = (rng.random((B, T, O)) < 0.5).astype("float32")
    expected = sum(np.mean((y_pred[:, k] - shared) ** 2) for k in range(K))
    np.testing.assert_allclose(float(ctxrnn.NetworkSum("mse")(shared, y_pred)), expected,
                               rtol=1e-6)
    expected = sum(np.mean((y_pred[:, k] - per_network[:, k]) ** 2) for k in range(K))
    np.testing.assert_allclose(float(ctxrnn.NetworkSum()(per_network, y_pred)), expected,
                               rtol=1e-6)
    expected = sum(np.sum(mask * (y_pred[:, k] - shared) ** 2) / mask.sum() for k in range(K))
    loss = ctxrnn.NetworkSum(ctxrnn.MaskedMSE())
    np.testing.assert_allclose(float(loss(shared, y_pred, sample_weight=mask)), expected,
                               rtol=1e-5)
    masks = (rng.random((B, K, T, O)) < 0.5).astype("float32")
    expected = sum(np.sum(masks[:, k] * (y_pred[:, k] - per_network[:, k]) ** 2)
                   / masks[:, k].sum() for k in range(K))
    np.testing.assert_allclose(float(loss(per_network, y_pred, sample_weight=masks)), expected,
                               rtol=1e-5)
    clone = ctxrnn.NetworkSum.from_config(loss.get_config())
    assert isinstance(clone._loss, ctxrnn.MaskedMSE)
    with pytest.raises(ValueError, match="targets must be shared"):
        loss(shared[:, 0, 0], y_pred)


def test_network_sum_reads_the_weights_layout_from_the_weights():
    # Per-network targets with one mask for all networks (a common case: every network
    # trained on its own trials of one task's timing) - the mask must not be split.
    rng = np.random.default_rng(5)
    y_pred = rng.normal(size=(B, K, T, 1)).astype("float32")
    targets = rng.normal(size=(B, K, T, 1)).astype("float32")
    loss = ctxrnn.NetworkSum(ctxrnn.MaskedMSE())
    for mask in ((rng.random((B, T, 1)) < 0.5).astype("float32"),
                 (rng.random((B, T)) < 0.5).astype("float32")):
        full = np.broadcast_to(mask.reshape(B, T, 1), (B, T, 1))
        expected = sum(np.sum(full * (y_pred[:, k] - targets[:, k]) ** 2) / full.sum()
                       for k in range(K))
        np.testing.assert_allclose(float(loss(targets, y_pred, sample_weight=mask)), expected,
                                   rtol=1e-5)
    # Shared targets with a mask per network.
    shared = targets[:, 0]
    masks = (rng.random((B, K, T, 1)) < 0.5).astype("float32")
    expected = sum(np.sum(masks[:, k] * (y_pred[:, k] - shared) ** 2) / masks[:, k].sum()
                   for k in range(K))
    np.testing.assert_allclose(float(loss(shared, y_pred, sample_weight=masks)), expected,
                               rtol=1e-5)
    with pytest.raises(ValueError, match=r"targets must be shared.*\(12, 2, 10, 1\)"):
        loss(targets[:, :2], y_pred)
    with pytest.raises(ValueError, match="sample_weight.*received sample_weight of shape "
                                         r"\(12, 5\)"):
        loss(targets, y_pred, sample_weight=np.ones((B, 5), "float32"))
    # Broadcastable weights, (B, 1) shared and (B, K, T, 1) per network with O = 1 outputs.
    for weight in (np.ones((B, 1), "float32"), np.ones((B, K, T, 1), "float32")):
        np.testing.assert_allclose(float(loss(targets, y_pred, sample_weight=weight)),
                                   float(loss(targets, y_pred)), rtol=1e-6)
    # As many time steps as networks: (B, K) weights read both ways and follow the targets.
    square_pred = rng.normal(size=(B, K, K)).astype("float32")
    square = rng.normal(size=(B, K, K)).astype("float32")
    weight = (rng.random((B, K)) < 0.5).astype("float32") + 0.5
    mse = ctxrnn.NetworkSum("mse")
    per_network = sum(float(keras.losses.MeanSquaredError()(square[:, k], square_pred[:, k],
                                                            sample_weight=weight[:, k]))
                      for k in range(K))
    np.testing.assert_allclose(float(mse(square, square_pred, sample_weight=weight)),
                               per_network, rtol=1e-5)


def test_network_sum_runs_the_loss_eagerly_when_the_model_runs_eagerly():
    # Under run_eagerly=True Keras runs a loss eagerly; NetworkSum traces its loss only
    # inside a traced step, so a loss that needs eager tensors still trains.
    x, y = _data()

    def eager_only_mse(y_true, y_pred):
        assert np.isfinite(y_pred.numpy()).all()
        return tf.reduce_mean((y_true - y_pred) ** 2, axis=-1)

    model = _stacked_model()
    model.compile(keras.optimizers.Adam(1e-2), eager_only_mse, run_eagerly=True)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_clip_per_network_known_answers():
    grads = [np.array([[3.0, 4.0], [0.3, 0.4]], "float32"), np.array([[0.0], [0.0]], "float32")]
    clipped = clip_per_network(grads, clipnorm=1.0)
    np.testing.assert_allclose(clipped[0], [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    grads = [np.array([[3.0], [0.3]], "float32"), np.array([[4.0], [0.4]], "float32")]
    clipped = clip_per_network(grads, global_clipnorm=1.0)  # norms 5 and 0.5
    np.testing.assert_allclose(np.concatenate(clipped, 1), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)


def test_save_and_load_give_identical_outputs_and_training(tmp_path):
    x, y = _data(5)
    model = _stacked_model(**NOISY)
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=0.5), ctxrnn.MaskedMSE())
    model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    path = tmp_path / "stack.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ctxrnn.StackedModel) and loaded.network_clipnorm == 0.5
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded(x, training=True).numpy(),
                                  model(x, training=True).numpy())
    assert loaded.get_layer("ctrnn").get_config() == model.get_layer("ctrnn").get_config()
    first = model.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0).history["loss"]
    again = loaded.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(again, first, rtol=1e-6)


def test_bad_stacks_fail_early_naming_the_argument():
    with pytest.raises(ValueError, match="networks"):
        ctxrnn.CTRNN(N, networks=0)
    with pytest.raises(ValueError, match="seed"):
        ctxrnn.CTRNN(N, networks=K, seed=[1, 2])
    layer = ctxrnn.CTRNN(N, networks=K)
    layer.build((None, T, I))
    with pytest.raises(ValueError, match="recurrent_plasticity"):
        layer.set_masks(recurrent_plasticity=np.ones((K + 1, N, N)))
    with pytest.raises(ValueError, match="stacked cell runs only inside"):
        keras.layers.RNN(ctxrnn.CTRNNCell(N, networks=K))(np.zeros((1, T, I), "float32"))
    with pytest.raises(ValueError, match="input_shape"):
        ctxrnn.CTRNN(N, networks=K)(np.zeros((1, K + 1, T, I), "float32"))
    inputs = keras.Input((T, I))
    states = ctxrnn.CTRNN(N, networks=K)(inputs)
    model = ctxrnn.StackedModel(inputs, keras.layers.Dense(O)(states))
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="leading axis of the 3 networks"):
        model.fit(np.zeros((2, T, I)), np.zeros((2, T, O)), verbose=0)
    with pytest.raises(ValueError, match="chain"):
        model.unstack()


def test_freeze_acts_on_every_network_of_a_stack():
    x, y = _data(6)
    model = _stacked_model()
    ctxrnn.freeze(model, recurrent=True, inputs=[0], readout=True)
    layer, readout = model.get_layer("ctrnn"), model.get_layer("readout")
    assert not readout.trainable
    before = {w.path: w.numpy().copy() for w in model.weights}
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    for weight in (layer.recurrent_kernel, readout.kernel, layer.cell.bias):
        np.testing.assert_array_equal(weight.numpy(), before[weight.path])
    np.testing.assert_array_equal(layer.kernel.numpy()[:, 0], before[layer.kernel.path][:, 0])
    assert not np.any(layer.kernel.numpy()[:, 1] == before[layer.kernel.path][:, 1])


@pytest.mark.parametrize("networks,batch", [(1, 1), (1, 5), (3, 1)])
def test_one_network_or_one_trial_trains_and_unstacks(networks, batch):
    """Size-1 network or batch axes (a broadcast batched matmul of TF crashed on them)."""
    x, y = _data(7)
    model = _stacked_model(seeds=SEEDS[:networks], **NOISY)
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    model.train_on_batch(x[:batch], y[:batch])
    predicted = model.predict(x[:batch], verbose=0)
    for k, single in enumerate(model.unstack()):
        np.testing.assert_array_equal(single.predict(x[:batch], verbose=0), predicted[:, k])


def test_groups_of_one_network_train_and_unstack(monkeypatch):
    # One group per network: each group's recurrence is traced for one network
    # (its loop once lost that static size and refused to trace).
    from ctxrnn import layers

    monkeypatch.setattr(layers, "_parallel_threads", lambda: K)
    x, y = _data(8)
    model = _stacked_model(**NOISY)
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    predicted = model.predict(x, verbose=0)
    for k, single in enumerate(model.unstack()):
        np.testing.assert_array_equal(single.predict(x, verbose=0), predicted[:, k])


def test_stacked_noise_is_each_seeds_noise():
    from ctxrnn.noise import stacked_standard_normal, standard_normal

    seeds = [np.array([1, 2], "int32"), np.array([3, -4], "int32"), np.array([-5, 6], "int32")]
    for sampler in ("table", "exact"):
        for axis in (0, 1, 3):  # the network axis first, inside, last
            stacked = stacked_standard_normal((5, 3, 7), seeds, axis, sampler=sampler).numpy()
            assert stacked.shape[axis] == len(seeds)
            for k, seed in enumerate(seeds):
                np.testing.assert_array_equal(np.take(stacked, k, axis=axis),
                                              standard_normal((5, 3, 7), seed, sampler=sampler))
    # The table sampler's words are Threefry's as XLA lays them out, which depends on the
    # shape (the axis it halves: the first of even size, else the first of the largest).
    for shape in [(4, 3, 7), (5, 3, 5), (3, 5, 9), (6,), (1,), (7, 2), (100, 64, 100)]:
        stacked = stacked_standard_normal(shape, seeds, 0).numpy()
        for k, seed in enumerate(seeds):
            np.testing.assert_array_equal(stacked[k], standard_normal(shape, seed), str(shape))


def _count_traces(model):
    traces = []
    train_step = model.train_step

    def counted(data):
        traces.append(1)
        return train_step(data)

    model.train_step = counted
    return traces


def test_first_fit_traces_the_train_step_once():
    # Keras' TF trainer makes the optimizer's slots inside the first trace, which
    # makes tf.function trace the whole step again; StackedModel and compile_model
    # build them first.
    x, y = _data()
    stacked = _stacked_model(**NOISY)
    traces = _count_traces(stacked)
    stacked.compile(keras.optimizers.Adam(1e-3), "mse")
    stacked.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert len(traces) == 1
    inputs = keras.Input((T, I))
    single = keras.Model(inputs, keras.layers.Dense(O)(ctxrnn.CTRNN(N, seed=1)(inputs)))
    traces = _count_traces(single)
    ctxrnn.models.compile_model(single, metrics=[])
    single.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert len(traces) == 1


def test_random_bias_and_axis_dependent_constraints_act_per_network():
    x, _ = _data()
    stacked = ctxrnn.CTRNN(N, networks=K, seed=SEEDS, bias_initializer="random_normal",
                           kernel_constraint=keras.constraints.MaxNorm(0.5))
    stacked(x)
    bias = stacked.cell.bias.numpy()
    assert not np.allclose(bias[0], bias[1])  # one shared initializer gave equal biases
    wide = keras.ops.convert_to_tensor(stacked.cell.kernel.numpy() * 5)
    constrained = stacked.cell.kernel.constraint(wide).numpy()
    for k in range(K):
        single = ctxrnn.CTRNN(N, seed=stacked.cell.network_seeds[k],
                              bias_initializer="random_normal",
                              kernel_constraint=keras.constraints.MaxNorm(0.5))
        single(x)
        np.testing.assert_array_equal(single.cell.bias.numpy(), bias[k])
        # MaxNorm over axis 0 of network k's kernel, not over the network axis.
        np.testing.assert_allclose(single.cell.kernel.constraint(wide[k]).numpy(),
                                   constrained[k], rtol=1e-6)


def test_initial_state_of_the_wrong_shape_names_it():
    x, _ = _data()
    stacked = ctxrnn.CTRNN(N, networks=K, seed=SEEDS)
    for shape in ((B, K + 1, N), (B, N), (K, B, N)):
        with pytest.raises(ValueError, match=rf"`initial_state` must be \(batch, {K}, {N}\); "
                                             rf"received initial_state of shape \({shape[0]}"):
            stacked(x, initial_state=np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match=rf"`initial_state` must be \(batch, {N}\)"):
        ctxrnn.CTRNN(N)(x, initial_state=np.zeros((B, N + 1), "float32"))


def test_compile_keeps_per_network_semantics_or_refuses():
    model = _stacked_model()
    optimizer = keras.optimizers.Adam(1e-3, clipnorm=1.0)
    model.compile(optimizer, "mse")
    model.compile(model.optimizer, ctxrnn.MaskedMSE())  # recompiling keeps the clipping
    assert model.network_clipnorm == 1.0 and optimizer.clipnorm is None
    refused = {
        "Adafactor updates each weight as a whole": keras.optimizers.Adafactor(),
        "Lamb updates each weight as a whole": keras.optimizers.Lamb(),
        "`gradient_accumulation_steps`=2": keras.optimizers.SGD(
            clipnorm=1.0, gradient_accumulation_steps=2),
    }
    for message, refused_optimizer in refused.items():
        fresh = _stacked_model()
        with pytest.raises(ValueError, match=re.escape(message)):
            fresh.compile(refused_optimizer, "mse")
        assert not fresh.compiled
    assert refused["`gradient_accumulation_steps`=2"].clipnorm == 1.0  # left as it was
    averaged = _stacked_model()
    with pytest.warns(UserWarning, match="use_ema=True"):  # exact freezing is lost, as alone
        averaged.compile(keras.optimizers.Adam(use_ema=True), "mse")
    # A model saved compiled in a way compile now refuses loads, uncompiled, with a warning.
    saved = _stacked_model()
    saved.compile(keras.optimizers.Adam(1e-3), "mse")
    config = {**saved.get_compile_config(),
              "optimizer": keras.optimizers.serialize(keras.optimizers.Lamb())}
    loaded = _stacked_model()
    with pytest.warns(UserWarning, match="loads uncompiled: .*Lamb"):
        loaded.compile_from_config(config)
    assert not loaded.compiled


def test_loss_scaled_gradients_are_clipped_unscaled_as_alone():
    # A loss-scaling optimizer multiplies the gradients by 2**15: clipping them scaled
    # made the stack's steps ~1000x smaller than each network's alone.
    x, y = _data()
    model = _stacked_model()
    single = model.unstack()[0]
    stacked_before = model.get_layer("ctrnn").cell.kernel.numpy()[0].copy()
    single_before = single.layers[1].cell.kernel.numpy().copy()
    model.compile(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1, clipnorm=0.01)),
                  "mse")
    model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    single.compile(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1, clipnorm=0.01)),
                   "mse")
    single.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    moved = model.get_layer("ctrnn").cell.kernel.numpy()[0] - stacked_before
    np.testing.assert_allclose(moved, single.layers[1].cell.kernel.numpy() - single_before,
                               atol=1e-7)
    assert np.abs(moved).max() > 1e-4


def test_compiled_metrics_average_over_the_networks_with_shared_targets():
    # Shared targets (and weights) used to fail to broadcast against (batch, K, ...).
    x, y = _data()
    weight = (np.random.default_rng(6).random((B, T)) < 0.5).astype("float32")
    options = {"metrics": ["mae"], "weighted_metrics": ["mse"]}
    model = _stacked_model()
    model.compile(keras.optimizers.Adam(1e-3), "mse", **options)
    found = model.evaluate(x, y, sample_weight=weight, batch_size=B, verbose=0,
                           return_dict=True)
    alone = []
    for single in model.unstack():
        single.compile(keras.optimizers.Adam(1e-3), "mse", **options)
        alone.append(single.evaluate(x, y, sample_weight=weight, batch_size=B, verbose=0,
                                     return_dict=True))
    for name in ("mae", "mse"):
        np.testing.assert_allclose(found[name], np.mean([a[name] for a in alone]), rtol=1e-5)
