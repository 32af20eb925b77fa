"""The MoLaP network: one recurrent core, one input/readout head per task.

All heads live in one Keras model: the input channels of the tasks are
stacked side by side (task `j` owns a block of input rows of `W_in` and a
block of readout columns), a trial of task `j` carries its inputs in its own
block and zeros elsewhere, and its loss mask is zero outside its own readout
block. Task `j`'s head therefore receives gradient only from task `j`'s
trials, and the heads can be trained in one batched step (the reference's
joint loss) or one at a time (`ctxrnn.molap.training.train_heads`, the
default, then `ctxrnn.molap.training.copy_head`). The two differ only in the
gradient-norm clip, the L2 terms' relative weight and float rounding.

`task_model` cuts one task's head out as an ordinary
`Input -> CTRNN -> Dense` model (for `ctxrnn.simulate`, saving, plotting).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from ctxrnn import seeding
from ctxrnn.layers import CTRNN, ActivityL2, find_ctrnn
from ctxrnn.losses import masked_mse

#: MoLaP defaults (paper A.2): N = 100 in two modules, g = 1.5, discrete tanh
#: network (alpha = dt / tau = 1). The paper's noise (sigma 0.002, "each input
#: unit received an independent white noise input") is on the input channels,
#: as in the reference code; the MoLaP tasks (`ctxrnn.tasks`) add it to their
#: inputs, so the core adds no noise of its own by default (`NOISE = 0`;
#: `build_network(noise=0.002)` puts extra noise on every unit).
UNITS = 100
MODULE_SIZES = (50, 50)
GAIN = 1.5
NOISE = 0.0
L2 = 1e-5
ACTIVITY_L2 = 1e-7


@dataclasses.dataclass(frozen=True)
class StackedBatch:
    """Trials of several tasks laid out for a multi-head model.

    Attributes:
        inputs: `(trials, time, total_inputs)` float32.
        targets: `(trials, time, total_outputs)` float32.
        loss_mask: `(trials, time, total_outputs)` float32, zero outside each
            trial's own readout block.
        task_ids: `(trials,)` int, index of each trial's task in the layout.
        batches: the per-task trial batches, in layout order.
    """

    inputs: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    task_ids: np.ndarray
    batches: tuple
    _packed: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def packed_targets(self) -> np.ndarray:
        """`[targets | loss_mask]` along channels, the `y` of `masked_mse`."""
        packed = self._packed
        if packed is not None and self.targets.base is packed and self.loss_mask.base is packed:
            # `HeadLayout.stack` wrote both into one buffer: no copy per training step
            return packed
        return np.concatenate([self.targets, self.loss_mask], axis=-1)

    def rows(self, index: int) -> np.ndarray:
        """Row indices of task `index`'s trials."""
        return np.flatnonzero(self.task_ids == index)


