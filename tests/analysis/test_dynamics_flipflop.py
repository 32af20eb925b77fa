"""Integration: a trained 3-bit flip-flop holds its 8 memories as stable fixed points."""

import keras
import numpy as np
import ctxrnn
from ctxrnn.analysis import dynamics


def flip_flop_data(n, steps=40, bits=3, p=0.08, seed=0):
    """Random +-1 pulses per bit (one at t = 0); the target holds each bit's last pulse."""
    rng = np.random.default_rng(seed)
    pulses = (rng.uniform(size=(n, steps, bits)) < p) * rng.choice([-1.0, 1.0], (n, steps, bits))
    pulses[:, 0] = rng.choice([-1.0, 1.0], (n, bits))
    targets = np.zeros_like(pulses)
    state = np.zeros((n, bits))
    for t in range(steps):
        state = np.where(pulses[:, t] != 0, pulses[:, t], state)
        targets[:, t] = state
    return pulses.astype("float32"), targets.astype("float32")


def test_trained_flip_flop_has_eight_stable_points_with_the_eight_readouts():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3))
    states = ctxrnn.CTRNN(32, dt=1.0, tau=1.0, seed=0, name="ctrnn")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="readout")(states))
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    x, y = flip_flop_data(2048)
    model.fit(x, y, batch_size=64, epochs=12, verbose=0)
    x_val, y_val = flip_flop_data(256, seed=1)
    assert np.mean(np.sign(model.predict(x_val, verbose=0)) == y_val) > 0.98

    trajectories = ctxrnn.hidden_states(model, x_val)
    fixed, _ = dynamics.find_fixed_points(model, np.zeros(3), trajectories=trajectories,
                                          n_initial=1024, noise=0.5, tol_q=1e-10, seed=0)
    stable = fixed.select(fixed.is_stable)
    assert len(stable) >= 8
    network = dynamics.NetworkMap.from_model(model)
    patterns = {tuple(row) for row in np.sign(network.read_out(stable.states)).astype(int)}
    assert len(patterns) == 8
    assert fixed.summary()["n_saddle"] > 0  # saddles between the memories
