"""Fixed-point finder: validation cases with known answers (shared/analysis.md 5.1)."""

import itertools
from math import comb

import keras
import numpy as np
import pytest

import ctxrnn
from ctxrnn.analysis import dynamics

H_STAR = 0.957504  # tanh(2 h) = h, h > 0


def ctrnn_model(recurrent, kernel, bias=None, *, alpha=1.0, activation="tanh", readout=1):
    """A CTRNN + Dense model whose weights are the given arrays (row convention)."""
    units, n_in = recurrent.shape[0], kernel.shape[0]
    inputs = keras.Input((None, n_in))
    layer = ctxrnn.CTRNN(units, dt=1.0, tau=1.0 / alpha, activation=activation,
                         use_bias=bias is not None, name="ctrnn")
    states = layer(inputs)
    outputs = keras.layers.Dense(readout, name="readout")(states)
    model = keras.Model(inputs, keras.layers.Activation("linear", name="after")(outputs))
    cell = layer.cell
    cell.recurrent_kernel.assign(recurrent.astype("float32"))
    cell.kernel.assign(kernel.astype("float32"))
    if bias is not None:
        cell.bias.assign(bias.astype("float32"))
    cell._commit_kernels()
    return model


def network(recurrent, kernel=None, bias=None, *, alpha=1.0, activation="tanh"):
    units = recurrent.shape[0]
    kernel = np.zeros((1, units)) if kernel is None else kernel
    return dynamics.NetworkMap(kernel, recurrent, bias, alpha, activation,
                               leaky=alpha != 1.0)


def grid(k, values=(-1.0, -0.5, 0.0, 0.5, 1.0), noise=0.05, seed=0):
    points = np.array(list(itertools.product(values, repeat=k)))
    return points + noise * np.random.default_rng(seed).standard_normal(points.shape)


@pytest.mark.parametrize("alpha", [1.0, 0.2])
def test_linear_network_has_its_analytic_point_and_eigenvalues(alpha):
    rng = np.random.default_rng(1)
    n = 6
    w = rng.standard_normal((n, n))
    w *= 0.8 / np.max(np.abs(np.linalg.eigvals(w)))
    w_in, b = rng.standard_normal((2, n)), rng.standard_normal(n) * 0.3
    conditions = np.array([[0.0, 0.0], [0.3, -0.5]])
    net = network(w, w_in, b, alpha=alpha, activation="linear")
    init = rng.normal(size=(32, n))
    fixed, slow = dynamics.find_fixed_points(net, conditions, initial_states=init, tol_q=1e-16)
    assert len(fixed) == 2 and len(slow) == 0
    expected_eigs = np.sort_complex(1 - alpha + alpha * np.linalg.eigvals(w))
    for k, x in enumerate(conditions):
        exact = (x @ w_in + b) @ np.linalg.inv(np.eye(n) - w)
        point = fixed.select(fixed.condition == k)
        np.testing.assert_allclose(point.states[0], exact, atol=1e-5)
        np.testing.assert_allclose(np.sort_complex(point.eigenvalues[0]), expected_eigs, atol=1e-8)
        np.testing.assert_allclose(point.inputs[0], x)
    assert np.all(fixed.q < 1e-16)
    assert list(fixed.stability) == ["stable", "stable"]
    assert not np.any(fixed.is_outlier)  # an isolated single point is kept
    np.testing.assert_allclose(np.sort_complex(fixed.mu[0]), np.sort_complex(np.linalg.eigvals(w)),
                               atol=1e-8)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("alpha", [1.0, 0.2])