@dataclasses.dataclass(frozen=True)
class HeadLayout:
    """Where each task's input and readout channels sit in a multi-head model.

    Args:
        names: task names, one per head.
        n_inputs: input channels of each task.
        n_outputs: output channels of each task.
        input_bias: bool, give every head a trainable bias into the core: the
            stacked inputs get one constant-1 channel per task (the last of its
            block), whose `W_in` row is that task's bias. The reference code
            has this in effect: it min-max rescales inputs to [0, 1], so a zero
            input is ~0.5 and `W_in` adds a constant, learned drive on every
            step (`shared/tasks.md` 1.4). Default: `False`.

    Example:

    ```python
    layout = HeadLayout.from_tasks(tasks, names)
    stacked = layout.stack([task.generate(200, seed=0) for task in tasks])
    ```
    """

    names: tuple[str, ...]
    n_inputs: tuple[int, ...]
    n_outputs: tuple[int, ...]
    input_bias: bool = False

    def __post_init__(self):
        if not (len(self.names) == len(self.n_inputs) == len(self.n_outputs)) or not self.names:
            raise ValueError(
                "Arguments `names`, `n_inputs` and `n_outputs` must be non-empty and of one "
                f"length; received {len(self.names)}, {len(self.n_inputs)}, {len(self.n_outputs)}."
            )

    @classmethod
    def from_tasks(cls, tasks: Sequence, names: Sequence[str] | None = None, *,
                   input_bias: bool = False) -> "HeadLayout":
        """Reads each task's channel counts from a 1-trial batch."""
        probes = [task.generate(1, seed=0) for task in tasks]
        if names is None:
            names = [getattr(task, "name", f"task{i}") for i, task in enumerate(tasks)]
        return cls(tuple(names), tuple(int(np.shape(p.inputs)[-1]) for p in probes),
                   tuple(int(np.shape(p.targets)[-1]) for p in probes), bool(input_bias))

    @classmethod
    def for_model(cls, model: keras.Model, tasks: Sequence,
                  names: Sequence[str] | None = None) -> "HeadLayout":
        """The layout of a (reloaded) multi-head `model` of `tasks`, with or without
        input biases, read from the width of its input."""
        plain = cls.from_tasks(tasks, names)
        width = int(model.inputs[0].shape[-1])
        for layout in (plain, dataclasses.replace(plain, input_bias=True)):
            if layout.total_inputs == width:
                return layout
        raise ValueError(
            f"Model {model.name!r} takes {width} input channels; tasks {list(plain.names)} "
            f"stack to {plain.total_inputs} (or {plain.total_inputs + len(plain.names)} with "
            f"input biases)."
        )

    def single(self, index: int) -> "HeadLayout":
        """The one-task layout of head `index`."""
        return HeadLayout((self.names[index],), (self.n_inputs[index],),
                          (self.n_outputs[index],), self.input_bias)

    def input_width(self, index: int) -> int:
        """Columns of task `index`'s input block (its channels, plus 1 with `input_bias`)."""
        return self.n_inputs[index] + int(self.input_bias)

    @property
    def total_inputs(self) -> int:
        return int(sum(self.input_width(i) for i in range(len(self.names))))

    @property
    def total_outputs(self) -> int:
        return int(sum(self.n_outputs))

    def input_slice(self, index: int) -> slice:
        """Columns of task `index`'s block in the stacked inputs (its bias channel last)."""
        start = int(sum(self.input_width(i) for i in range(index)))
        return slice(start, start + self.input_width(index))

    def output_slice(self, index: int) -> slice:
        start = int(sum(self.n_outputs[:index]))
        return slice(start, start + self.n_outputs[index])

    def index(self, name: str) -> int:
        if name not in self.names:
            raise ValueError(f"Unknown task {name!r}; this layout has {list(self.names)}.")
        return self.names.index(name)

    def stack(self, batches: Sequence) -> StackedBatch:
        """Lays trial batches (one per task, layout order) out in the stacked channels."""
        if len(batches) != len(self.names):
            raise ValueError(
                f"Argument `batches` must hold one batch per task ({len(self.names)}); "
                f"received {len(batches)}."
            )
        steps = {np.shape(b.inputs)[1] for b in batches}
        if len(steps) != 1:
            raise ValueError(f"The batches' trials must share one length; received {sorted(steps)}.")
        (steps,) = steps
        sizes = [np.shape(b.inputs)[0] for b in batches]
        total = int(sum(sizes))
        inputs = np.zeros((total, steps, self.total_inputs), np.float32)
        packed = np.zeros((total, steps, 2 * self.total_outputs), np.float32)
        targets, loss_mask = packed[..., :self.total_outputs], packed[..., self.total_outputs:]
        task_ids = np.repeat(np.arange(len(batches)), sizes)
        start = 0
        for index, (batch, size) in enumerate(zip(batches, sizes)):
            rows = slice(start, start + size)
            cols_in, cols_out = self.input_slice(index), self.output_slice(index)
            if np.shape(batch.inputs)[-1] != self.n_inputs[index]:
                raise ValueError(
                    f"Task {self.names[index]!r} has {np.shape(batch.inputs)[-1]} input channels; "
                    f"the layout expects {self.n_inputs[index]}."
                )
            if self.input_bias:
                inputs[rows, :, cols_in.stop - 1] = 1.0
                cols_in = slice(cols_in.start, cols_in.stop - 1)
            inputs[rows, :, cols_in] = batch.inputs
            targets[rows, :, cols_out] = batch.targets
            mask = np.asarray(batch.loss_mask, np.float32)
            loss_mask[rows, :, cols_out] = np.broadcast_to(
                mask, (size, steps, self.n_outputs[index]))
            start += size
        return StackedBatch(inputs, targets, loss_mask, task_ids, tuple(batches), packed)

    def split_outputs(self, outputs: np.ndarray, stacked: StackedBatch) -> list[np.ndarray]:
        """Per task: its trials' outputs `(trials, time, n_outputs)` from stacked outputs."""
        return [outputs[..., stacked.rows(i), :, :][..., self.output_slice(i)]
                for i in range(len(self.names))]


def _head_weights(layout: HeadLayout, units: int, rng: np.random.Generator):
    """Paper A.2 initialisation: W_in block of task j ~ N(0, 1) / sqrt(n_in_j),
    its input bias (if any) 0; readout ~ N(0, 1) / sqrt(N) (the reference
    code's scale)."""
    w_in = np.zeros((layout.total_inputs, units), np.float32)
    for index, n_in in enumerate(layout.n_inputs):
        block = layout.input_slice(index)
        w_in[block.start:block.start + n_in] = rng.normal(size=(n_in, units)) / np.sqrt(n_in)
    w_out = rng.normal(size=(units, layout.total_outputs)) / np.sqrt(units)
    return w_in, w_out.astype(np.float32)


