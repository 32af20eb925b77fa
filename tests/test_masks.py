"""Mask builders, and masks acting on a CTRNN (kernels and outputs)."""

import keras
import numpy as np
import pytest

from ctxrnn import CTRNN, CTRNNCell, masks


# ------------------------------------------------------------------ builders
def test_module_mask_isolated_and_full():
    isolated = masks.module_mask((2, 3), inter_density=0.0)
    expected = np.zeros((5, 5), np.float32)
    expected[:2, :2] = 1.0
    expected[2:, 2:] = 1.0
    np.testing.assert_array_equal(isolated, expected)
    assert isolated.dtype == np.float32
    np.testing.assert_array_equal(masks.module_mask((2, 3)), np.ones((5, 5)))
    np.testing.assert_array_equal(masks.module_labels((2, 3)), [0, 0, 1, 1, 1])


def test_module_mask_sparse_inter_module():
    sizes = (40, 60)
    mask = masks.module_mask(sizes, inter_density=0.25, seed=4)
    labels = masks.module_labels(sizes)
    intra = labels[:, None] == labels[None, :]
    assert np.all(mask[intra] == 1.0)
    assert mask[~intra].mean() == pytest.approx(0.25, abs=0.03)  # 4800 draws
    np.testing.assert_array_equal(mask, masks.module_mask(sizes, inter_density=0.25, seed=4))
    assert not np.array_equal(mask, masks.module_mask(sizes, inter_density=0.25, seed=5))


def test_intra_module_mask():
    mask = masks.intra_module_mask((2, 3, 1), module=1)
    expected = np.zeros((6, 6), np.float32)
    expected[2:5, 2:5] = 1.0
    np.testing.assert_array_equal(mask, expected)
    with pytest.raises(ValueError, match="`module`"):
        masks.intra_module_mask((2, 3), module=2)
    with pytest.raises(ValueError, match="`sizes`"):
        masks.intra_module_mask((2, 0), module=0)


def test_random_mask_and_no_self_connections():
    mask = masks.random_mask((100, 80), density=0.3, seed=1)
    assert mask.shape == (100, 80) and set(np.unique(mask)) == {0.0, 1.0}
    assert mask.mean() == pytest.approx(0.3, abs=0.02)
    np.testing.assert_array_equal(mask, masks.random_mask((100, 80), 0.3, seed=1))
    np.testing.assert_array_equal(masks.random_mask((3, 3), 1.0, seed=0), np.ones((3, 3)))
    np.testing.assert_array_equal(masks.random_mask((3, 3), 0.0, seed=0), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="`density`"):
        masks.random_mask((3, 3), 1.5, seed=0)
    np.testing.assert_array_equal(masks.no_self_connections(3), 1.0 - np.eye(3))


def test_dale_signs():
    np.testing.assert_array_equal(masks.dale_signs(5, 0.8), [1, 1, 1, 1, -1])
    shuffled = masks.dale_signs(50, 0.8, seed=3)
    assert (shuffled == 1).sum() == 40 and (shuffled == -1).sum() == 10
    assert not np.array_equal(shuffled, masks.dale_signs(50, 0.8))
    np.testing.assert_array_equal(shuffled, masks.dale_signs(50, 0.8, seed=3))
    with pytest.raises(ValueError, match="`excitatory_fraction`"):
        masks.dale_signs(5, 1.2)


