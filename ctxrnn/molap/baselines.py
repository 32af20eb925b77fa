"""The comparisons of MoLaP's Fig. 2 and Table 1.

- `train_separate`: one fully trained network (W_in, W_rec, readout) per task,
  N = 100, 10 stages of 200 iterations at a constant 1e-3 with the response
  weighted 5x in the loss, a stalled network trained again (`separate_config`).
  The paper's settings (3e-3, 5 x 200, plain MSE: `separate_paper_config`)
  leave most decision-task networks at the stimulus-blind answer
  (experiments/RESULTS_molap.md);
  `separate_reference_config` is the reference code's budget.
- `train_dni_style`: one shared network of N = 200 with task-specific inputs and
  readouts, every weight trained (lr 3e-3). Duncker et al.'s dynamical
  non-interference learns the tasks one after another and projects each new
  task's W_rec updates away from the subspaces earlier tasks use; this baseline
  keeps the shared-network-plus-heads architecture and the full plasticity but
  trains the tasks jointly (every batch mixes all tasks), which needs no
  projection and is the interference-free upper bound of sequential training.
- `train_dni`: Duncker et al.'s continual learning with projected gradients
  (tasks one after another, each update projected away from the activity
  subspace of the earlier tasks): the pipeline's `dni` approach by default
  (`PipelineConfig.dni_method="projected"`; `"joint"` runs `train_dni_style`).
  Where it differs from the reference implementations (read 2026-12-07:
  Duncker et al.'s LDlabs/seqMultiTaskRNN and MoLaP's dashirn/MoLaP
  `train_DNI_method`): each task has its own input rows and readout columns,
  where both references share the stimulus inputs and the three outputs across
  tasks (LDlabs adds one-hot rule inputs; MoLaP's DNI has none) and therefore
  also project the readout update; a later task here never moves an earlier
  readout. `W_rec`'s update is projected on both sides by the hidden-state
  covariance, where both references project the joint `[W_in; W_rec]` update
  by the input-and-state covariance on the left and the recurrent drive's
  covariance on the right. A task's own input rows are not projected: they
  carry only its channels, so they cannot move an earlier task's activity,
  and left free they let a later task feed the state directions the earlier
  ones built (projecting them, `project_inputs=True`, ctxrnn's rule before
  2026-12-07, left the last tasks at 65-92 %). The covariances are
  averaged over tasks, as both references do (`covariances="sum"`, ctxrnn's
  earlier rule, projects far harder: after the four Pro/Anti tasks of a
  g = 1.3 network it leaves ~5 of 200 directions free against ~18 for the
  mean; experiments/RESULTS_molap.md). The update is projected after Adam, as
  LDlabs does (MoLaP projects the gradient before Adam). MoLaP trains one
  shared, unprojected `h0` from N(0, 1), which later tasks move; ctxrnn's DNI
  gives each task its own (a head parameter). Both references train a fixed
  budget per task (LDlabs checks a target every 1000 steps, but its target 1.0
  with a strict `>` never fires); `stop_at` here ends a task early once its
  validation accuracy reaches it.
- The no-pre-training control of Fig. 2 is `train_heads` on the random initial
  kernel; the PCA control is `pretrain_modules` with `method="pca"`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np

from ctxrnn import seeding
from ctxrnn.checks import positive_int, unit_fraction
from ctxrnn.molap import network as net
from ctxrnn.molap.training import (HeadConfig, HeadsResult, evaluate, fit_multihead,
                                   train_with_restarts)

SEPARATE_UNITS = 100
DNI_UNITS = 200
BASELINE_LEARNING_RATE = 3e-3  # paper A.2.3
SEPARATE_LEARNING_RATE = 1e-3
SEPARATE_STAGES = 10
SEPARATE_RESTARTS = 2


def separate_config(**overrides) -> HeadConfig:
    """ctxrnn's separate networks: batch 200, 10 stages of 200 iterations at a
    constant 1e-3, the response weighted 5x (`HeadConfig.response_weight`), and
    up to `SEPARATE_RESTARTS` restarts of a network below 90 % on validation
    trials.

    Measured over five seeds (experiments/RESULTS_molap.md, "the stall was the loss"):
    with the paper's 3e-3 or the plain MSE most decision-task networks stall at
    the stimulus-blind answer; with both changes and 2000 iterations 33 of 35
    memory-task networks reach >= 90 %, and the other two stall: a fully
    trained baseline should do its task, so a stalled network is trained again.
    """
    base = HeadConfig(learning_rate=SEPARATE_LEARNING_RATE, stages=SEPARATE_STAGES,
                      restarts=SEPARATE_RESTARTS)
    return dataclasses.replace(base, **overrides)


def separate_paper_config(**overrides) -> HeadConfig:
    """The paper's settings of the separate networks (A.2.3): a constant 3e-3,
    5 stages of 200 iterations, batch 200, the reference code's plain MSE, each
    network trained once."""
    return separate_config(**{"learning_rate": BASELINE_LEARNING_RATE, "stages": 5,
                              "response_weight": 1.0, "restarts": 0, **overrides})


#: N and start gain of the reference code's separate networks.
SEPARATE_REFERENCE_UNITS = 200
SEPARATE_REFERENCE_GAIN = 1.5


def separate_reference_config(**overrides) -> HeadConfig:
    """The reference code's separate-network budget: batch 500, 9 x 500 iterations
    at a constant 3e-3 (train with `units=SEPARATE_REFERENCE_UNITS`,
    `gain=SEPARATE_REFERENCE_GAIN`), each network trained once. The loss weight
    is `HeadConfig`'s unless overridden (`response_weight=1.0`: the reference's
    plain MSE)."""
    return separate_config(**{"batch_size": 500, "iterations": 500, "stages": 9,
                              "learning_rate": BASELINE_LEARNING_RATE, "restarts": 0,
                              **overrides})


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
                      iterations=200, restarts=0)
    return dataclasses.replace(base, **overrides)


def train_separate(tasks: Sequence, names: Sequence[str] | None = None, *,
                   units: int = SEPARATE_UNITS, config: HeadConfig | None = None,
                   gain: float = net.GAIN, seed: int = 0, first_index: int = 0,
                   progress: Callable[[str], None] | None = None) -> list[HeadsResult]:
    """Trains one fully plastic network per task.

    With `config.restarts > 0` a network whose accuracy on fresh validation
    trials stays below `config.restart_below` (a stall at the stimulus-blind
    answer) is trained again from new weights and trials, at most
    `config.restarts` times, and the one with the best validation accuracy is
    kept (`HeadsResult.attempts` says how many trainings it took).

    Args:
        tasks: task objects.
        names: task names (default: each task's `name`).
        units: N of each network. Default: `100`.
        config: `HeadConfig`; default `separate_config()`.
        gain: g of the random initial kernels. Default: `1.5`.
        seed: int; network `j` uses the `ctxrnn.seeding` stream `("baselines", first_index + j)`
            (its restarts and validation trials further keys of it).
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
        single, name = layout.single(index), layout.names[index]
        number = first_index + index

        def attempt(restart, single=single, task=task, number=number, name=name):
            # attempt 0 keeps the seeds of a network trained without restarts
            keys = (number,) if restart == 0 else (number, 2, restart)
            model = net.build_network(single, units, train_recurrent=True, gain=gain,
                                      l2=config.l2, activity_l2=config.activity_l2,
                                      seed=seeding.derive(seed, "baselines", *keys),
                                      name=f"separate_{name}")
            return fit_multihead(model, [task], single, config,
                                 seed=seeding.derive(seed, "baselines", *keys, 1),
                                 progress=progress, label=f"separate {name}")

        def validate(result, single=single, task=task, number=number, name=name):
            return evaluate(result.model, [task], single, n_trials=config.validation_trials,
                            seed=seeding.derive(seed, "baselines", number, 3),
                            rescale=config.rescale)[name]

        results.append(train_with_restarts(attempt, validate, config, label=f"separate {name}",
                                           progress=progress))
    return results


def train_dni_style(tasks: Sequence, names: Sequence[str] | None = None, *,
                    units: int = DNI_UNITS, gain: float = net.GAIN,
                    config: HeadConfig | None = None, seed: int = 0,
                    progress: Callable[[str], None] | None = None) -> HeadsResult:
    """Trains one shared, fully plastic network with a head per task (jointly).

    Args:
        tasks: task objects.
        names: task names.
        units: N. Default: `200`.
        gain: g of the random initial kernel. Default: `1.5`.
        config: `HeadConfig`; default `dni_config(len(tasks))`.
        seed: int.
        progress: optional callable receiving progress lines.

    Returns:
        A `HeadsResult`.
    """
    config = config or dni_config(len(tasks))
    layout = net.HeadLayout.from_tasks(tasks, names, input_bias=config.input_bias)
    model = net.build_network(layout, units, train_recurrent=True, gain=gain, l2=config.l2,
                              activity_l2=config.activity_l2, seed=seed, name="dni_style")
    return fit_multihead(model, tasks, layout, config, seed=seeding.derive(seed, "dni"), progress=progress,
                         label="dni-style")


#: The reference code's DNI network: N, start gain and per-task budget.
DNI_REFERENCE = {"units": 200, "gain": 1.3, "batch_size": 400, "iterations_per_task": 3600}
#: How the pipeline's `dni` approach trains (`PipelineConfig.dni_method`).
DNI_METHODS = ("projected", "joint")
#: How `train_dni` combines the earlier tasks' covariances (`covariances`).
DNI_COVARIANCES = ("mean", "sum")


#: Validation accuracy at which the pipeline's projected DNI ends a task early.
DNI_STOP_AT = 0.95


def dni_projected_config(**overrides) -> HeadConfig:
    """Settings of `train_dni`: per task at most the reference code's 3600
    iterations (8 x 450) of 200 trials at a constant 5e-4, each task with its
    own trainable initial state from h0 ~ N(0, 1), and a task below 90 % on
    validation after its budget trained once more (`restarts=1`). With the
    pipeline's `dni_stop_at` (`DNI_STOP_AT`) a task ends once it validates.
    No least-squares readout (it would refit the earlier tasks' readouts too).

    Measured (experiments/RESULTS_molap.md, "DNI learns its DM tasks"): the
    previous 2 x 200 iterations at 1e-3 without initial states left the five
    DM tasks at 54-71 %; trained alone, Mem DM1 stalls at 3 of 4 seeds without
    the initial state, 2 of 4 with it, 1 of 4 with it at 5e-4 (the reference
    code's DNI also trains an h0 from N(0, 1)). In the sequence, with the
    input rows unprojected (`train_dni`'s default), every task validates at
    >= 90 % within its budget at 5 of 5 seeds (3 of 45 after a second
    training), the DM tasks mostly after 1000-3000 iterations."""
    base = HeadConfig(learning_rate=5e-4, iterations=450, stages=8, solve_readout=False,
                      restarts=1, per_task_initial_state=True, initial_state_std=1.0)
    return dataclasses.replace(base, **overrides)


def dni_reference_config(**overrides) -> HeadConfig:
    """The reference code's DNI budget (`DNI_REFERENCE`): per task 3600 iterations
    of 400 trials at a constant 1e-3 (train with N = 200, g = 1.3), each task
    trained once."""
    return dni_projected_config(**{"batch_size": DNI_REFERENCE["batch_size"],
                                   "iterations": DNI_REFERENCE["iterations_per_task"],
                                   "stages": 1, "learning_rate": 1e-3, "restarts": 0,
                                   **overrides})


def _only(batches, index):
    """Task `index`'s batch, the others emptied (a stacked batch of one task)."""
    def empty(batch):
        fields = {"inputs": batch.inputs[:0], "targets": batch.targets[:0]}
        for name in ("loss_mask", "decision_mask"):
            value = getattr(batch, name, None)
            if value is not None and np.ndim(value) == 3:  # per-trial masks
                fields[name] = np.asarray(value)[:0]
        return dataclasses.replace(batch, **fields)
    return [batch if i == index else empty(batch) for i, batch in enumerate(batches)]


def _soft_projection(covariance: np.ndarray, alpha: float) -> np.ndarray:
    """`alpha (C + alpha I)^-1`: ~0 along directions of high variance in `C`, ~1
    along unused ones (Duncker et al. 2020, eq. 8)."""
    units = covariance.shape[0]
    return (alpha * np.linalg.inv(covariance + alpha * np.eye(units))).astype(np.float32)


def _task_batch(tasks, layout, index, n_trials, seed):
    """`n_trials` trials of task `index` alone, stacked for the multi-head
    layout (the other tasks empty); returns `(batches, stacked)`."""
    batches = [task.generate(n_trials if i == index else 1, seed=seed)
               for i, task in enumerate(tasks)]
    return batches, layout.stack(_only(batches, index))


def _task_accuracy(model, tasks, layout, index, n_trials, seed):
    """Task `index`'s accuracy on `n_trials` fresh trials (the other heads idle)."""
    from ctxrnn.metrics import score_trials

    batches, stacked = _task_batch(tasks, layout, index, n_trials, seed)
    outputs = model.predict(net.task_inputs(model, stacked), batch_size=1000, verbose=0)
    return float(np.mean(score_trials(layout.split_outputs(outputs, stacked)[index],
                                      batches[index], tasks[index])))


def train_dni(tasks: Sequence, names: Sequence[str] | None = None, *,
              units: int = DNI_UNITS, gain: float = net.GAIN,
              config: HeadConfig | None = None, alpha: float = 1e-3,
              covariance_trials: int = 200, project: bool = True,
              covariances: str = "mean", project_inputs: bool = False,
              stop_at: float | None = None, check_every: int = 500, seed: int = 0,
              progress: Callable[[str], None] | None = None) -> HeadsResult:
    """Continual learning with projected gradients (Duncker et al. 2020, "DNI").

    One shared, fully plastic network with a head per task learns the tasks
    one after another. After each task the covariance of its hidden states
    (`covariance_trials` trials, all steps) enters `C`, the mean of the
    tasks' covariances so far (`covariances="sum"`: their sum);
    every later update `D` of `W_rec` (the optimizer's step, after Adam's
    per-entry scaling) is projected as `P D P`, with
    `P = alpha (C + alpha I)^-1`, so it avoids the activity subspace the
    earlier tasks use (their inputs to `W_rec` and the units their recurrent
    drive reaches are both those states); with `project_inputs` the task's
    input-row update is projected as `D P` too. A head is
    the task's input rows, readout columns and, with
    `config.per_task_initial_state` (the default), its own trainable initial
    state; earlier heads receive no gradient from later tasks.

    With `config.restarts > 0` a task whose accuracy on
    `config.validation_trials` fresh trials stays below `config.restart_below`
    after its training (a stall at the stimulus-blind answer) is trained
    again from the weights it started from, with a new head and new trials
    (the first task, which nothing constrains yet, from a new network), at
    most `config.restarts` times; the training with the best validation
    accuracy is kept. The projection is the same for every attempt, so the
    earlier tasks stay protected.

    With `stop_at` a task's training ends as soon as its validation accuracy,
    checked every `check_every` iterations, reaches `stop_at`, as Duncker et
    al.'s code trains each task until a performance target
    (LDlabs/seqMultiTaskRNN, `train.py`); `config.total_iterations` is then
    the most a training may take.

    Args:
        tasks: task objects, trained in this order.
        names: task names (default: each task's `name`).
        units: N. Default: `200`.
        gain: g of the random initial kernel. Default: `1.5`.
        config: `HeadConfig` of each task's training; default
            `dni_projected_config()`. `config.total_iterations` is per task.
        alpha: float > 0, softness of the projection. Default: `1e-3`.
        covariance_trials: int, trials per task of the covariance estimate.
        covariances: `"mean"` (default, the reference implementations' running
            mean) or `"sum"` (ctxrnn's rule before 2026-12-07, a harder
            projection).
        project: bool, `False` trains the same sequence without projection
            (the interference control). Default: `True`.
        project_inputs: bool, project the task's input-row updates too (`D P`),
            as the references project their shared input kernel. Here a task's
            input rows carry only that task's channels, zero on every other
            task's trials, so moving them cannot change an earlier task's
            activity: `False` keeps the protection exact and lets a later
            task drive the state directions the earlier tasks use (the nine
            MoLaP tasks: >= 90 % on every task at 5 of 5 seeds, worst 90.7 %,
            against 0 of 3 seeds, worst 65.4 %, with the input projection;
            experiments/RESULTS_molap.md). Default: `False`.
        stop_at: optional float in (0, 1], the validation accuracy that ends a
            task's training early. Default: `None` (the whole schedule).
        check_every: int, iterations between those checks. Default: `500`.
        seed: int, seed of weights, noise and trials.
        progress: optional callable receiving progress lines.

    Returns:
        A `HeadsResult` (`iterations`: all tasks together, kept trainings;
        `task_losses[i, j]`: task `j`'s loss after training task `i`, on fixed
        trials, for `j <= i`; with restarts `task_attempts`: trainings per
        task; `task_iterations`: the kept training's iterations per task;
        `task_free_directions`: the trace of the projection after each task,
        how many of the N state directions the later tasks may still use).

    Example:

    ```python
    result = train_dni(tasks, names, config=dni_projected_config(iterations=50))
    accuracy = ctxrnn.molap.training.evaluate(result.model, tasks, result.layout)
    ```
    """
    import tensorflow as tf

    from ctxrnn.layers import find_ctrnn, hidden_states
    from ctxrnn.molap.training import _adam, _schedule, copy_head, weight_response

    if not alpha > 0:
        raise ValueError(f"Argument `alpha` must be > 0; received alpha={alpha!r}.")
    if config is not None and config.rescale is not None:
        raise ValueError(f"`train_dni` trains on unrescaled trials; received a config with "
                         f"rescale={config.rescale!r}, expected None.")
    positive_int("covariance_trials", covariance_trials)
    if covariances not in DNI_COVARIANCES:
        raise ValueError(f"Argument `covariances` must be one of {list(DNI_COVARIANCES)}; "
                         f"received covariances={covariances!r}.")
    positive_int("check_every", check_every)
    unit_fraction("stop_at", stop_at, allow_none=True)
    config = config or dni_projected_config()
    say = progress or (lambda message: None)
    layout = net.HeadLayout.from_tasks(tasks, names, input_bias=config.input_bias)

    def build(network_seed):
        return net.build_network(layout, units, train_recurrent=True, gain=gain, l2=config.l2,
                                 activity_l2=config.activity_l2, seed=network_seed, name="dni",
                                 per_task_initial_state=config.per_task_initial_state,
                                 initial_state_std=config.initial_state_std)

    model = build(seed)
    core = find_ctrnn(model)
    recurrent, kernel = core.cell.recurrent_kernel, core.cell.kernel
    weights = model.trainable_weights
    readout = model.get_layer("readout")
    initial_states = (model.get_layer("initial_states").kernel
                      if config.per_task_initial_state else None)
    head_masks = []
    for index in range(len(tasks)):
        rows = np.zeros((layout.total_inputs, 1), np.float32)
        rows[layout.input_slice(index)] = 1.0
        columns = np.zeros(layout.total_outputs, np.float32)
        columns[layout.output_slice(index)] = 1.0
        head_masks.append({id(kernel): rows, id(readout.kernel): columns[None, :],
                           id(readout.bias): columns})
        if initial_states is not None:
            own = np.zeros((len(tasks), 1), np.float32)
            own[index] = 1.0
            head_masks[-1][id(initial_states)] = own
    probe = layout.stack([t.generate(covariance_trials, seed=seeding.derive(seed, "dni", 0)) for t in tasks])
    task_losses = np.full((len(tasks), len(tasks)), np.nan)
    covariance = np.zeros((units, units), np.float64)
    projection = tf.constant(np.eye(units, dtype=np.float32))
    schedule = _schedule(config)
    losses, attempts, iterations, start = [], {}, {}, time.perf_counter()
    free_directions = {}

    def validate(index):
        return _task_accuracy(model, tasks, layout, index, config.validation_trials,
                              seeding.derive(seed, "dni", 4, index))

    def train_task(index, attempt):
        # attempt 0 keeps the trials of a sequence trained without restarts
        keys = (index,) if attempt == 0 else (index, attempt)
        optimizer = _adam(schedule[0], config.clipnorm)
        optimizer.build(weights)
        masks = [head_masks[index].get(id(w)) for w in weights]
        projected = project and index > 0

        @tf.function(reduce_retracing=True)
        def step(inputs, targets, rate):
            optimizer.learning_rate.assign(rate)
            with tf.GradientTape() as tape:
                outputs = model(inputs, training=True)
                loss = net.masked_mse(targets, outputs) + sum(model.losses)
            # only this task's head learns: the L2 term would otherwise move the
            # earlier heads, by full Adam steps
            grads = [g if mask is None else g * mask
                     for g, mask in zip(tape.gradient(loss, weights), masks)]
            before = (tf.identity(recurrent), tf.identity(kernel))
            optimizer.apply_gradients(zip(grads, weights))
            if projected:
                # Adam rescales every entry, which would undo a projection of the
                # gradient: project the update itself
                recurrent.assign(before[0] + projection @ (recurrent - before[0]) @ projection)
                if project_inputs:
                    kernel.assign(before[1] + (kernel - before[1]) @ projection)
            return loss

        run = []
        for number, rate in enumerate(schedule):
            stacked = layout.stack(_only(
                [weight_response(t.generate(config.batch_size if i == index else 1,
                                            seed=seeding.derive(seed, "dni", 1, *keys, number)),
                                 t, config.response_weight)
                 for i, t in enumerate(tasks)], index))
            loss = float(step(net.task_inputs(model, stacked), stacked.packed_targets, rate))
            run.append(loss)
            if (number + 1) % max(1, len(schedule) // 2) == 0:
                say(f"dni {layout.names[index]}: iteration {number + 1}/{len(schedule)} "
                    f"loss {loss:.4f}")
            if (stop_at is not None and (number + 1) % check_every == 0
                    and number + 1 < len(schedule)):
                accuracy = validate(index)
                if accuracy >= stop_at:
                    say(f"dni {layout.names[index]}: validation accuracy {accuracy:.3f} >= "
                        f"{stop_at} at iteration {number + 1}, next task")
                    return run, accuracy
        return run, None

    for index, task in enumerate(tasks):
        name = layout.names[index]
        start_weights, best = model.get_weights(), None
        for attempt in range(config.restarts + 1):
            if attempt:
                fresh = build(seeding.derive(seed, "dni", 3, index, attempt))
                model.set_weights(fresh.get_weights() if index == 0 else start_weights)
                if index > 0:
                    copy_head(fresh, layout, index, model, layout, index)
            run, accuracy = train_task(index, attempt)
            if config.restarts == 0:
                best = (None, None, run)
                break
            if accuracy is None:
                accuracy = validate(index)
            if best is None or accuracy > best[0]:
                best = (accuracy, model.get_weights(), run)
            attempts[name] = attempt + 1
            if accuracy >= config.restart_below:
                break
            if attempt < config.restarts:
                say(f"dni {name}: validation accuracy {accuracy:.3f} < {config.restart_below}, "
                    f"training it again (restart {attempt + 1} of {config.restarts})")
        if best[1] is not None:
            model.set_weights(best[1])
        losses.extend(best[2])
        iterations[name] = len(best[2])
        outputs = model.predict(net.task_inputs(model, probe), verbose=0, batch_size=1000)
        for earlier in range(index + 1):
            rows = probe.rows(earlier)
            task_losses[index, earlier] = float(net.masked_mse(
                probe.packed_targets[rows], outputs[rows]))
        _, sample = _task_batch(tasks, layout, index, covariance_trials,
                                seeding.derive(seed, "dni", 2, index))
        states = hidden_states(model, net.task_inputs(model, sample)).reshape(-1, units)
        covariance += states.T @ states / len(states)
        combined = covariance / (index + 1) if covariances == "mean" else covariance
        soft = _soft_projection(combined, alpha)
        free_directions[name] = float(np.trace(soft))
        projection = tf.constant(soft)
    trainable = int(sum(np.prod(w.shape) for w in weights))
    return HeadsResult(model, layout, losses, time.perf_counter() - start, trainable,
                       len(losses), task_losses=task_losses, task_attempts=attempts or None,
                       task_iterations=iterations, task_free_directions=free_directions)
