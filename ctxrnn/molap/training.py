"""MoLaP training: module pre-training on latent primitives, then frozen-core heads.

1. `pretrain_modules`: module `k` learns to map input primitive `U_k` to target
   primitive `V_k` (paper 3.1, A.2.1), one module after another. With the
   default `wiring="reference"` (the reference code, dashirn/MoLaP
   `rnn_build.py`) it is one network throughout: the primitive enters through
   one input row into all N units (plastic in module 1's phase, frozen after),
   one readout of all N units plus a bias and a trainable `h_0 ~ N(0, 1)` are
   carried from phase to phase, and the core has a frozen random bias
   (std `g / sqrt(N + 1)`). During module `k`'s phase only its intra-module
   block of `W_rec` is plastic; the inter-module weights keep their random
   initial values. `wiring="module"` instead feeds primitive `k` only into
   module `k` and reads it only from module `k`, with new input and readout
   weights every phase (no bias, `h_0 = 0`).
2. `train_heads`: `W_rec` (and the core's bias) is frozen; every task trains
   its own input weights, input bias, readout and initial state (`h_0 ~ N(0,
   1)` at the start, as in the reference code). Each head is trained alone on
   the frozen core (`head_training="per_task"`, from the multi-head model's
   initial head and on the trials a joint step would give it; `"joint"`: all
   nine in one batched step, as the reference, see `ctxrnn.molap.network`); a
   head below 90 % on its own validation trials is trained again
   (`HeadConfig.restarts`, `train_with_restarts`); then each readout is
   replaced by the least-squares minimiser of the training loss
   (`ctxrnn.readout`). `HeadConfig(input_bias=False, solve_readout=False,
   head_training="joint", restarts=0)` gives the paper's heads.

The learning rate is constant by default, as in the reference code (its loop
over "stages" only prints smaller step sizes; `../shared/tasks.md` 1.6).
`PretrainConfig.reference()` and `HeadConfig.reference()` are its budgets.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from ctxrnn import masks, seeding
from ctxrnn.checks import positive_int, unit_fraction
from ctxrnn.layers import CTRNN, find_ctrnn
from ctxrnn.metrics import score_trials
from ctxrnn.molap import network as net
from ctxrnn.molap.primitives import LatentPrimitives, corpus_arrays
from ctxrnn.readout import ReadoutFit, fit_readout

WIRINGS = ("reference", "module")


@dataclasses.dataclass
class _StagedSchedule:
    """`iterations` per stage, `stages` stages (shared by the configs).

    The fields common to pre-training and heads, in the configs' order; a
    config redefines only the defaults that differ (`learning_rate`, `stages`).
    """

    learning_rate: float = 1e-2
    batch_size: int = 200
    iterations: int = 200
    stages: int = 5
    stage_factor: float = 1.0
    l2: float = net.L2
    activity_l2: float = net.ACTIVITY_L2
    adam_step: str = "iteration"

    @classmethod
    def fast(cls, iterations: int = 20, **overrides):
        """A short one-stage schedule (tests, smoke runs); not the paper's."""
        return cls(**{"iterations": iterations, "stages": 1, **overrides})

    @property
    def total_iterations(self) -> int:
        """Optimizer steps (per module when pre-training): `iterations * stages`."""
        return self.iterations * self.stages


@dataclasses.dataclass
class PretrainConfig(_StagedSchedule):
    """Module pre-training settings.

    Defaults are the reference code's (dashirn/MoLaP, `train_modules_pcs.py`):
    4 stages of 200 iterations per module (it asks for 5, its loop runs
    `nstep - 1`) at a constant Adam rate of 5e-3, batch 200.
    `PretrainConfig.reference()` is the same; `PretrainConfig.fast()` a short
    schedule for tests and smoke runs.

    Args:
        learning_rate: Adam learning rate. Default: `5e-3`.
        batch_size: trials per iteration. Default: `200`.
        iterations: iterations per stage. Default: `200`.
        stages: number of stages per module. Default: `4`.
        stage_factor: lr multiplier between stages; `1.0` is the reference's
            constant rate (an earlier ctxrnn default of `1/3` came from a
            misreading of that code). Default: `1.0`.
        l2: L2 coefficient on the plastic weights. Default: `1e-5`.
        activity_l2: coefficient of the mean squared activity. Default: `1e-7`.
        adam_step: `"iteration"` (Adam as published; default) or `"stage"`
            (the reference code's bias correction by stage index; `ADAM_STEPS`).
        corpus_trials: trials per task in the fixed corpus sample that the
            primitives are fitted on and pre-training batches are drawn from.
            Default: `1000`.
        method: a method of `LatentPrimitives` (`"cca"`, `"pca"`, ...).
        rescale: `"minmax"` (primitives scaled to [0, 1] with bounds fixed on
            the corpus sample, as in the reference code; default),
            `"centered"` (the same shifted to [-0.5, 0.5]) or `None` (raw
            z-score-sized scores).
        clipnorm: optional gradient-norm clip. Default: `1.0`.
        wiring: `"reference"` (one input row into all N units, one readout of
            all N units carried over, frozen random bias, trainable `h_0`;
            default) or `"module"` (primitive `k` into and out of module `k`
            only; with it seed 1 grows a real positive leading eigenvalue and
            fails the memory tasks, experiments/RESULTS_molap.md).
    """

    learning_rate: float = 5e-3
    stages: int = 4
    corpus_trials: int = 1000
    method: str = "cca"
    rescale: str | None = "minmax"
    clipnorm: float | None = 1.0
    wiring: str = "reference"

    def __post_init__(self):
        if self.wiring not in WIRINGS:
            raise ValueError(f"Argument `wiring` must be one of {list(WIRINGS)}; received "
                             f"wiring={self.wiring!r}.")

    @classmethod
    def reference(cls, **overrides) -> "PretrainConfig":
        """The reference code's pre-training: 4 x 200 iterations per module at a
        constant 5e-3, batch 200, reference wiring."""
        return cls(**{"learning_rate": 5e-3, "batch_size": 200, "iterations": 200,
                      "stages": 4, "stage_factor": 1.0, "wiring": "reference", **overrides})


