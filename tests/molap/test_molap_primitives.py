"""`LatentPrimitives` reproduces scikit-learn's CCA/PCA on fixed data, with fixed signs."""

import numpy as np
import pytest
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

from ctxrnn.molap import LatentPrimitives, corpus_arrays


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(800, 3))
    x = latent @ rng.normal(size=(3, 6)) * [1, 2, 3, 4, 5, 6] + rng.normal(size=(800, 6))
    y = latent @ rng.normal(size=(3, 4)) + 0.5 * rng.normal(size=(800, 4)) + 7.0
    return x, y


def test_cca_matches_sklearn_up_to_sign(data):
    x, y = data
    primitives = LatentPrimitives(n_components=2).fit(x, y)
    xz, yz = StandardScaler().fit_transform(x), StandardScaler().fit_transform(y)
    ref_u, ref_v = CCA(n_components=2, scale=False, max_iter=500, tol=1e-6).fit(xz, yz).transform(
        xz, yz)
    u, v = primitives.transform(x, y)
    for k in range(2):
        sign = np.sign(u[:, k] @ ref_u[:, k])
        np.testing.assert_allclose(u[:, k], sign * ref_u[:, k], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(v[:, k], sign * ref_v[:, k], rtol=1e-6, atol=1e-8)
    assert np.all(primitives.correlations_ > 0.5)
    assert np.all(np.diff(primitives.correlations_) <= 1e-9)  # sorted, positive after flip
    assert np.all(np.diff(primitives.target_variance_explained_) >= 0)


def test_signs_are_fixed_by_largest_loading(data):
    x, y = data
    primitives = LatentPrimitives(n_components=2).fit(x, y)
    rotations = primitives.estimator_.x_rotations_ * primitives.x_signs_
    rows = np.argmax(np.abs(rotations), axis=0)
    assert np.all(rotations[rows, [0, 1]] > 0)
    # a refit on the same rows in another order gives the same primitives, signs included
    order = np.random.default_rng(1).permutation(len(x))
    refit = LatentPrimitives(n_components=2).fit(x[order], y[order])
    np.testing.assert_allclose(primitives.transform(x), refit.transform(x), atol=1e-5)


def test_pca_matches_sklearn_up_to_sign(data):
    x, y = data
    primitives = LatentPrimitives(n_components=2, method="pca").fit(x, y)
    u, v = primitives.transform(x, y)
    ref_u = PCA(2).fit_transform(StandardScaler().fit_transform(x))
    ref_v = PCA(2).fit_transform(StandardScaler().fit_transform(y))
    for mine, ref in ((u, ref_u), (v, ref_v)):
        for k in range(2):
            np.testing.assert_allclose(np.abs(mine[:, k]), np.abs(ref[:, k]), rtol=1e-6, atol=1e-8)
    joint_u, joint_v = LatentPrimitives(2, method="pca_joint").fit_transform(x, y)
    np.testing.assert_array_equal(joint_u, joint_v)


def test_transform_is_fixed_after_fit(data):
    x, y = data
    primitives = LatentPrimitives().fit(x, y)
    first = primitives.transform(x[:50])
    np.testing.assert_array_equal(first, primitives.transform(x[:50]))
    np.testing.assert_allclose(first, primitives.transform(x)[:50], atol=1e-12)


def test_minmax_rescale_uses_bounds_fixed_at_fit(data):
    x, y = data
    raw_u, raw_v = LatentPrimitives().fit(x, y).transform(x, y)
    primitives = LatentPrimitives(rescale="minmax").fit(x, y)
    u, v = primitives.transform(x, y)
    # one global min and max per side (all components together), as the reference code
    assert u.min() == pytest.approx(0.0, abs=1e-12) and u.max() == pytest.approx(1.0)
    assert v.min() == pytest.approx(0.0, abs=1e-12) and v.max() == pytest.approx(1.0)
    np.testing.assert_allclose(u, (raw_u - raw_u.min()) / (raw_u.max() - raw_u.min()),
                               atol=1e-12)
    np.testing.assert_allclose(v, (raw_v - raw_v.min()) / (raw_v.max() - raw_v.min()),
                               atol=1e-12)
    # a sub-batch keeps the fit's bounds (no per-batch rescale): same rows, same values
    np.testing.assert_allclose(primitives.transform(x[:30]), u[:30], atol=1e-12)
    assert primitives.transform(x[:30]).max() < 1.0
    np.testing.assert_allclose(primitives.correlations_,
                               LatentPrimitives().fit(x, y).correlations_)
    centered_u, centered_v = LatentPrimitives(rescale="centered").fit(x, y).transform(x, y)
    np.testing.assert_allclose(centered_u, u - 0.5, atol=1e-12)  # [-0.5, 0.5], same bounds
    np.testing.assert_allclose(centered_v, v - 0.5, atol=1e-12)


def test_trials_round_trip(data):
    x, y = data
    inputs, targets = x.reshape(40, 20, 6), y.reshape(40, 20, 4)
    primitives = LatentPrimitives().fit_trials(inputs, targets)
    u, v = primitives.transform_trials(inputs, targets)
    assert u.shape == (40, 20, 2) and v.shape == (40, 20, 2) and u.dtype == np.float32
    np.testing.assert_allclose(u.reshape(-1, 2), primitives.transform(x), rtol=1e-5, atol=1e-5)


def test_errors_name_the_argument(data):
    x, y = data
    with pytest.raises(NotFittedError):
        LatentPrimitives().transform(x)
    with pytest.raises(ValueError, match="n_components"):
        LatentPrimitives(n_components=5).fit(x, y)
    with pytest.raises(ValueError, match="method"):
        LatentPrimitives(method="ica").fit(x, y)
    with pytest.raises(ValueError, match="rescale='zscore'"):
        LatentPrimitives(rescale="zscore").fit(x, y)
    with pytest.raises(ValueError, match="columns"):
        LatentPrimitives().fit(x, y).transform(x[:, :3])
    with pytest.raises(ValueError, match="inputs"):
        LatentPrimitives().fit_trials(x, y)
    assert LatentPrimitives(3, method="pca").get_params()["n_components"] == 3


class _FakeTask:
    def __init__(self, n_in, n_out, steps=7):
        self.n_in, self.n_out, self.steps = n_in, n_out, steps

    def generate(self, batch_size, seed):
        rng = np.random.default_rng(seed)

        class Batch:
            inputs = rng.normal(size=(batch_size, self.steps, self.n_in)).astype("float32")
            targets = rng.normal(size=(batch_size, self.steps, self.n_out)).astype("float32")
        return Batch


def test_corpus_stacks_channels():
    inputs, targets = corpus_arrays([_FakeTask(3, 3), _FakeTask(2, 2)], batch_size=5, seed=1)
    assert inputs.shape == (5, 7, 5) and targets.shape == (5, 7, 5)
    with pytest.raises(ValueError, match="length"):
        corpus_arrays([_FakeTask(3, 3), _FakeTask(2, 2, steps=8)], batch_size=5, seed=1)


def test_cca_targets_are_same_step_copies_and_history_targets_are_not():
    """With the MoLaP corpus the CCA target variates are affine copies of the same
    step's input variates; `cca_history` relates the targets to the inputs' past."""
    from ctxrnn.molap import pipeline
    from ctxrnn.molap.primitives import corpus_arrays, memory_demand

    tasks = pipeline.load_tasks(pipeline.MOLAP_TASK_NAMES)
    inputs, targets = corpus_arrays(tasks, 150, seed=0)
    test_inputs, test_targets = corpus_arrays(tasks, 150, seed=1)
    demand = {}
    for method in ("cca", "cca_history"):
        fitted = LatentPrimitives(2, method=method).fit_trials(inputs, targets)
        u, v = fitted.transform_trials(test_inputs, test_targets)
        demand[method] = memory_demand(u, v, history=slice(35, 85), response=slice(85, 110))
        demand[method]["correlations"] = fitted.correlations_
    assert min(demand["cca"]["same_step"]) > 0.999
    assert min(demand["cca"]["correlations"]) > 0.999
    assert max(demand["cca_history"]["same_step"]) < 0.2
    assert min(demand["cca_history"]["correlations"]) > 0.5
    with pytest.raises(ValueError, match="fit_trials"):
        LatentPrimitives(2, method="cca_history").fit(inputs[:, 0], targets[:, 0])
    with pytest.raises(ValueError, match="lags"):
        LatentPrimitives(2, method="cca_history", lags=(0,)).fit_trials(inputs, targets)
