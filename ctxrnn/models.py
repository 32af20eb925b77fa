"""Model builders: a context multitask network sized for a `TaskSuite`."""

from __future__ import annotations

from typing import Any

import keras

from ctxrnn.layers import CTRNN

# Defaults after Jarne's context-multitask setting: orthogonal initial W_rec,
# noisy inputs, an adaptive (Adam) optimiser. tau is a few Euler steps so the
# continuous-time dynamics are resolved while trials stay short.
DEFAULT_UNITS = 100
DEFAULT_TAU_STEPS = 2.0  # tau = 2 dt unless given
DEFAULT_INPUT_NOISE = 0.01
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_CLIPNORM = 1.0


def context_multitask(suite, units: int = DEFAULT_UNITS, *, tau: float | None = None,
                      name: str = "context_multitask", **cell_options: Any) -> keras.Model:
    """Builds an uncompiled `Input -> CTRNN -> Dense readout` model for a suite.

    The input width, output width and `dt` come from the suite; the context
    channels are ordinary inputs. The CTRNN layer is named `"ctrnn"` and the
    readout `"readout"`.

    Args:
        suite: a `ctxrnn.tasks.TaskSuite` (anything with `n_inputs`,
            `n_outputs` and `dt`).
        units: int, number of recurrent units. Default: `100`.
        tau: float, time constant in ms. Default: `2 * suite.dt`.
        name: model name.
        **cell_options: any `CTRNNCell` argument (`recurrent_noise`,
            `activation`, `seed`, masks, `rank`, ...). Defaults: the cell's
            `recurrent_initializer` (orthogonal; N(0, 1) loadings with
            `rank`), `input_noise=0.01`.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, time, suite.n_inputs)` to
        `(batch, time, suite.n_outputs)`.

    Example:

    ```python
    suite = ctxrnn.tasks.TaskSuite(["and", "or", "xor"], dt=5.0)
    model = context_multitask(suite, units=100, seed=0)
    compile_model(model)
    model.fit(suite.dataset(batch_size=64, steps_per_epoch=50, seed=0), epochs=10)
    ```
    """
    dt = float(suite.dt)
    options = {"input_noise": DEFAULT_INPUT_NOISE, **cell_options}
    inputs = keras.Input((None, suite.n_inputs), name="inputs")
    states = CTRNN(units, dt=dt, tau=DEFAULT_TAU_STEPS * dt if tau is None else tau,
                   name="ctrnn", **options)(inputs)
    outputs = keras.layers.Dense(suite.n_outputs, name="readout")(states)
    return keras.Model(inputs, outputs, name=name)


def compile_model(model: keras.Model, learning_rate: float = DEFAULT_LEARNING_RATE,
                  metrics=None, *, global_clipnorm: float | None = None,
                  **compile_options: Any) -> keras.Model:
    """Compiles with Adam (clipnorm 1), masked MSE and decision accuracy.

    Args:
        model: the model to compile (in place).
        learning_rate: Adam's learning rate. Default: `1e-3`.
        metrics: metrics list; default `[DecisionAccuracy()]`.
        global_clipnorm: clip the norm of all gradients together at this value
            (PyTorch's `clip_grad_norm_`) instead of each variable's at 1.
            Default: `None` (per-variable clipnorm 1).
        **compile_options: passed to `model.compile`.

    Returns:
        The same model, compiled.
    """
    from ctxrnn.losses import MaskedMSE
    from ctxrnn.metrics import DecisionAccuracy

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, **(
            {"clipnorm": DEFAULT_CLIPNORM} if global_clipnorm is None
            else {"global_clipnorm": global_clipnorm})),
        loss=MaskedMSE(),
        metrics=[DecisionAccuracy()] if metrics is None else metrics,
        **compile_options,
    )
    build_optimizer(model)
    return model


def build_optimizer(model: keras.Model) -> None:
    """Creates the optimizer's slot variables now, for the model's trainable weights.

    Keras' TensorFlow trainer (without a distribution strategy) creates them
    inside the first trace of the train step, and `tf.function` then traces the
    whole step a second time (variables may only be created on a first trace).
    Building them beforehand halves the first `fit` call's tracing (20 stacked
    networks of N = 100: 3.6 s -> 2.5 s). Keras itself does the same when a
    distribution strategy is set. Does nothing for an unbuilt or uncompiled
    model, or an optimizer already built.

    Args:
        model: a compiled Keras model.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built and model.built:
        optimizer.build(model.trainable_variables)