@dataclasses.dataclass
class HeadConfig(_StagedSchedule):
    """Task-training settings.

    Default schedule: 5 stages of 200 iterations at a constant Adam rate of
    1e-2, batch 200 per task (1000 iterations, the time budget of one seed on
    a 2-core machine). `HeadConfig.reference()` is the reference code's main
    schedule (9 x 500 at 1e-3, batch 500),
    `HeadConfig.reference(budget="short")` its leave-one-out one (9 x 200 at
    1e-2, batch 200). `HeadConfig.fast()` is a short schedule for tests.

    Args:
        learning_rate: Adam learning rate. Default: `1e-2`.
        batch_size: trials per task per iteration. Default: `200`.
        iterations: iterations per stage. Default: `200`.
        stages: number of stages. Default: `5`.
        stage_factor: lr multiplier between stages (`1.0`: constant, as in
            the reference code). Default: `1.0`.
        l2, activity_l2: regularisation. Defaults: `1e-5`, `1e-7`.
        adam_step: `"iteration"` (default) or `"stage"`, the reference code's
            Adam bias correction by stage index (`ADAM_STEPS`).
        per_task_initial_state: also learn each task's initial state, as the
            reference code does. Default: `True`.
        initial_state_std: std of those initial states at the start (the
            reference: `h_0 ~ N(0, 1)`). Default: `1.0`.
        clipnorm: optional gradient-norm clip. Default: `1.0`.
        solve_readout: bool, after the gradient steps replace the readout by
            the least-squares minimiser of the same loss on fresh trials
            (`ctxrnn.readout.fit_readout`; the states of a frozen core are too
            badly conditioned for Adam to reach it). Default: `True`.
        readout_trials: trials per task of that fit. Default: `500`.
        input_bias: bool, every head also learns a bias into the core (one
            constant input channel per task, `HeadLayout(input_bias=True)`):
            the constant drive the reference code's [0, 1]-rescaled inputs
            give its heads. It sets where a frozen core operates during the
            memory epochs, when the task inputs are 0. It starts at 0, so the
            initial network is the bias-free one. Default: `True`.
        fixed_trials: bool, train every iteration on the same batch (the trials
            of iteration 0), as the reference code does in effect: its jitted
            step draws the batch from a seed captured when it is traced
            (`rnn_build.py`, `training_loss` reads `rand_gen_counter` inside
            `@jit step`). Default: `False` (fresh trials every iteration).
        rescale: `None` (default) or `"minmax"`: every batch's inputs and
            targets are mapped to [0, 1] before the loss, each task's with
            its own minimum and maximum over the whole batch (all trials,
            steps and channels), as the reference code's `rescale_activity`
            does before every loss (`minmax_rescale`). `evaluate(...,
            rescale="minmax")` feeds the test trials the same way and maps the
            outputs back to task units before scoring.
        response_weight: float > 0, how many times the response outputs count
            in the loss during the response epoch (`weight_response`, Yang et
            al. 2019's 5). Default: `5.0`; `1.0` is the reference code's plain
            MSE, under which fully trained networks stall at the stimulus-blind
            answer (`experiments/RESULTS_molap.md`).
        head_training: `"per_task"` (default): `train_heads` trains each head
            alone on the frozen core, from the joint model's initial head and
            with the trials the joint training would give it, so a stalled
            head can be trained again (`restarts`); `"joint"`: all heads in
            one loss, as the reference code. The heads share no weights, so
            the two differ only in the gradient-norm clip (per head or over all
            heads), the L2 terms' relative weight and float rounding (which
            Adam turns into full steps where a gradient vanishes, e.g. h0's).
        restarts: int >= 0: how many times a head (`head_training="per_task"`)
            or a separate network (`baselines.train_separate`) whose accuracy
            on `validation_trials` fresh trials (a seed stream of their own,
            never the test set) is below `restart_below` is trained again from
            new weights and trials; the one with the best validation accuracy
            is kept. Default: `2`; `0` trains once, as the paper.
        restart_below: float in (0, 1], the validation accuracy under which a
            head or network counts as stalled. Default: `0.9`.
        validation_trials: trials of that validation. Default: `500`.
    """

    per_task_initial_state: bool = True
    initial_state_std: float = 1.0
    clipnorm: float | None = 1.0
    solve_readout: bool = True
    readout_trials: int = 500
    input_bias: bool = True
    fixed_trials: bool = False
    rescale: str | None = None
    response_weight: float = 5.0
    head_training: str = "per_task"
    restarts: int = 2
    restart_below: float = 0.9
    validation_trials: int = 500

    def __post_init__(self):
        _check_rescale(self.rescale)
        if self.head_training not in HEAD_TRAINING:
            raise ValueError(f"Argument `head_training` must be one of {list(HEAD_TRAINING)}; "
                             f"received head_training={self.head_training!r}.")
        if self.head_training == "joint" and self.restarts:
            raise ValueError(f"Argument `restarts` needs head_training='per_task' (a head of "
                             f"a joint training cannot be trained again alone); received "
                             f"restarts={self.restarts!r} with head_training='joint'. Pass "
                             f"restarts=0 with head_training='joint'.")
        if not self.response_weight > 0:
            raise ValueError(f"Argument `response_weight` must be > 0; received "
                             f"response_weight={self.response_weight!r}.")
        if not (isinstance(self.restarts, int) and self.restarts >= 0):
            raise ValueError(f"Argument `restarts` must be an int >= 0; received "
                             f"restarts={self.restarts!r}.")
        unit_fraction("restart_below", self.restart_below)
        positive_int("validation_trials", self.validation_trials)

    @classmethod
    def reference(cls, budget: str = "main", **overrides) -> "HeadConfig":
        """The reference code's head schedule: `budget="main"` 9 x 500 iterations
        at a constant 1e-3, batch 500; `budget="short"` 9 x 200 at 1e-2, batch 200."""
        budgets = {"main": {"learning_rate": 1e-3, "batch_size": 500, "iterations": 500},
                   "short": {"learning_rate": 1e-2, "batch_size": 200, "iterations": 200}}
        if budget not in budgets:
            raise ValueError(f"Argument `budget` must be one of {sorted(budgets)}; received "
                             f"budget={budget!r}.")
        return cls(**{**budgets[budget], "stages": 9, "stage_factor": 1.0,
                      "head_training": "joint", "restarts": 0, **overrides})

    @classmethod
    def fast(cls, iterations: int = 20, **overrides) -> "HeadConfig":
        """A short one-stage schedule (tests, smoke runs), trained once."""
        return super().fast(iterations, **{"restarts": 0, **overrides})


