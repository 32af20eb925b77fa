"""Training the population statistics themselves (Dubreuil, Valente et al. 2022).

`ctxrnn.analysis.populations` resamples networks from the Gaussian statistics
of a trained network's populations. For the delayed match-to-sample network the
reference code does one more step before it scores its two-population
resamples (`figures_notebooks/extended_figs6-9_dms.ipynb`, `to_support_net` and
`train(..., resample=True)`): it trains the statistics. Every unit `i` of
population `k` has the loading vector

    x_i = mu_k + F_k z_i,        z_i ~ N(0, I), redrawn at every step,

and gradient descent on the task loss moves each population's covariance factor
`F_k` (covariance `F_k F_k^T`; the means stay at 0, as in the reference, unless
asked for), not the units' loadings: the optimum is a *distribution* of networks
that do the task, which is what the functional criterion then samples from.

Here the gradient is exact and cheap: `x` is linear in `(mu, F)` for a fixed
draw `z`, so the loss gradient with respect to the loadings (the network's own
weights: `m`, `n`, the input kernel, the readout and the bias, one
backpropagation through the ordinary `CTRNN`) maps back by
`dL/dmu_k = sum_i dL/dx_i` and `dL/dF_k = sum_i dL/dx_i z_i^T` over the units
of population `k`. No second implementation of the dynamics is needed.

Measured on DMS (`experiments/RESULTS_populations.md`): trained statistics lift
two-population resamples from 0.57 to 0.87 (3 seeds).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from ctxrnn.analysis.populations import (DEFAULT_THRESHOLD, Loadings, NetworkBuilder,
                                         Populations, _factor, _mixture_seed,
                                         _population_sizes, _seed_sequence,
                                         condition_accuracy, curve_row, fit_populations,
                                         resampled_scores, smallest_reaching)
from ctxrnn.checks import positive_int
from ctxrnn.layers import find_ctrnn
from ctxrnn.losses import MaskedMSE
from ctxrnn.tasks.datasets import check_batch_size


@dataclasses.dataclass
class StatisticsFit:
    """The result of `fit_statistics`.

    Attributes:
        populations: the trained statistics as a `Populations` (the original
            labels and counts; `covariances = F F^T` trained, `means` 0 unless
            trained), for `resampled_accuracy(..., take_means=fit.take_means)`.
        factors: `(K, D, D)` trained covariance factors `F_k`.
        losses: the training loss of every step.
        take_means: whether the means were trained (resample around them).
        seconds: wall time.
    """

    populations: Populations
    factors: np.ndarray
    losses: list[float]
    take_means: bool
    seconds: float


def _column_blocks(template: Loadings) -> list[tuple[str, list[int]]]:
    """The loading columns of each weight the builder writes, in template order."""
    names = template.names
    blocks = [("m", [names.index(f"m{r + 1}") for r in range(template.rank)]),
              ("n", [names.index(f"n{r + 1}") for r in range(template.rank)]),
              ("in", [i for i, name in enumerate(names) if name.startswith("in:")]),
              ("out", [i for i, name in enumerate(names) if name.startswith("out:")])]
    if template.has_bias:
        blocks.append(("bias", [names.index("bias")]))
    return blocks


def _as_columns(kind: str, grad, units: int):
    """A weight's gradient as `(N, k)` loading columns: `m`, `n`, `bias` are stored per
    unit, the input kernel as `(k, N)`, the readout kernel as `out / N`."""
    from keras import ops

    if kind == "in":
        return ops.transpose(grad)
    if kind == "out":  # kernel = out / N, so dL/d(out) = dL/d(kernel) / N
        return grad / units
    if kind == "bias":
        return grad[:, None]
    return grad


class _LoadingGradient:
    """Loss and its gradient with respect to the loading vectors of one built network."""

    def __init__(self, network: keras.Model, template: Loadings):
        import tensorflow as tf

        cell = find_ctrnn(network).cell
        readout = network.get_layer("readout")
        if cell.rank is None:
            raise ValueError("fit_statistics needs a low-rank network (CTRNN(rank=R)); "
                             "received a full-rank one.")
        units = int(cell.units)
        self.blocks = _column_blocks(template)
        weights = {"m": cell.recurrent_m, "n": cell.recurrent_n, "in": cell.kernel,
                   "out": readout.kernel, "bias": cell.bias}
        variables = [weights[kind] for kind, _ in self.blocks]
        order = np.argsort(np.concatenate([columns for _, columns in self.blocks]))
        loss_fn = MaskedMSE()

        @tf.function(reduce_retracing=True)
        def step(inputs, targets, mask):
            with tf.GradientTape() as tape:
                outputs = network(inputs, training=True)
                loss = loss_fn(targets, outputs, sample_weight=mask)
            grads = tape.gradient(loss, variables)
            blocks = [_as_columns(kind, tf.convert_to_tensor(g), units)
                      for (kind, _), g in zip(self.blocks, grads)]
            return loss, tf.gather(tf.concat(blocks, axis=1), order, axis=1)

        self.step = step


def fit_statistics(model: keras.Model, populations: Populations, template: Loadings, task, *,
                   steps: int = 600, batch_size: int = 64, learning_rate: float = 1e-4,
                   new_size: int | None = None, train_means: bool = False, seed=0,
                   progress: Callable[[str], None] | None = None) -> StatisticsFit:
    """Trains each population's covariance factor (and mean) on the task loss.

    Every step draws a new network from the current statistics (the same
    population sizes every step, fresh `z`), backpropagates the masked MSE of
    one batch of trials through it (recurrent noise on, as in training), and
    takes an Adam step on the statistics (the reference: Adam, lr 1e-4).

    Args:
        model: the trained low-rank `Input -> CTRNN -> Dense` model the
            populations came from (architecture, noise, readout bias).
        populations: its fitted `Populations` (`fit_populations`), the start.
        template: the `Loadings` they were fitted on (column layout).
        task: a `Task` or `TaskSuite` (anything whose `generate(batch_size,
            seed=...)` returns a `TrialBatch`): the training trials.
        steps: optimizer steps. Default: `600`.
        batch_size: trials per step. Default: `64`.
        learning_rate: Adam's rate. Default: `1e-4` (the reference's).
        new_size: units of the networks drawn while training. Default: the
            trained N.
        train_means: also train the means (start: the fitted means). Default:
            `False`, the reference's (`to_support_net(net, z)` builds a
            `SupportLowRankRNN` with zero, untrained means: each population
            is a zero-mean Gaussian and only its covariance is trained).
            Trained means make one population more capable (on DMS they can
            be enough: `experiments/RESULTS_populations.md`).
        seed: int or `numpy.random.SeedSequence`: the draws of `z` and trials.
        progress: optional callable receiving a line every 10 % of the steps.

    Returns:
        A `StatisticsFit`.

    Example:

    ```python
    template = loadings(model)
    two = fit_populations(template, 2)
    fit = fit_statistics(model, two, template, suite, steps=600)
    resampled_accuracy(model, fit.populations, batch, suite.correct, template=template,
                       take_means=fit.take_means)
    ```
    """
    positive_int("steps", steps)
    check_batch_size(batch_size)
    if not learning_rate > 0:
        raise ValueError(f"Argument `learning_rate` must be > 0; received {learning_rate!r}.")
    dim = len(template.names)
    if populations.means.shape[1] != dim:
        raise ValueError(f"Argument `populations` has {populations.means.shape[1]} loading "
                         f"columns but `template` has {dim} ({template.names}).")
    generate = getattr(task, "generate", None)
    if generate is None:
        raise ValueError(f"Argument `task` must have `generate(n, seed=...)`; received "
                         f"{type(task).__name__}.")
    start = time.perf_counter()
    size = template.units if new_size is None else int(new_size)
    sizes = _population_sizes(populations.counts, size)
    labels = np.repeat(np.arange(populations.n_populations), sizes)
    members = [labels == k for k in range(populations.n_populations)]
    builder = NetworkBuilder(model, template)
    network = builder.build(np.zeros((size, dim)))
    gradient = _LoadingGradient(network, template)

    means = keras.Variable(populations.means if train_means
                           else np.zeros_like(populations.means), dtype="float32", name="means")
    factors = keras.Variable(np.stack([_factor(c) for c in populations.covariances]),
                             dtype="float32", name="factors")
    trained = [means, factors] if train_means else [factors]
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(trained)
    z_seed, trial_seed = _seed_sequence(seed).spawn(2)
    rng = np.random.default_rng(z_seed)
    trial_seeds = trial_seed.spawn(int(steps))
    losses = []
    for index in range(int(steps)):
        mu, factor = keras.ops.convert_to_numpy(means), keras.ops.convert_to_numpy(factors)
        z = rng.standard_normal((size, dim))
        vectors = mu[labels] + np.einsum("ied,id->ie", factor[labels], z)
        builder.build(vectors)
        batch = generate(int(batch_size), seed=trial_seeds[index])
        loss, grad_x = gradient.step(batch.inputs, batch.targets, batch.loss_mask)
        grad_x = keras.ops.convert_to_numpy(grad_x).astype(np.float64)
        grad_mu = np.stack([grad_x[chosen].sum(axis=0) for chosen in members])
        grad_factor = np.stack([grad_x[chosen].T @ z[chosen] for chosen in members])
        grads = [grad_mu, grad_factor] if train_means else [grad_factor]
        optimizer.apply([g.astype(np.float32) for g in grads], trained)
        losses.append(float(loss))
        if progress is not None and (index + 1) % max(1, int(steps) // 10) == 0:
            progress(f"statistics step {index + 1}/{steps}: loss {np.mean(losses[-10:]):.4f}")
    factor = keras.ops.convert_to_numpy(factors).astype(np.float64)
    fitted = Populations(labels=populations.labels, counts=populations.counts,
                         means=keras.ops.convert_to_numpy(means).astype(np.float64),
                         covariances=np.einsum("kij,klj->kil", factor, factor),
                         requested=populations.requested)
    return StatisticsFit(fitted, factor, losses, bool(train_means), time.perf_counter() - start)


def trained_statistics_curve(model, batch, correct, task, *, template: Loadings,
                             max_populations: int = 3, steps: int = 600, batch_size: int = 64,
                             learning_rate: float = 1e-4, n_resamples: int = 10,
                             new_size: int | None = None, seed=0,
                             threshold: float = DEFAULT_THRESHOLD,
                             train_means: bool = False, counts: Sequence[int] | None = None,
                             conditions: Sequence[str] = (),
                             progress: Callable[[str], None] | None = None,
                             **fit_options) -> dict:
    """The functional criterion with trained statistics: for K = 1..`max_populations`,
    fit a K-component mixture, train its statistics (`fit_statistics`), score
    `n_resamples` networks drawn from them.

    Args:
        model: the trained low-rank model.
        batch, correct: the trials and decision rule to score on.
        task: the training trials' source (`generate(n, seed=...)`).
        template: its `Loadings` (`loadings(model, ...)`).
        max_populations: largest K. Default: `3`.
        steps, batch_size, learning_rate, new_size, train_means: see
            `fit_statistics`.
        n_resamples: networks scored per K. Default: `10`.
        seed: int or `SeedSequence` of the mixtures, the training and the draws.
        threshold: accuracy that counts as doing the task. Default: `0.9`.
        counts: only these K (each with the seeds it has in the full curve, so
            a K run alone gives what the whole curve gives for it). Default:
            `1..max_populations`.
        conditions: truth names of `batch` (DMS: `("stimulus1", "stimulus2")`);
            when given, each row also has `condition_accuracy`, the resampled
            networks' mean score per condition (`condition_accuracy`).
        progress: optional callable receiving one line per K.
        **fit_options: passed to `fit_populations`.

    Returns:
        `{"populations": [{"requested", "n_populations", "counts", "loss_first",
        "loss_last", "seconds", "accuracies", "mean", "std", "min"}, ...],
        "n_populations": smallest K reaching threshold or None, "threshold",
        "steps", "learning_rate", "new_size"}`.
    """
    chosen = list(range(1, max_populations + 1)) if counts is None else [int(k) for k in counts]
    if not chosen or min(chosen) < 1:
        raise ValueError(f"Argument `counts` must list numbers of populations >= 1; received "
                         f"counts={counts!r}.")
    rows = []
    children = _seed_sequence(seed).spawn(max(chosen))
    for k in chosen:
        fit_seed, train_seed, draw_seed = children[k - 1].spawn(3)
        start = fit_populations(template, k, seed=_mixture_seed(fit_seed), **fit_options)
        fit = fit_statistics(model, start, template, task, steps=steps, batch_size=batch_size,
                             learning_rate=learning_rate, new_size=new_size,
                             train_means=train_means, seed=train_seed)
        scores = resampled_scores(model, fit.populations, batch, correct, template=template,
                                  n_resamples=n_resamples, new_size=new_size, seed=draw_seed,
                                  take_means=fit.take_means)
        losses = np.asarray(fit.losses)
        window = max(1, min(20, len(losses) // 5))
        row = {**curve_row(k, start, [float(r.mean()) for r in scores]),
               "loss_first": float(losses[:window].mean()),
               "loss_last": float(losses[-window:].mean()), "seconds": fit.seconds}
        if conditions:
            row["condition_accuracy"] = condition_accuracy(scores, batch, conditions)
        rows.append(row)
        if progress is not None:
            progress(f"trained statistics, {k} population(s): loss {row['loss_first']:.4f} -> "
                     f"{row['loss_last']:.4f}, resampled {100 * row['mean']:.1f} % (worst "
                     f"{100 * row['min']:.1f}) in {fit.seconds:.0f} s")
    return {"populations": rows, "n_populations": smallest_reaching(rows, threshold),
            "threshold": float(threshold), "steps": int(steps),
            "learning_rate": float(learning_rate), "train_means": bool(train_means),
            "new_size": int(template.units if new_size is None else new_size)}