def build_network(
    layout: HeadLayout,
    units: int = UNITS,
    *,
    recurrent_kernel: np.ndarray | None = None,
    train_recurrent: bool = False,
    gain: float = GAIN,
    noise: float = NOISE,
    input_noise: float = 0.0,
    l2: float = L2,
    activity_l2: float = ACTIVITY_L2,
    per_task_initial_state: bool = False,
    initial_state_std: float = 0.0,
    recurrent_bias: np.ndarray | None = None,
    seed: int = 0,
    name: str = "molap",
) -> keras.Model:
    """Builds a multi-head network: shared recurrent core, one head per task.

    The core is `CTRNN(units, dt=1, tau=1)` — MoLaP's discrete
    `h_{t+1} = tanh(W_rec h_t + W_in x_t + eta_t)` without bias (paper eq. 1);
    the readout is a `Dense` with bias. With `train_recurrent=False` the
    recurrent kernel is not trainable and its plasticity mask is zero, so it
    stays bit-identical through any `fit`.

    Args:
        layout: the `HeadLayout` of the tasks.
        units: int, N. Default: `100`.
        recurrent_kernel: optional `(N, N)` kernel (Keras `h @ W` convention);
            default `gain * N(0, 1) / sqrt(N)`.
        train_recurrent: bool, let `W_rec` learn (baselines). Default: `False`.
        gain: float, g of the random initial kernel. Default: `1.5`.
        noise: float, std of extra noise added to every unit's pre-activation
            per step during training. Default: `0.0` (the paper's sigma = 0.002
            is input noise, which the MoLaP tasks add to their trials).
        input_noise: float, std of noise added to the inputs (reference code:
            0.02). Default: `0.0`. In a multi-head model it reaches every input
            channel, also other tasks' (zero) channels — leave it 0 there and
            put input noise in the trials instead.
        l2: float, L2 coefficient on the trainable kernels. Default: `1e-5`.
        activity_l2: float, coefficient of the mean squared activity. Default: `1e-7`.
        per_task_initial_state: bool, learn one initial state per task (an
            extra model input `"task"`, one-hot `(batch, n_tasks)`). Default: `False`.
        initial_state_std: float, std of those initial states' start values
            (the reference code draws `h_0 ~ N(0, 1)`). Default: `0.0` (zeros).
        recurrent_bias: optional `(N,)` bias of the core (the reference
            code's random bias row). Frozen with the kernel when
            `train_recurrent=False`, learned with it otherwise. Default: `None`
            (no bias).
        seed: int, seed of the weights and the noise.
        name: model name.

    Returns:
        An uncompiled `keras.Model` `(batch, time, total_inputs)` ->
        `(batch, time, total_outputs)` (plus the `"task"` input when
        `per_task_initial_state`). Layers: `"ctrnn"`, `"readout"`.
    """
    rng = np.random.default_rng(seed)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input((None, layout.total_inputs), name="inputs")
    if recurrent_bias is not None:
        recurrent_bias = np.asarray(recurrent_bias, np.float32)
        if recurrent_bias.shape != (units,):
            raise ValueError(f"Argument `recurrent_bias` must have shape ({units},); received "
                             f"{recurrent_bias.shape}.")
    if initial_state_std < 0:
        raise ValueError(f"Argument `initial_state_std` must be >= 0; received "
                         f"initial_state_std={initial_state_std!r}.")
    layer = CTRNN(
        units, dt=1.0, tau=1.0, use_bias=recurrent_bias is not None,
        recurrent_initializer="gain_normal", gain=gain,
        recurrent_noise=noise, input_noise=input_noise, scale_noise=False, seed=seed,
        kernel_regularizer=regularizer,
        recurrent_regularizer=regularizer if train_recurrent else None, name="ctrnn",
        frozen=() if train_recurrent or recurrent_bias is None else ("bias",),
    )
    model_inputs = [inputs]
    if per_task_initial_state:
        task = keras.Input((len(layout.names),), name="task")
        model_inputs.append(task)
        start = (keras.initializers.RandomNormal(stddev=initial_state_std, seed=seeding.derive(seed, "initial_state"))
                 if initial_state_std > 0 else "zeros")
        h0 = keras.layers.Dense(units, use_bias=False, kernel_initializer=start,
                                name="initial_states")(task)
        states = layer(inputs, initial_state=h0)
    else:
        states = layer(inputs)
    states = ActivityL2(activity_l2, name="activity_l2")(states)
    readout = keras.layers.Dense(layout.total_outputs, name="readout",
                                 kernel_regularizer=regularizer)
    outputs = readout(states)
    model = keras.Model(model_inputs if per_task_initial_state else inputs, outputs, name=name)
    w_in, w_out = _head_weights(layout, units, rng)
    layer.cell.kernel.assign(w_in)
    readout.kernel.assign(w_out)
    if recurrent_kernel is not None:
        recurrent_kernel = np.asarray(recurrent_kernel, np.float32)
        if recurrent_kernel.shape != (units, units):
            raise ValueError(
                f"Argument `recurrent_kernel` must have shape ({units}, {units}); received "
                f"{recurrent_kernel.shape}."
            )
        layer.cell.recurrent_kernel.assign(recurrent_kernel)
    if recurrent_bias is not None:
        layer.cell.bias.assign(recurrent_bias)
    if not train_recurrent:
        layer.set_masks(recurrent_plasticity=np.zeros((units, units), np.float32))
        layer.cell.recurrent_kernel.trainable = False
    else:
        layer.set_masks(recurrent_plasticity=np.ones((units, units), np.float32))
    return model