#: How `HeadConfig.rescale` treats each batch: `None` (as generated) or `"minmax"`.
HEAD_RESCALES = (None, "minmax")
#: How `train_heads` trains the heads (`HeadConfig.head_training`).
HEAD_TRAINING = ("per_task", "joint")


def _check_rescale(rescale):
    if rescale not in HEAD_RESCALES:
        raise ValueError(f"Argument `rescale` must be one of {list(HEAD_RESCALES)}; received "
                         f"rescale={rescale!r}.")


def minmax_rescale(batch, rescale: str | None = "minmax"):
    """Maps one task's batch to [0, 1], inputs and targets each with its own bounds.

    The reference code (dashirn/MoLaP `rnn_build.py`, `rescale_activity`)
    does this to every batch before its loss: `(x - min) / (max - min)`, with
    the minimum and maximum over the whole array (all trials, steps and
    channels), separately for the inputs and the targets. Zero inputs (blank
    and silent steps) thus become a constant drive of about 0.5, and the
    targets' zero level about 0.5. The loss and decision masks are unchanged.

    Args:
        batch: a trial batch (a dataclass with `inputs` and `targets`).
        rescale: `"minmax"` (default) or `None` (the batch unchanged).

    Returns:
        `(rescaled batch, (low, high))`: `low` and `high` are the targets'
        bounds, so `outputs * (high - low) + low` is in the task's units.

    Raises:
        ValueError: if `rescale` is not one of `HEAD_RESCALES`.

    Example:

    ```python
    scaled, (low, high) = minmax_rescale(task.generate(500, seed=0))
    ```
    """
    _check_rescale(rescale)
    if rescale is None:
        return batch, (0.0, 1.0)

    def bounds(values):
        low, high = float(np.min(values)), float(np.max(values))
        return low, (high if high > low else low + 1.0)  # a constant array maps to 0

    (in_low, in_high), (out_low, out_high) = bounds(batch.inputs), bounds(batch.targets)
    inputs = ((batch.inputs - in_low) / (in_high - in_low)).astype(np.float32)
    targets = ((batch.targets - out_low) / (out_high - out_low)).astype(np.float32)
    return dataclasses.replace(batch, inputs=inputs, targets=targets), (out_low, out_high)


def weight_response(batch, task, weight: float = 1.0):
    """Scales the loss mask of the response outputs in the response epoch.

    The reference code's loss is a plain MSE over every step and output, where
    the stimulus-dependent part of a MoLaP decision task (one output, the last
    25 of 100 steps) is about an eighth of the loss. A fully trained network
    then settles on the stimulus-blind answer (fixation right, the mean
    response) and stays there (`experiments/RESULTS_molap.md`, "the stall was
    the loss"). Yang et al. (2019) weight the response epoch
    5x for this reason. This does the same to one task's batch: every output
    but `"fixation"`, during the task's last epoch (its response), counts
    `weight` times in the loss.

    Args:
        batch: one task's trial batch (with `loss_mask` and `epochs`).
        task: the task that generated it (its `timing`, `output_names`, `window`).
        weight: float > 0; `1.0` (the reference's loss) returns `batch` itself.

    Returns:
        The batch, with a new loss mask when `weight != 1`.

    Example:

    ```python
    batch = weight_response(task.generate(200, seed=0), task, 5.0)
    ```
    """
    if not weight > 0:
        raise ValueError(f"Argument `weight` (the response weight) must be > 0; received "
                         f"{weight!r}.")
    if weight == 1.0:
        return batch
    if getattr(batch, "epochs", None) is None or not hasattr(task, "window"):
        raise ValueError(f"A response weight of {weight!r} needs a task with `timing` and "
                         f"`window` whose batches carry `epochs` (as `ctxrnn.tasks.Task`); "
                         f"{getattr(task, 'name', task)!r} has none. Pass response_weight=1.0.")
    response = task.window(batch.epochs, list(task.timing)[-1])
    outputs = np.array([name != "fixation" for name in task.output_names])
    factor = np.where(response[..., None] & outputs, np.float32(weight), np.float32(1.0))
    return dataclasses.replace(batch, loss_mask=(batch.loss_mask * factor).astype(np.float32))