def test_uncoupled_bistable_units_give_three_to_the_k_points(k, alpha):
    net = network(2.0 * np.eye(k), alpha=alpha)
    fixed, _ = dynamics.find_fixed_points(net, np.zeros(1), initial_states=grid(k))
    assert len(fixed) == 3 ** k
    levels = np.abs(fixed.states)
    assert np.all((np.abs(levels - H_STAR) < 1e-5) | (levels < 1e-5))
    zeros = np.sum(levels < 1e-5, axis=1)
    np.testing.assert_array_equal(fixed.n_unstable, zeros)
    summary = fixed.summary()
    assert summary["n_stable"] == 2 ** k
    assert summary["n_unstable"] == 1  # the origin: every direction grows
    expected = {j: comb(k, j) * 2 ** (k - j) for j in range(1, k)}
    assert summary["saddles_by_unstable_directions"] == expected
    stable_lambda = 1 - alpha + alpha * 2 * (1 - H_STAR ** 2)
    np.testing.assert_allclose(np.abs(fixed.eigenvalues[fixed.is_stable]), stable_lambda, atol=1e-4)
    origin = fixed.eigenvalues[zeros == k][0]
    np.testing.assert_allclose(origin, 1 - alpha + 2 * alpha, atol=1e-8)


def test_leaky_and_discrete_networks_share_points_and_relate_eigenvalues():
    rng = np.random.default_rng(3)
    n = 8
    w = rng.normal(0, 1.6 / np.sqrt(n), (n, n))
    init = rng.uniform(-1, 1, (200, n))
    found = {}
    for alpha in (1.0, 0.2):
        fixed, _ = dynamics.find_fixed_points(network(w, alpha=alpha), np.zeros(1),
                                              initial_states=init, max_iters=8000)
        order = np.lexsort(np.round(fixed.states, 4).T)
        found[alpha] = fixed.select(order)
    one, leaky = found[1.0], found[0.2]
    assert len(one) >= 3 and len(one) == len(leaky)
    np.testing.assert_allclose(one.states, leaky.states, atol=1e-5)
    mu = np.sort_complex(one.eigenvalues[0])
    np.testing.assert_allclose(np.sort_complex(leaky.eigenvalues[0]), 1 - 0.2 + 0.2 * mu, atol=1e-6)
    np.testing.assert_allclose(np.sort_complex(leaky.mu[0]), mu, atol=1e-6)
    # The reported speed is alpha-free: one tolerance means the same residual.
    assert np.all(leaky.q < 1e-12) and np.all(one.q < 1e-12)


def test_line_attractor_points_lie_on_the_line_with_a_marginal_eigenvalue():
    rng = np.random.default_rng(4)
    u = rng.standard_normal(5)
    w = np.outer(u, u) / (u @ u)
    fixed, _ = dynamics.find_fixed_points(network(w, activation="linear"), np.zeros(1),
                                          initial_states=rng.normal(size=(40, 5)), tol_q=1e-14)
    assert len(fixed) > 30  # distinct points along the line are not merged
    unit = u / np.linalg.norm(u)
    off_line = fixed.states - np.outer(fixed.states @ unit, unit)
    assert np.max(np.abs(off_line)) < 1e-6
    np.testing.assert_allclose(fixed.eigenvalues[:, 0], 1.0, atol=1e-9)
    assert set(fixed.stability) == {"marginal"}
    assert np.all(np.abs(fixed.time_constants[:, 0]) > 1e6)  # a marginal mode never decays


def test_rotation_gives_a_stable_spiral_with_a_complex_pair():
    r, theta = 0.9, 0.4
    rotation = r * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    fixed, _ = dynamics.find_fixed_points(network(rotation, activation="linear"), np.zeros(1),
                                          initial_states=grid(2), tol_q=1e-16)
    assert len(fixed) == 1 and fixed.stability[0] == "stable"
    np.testing.assert_allclose(fixed.states[0], 0.0, atol=1e-7)
    np.testing.assert_allclose(np.sort_complex(fixed.eigenvalues[0]),
                               np.sort_complex(r * np.exp([-1j * theta, 1j * theta])), atol=1e-9)