def _distinct_weights(shape=(10, 10), seed=0):
    """Weights whose magnitudes are all distinct, half positive, in random places."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    magnitudes = (np.arange(size) + 1.0) / size
    signs = np.where(np.arange(size) % 2 == 0, 1.0, -1.0)
    return rng.permutation(magnitudes * signs).reshape(shape).astype(np.float32)


def test_pruning_masks_magnitude_removes_lowest_first():
    weights = _distinct_weights()
    fractions = [0.0, 0.1, 0.25, 0.5, 1.0]
    pruned = masks.pruning_masks(weights, fractions)
    assert pruned.shape == (5, 10, 10) and pruned.dtype == np.float32
    for fraction, mask in zip(fractions, pruned):
        removed = mask == 0
        assert removed.sum() == round(fraction * 100)
        if 0 < removed.sum() < 100:  # every removed entry is smaller than every kept one
            assert np.abs(weights[removed]).max() < np.abs(weights[~removed]).min()
    for smaller, larger in zip(pruned[:-1], pruned[1:]):
        assert np.all(larger <= smaller)  # nested
    np.testing.assert_array_equal(masks.prune_lowest_magnitude(weights, 0.25), pruned[2])


@pytest.mark.parametrize("sign", ["positive", "negative"])
def test_pruning_masks_by_sign(sign):
    weights = _distinct_weights()
    pruned = masks.pruning_masks(weights, [0.2, 0.4], sign=sign)
    chosen = weights > 0 if sign == "positive" else weights < 0
    for count, mask in zip((20, 40), pruned):
        removed = mask == 0
        assert removed.sum() == count
        assert np.all(chosen[removed])  # only connections of that sign
        assert np.abs(weights[removed]).max() < np.abs(weights[chosen & ~removed]).min()
    with pytest.raises(ValueError, match="only 50 candidates"):
        masks.pruning_masks(weights, [0.2, 0.6], sign=sign)  # 60 of 50


def test_pruning_masks_random_order():
    weights = _distinct_weights()
    pruned = masks.pruning_masks(weights, [0.1, 0.3, 0.6], order="random", seed=2)
    assert [int((m == 0).sum()) for m in pruned] == [10, 30, 60]
    assert np.all(pruned[1] <= pruned[0]) and np.all(pruned[2] <= pruned[1])
    np.testing.assert_array_equal(
        pruned, masks.pruning_masks(weights, [0.1, 0.3, 0.6], order="random", seed=2))
    by_magnitude = masks.pruning_masks(weights, [0.3])[0]
    assert not np.array_equal(pruned[1], by_magnitude)


def test_pruning_masks_respect_existing_connectivity():
    weights = _distinct_weights()
    connectivity = np.ones((10, 10), np.float32)
    connectivity[np.abs(weights) > 0.8] = 0.0  # the 20 largest are already absent
    pruned = masks.pruning_masks(weights, [0.0, 0.5], connectivity=connectivity)
    np.testing.assert_array_equal(pruned[0], connectivity)
    assert (pruned[1] == 0).sum() == 20 + 40  # half of the 80 existing ones
    assert np.all(pruned[1] <= connectivity)


def test_pruning_mask_errors():
    weights = _distinct_weights()
    with pytest.raises(ValueError, match="`fractions`"):
        masks.pruning_masks(weights, [1.2])
    with pytest.raises(ValueError, match="`order`"):
        masks.pruning_masks(weights, [0.1], order="largest")
    with pytest.raises(ValueError, match="`sign`"):
        masks.pruning_masks(weights, [0.1], sign="both-ways")
    with pytest.raises(ValueError, match="`connectivity`"):
        masks.pruning_masks(weights, [0.1], connectivity=np.ones((10, 9)))


def test_validate_mask():
    np.testing.assert_array_equal(
        masks.validate_mask(np.eye(2, dtype=bool), (2, 2), "m"), np.eye(2))
    assert masks.validate_mask(np.eye(2, dtype=int), (2, 2), "m").dtype == np.float32
    with pytest.raises(ValueError, match=r"`m` must have shape \(2, 2\)"):
        masks.validate_mask(np.eye(3), (2, 2), "m")
    with pytest.raises(ValueError, match="`m` must hold only 0 and 1"):
        masks.validate_mask([[0.0, 0.5], [1.0, 1.0]], (2, 2), "m")
    with pytest.raises(ValueError, match="`m` must hold only 0 and 1"):
        masks.validate_mask([[0.0, np.nan], [1.0, 1.0]], (2, 2), "m")
    with pytest.raises(TypeError, match="`m` must be numeric"):
        masks.validate_mask([["a", "b"], ["c", "d"]], (2, 2), "m")


# ------------------------------------------------------------- in a layer
X = np.random.default_rng(0).normal(size=(3, 12, 4)).astype("float32")


def test_constructor_masks_are_applied():
    connectivity = masks.random_mask((6, 6), 0.5, seed=0)
    plasticity = masks.random_mask((6, 6), 0.5, seed=1)
    kernel_connectivity = masks.random_mask((4, 6), 0.5, seed=2)
    layer = CTRNN(6, seed=0, recurrent_connectivity=connectivity,
                  recurrent_plasticity=plasticity, kernel_connectivity=kernel_connectivity)
    layer.build(X.shape)
    got = layer.get_masks()
    np.testing.assert_array_equal(got["recurrent_connectivity"], connectivity)
    np.testing.assert_array_equal(got["recurrent_plasticity"], plasticity)
    np.testing.assert_array_equal(got["kernel_connectivity"], kernel_connectivity)
    np.testing.assert_array_equal(got["kernel_plasticity"], np.ones((4, 6)))
    np.testing.assert_array_equal(np.asarray(layer.recurrent_kernel)[connectivity == 0], 0.0)
    np.testing.assert_array_equal(np.asarray(layer.kernel)[kernel_connectivity == 0], 0.0)
    # the snapshot that frozen entries are restored from holds the kernel
    np.testing.assert_array_equal(np.asarray(layer.cell.recurrent_snapshot),
                                  np.asarray(layer.recurrent_kernel))


def test_connectivity_zeroes_kernel_entries_and_their_effect(ctrnn_reference):
    layer = CTRNN(6, dt=10.0, tau=30.0, seed=0)
    layer.build(X.shape)
    dense = np.asarray(layer.recurrent_kernel).copy()
    connectivity = masks.random_mask((6, 6), 0.5, seed=3)
    kernel_connectivity = np.ones((4, 6), np.float32)
    kernel_connectivity[2] = 0.0  # input channel 2 reaches no unit
    layer.set_masks(recurrent_connectivity=connectivity, kernel_connectivity=kernel_connectivity)
    np.testing.assert_array_equal(np.asarray(layer.recurrent_kernel), dense * connectivity)
    expected = ctrnn_reference(X, np.asarray(layer.kernel), dense * connectivity,
                               np.asarray(layer.bias), dt=10.0, tau=30.0)
    output = np.asarray(layer(X))
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    # writing into absent entries directly does not reach the output
    layer.recurrent_kernel.assign(np.where(connectivity == 0, 5.0, dense * connectivity))
    layer.kernel.assign(np.where(kernel_connectivity == 0, 5.0, np.asarray(layer.kernel)))
    np.testing.assert_array_equal(np.asarray(layer(X)), output)
    changed = X.copy()
    changed[..., 2] += 3.0
    np.testing.assert_array_equal(np.asarray(layer(changed)), output)
    # the cell in keras.layers.RNN applies the same masks
    rnn = keras.layers.RNN(layer.cell, return_sequences=True)
    np.testing.assert_allclose(np.asarray(rnn(changed)), output, rtol=1e-5, atol=1e-6)


def test_connectivity_removed_then_restored_starts_from_zero():
    layer = CTRNN(4, seed=0)
    layer.build((None, 3, 2))
    connectivity = np.ones((4, 4), np.float32)
    connectivity[1, 2] = 0.0
    layer.set_masks(recurrent_connectivity=connectivity)
    layer.set_masks(recurrent_connectivity=np.ones((4, 4)))
    assert np.asarray(layer.recurrent_kernel)[1, 2] == 0.0


def test_set_masks_before_build_and_unknown_name():
    cell = CTRNNCell(4)
    cell.set_masks(recurrent_plasticity=np.eye(4))
    cell.build((None, 2))
    np.testing.assert_array_equal(cell.get_masks()["recurrent_plasticity"], np.eye(4))
    with pytest.raises(ValueError, match="Unknown mask name"):
        cell.set_masks(recurrent_mask=np.eye(4))


def test_dale_signs_in_a_layer():
    signs = masks.dale_signs(8, 0.75, seed=0)
    layer = CTRNN(8, seed=1, recurrent_signs=signs)
    layer.build((None, 5, 2))
    w = np.asarray(layer.recurrent_kernel)
    assert np.all(w * signs[:, None] >= 0)  # row i keeps the sign of unit i
    assert np.all(w != 0)  # magnitudes of the initial kernel are kept
    default = CTRNN(8, seed=1, dale=True)
    default.build((None, 5, 2))
    np.testing.assert_array_equal(np.asarray(default.recurrent_signs), np.ones(8))
    assert np.all(np.asarray(default.recurrent_kernel) >= 0)  # projected on build
