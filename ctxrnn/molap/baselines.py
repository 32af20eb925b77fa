"""The comparisons of MoLaP's Fig. 2 and Table 1.

- `train_separate`: one fully trained network (W_in, W_rec, readout) per task,
  N = 100, constant lr 3e-3 (paper A.2.3), 5 stages of 200 iterations
  (`separate_reference_config` is the reference code's budget).
- `train_dni_style`: one shared network of N = 200 with task-specific inputs and
  readouts, every weight trained (lr 3e-3). Duncker et al.'s dynamical
  non-interference learns the tasks one after another and projects each new
  task's W_rec updates away from the subspaces earlier tasks use; this baseline
  keeps the shared-network-plus-heads architecture and the full plasticity but
  trains the tasks jointly (every batch mixes all tasks), which needs no
  projection and is the interference-free upper bound of sequential training.
- The no-pre-training control of Fig. 2 is `train_heads` on the random initial
  kernel; the PCA control is `pretrain_modules` with `method="pca"`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ctxrnn.molap import network as net
from ctxrnn.molap.training import HeadConfig, HeadsResult, fit_multihead

SEPARATE_UNITS = 100
DNI_UNITS = 200
BASELINE_LEARNING_RATE = 3e-3


def separate_config(**overrides) -> HeadConfig:
    """Paper A.2.3 settings of the separate networks: constant lr 3e-3, batch 200,
    5 stages of 200 iterations, the schedule of the MoLaP heads."""
    return dataclasses.replace(HeadConfig(learning_rate=BASELINE_LEARNING_RATE), **overrides)


#: N and start gain of the reference code's separate networks.
SEPARATE_REFERENCE_UNITS = 200
SEPARATE_REFERENCE_GAIN = 1.5


def separate_reference_config(**overrides) -> HeadConfig:
    """The reference code's separate-network budget: batch 500, 9 x 500 iterations
    at a constant 3e-3 (train with `units=SEPARATE_REFERENCE_UNITS`,
    `gain=SEPARATE_REFERENCE_GAIN`)."""
    return separate_config(**{"batch_size": 500, "iterations": 500, "stages": 9, **overrides})


def dni_config(n_tasks: int = 9, **overrides) -> HeadConfig:
    """DNI-style settings: lr 3e-3; batches of ~200 trials mixing all tasks
    (`ceil(200 / n_tasks)` per task); 200 optimizer steps per learning-rate stage
    and 5 stages at a constant rate: the step count and batch size of one
    separate network, shared by all tasks.

    Sequential DNI would give each task its own 200 steps per stage; at N = 200
    that is n_tasks times this compute (> 45 min on one core for nine tasks),
    more than the whole pipeline's budget. Pass `iterations=200 * n_tasks` for
    that budget."""
    base = HeadConfig(learning_rate=BASELINE_LEARNING_RATE, batch_size=-(-200 // n_tasks),
                      iterations=200)
    return dataclasses.replace(base, **overrides)


def train_separate(tasks: Sequence, names: Sequence[str] | None = None, *,
                   units: int = SEPARATE_UNITS, config: HeadConfig | None = None,
                   gain: float = net.GAIN, seed: int = 0, first_index: int = 0,
                   progress: Callable[[str], None] | None = None) -> list[HeadsResult]:
    """Trains one fully plastic network per task.

    Args:
        tasks: task objects.
        names: task names (default: each task's `name`).
        units: N of each network. Default: `100`.
        config: `HeadConfig`; default `separate_config()`.
        gain: g of the random initial kernels. Default: `1.5`.
        seed: int; network `j` uses `seed + first_index + j`.
        first_index: position of `tasks[0]` in the whole task list, so that a
            network's seeds do not depend on how the list is split into jobs.
        progress: optional callable receiving progress lines.

    Returns:
        One `HeadsResult` per task (a one-task multi-head model each).
    """
    config = config or separate_config()
    layout = net.HeadLayout.from_tasks(tasks, names, input_bias=config.input_bias)
    results = []
    for index, task in enumerate(tasks):
        single = layout.single(index)
        number = first_index + index
        model = net.build_network(single, units, train_recurrent=True, gain=gain, l2=config.l2,
                                  activity_l2=config.activity_l2, seed=seed + number,
                                  name=f"separate_{layout.names[index]}")
        results.append(fit_multihead(model, [task], single, config, seed=seed + 1000 * number,
                                     progress=progress, label=f"separate {single.names[0]}"))
    return results


def train_dni_style(tasks: Sequence, names: Sequence[str] | None = None, *,
                    units: int = DNI_UNITS, config: HeadConfig | None = None, seed: int = 0,
                    progress: Callable[[str], None] | None = None) -> HeadsResult:
    """Trains one shared, fully plastic network with a head per task (jointly).

    Args:
        tasks: task objects.
        names: task names.
        units: N. Default: `200`.
        config: `HeadConfig`; default `dni_config(len(tasks))`.
        seed: int.
        progress: optional callable receiving progress lines.

    Returns:
        A `HeadsResult`.
    """
    config = config or dni_config(len(tasks))
    layout = net.HeadLayout.from_tasks(tasks, names, input_bias=config.input_bias)
    model = net.build_network(layout, units, train_recurrent=True, l2=config.l2,
                              activity_l2=config.activity_l2, seed=seed, name="dni_style")
    return fit_multihead(model, tasks, layout, config, seed=seed + 30_000, progress=progress,
                         label="dni-style")