def _adam(learning_rate, clipnorm):
    return keras.optimizers.Adam(learning_rate, clipnorm=clipnorm)


#: How Adam's bias correction counts steps: `"iteration"` (Adam as published, Keras)
#: or `"stage"`, the reference code's (dashirn/MoLaP `rnn_build.py` calls
#: `opt_update(i, ...)` with the *stage* index `i`, so its bias correction stays at
#: stage i's first-step value: once the moment averages have warmed up, a step is
#: ~0.32 x lr in stage 0, ~0.24 x lr in stage 1 and ~0.15 x lr in stage 8, where
#: Adam as published takes ~1 x lr).
ADAM_STEPS = ("iteration", "stage")
_BETA_1, _BETA_2 = 0.9, 0.999  # Keras' and the reference's Adam defaults


def reference_adam_factor(iteration: int, stage: int) -> float:
    """Keras Adam's rate multiplier that turns its bias correction (at step
    `iteration + 1`) into the reference's (at step `stage + 1`).

    Keras scales the rate by sqrt(1 - b2^t) / (1 - b1^t) at step t; the
    reference by the same expression at t = stage + 1; the ratio of the two is
    the factor (the epsilon terms differ by a factor < 1 on 1e-7, negligible).
    """
    t, s = iteration + 1, stage + 1
    return float(np.sqrt(1 - _BETA_2**s) / (1 - _BETA_1**s)
                 * (1 - _BETA_1**t) / np.sqrt(1 - _BETA_2**t))


def _schedule(config) -> list[float]:
    """Learning rate of every iteration."""
    positive_int("iterations", config.iterations)
    positive_int("stages", config.stages)
    adam_step = getattr(config, "adam_step", "iteration")
    if adam_step not in ADAM_STEPS:
        raise ValueError(f"Argument `adam_step` must be one of {list(ADAM_STEPS)}; received "
                         f"adam_step={adam_step!r}.")
    rates = []
    for stage in range(config.stages):
        for step in range(config.iterations):
            rate = config.learning_rate * config.stage_factor ** stage
            if adam_step == "stage":
                rate *= reference_adam_factor(stage * config.iterations + step, stage)
            rates.append(rate)
    return rates


@dataclasses.dataclass
class PretrainResult:
    """What `pretrain_modules` returns.

    Attributes:
        recurrent_kernel: `(N, N)` pre-trained kernel (`h @ W` convention).
        initial_kernel: `(N, N)` kernel before pre-training.
        module_kernels: the kernel after each module's phase.
        recurrent_bias: `(N,)` frozen core bias (reference wiring), or `None`.
        model: the pre-training `keras.Model` after the last phase (reference
            wiring: the one network of all phases; module wiring: the last
            phase's).
        phase_weights: the pre-training model's non-recurrent weights
            (`"kernel"`, `"bias"`, `"initial_state"`, `"readout"`,
            `"readout_bias"`, `None` where absent) before the first phase and
            after each phase (`len(module_sizes) + 1` dicts).
        primitives: the fitted `LatentPrimitives`.
        losses: one list of per-iteration losses per module.
        seconds: wall time of the fit and of each module.
    """

    recurrent_kernel: np.ndarray
    initial_kernel: np.ndarray
    module_kernels: list[np.ndarray]
    primitives: LatentPrimitives
    losses: list[list[float]]
    seconds: dict[str, float]
    recurrent_bias: np.ndarray | None = None
    model: keras.Model | None = None
    phase_weights: list[dict] = dataclasses.field(default_factory=list)


def _phase_weights(model, layer) -> dict:
    def value(weight):
        return None if weight is None else keras.ops.convert_to_numpy(weight).copy()
    readout = model.get_layer("readout")
    return {"kernel": value(layer.cell.kernel), "bias": value(layer.cell.bias),
            "initial_state": value(layer.cell.initial_state),
            "readout": value(readout.kernel), "readout_bias": value(readout.bias)}


def initial_recurrent_kernel(units: int = net.UNITS, gain: float = net.GAIN,
                             seed: int = 0) -> np.ndarray:
    """`gain * N(0, 1) / sqrt(N)`, float32 `(N, N)`."""
    rng = np.random.default_rng(seed)
    return (gain * rng.normal(size=(units, units)) / np.sqrt(units)).astype(np.float32)


