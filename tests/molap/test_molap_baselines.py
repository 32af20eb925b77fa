"""Baselines train every weight; configs follow the paper."""

import keras
import numpy as np
from molap_fake_tasks import NAMES, make_all

from ctxrnn.layers import find_ctrnn
from ctxrnn.molap import baselines


def test_separate_and_dni_train_the_recurrent_kernel():
    tasks = make_all()[:2]
    config = baselines.separate_config(iterations=2, batch_size=4, stages=1)
    separate = baselines.train_separate(tasks, NAMES[:2], units=12, config=config)
    assert len(separate) == 2 and separate[0].layout.names == (NAMES[0],)
    # W_in (3x12) + input bias (12) + W_rec (12x12) + readout (12x3 + 3)
    assert separate[0].trainable_parameters == 3 * 12 + 12 + 12 * 12 + 12 * 3 + 3
    dni = baselines.train_dni_style(tasks, NAMES[:2], units=10,
                                    config=baselines.dni_config(2, iterations=2, batch_size=3, stages=1))
    core = find_ctrnn(dni.model)
    assert any("recurrent_kernel" in w.path for w in dni.model.trainable_weights)
    assert keras.ops.convert_to_numpy(core.recurrent_kernel).shape == (10, 10)
    # two heads of (3 inputs + bias) -> 10, W_rec, two readouts of 10 -> 3 + bias
    assert dni.trainable_parameters == 8 * 10 + 100 + 10 * 6 + 6


def test_paper_settings():
    assert baselines.separate_config().learning_rate == 3e-3
    config = baselines.dni_config(9)
    assert config.iterations == 200 and config.batch_size == 23 and config.learning_rate == 3e-3
    assert config.stages == 5 and baselines.separate_config().total_iterations == 1000
    assert np.isclose(baselines.dni_config(9, iterations=5).iterations, 5)
