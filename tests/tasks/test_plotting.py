"""plot_trial: a pyplot-free Figure with labelled channels, epochs and outputs."""

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from ctxrnn import tasks
from ctxrnn.tasks.plotting import figure_bytes, plot_trial

PNG_MAGIC = b"\x89PNG"


def _texts(figure):
    return {text.get_text() for ax in figure.axes for text in ax.texts}


def _legend_labels(figure):
    return {text.get_text() for ax in figure.axes if ax.get_legend()
            for text in ax.get_legend().get_texts()}


def test_channels_epochs_and_outputs_are_drawn():
    task = tasks.make("cdm")
    batch = task.generate(3, seed=0)
    outputs = batch.targets + 0.1
    figure = plot_trial(batch, outputs, trials=(0, 2))
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 4  # inputs + outputs per trial
    assert set(task.input_names) <= _legend_labels(figure)
    assert {"out target", "out output", "decision window"} <= _legend_labels(figure)
    assert set(task.timing) <= _texts(figure)
    assert figure.axes[-1].get_xlabel() == "time (ms)"
    assert figure.axes[-1].get_xlim() == pytest.approx((0.0, task.n_steps * task.dt))
    # the outputs of trial 2 are drawn in the last column
    drawn = [line.get_ydata() for line in figure.axes[-1].lines
             if line.get_label() == "out output"]
    np.testing.assert_allclose(drawn[0][:-1], outputs[2, :, 0])


def test_no_pyplot_state_and_png_bytes():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    figure = plot_trial(tasks.make("dms").generate(2, seed=0), trials=1)
    assert plt.get_fignums() == before
    data = figure_bytes(figure)
    assert data.startswith(PNG_MAGIC)
    assert figure_bytes(figure, format="svg").lstrip().startswith(b"<?xml")
    assert matplotlib.get_backend().lower() == "agg" or figure.canvas is not None


def test_suite_batch_uses_suite_channel_names_and_skips_padding():
    suite = tasks.TaskSuite(["and", "not", "time_reproduction"], dt=5.0, context="pulse")
    batch = suite.validation_data(1)
    figure = plot_trial(batch, trials=(0, 1, 2), suite=suite)
    assert set(suite.input_names) <= _legend_labels(figure)
    assert "time_reproduction · trial 2" in figure.axes[2].get_title()


def test_generic_names_without_a_suite():
    suite = tasks.TaskSuite(["and", "or"], dt=5.0)
    figure = plot_trial(suite.generate(2, seed=0))
    assert {"input 0", "output 0 target"} <= _legend_labels(figure)
    figure = plot_trial(suite.generate(2, seed=0), suite=suite)
    assert "context_and" in _legend_labels(figure)
    single = tasks.TaskSuite(["dms"])  # one task plus its context channel
    assert "input 2" in _legend_labels(plot_trial(single.generate(1, seed=0)))
    assert "context_dms" in _legend_labels(plot_trial(single.generate(1, seed=0), suite=single))


def test_bad_arguments():
    task = tasks.make("xor", dt=5.0)
    batch = task.generate(2, seed=0)
    with pytest.raises(ValueError, match="outputs"):
        plot_trial(batch, np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="trials"):
        plot_trial(batch, trials=(5,))
    with pytest.raises(ValueError, match="trials"):
        plot_trial(batch, trials=())
    with pytest.raises(ValueError, match="suite"):
        plot_trial(batch, suite=tasks.make("cdm"))
    with pytest.raises(TypeError, match="TrialBatch"):
        plot_trial(batch.inputs)