def task_inputs(model: keras.Model, stacked: StackedBatch):
    """The `x` to feed `model` for `stacked` (adds the task one-hot if needed)."""
    if len(model.inputs) == 1:
        return stacked.inputs
    onehot = np.eye(len(stacked.batches), dtype=np.float32)[stacked.task_ids]
    return {"inputs": stacked.inputs, "task": onehot}


def core_weights(model: keras.Model) -> tuple[np.ndarray, np.ndarray | None]:
    """The recurrent core of a multi-head model: `(recurrent_kernel, recurrent_bias)`.

    The bias is `None` for a core without one. Pass both to
    `ctxrnn.molap.train_heads` to train heads for new tasks on the same frozen core.

    Example:

    ```python
    from ctxrnn import molap, tasks

    model, card = ctxrnn.load("molap_core")
    kernel, bias = molap.core_weights(model)
    heads = molap.train_heads(kernel, [tasks.make("delay_pro")], recurrent_bias=bias)
    ```
    """
    core = find_ctrnn(model)
    kernel = keras.ops.convert_to_numpy(core.effective_recurrent_kernel)
    bias = None if core.cell.bias is None else keras.ops.convert_to_numpy(core.cell.bias)
    return kernel, bias


def task_model(model: keras.Model, layout: HeadLayout, name: str) -> keras.Model:
    """Cuts one task's head out of a multi-head model.

    Args:
        model: a model from `build_network` (trained or not).
        layout: its `HeadLayout`.
        name: the task.

    Returns:
        A new `Input -> CTRNN -> Dense` model for that task alone, with the
        task's input rows, the shared recurrent kernel, the task's readout
        columns (and its initial state). A head's input bias (`input_bias`
        layouts) becomes the layer's bias (added to the core's own bias, if
        any), so the model takes the task's own channels. Noise settings are kept; the recurrent kernel is frozen.
    """
    index = layout.index(name)
    core = find_ctrnn(model)
    readout = model.get_layer("readout")
    config = core.get_config()
    for key in ("name", "trainable", "dtype"):
        config.pop(key, None)
    h0 = None
    if any(layer.name == "initial_states" for layer in model.layers):
        h0 = keras.ops.convert_to_numpy(model.get_layer("initial_states").kernel)[index]
    config["initial_state_trainable"] = h0 is not None
    # the head's bias row becomes (part of) the layer's bias
    config["use_bias"] = layout.input_bias or core.cell.bias is not None
    config["frozen"] = [name for name in config.get("frozen", ()) if name != "bias"]
    inputs = keras.Input((None, layout.n_inputs[index]), name="inputs")
    layer = CTRNN(name="ctrnn", **config)
    head = keras.layers.Dense(layout.n_outputs[index], name="readout")
    single = keras.Model(inputs, head(layer(inputs)), name=f"{model.name}_{name}")
    rows = keras.ops.convert_to_numpy(core.kernel)[layout.input_slice(index)]
    bias = np.zeros(core.units, np.float32)
    if core.cell.bias is not None:
        bias = bias + keras.ops.convert_to_numpy(core.cell.bias)
    if layout.input_bias:
        rows, bias = rows[:-1], bias + rows[-1]
    if config["use_bias"]:
        layer.cell.bias.assign(bias)
    layer.cell.kernel.assign(rows)
    layer.cell.recurrent_kernel.assign(keras.ops.convert_to_numpy(core.effective_recurrent_kernel))
    if h0 is not None:
        layer.cell.initial_state.assign(h0)
    layer.set_masks(recurrent_plasticity=np.zeros((core.units, core.units), np.float32))
    columns = layout.output_slice(index)
    head.kernel.assign(keras.ops.convert_to_numpy(readout.kernel)[:, columns])
    head.bias.assign(keras.ops.convert_to_numpy(readout.bias)[columns])
    return single