def relu_fixed_points(w, c, alpha):
    """Every fixed point of h = relu(h W + c), one linear system per activation pattern,
    with its stability under the leaky map of `alpha`."""
    n = len(c)
    points = []
    for pattern in itertools.product([0.0, 1.0], repeat=n):
        d = np.diag(pattern)
        try:
            h = (c @ d) @ np.linalg.inv(np.eye(n) - w @ d)
        except np.linalg.LinAlgError:
            continue
        z = h @ w + c
        on = np.array(pattern, bool)
        if np.all(z[on] > 0) and np.all(z[~on] <= 0):
            eigs = 1 - alpha + alpha * np.linalg.eigvals(w @ d)
            points.append((h, np.max(np.abs(eigs)) < 1))
    return points


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relu_network_every_exact_stable_point_is_found(seed):
    rng = np.random.default_rng(seed)
    n = 7
    w = 0.6 * np.eye(n) - rng.uniform(0.5, 1.5, (n, n)) * (1 - np.eye(n))  # mutual inhibition
    c = rng.uniform(0.5, 1.0, n)
    exact = relu_fixed_points(w, c, alpha=0.2)
    stable = np.array([h for h, is_stable in exact if is_stable])
    assert len(stable) >= 2  # a multistable case
    # Leaky: the discrete winner-take-all map oscillates instead of settling.
    net = network(w, np.eye(1, n), c, alpha=0.2, activation="relu")
    # Candidates from the network's own short runs (plus noise), as for a trained net.
    # started from sparse states, so that every unit gets a chance to win.
    starts = rng.uniform(0, 2, (200, n)) * (rng.uniform(size=(200, n)) < 0.3)
    runs = net.simulate(starts, np.zeros(1), 40)
    fixed, _ = dynamics.find_fixed_points(net, np.zeros(1), trajectories=runs, n_initial=400,
                                          noise=0.1, tol_q=1e-14, seed=seed)
    found = fixed.states[fixed.is_stable]
    for point in stable:
        assert np.min(np.linalg.norm(found - point, axis=1)) < 1e-5
    assert len(found) == len(stable)  # no spurious stable point


def test_no_point_gives_empty_results_with_shapes():
    net = network(2.0 * np.eye(3), np.zeros((2, 3)))
    fixed, slow = dynamics.find_fixed_points(net, np.zeros(2), initial_states=grid(3),
                                             tol_q=1e-30, slow_q=1e-29, max_iters=1,
                                             newton_steps=0)
    for points in (fixed, slow):
        assert len(points) == 0
        assert points.states.shape == (0, 3) and points.inputs.shape == (0, 2)
        assert points.eigenvalues.shape == (0, 3) and points.q.shape == (0,)
        assert points.summary()["n"] == 0
        assert points.to_dict()["states"] == []


def test_slow_points_are_reported_separately():
    net = network(2.0 * np.eye(2))
    fixed, slow = dynamics.find_fixed_points(net, np.zeros(1), initial_states=grid(2),
                                             max_iters=3, slow_q=1.0, newton_steps=0)
    assert len(slow) > 0
    assert np.all((slow.q >= 1e-12) & (slow.q < 1.0))


@pytest.mark.parametrize("alpha", [1.0, 0.2])
def test_newton_refinement_finishes_what_three_adam_steps_start(alpha):
    """After 3 Adam steps every candidate is still slow; the Levenberg-Marquardt
    steps then reach all 9 points of two bistable units, saddles included."""
    net = network(2.0 * np.eye(2), alpha=alpha)
    fixed, slow = dynamics.find_fixed_points(net, np.zeros(1), initial_states=grid(2),
                                             max_iters=3, slow_q=1.0)
    assert len(fixed) == 9 and len(slow) == 0
    assert np.all(fixed.q < 1e-12) and np.all(fixed.n_iters <= 3 + 20)
    levels = np.abs(fixed.states)
    assert np.all((np.abs(levels - H_STAR) < 1e-5) | (levels < 1e-5))
    assert fixed.summary()["n_stable"] == 4 and fixed.summary()["n_candidates"] == 25