def initial_recurrent_bias(units: int = net.UNITS, gain: float = net.GAIN,
                           seed: int = 0) -> np.ndarray:
    """The reference code's core bias, `gain * N(0, 1) / sqrt(N + 1)`, float32 `(N,)`
    (drawn from its own stream, so the kernel of `seed` is unchanged)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    return (gain * rng.normal(size=units) / np.sqrt(units + 1)).astype(np.float32)


def _reference_model(units, kernel, bias, config, seed):
    """Primitive -> one input row into all N units -> core (frozen bias,
    trainable h0) -> one readout of all N units plus a bias."""
    regularizer = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    inputs = keras.Input((None, 1), name="primitive")
    layer = CTRNN(
        units, dt=1.0, tau=1.0, use_bias=True, recurrent_initializer="zeros", gain=1.0,
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seed),
        recurrent_noise=net.NOISE, scale_noise=False, seed=seed, initial_state_trainable=True,
        kernel_regularizer=regularizer, recurrent_regularizer=regularizer, frozen=("bias",),
        name="ctrnn",
    )
    states = net.ActivityL2(config.activity_l2, name="activity_l2")(layer(inputs))
    output = keras.layers.Dense(
        1, name="readout",
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0 / np.sqrt(units + 1),
                                                           seed=seeding.derive(seed, "readout")),
    )(states)
    model = keras.Model(inputs, output, name="pretrain_reference")
    layer.cell.recurrent_kernel.assign(kernel)
    layer.cell.bias.assign(bias)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    layer.cell.initial_state.assign(rng.normal(size=units).astype(np.float32))
    return model, layer


def _module_model(units, module_sizes, module, kernel, config, seed):
    """Input primitive k -> core -> readout of module k's units."""
    labels = masks.module_labels(module_sizes)
    in_module = (labels == module).astype(np.float32)
    regularizer = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    inputs = keras.Input((None, 1), name="primitive")
    layer = CTRNN(
        units, dt=1.0, tau=1.0, use_bias=False, recurrent_initializer="zeros", gain=1.0,
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seed),
        recurrent_noise=net.NOISE, scale_noise=False, seed=seed,
        kernel_regularizer=regularizer, recurrent_regularizer=regularizer, name="ctrnn",
    )
    states = net.ActivityL2(config.activity_l2, name="activity_l2")(layer(inputs))
    start = int(np.flatnonzero(in_module)[0])
    stop = start + int(in_module.sum())
    output = keras.layers.Dense(
        1, name="readout",
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0 / np.sqrt(stop - start),
                                                           seed=seeding.derive(seed, "readout")),
    )(states[:, :, start:stop])
    model = keras.Model(inputs, output, name=f"pretrain_module{module}")
    layer.cell.recurrent_kernel.assign(kernel)
    layer.set_masks(
        recurrent_plasticity=masks.intra_module_mask(module_sizes, module),
        kernel_connectivity=in_module[None, :],
    )
    return model, layer


def fit_primitives(tasks: Sequence, *, n_components: int = 2, method: str = "cca",
                   rescale: str | None = "minmax", corpus_trials: int = 1000, seed: int = 0):
    """Fits `LatentPrimitives` on a fixed corpus sample; returns `(primitives, U, V)`.

    `U` and `V` are the `(corpus_trials, time, n_components)` primitive time
    series of that sample, from which pre-training batches are drawn.
    """
    inputs, targets = corpus_arrays(tasks, corpus_trials, seed)
    primitives = LatentPrimitives(n_components, method=method, rescale=rescale).fit_trials(
        inputs, targets)
    u, v = primitives.transform_trials(inputs, targets)
    return primitives, u, v


