"""Tests for ctxrnn.analysis.figures: each figure renders and labels its axes."""

import io

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from ctxrnn.analysis import eigenvalues, figures, statistics_and_eigenvalues

RNG_SEED = 0
UNITS = 12


def png_shape(figure):
    return matplotlib.image.imread(io.BytesIO(figures.figure_to_png(figure, dpi=50))).shape


def all_axes_labelled(figure):
    for axes in figure.axes:
        assert axes.get_xlabel() or axes.get_ylabel(), axes


@pytest.fixture
def weights():
    rng = np.random.default_rng(RNG_SEED)
    initial = rng.normal(0.0, 0.3, size=(UNITS, UNITS))
    final = initial + rng.gamma(2.0, 0.05, size=initial.shape)
    return initial, final


def test_histogram_before_after(weights):
    initial, final = weights
    mask = np.ones_like(final)
    mask[0, :3] = 0
    figure = figures.histogram_before_after(initial, final, final_connectivity=mask)
    assert isinstance(figure, Figure)
    texts = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert any("kurtosis" in text for text in texts) and len(texts) == 2
    all_axes_labelled(figure)
    assert png_shape(figure)[2] in (3, 4)


def test_eigenvalue_plane_highlights_outside(weights):
    initial, final = weights
    figure = figures.eigenvalue_plane(eigenvalues(initial), eigenvalues(2.0 * final))
    axes = figure.axes[0]
    assert axes.get_aspect() == 1.0
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert any("|λ| > 1" in label for label in labels)
    assert figures.eigenvalue_plane(None, eigenvalues(final)) is not None
    with pytest.raises(ValueError):
        figures.eigenvalue_plane(None, None)
    png_shape(figure)


def test_statistics_over_training(weights):
    initial, final = weights
    records = []
    for epoch, w in enumerate((initial, (initial + final) / 2, final)):
        for name, matrix in (("kernel", w[:4]), ("rnn/recurrent_kernel", w)):
            record, _ = statistics_and_eigenvalues(matrix)
            record.update(epoch=epoch, weight=name)
            records.append(record)
    figure = figures.statistics_over_training(records)
    assert "rnn/recurrent_kernel" in figure.get_suptitle()
    assert len(figure.axes) == 6
    all_axes_labelled(figure)
    png_shape(figure)
    figures.statistics_over_training(records, weight="kernel")  # None spectra allowed
    with pytest.raises(ValueError, match="weight"):
        figures.statistics_over_training(records, weight="bias")


def pruning_dict():
    fractions = [0.0, 0.1, 0.2, 0.3]
    curves = {"distance": [0.1, 0.1, 0.5, 1.0], "accuracy": [1.0, 0.98, 0.7, 0.4]}
    return {
        "fractions": fractions,
        "families": {name: dict(curves) for name in ("magnitude", "positive", "negative",
                                                     "random", "bands")},
        "knee": {"family": "magnitude", "metric": "accuracy", "tolerance": 0.05,
                 "fraction": 0.1},
    }


def test_pruning_curves_mark_knee():
    figure = figures.pruning_curves(pruning_dict())
    assert len(figure.axes) == 2
    for axes in figure.axes:
        assert axes.get_xlabel() == "Connections removed [%]"
        knee_lines = [line for line in axes.get_lines() if line.get_label().startswith("Knee")]
        assert knee_lines and knee_lines[0].get_xdata()[0] == pytest.approx(10.0)
        assert len(axes.get_lines()) == 6  # five families + knee
    png_shape(figure)


def test_example_trials_and_accuracy_table():
    trials, time, n_in = 4, 30, 3
    rng = np.random.default_rng(RNG_SEED)
    examples = {
        "inputs": rng.normal(size=(trials, time, n_in)),
        "targets": np.zeros((trials, time, 1)),
        "outputs": rng.normal(size=(trials, time, 1)),
        "loss_mask": np.ones((trials, time, 1)),
        "task_ids": np.array([0, 0, 1, 1]),
        "task_names": ["AND", "OR"],
        "input_names": ["a", "b", "context"],
        "output_names": ["out"],
        "dt": 10.0,
    }
    examples["loss_mask"][:, :5] = 0
    figure = figures.example_trials(examples)
    assert len(figure.axes) == 4
    assert figure.axes[-1].get_xlabel() == "Time [ms]"
    assert len(figures.example_trials(examples, per_task=2).axes) == 8
    png_shape(figure)
    with pytest.raises(ValueError, match="per_task"):
        figures.example_trials(examples, per_task=0)
    table = figures.accuracy_table({"per_task_accuracy": {"AND": 0.9, "OR": 0.05},
                                    "accuracy": 0.5, "per_task_distance": {"AND": 0.1}})
    assert len(table.axes) == 2
    png_shape(table)