def test_candidates_that_cannot_converge_are_reported_as_unconverged():
    """With W = I and a bias c, f(z) - h = c everywhere: no fixed point, q = |c|^2 / 2."""
    c = np.array([0.3, -0.4])
    net = network(np.eye(2), np.zeros((1, 2)), c, activation="linear")
    init = grid(2)
    fixed, slow, unconverged = dynamics.find_fixed_points(net, np.zeros(1), initial_states=init,
                                                          return_unconverged=True)
    assert len(fixed) == len(slow) == 0
    assert unconverged.n_candidates == len(init) == len(unconverged)
    np.testing.assert_allclose(unconverged.q, 0.5 * np.sum(c ** 2), rtol=1e-9)
    assert unconverged.summary()["n_candidates"] == len(init)
    assert len(dynamics.find_fixed_points(net, np.zeros(1), initial_states=init)) == 2


def test_network_map_reads_effective_weights_and_readout_from_a_model():
    rng = np.random.default_rng(5)
    w, w_in, b = rng.normal(size=(4, 4)) * 0.3, rng.normal(size=(2, 4)), rng.normal(size=4)
    model = ctrnn_model(w, w_in, b, alpha=0.5, readout=3)
    layer = ctxrnn.find_ctrnn(model)
    mask = np.ones((4, 4), "float32")
    mask[0, 1] = 0
    layer.set_masks(recurrent_connectivity=mask)
    net = dynamics.NetworkMap.from_model(model)
    np.testing.assert_allclose(net.recurrent_kernel, (w * mask).astype("float32"))
    assert net.leaky and float(net.alpha) == 0.5
    kernel, bias = net.readout
    np.testing.assert_array_equal(kernel, model.get_layer("readout").kernel.numpy())
    # One step of the map equals the layer's step.
    h0 = rng.normal(size=(3, 4))
    x = rng.normal(size=(3, 1, 2)).astype("float32")
    expected = layer(x, initial_state=h0.astype("float32")).numpy()[:, 0]
    np.testing.assert_allclose(net.simulate(h0, x[:, 0], 1)[:, 0], expected, atol=1e-5)


def test_batched_jacobians_equal_the_analytic_ones():
    rng = np.random.default_rng(6)
    w, w_in, b = rng.normal(size=(5, 5)), rng.normal(size=(2, 5)), rng.normal(size=5)
    alpha = np.linspace(0.2, 1.0, 5)
    net = dynamics.NetworkMap(w_in, w, b, alpha, "tanh")
    h, x = rng.normal(size=(7, 5)), rng.normal(size=(7, 2))
    z = h @ w + x @ w_in + b
    expected = [np.diag(1 - alpha) + alpha[:, None] * (1 - np.tanh(zk) ** 2)[:, None] * w.T
                for zk in z]
    np.testing.assert_allclose(net.jacobians(h, x), np.array(expected), atol=1e-12)


def test_bad_arguments_fail_early():
    net = network(np.eye(2))
    with pytest.raises(ValueError, match="inputs"):
        dynamics.find_fixed_points(net, np.zeros(3))
    with pytest.raises(ValueError, match="initial_states"):
        dynamics.find_fixed_points(net, np.zeros(1), initial_states=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="tol_q"):
        dynamics.find_fixed_points(net, np.zeros(1), initial_states=np.zeros((4, 2)), tol_q=0)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        dynamics.find_fixed_points(net, np.zeros(1), initial_states=np.zeros((4, 2)), lr=1)
    with pytest.raises(TypeError, match="model"):
        dynamics.find_fixed_points("model", np.zeros(1))


def test_eigenvectors_on_request_are_those_of_the_jacobian():
    rng = np.random.default_rng(7)
    w = rng.normal(0, 0.4, (4, 4))
    net = network(w, alpha=0.5)
    fixed, _ = dynamics.find_fixed_points(net, np.zeros(1), initial_states=rng.normal(size=(8, 4)),
                                          eigenvectors=True)
    jacobian = net.jacobians(fixed.states, fixed.inputs)[0]
    vectors, values = fixed.eigenvectors[0], fixed.eigenvalues[0]
    np.testing.assert_allclose(jacobian @ vectors, vectors * values, atol=1e-10)
    assert np.all(np.diff(np.abs(values)) <= 1e-12)  # sorted by decreasing modulus