def pretrain_modules(
    tasks: Sequence,
    *,
    units: int = net.UNITS,
    module_sizes: Sequence[int] = net.MODULE_SIZES,
    gain: float = net.GAIN,
    config: PretrainConfig | None = None,
    primitives: tuple | None = None,
    initial_kernel: np.ndarray | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> PretrainResult:
    """Pre-trains each module on its latent primitive, one module after another.

    Args:
        tasks: the task corpus (objects with `generate(batch_size, seed)`).
        units: int, N. Default: `100`.
        module_sizes: sizes of the modules (one primitive each). Default: `(50, 50)`.
        gain: g of the random initial kernel. Default: `1.5`.
        config: `PretrainConfig`; default `PretrainConfig()`.
        primitives: optional `(LatentPrimitives, U, V)` from `fit_primitives`
            (reused, e.g. across seeds); fitted here otherwise.
        initial_kernel: optional `(N, N)` start kernel; default
            `initial_recurrent_kernel(units, gain, seed)`.
        seed: int, seed of weights, noise and batch order.
        progress: optional callable receiving one-line progress messages.

    Returns:
        A `PretrainResult`.

    Raises:
        ValueError: if `sum(module_sizes) != units`.

    Example:

    ```python
    tasks = [ctxrnn.tasks.make(name) for name in ctxrnn.tasks.MOLAP_TASKS]
    result = pretrain_modules(tasks, seed=0)
    heads = train_heads(result.recurrent_kernel, tasks, names=ctxrnn.tasks.MOLAP_TASKS,
                        recurrent_bias=result.recurrent_bias)
    ```
    """
    config = config or PretrainConfig()
    module_sizes = tuple(int(s) for s in module_sizes)
    if sum(module_sizes) != units:
        raise ValueError(
            f"Argument `module_sizes` must sum to units={units}; received {module_sizes}."
        )
    say = progress or (lambda message: None)
    seconds = {}
    start = time.perf_counter()
    if primitives is None:
        primitives = fit_primitives(tasks, n_components=len(module_sizes), method=config.method,
                                    rescale=config.rescale,
                                    corpus_trials=config.corpus_trials,
                                    seed=seeding.derive(seed, "primitives"))
    fitted, u, v = primitives
    if u.shape[-1] < len(module_sizes):
        raise ValueError(
            f"{len(module_sizes)} modules need as many primitives; the given primitives have "
            f"{u.shape[-1]}."
        )
    seconds["primitives"] = time.perf_counter() - start
    say(f"primitives: {fitted.method} with {u.shape[-1]} components, correlations "
        f"{np.round(fitted.correlations_, 3).tolist()} ({seconds['primitives']:.1f} s)")
    kernel = (initial_recurrent_kernel(units, gain, seed) if initial_kernel is None
              else np.asarray(initial_kernel, np.float32))
    initial = kernel.copy()
    rng = np.random.default_rng(seed)
    schedule = _schedule(config)
    losses, module_kernels = [], []
    bias, phase_weights = None, []
    if config.wiring == "reference":
        bias = initial_recurrent_bias(units, gain, seed)
        model, layer = _reference_model(units, kernel, bias, config, seed)
        phase_weights.append(_phase_weights(model, layer))
    for module in range(len(module_sizes)):
        start = time.perf_counter()
        if config.wiring == "module":
            model, layer = _module_model(units, module_sizes, module, kernel, config,
                                         seeding.derive(seed, "pretraining", module))
            if module == 0:
                phase_weights.append(_phase_weights(model, layer))
        else:
            # the input row learns in module 1's phase only (the reference's gradient mask)
            layer.set_masks(
                recurrent_plasticity=masks.intra_module_mask(module_sizes, module),
                kernel_plasticity=np.full((1, units), float(module == 0), np.float32),
            )
        optimizer = _adam(schedule[0], config.clipnorm)
        model.compile(optimizer=optimizer, loss="mse")
        x_all, y_all = u[..., module:module + 1], v[..., module:module + 1]
        history = []
        for step, rate in enumerate(schedule):
            optimizer.learning_rate.assign(rate)
            rows = rng.choice(len(x_all), size=min(config.batch_size, len(x_all)), replace=False)
            loss = model.train_on_batch(x_all[rows], y_all[rows], return_dict=True)["loss"]
            history.append(float(loss))
            if (step + 1) % max(1, len(schedule) // 4) == 0:
                say(f"module {module + 1}: iteration {step + 1}/{len(schedule)} loss {loss:.4f}")
        kernel = keras.ops.convert_to_numpy(layer.recurrent_kernel).copy()
        phase_weights.append(_phase_weights(model, layer))
        losses.append(history)
        module_kernels.append(kernel)
        seconds[f"module{module + 1}"] = time.perf_counter() - start
    return PretrainResult(kernel, initial, module_kernels, fitted, losses, seconds, bias, model,
                          phase_weights)


@dataclasses.dataclass
class HeadsResult:
    """What `train_heads` (and the baselines) return.

    Attributes:
        model: the trained multi-head `keras.Model`.
        layout: its `HeadLayout`.
        losses: per-iteration training losses.
        seconds: wall time of training.
        trainable_parameters: number of trainable scalars of the model.
        iterations: optimizer steps taken.
        readout: the `ReadoutFit` of the least-squares readout, or `None`.
        task_losses: sequential training only (`baselines.train_dni`): task
            `j`'s loss after training task `i` at `[i, j]`, else `None`.
        attempts: trainings it took (`HeadConfig.restarts`; 1 without restarts).
        validation_accuracy: the kept network's validation accuracy when
            restarts were allowed, else `None`.
        task_attempts: `train_heads` trained per task, or `baselines.train_dni`
            with restarts: `{task: trainings}`, else `None`.
        task_iterations: sequential training only (`baselines.train_dni`):
            `{task: iterations of its kept training}`, else `None`.
        task_free_directions: `baselines.train_dni` only: `{task: trace of
            the projection the later tasks train under once it is learned}`,
            the number of state directions left free (N: none used), else `None`.
    """

    model: keras.Model
    layout: net.HeadLayout
    losses: list[float]
    seconds: float
    trainable_parameters: int
    iterations: int
    readout: ReadoutFit | None = None
    task_losses: np.ndarray | None = None
    attempts: int = 1
    validation_accuracy: float | None = None
    task_attempts: dict | None = None
    task_iterations: dict | None = None
    task_free_directions: dict | None = None


def stacked_batch(tasks: Sequence, layout: net.HeadLayout, batch_size: int, seed: int):
    """One batch of every task (same `seed`), stacked for a multi-head model."""
    return layout.stack([task.generate(batch_size, seed=seed) for task in tasks])


def _training_batch(tasks, layout, batch_size, seed, rescale, response_weight=1.0):
    """`stacked_batch`, each task's trials first rescaled by `minmax_rescale` when
    `rescale` is set and their response loss weighted by `weight_response`."""
    return layout.stack([weight_response(minmax_rescale(task.generate(batch_size, seed=seed),
                                                        rescale)[0], task, response_weight)
                         for task in tasks])


def fit_multihead(model: keras.Model, tasks: Sequence, layout: net.HeadLayout, config, *,
                  seed: int = 0, progress: Callable[[str], None] | None = None,
                  label: str = "heads") -> HeadsResult:
    """Trains a multi-head model on fresh trials of every task each iteration.

    Args:
        model: a model from `ctxrnn.molap.network.build_network`.
        tasks: the tasks, in layout order.
        layout: the model's `HeadLayout`.
        config: a `HeadConfig` (or any object with its fields).
        seed: int, trials of iteration `i` use `seeding.derive(seed, "trials", i)`; the trials of
            the least-squares readout (`config.solve_readout`) the next seed.
        progress: optional callable receiving progress lines.
        label: name used in progress lines.

    Returns:
        A `HeadsResult`.
    """
    say = progress or (lambda message: None)
    schedule = _schedule(config)
    optimizer = _adam(schedule[0], config.clipnorm)
    model.compile(optimizer=optimizer, loss=net.masked_mse)
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    losses = []
    start = time.perf_counter()
    fixed_trials = getattr(config, "fixed_trials", False)
    rescale = getattr(config, "rescale", None)
    _check_rescale(rescale)
    response_weight = getattr(config, "response_weight", 1.0)
    for step, rate in enumerate(schedule):
        optimizer.learning_rate.assign(rate)
        stacked = _training_batch(tasks, layout, config.batch_size,
                                  seeding.derive(seed, "trials", 0 if fixed_trials else step),
                                  rescale, response_weight)
        loss = model.train_on_batch(net.task_inputs(model, stacked), stacked.packed_targets,
                                    return_dict=True)["loss"]
        losses.append(float(loss))
        if (step + 1) % max(1, len(schedule) // 4) == 0:
            say(f"{label}: iteration {step + 1}/{len(schedule)} loss {loss:.4f}")
    readout = None
    if getattr(config, "solve_readout", False):
        positive_int("readout_trials", config.readout_trials)
        sample = _training_batch(tasks, layout, config.readout_trials,
                                 seeding.derive(seed, "trials", len(schedule)), rescale,
                                 response_weight)
        readout = fit_readout(model, net.task_inputs(model, sample), sample.targets,
                              sample.loss_mask)
        say(f"{label}: least-squares readout, loss {readout.loss_before:.4f} -> "
            f"{readout.loss_after:.4f}")
    return HeadsResult(model, layout, losses, time.perf_counter() - start, trainable,
                       len(schedule), readout)


def copy_head(source: keras.Model, source_layout: net.HeadLayout, source_index: int,
              target: keras.Model, target_layout: net.HeadLayout, target_index: int) -> None:
    """Copies one task's head between multi-head models of one core.

    The head is the task's input rows (with its input-bias row), its initial
    state (models with `per_task_initial_state`) and its readout columns and
    bias; the core and the other heads of `target` are left as they are.

    Args:
        source, source_layout, source_index: the model, layout and task
            position to copy from.
        target, target_layout, target_index: where to copy to.
    """
    if (source_layout.input_width(source_index), source_layout.n_outputs[source_index]) != (
            target_layout.input_width(target_index), target_layout.n_outputs[target_index]):
        raise ValueError(f"Head {source_layout.names[source_index]!r} and head "
                         f"{target_layout.names[target_index]!r} differ in shape.")

    def move(variable_of, rows=None, columns=None):
        values = keras.ops.convert_to_numpy(variable_of(source))
        destination = variable_of(target)
        updated = keras.ops.convert_to_numpy(destination).copy()
        if rows is not None:
            updated[rows[1]] = values[rows[0]]
        else:
            updated[..., columns[1]] = values[..., columns[0]]
        destination.assign(updated)

    move(lambda m: find_ctrnn(m).cell.kernel, rows=(source_layout.input_slice(source_index),
                                                    target_layout.input_slice(target_index)))
    outputs = (source_layout.output_slice(source_index), target_layout.output_slice(target_index))
    move(lambda m: m.get_layer("readout").kernel, columns=outputs)
    move(lambda m: m.get_layer("readout").bias, columns=outputs)
    if any(layer.name == "initial_states" for layer in target.layers):
        move(lambda m: m.get_layer("initial_states").kernel,
             rows=(source_index, target_index))


def train_with_restarts(attempt: Callable[[int], HeadsResult],
                        validate: Callable[[HeadsResult], float], config, *,
                        label: str, progress: Callable[[str], None] | None = None) -> HeadsResult:
    """Trains (`attempt(0)`, `attempt(1)`, ...) until a result validates.

    A result whose `validate` accuracy is below `config.restart_below` is
    trained again, at most `config.restarts` times; the result with the best
    validation accuracy is returned, with `attempts` and
    `validation_accuracy` set. With `config.restarts == 0` it returns
    `attempt(0)` unvalidated.

    Args:
        attempt: callable, `attempt(k)` trains from the k-th initialisation.
        validate: callable, a result's validation accuracy in [0, 1].
        config: a `HeadConfig` (its `restarts`, `restart_below`).
        label: name used in progress lines.
        progress: optional callable receiving progress lines.

    Returns:
        The kept `HeadsResult`.
    """
    say = progress or (lambda message: None)
    best = None
    for number in range(config.restarts + 1):
        result = attempt(number)
        if config.restarts == 0:
            return result
        accuracy = validate(result)
        if best is None or accuracy > best.validation_accuracy:
            best = dataclasses.replace(result, validation_accuracy=accuracy)
        best = dataclasses.replace(best, attempts=number + 1)
        if accuracy >= config.restart_below:
            break
        if number < config.restarts:
            say(f"{label}: validation accuracy {accuracy:.3f} < {config.restart_below}, "
                f"training again (restart {number + 1} of {config.restarts})")
    return best


def train_heads(
    recurrent_kernel: np.ndarray,
    tasks: Sequence,
    names: Sequence[str] | None = None,
    *,
    recurrent_bias: np.ndarray | None = None,
    config: HeadConfig | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> HeadsResult:
    """Trains one input/readout head per task on a frozen recurrent core.

    Args:
        recurrent_kernel: `(N, N)` core kernel (pre-trained, or random for the
            no-pre-training control); it stays bit-identical.
        tasks: task objects, one head each.
        names: task names (default: each task's `name`).
        recurrent_bias: optional `(N,)` frozen core bias
            (`PretrainResult.recurrent_bias`; for a random core
            `initial_recurrent_bias`). Default: `None` (no bias).
        config: `HeadConfig`; default `HeadConfig()`. With
            `head_training="per_task"` each head is trained alone (and again
            when it stalls, `restarts`), then written into the multi-head model.
        seed: int, seed of the heads, noise and trials.
        progress: optional callable receiving progress lines.

    Returns:
        A `HeadsResult` whose model maps stacked inputs to stacked outputs
        (trained per task: `losses` the heads' mean per iteration,
        `task_attempts` the trainings of each head, `readout` `None`).
    """
    config = config or HeadConfig()
    recurrent_kernel = np.asarray(recurrent_kernel, np.float32)
    layout = net.HeadLayout.from_tasks(tasks, names, input_bias=config.input_bias)

    def network(lay, network_seed, name):
        return net.build_network(
            lay, recurrent_kernel.shape[0], recurrent_kernel=recurrent_kernel,
            train_recurrent=False, l2=config.l2, activity_l2=config.activity_l2,
            per_task_initial_state=config.per_task_initial_state,
            initial_state_std=config.initial_state_std, recurrent_bias=recurrent_bias,
            seed=network_seed, name=name)

    model = network(layout, seed, "molap")
    trials_seed = seeding.derive(seed, "heads")
    if config.head_training == "joint":
        return fit_multihead(model, tasks, layout, config, seed=trials_seed, progress=progress,
                             label="heads")
    start = time.perf_counter()
    kept = []
    for index, task in enumerate(tasks):
        single, name = layout.single(index), layout.names[index]

        def attempt(number, index=index, task=task, single=single, name=name):
            if number == 0:
                # the joint model's initial head, and the trials joint training gives it
                head = network(single, seed, f"head_{name}")
                copy_head(model, layout, index, head, single, 0)
                head_seed = trials_seed
            else:
                head = network(single, seeding.derive(seed, "heads", index, 2, number),
                               f"head_{name}")
                head_seed = seeding.derive(seed, "heads", index, 2, number, 1)
            return fit_multihead(head, [task], single, config, seed=head_seed,
                                 progress=progress, label=f"head {name}")

        def validate(result, task=task, single=single, name=name, index=index):
            return evaluate(result.model, [task], single, n_trials=config.validation_trials,
                            seed=seeding.derive(seed, "heads", index, 3),
                            rescale=config.rescale)[name]

        result = train_with_restarts(attempt, validate, config, label=f"head {name}",
                                     progress=progress)
        copy_head(result.model, single, 0, model, layout, index)
        kept.append(result)
    losses = np.mean([result.losses for result in kept], axis=0).tolist()
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return HeadsResult(model, layout, losses, time.perf_counter() - start, trainable,
                       kept[0].iterations, None,
                       task_attempts={name: result.attempts
                                      for name, result in zip(layout.names, kept)})


def evaluate(model: keras.Model, tasks: Sequence, layout: net.HeadLayout, *,
             n_trials: int = 2000, seed: int = 12345, chunk: int = 500,
             rescale: str | None = None) -> dict[str, float]:
    """% of correct decisions per task on a fresh test set (paper A.3).

    Args:
        model: a multi-head model.
        tasks: the tasks, in layout order (their `correct(outputs, batch)` decides).
        layout: the model's `HeadLayout`.
        n_trials: test trials per task. Default: `2000`.
        seed: seed of the test set (distinct from training seeds).
        chunk: trials per task per forward pass.
        rescale: `None` (default) or `"minmax"` for a model trained with
            `HeadConfig(rescale="minmax")`: each chunk's inputs are rescaled as
            in training (`minmax_rescale`, bounds of that chunk of a task) and
            the outputs mapped back with its targets' bounds, so the task's
            rule scores them in task units against the original targets.

    Returns:
        `{task name: accuracy in [0, 1]}`: the mean of `task.correct` over trials
        (a trial's score may be a fraction, e.g. of output units within delta).
    """
    correct = {name: [] for name in layout.names}
    for start in range(0, n_trials, chunk):
        size = min(chunk, n_trials - start)
        raw = [task.generate(size, seed=seeding.derive(seed, "evaluation", start))
               for task in tasks]
        scaled = [minmax_rescale(batch, rescale) for batch in raw]
        stacked = layout.stack([batch for batch, _ in scaled])
        outputs = model.predict(net.task_inputs(model, stacked), batch_size=1000, verbose=0)
        for index, (task, out) in enumerate(zip(tasks, layout.split_outputs(outputs, stacked))):
            low, high = scaled[index][1]
            correct[layout.names[index]].append(
                score_trials(out * (high - low) + low, raw[index], task))
    return {name: float(np.concatenate(values).mean()) for name, values in correct.items()}
