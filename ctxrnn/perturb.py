"""Lesions, weight noise and unit silencing of a trained network, batched over draws.

MoLaP's robustness analyses (paper 4.1 and A.4) perturb the recurrent weights
of a trained network and measure the % of correct decisions again, over 30
random draws per level:

- `"module"`: a fraction of the connections inside one module are set to 0;
- `"inter_module"`: a fraction of the connections between modules;
- `"global"`: a fraction of all connections;
- `"noise"`: Gaussian noise of std `sigma` added to every entry of W_rec;
- `"silence"`: a fraction of the units clamped at 0 at every step.

All draws of one level run as **one** batched computation
(`ctxrnn.simulate.run_variants`: states `(draws, batch, N)` advance against
`(draws, N, N)` kernels in one compiled loop), and for a multi-head MoLaP
model all tasks share that computation too.

Results are tidy rows `{"kind", "level", "draw", "task", "accuracy"}`.

Example:

```python
rows = perturbation_sweep(heads.model, heads.layout, tasks, "global",
                          levels=[0.0, 0.1, 0.2, 0.3], draws=30)
plot_sweeps({"molap": rows}, "global.png")
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn import masks, seeding
from ctxrnn.checks import positive_int
from ctxrnn.layers import find_ctrnn
from ctxrnn.metrics import score_trials
from ctxrnn.simulate import run_variants

KINDS = ("module", "inter_module", "global", "noise", "silence")


def _check_fraction(fraction: float) -> float:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"Argument `fraction` must be in [0, 1]; received fraction={fraction!r}.")
    return float(fraction)


def _check_draws(draws: int) -> int:
    positive_int("draws", draws)
    return int(draws)


def region_mask(kind: str, units: int, module_sizes: Sequence[int] | None = None,
                module: int = 0) -> np.ndarray:
    """Bool `(N, N)` mask of the entries a lesion of `kind` may remove.

    Args:
        kind: `"module"` (module `module`'s intra-module block),
            `"inter_module"` (every entry between two different modules) or
            `"global"` (every entry).
        units: N.
        module_sizes: module sizes (needed for the two modular kinds).
        module: the lesioned module for `kind="module"`.
    """
    if kind == "global":
        return np.ones((units, units), bool)
    if kind not in ("module", "inter_module"):
        raise ValueError(
            f"Argument `kind` must be 'module', 'inter_module' or 'global' for a lesion; "
            f"received {kind!r}."
        )
    if module_sizes is None or sum(module_sizes) != units:
        raise ValueError(
            f"A {kind!r} lesion needs `module_sizes` summing to units={units}; received "
            f"{module_sizes!r}."
        )
    if kind == "module":
        return masks.intra_module_mask(module_sizes, module).astype(bool)
    return masks.module_mask(module_sizes, inter_density=0.0) == 0


def lesion_kernels(kernel, fraction: float, draws: int, *, region=None,
                   seed: int | None = None) -> np.ndarray:
    """Copies of `kernel` with a random `fraction` of connections in `region` set to 0.

    In every draw exactly `round(fraction * n)` of the `n` non-zero entries
    inside `region` are removed, chosen uniformly at random; nothing outside
    `region` changes.

    Args:
        kernel: `(N, N)` recurrent kernel.
        fraction: float in [0, 1].
        draws: number of independent draws.
        region: bool `(N, N)` mask of candidate entries (default: all).
        seed: seed of the draws.

    Returns:
        float32 `(draws, N, N)`.
    """
    kernel = np.asarray(kernel, np.float32)
    fraction, draws = _check_fraction(fraction), _check_draws(draws)
    region = np.ones(kernel.shape, bool) if region is None else np.asarray(region, bool)
    if region.shape != kernel.shape:
        raise ValueError(
            f"Argument `region` must have the kernel's shape {kernel.shape}; received {region.shape}."
        )
    candidates = np.flatnonzero(region.ravel() & (kernel.ravel() != 0))
    count = int(round(fraction * candidates.size))
    rng = np.random.default_rng(seed)
    out = np.broadcast_to(kernel, (draws, *kernel.shape)).copy()
    flat = out.reshape(draws, -1)
    for draw in range(draws):
        flat[draw, rng.choice(candidates, size=count, replace=False)] = 0.0
    return out


def noise_kernels(kernel, sigma: float, draws: int, *, seed: int | None = None) -> np.ndarray:
    """Copies of `kernel` plus iid Gaussian noise of std `sigma` on every entry.

    Returns:
        float32 `(draws, N, N)`.
    """
    if not sigma >= 0:
        raise ValueError(f"Argument `sigma` must be >= 0; received sigma={sigma!r}.")
    kernel = np.asarray(kernel, np.float32)
    draws = _check_draws(draws)
    noise = np.random.default_rng(seed).standard_normal((draws, *kernel.shape))
    return (kernel[None] + sigma * noise).astype(np.float32)


def silence_masks(units: int, fraction: float, draws: int, *,
                  seed: int | None = None) -> np.ndarray:
    """Unit masks with exactly `round(fraction * units)` random units set to 0 per draw.

    Returns:
        float32 `(draws, units)` of 0/1.
    """
    fraction, draws = _check_fraction(fraction), _check_draws(draws)
    count = int(round(fraction * units))
    rng = np.random.default_rng(seed)
    out = np.ones((draws, units), np.float32)
    for draw in range(draws):
        out[draw, rng.choice(units, size=count, replace=False)] = 0.0
    return out


def variants(kind: str, kernel, level: float, draws: int, *,
             module_sizes: Sequence[int] | None = None, module: int = 0,
             seed: int | None = None):
    """`(recurrent_kernels, unit_masks)` of one perturbation level (one of them `None`)."""
    kernel = np.asarray(kernel, np.float32)
    if kind == "noise":
        return noise_kernels(kernel, level, draws, seed=seed), None
    if kind == "silence":
        return None, silence_masks(kernel.shape[0], level, draws, seed=seed)
    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {KINDS}; received {kind!r}.")
    region = region_mask(kind, kernel.shape[0], module_sizes, module)
    return lesion_kernels(kernel, level, draws, region=region, seed=seed), None


def _heads(model: keras.Model):
    if len(model.inputs) != 1:
        raise ValueError(
            "Perturbation sweeps run the network from its stored initial state; a model with "
            "per-task initial states (a second input) is not supported."
        )
    readout = model.get_layer("readout")
    kernel = keras.ops.convert_to_numpy(readout.kernel)
    bias = (keras.ops.convert_to_numpy(readout.bias) if readout.use_bias
            else np.zeros(kernel.shape[-1], kernel.dtype))
    return find_ctrnn(model), kernel, bias


def evaluate_variants(model: keras.Model, layout, tasks: Sequence, stacked, *,
                      recurrent_kernels=None, unit_masks=None) -> np.ndarray:
    """Accuracy of every task under `K` variants, as one batched computation.

    Args:
        model: a multi-head model (`ctxrnn.molap.network.build_network`).
        layout: its `HeadLayout`.
        tasks: the tasks in layout order (their `correct` decides).
        stacked: a `StackedBatch` test set.
        recurrent_kernels: `(K, N, N)` or `None`.
        unit_masks: `(K, N)` or `None`.

    Returns:
        `(K, n_tasks)` accuracies in [0, 1].
    """
    layer, w_out, b_out = _heads(model)
    k = max(len(v) for v in (recurrent_kernels, unit_masks) if v is not None) if (
        recurrent_kernels is not None or unit_masks is not None) else 1
    correct = np.zeros((k, len(tasks)))
    for index, task in enumerate(tasks):
        columns = layout.output_slice(index)
        # the task's readout runs inside the time loop: (K, trials, T, outputs), not (.., N)
        outputs = run_variants(layer, stacked.inputs[stacked.rows(index)], recurrent_kernels,
                               unit_masks, readout_kernel=w_out[:, columns])
        outputs += b_out[columns]
        batch = stacked.batches[index]
        correct[:, index] = score_trials(outputs, batch, task).mean(axis=1)
    return correct


def perturbation_sweep(model: keras.Model, layout, tasks: Sequence, kind: str,
                       levels: Sequence[float], *, draws: int = 30, n_trials: int = 250,
                       module_sizes: Sequence[int] | None = None, module: int = 0,
                       seed: int = 0, test_seed: int = 54321) -> list[dict]:
    """Accuracy per task at each perturbation level over random draws.

    Args:
        model: a multi-head model (MoLaP, DNI-style) or a one-task model of the
            same form (`HeadLayout` with one task).
        layout: its `HeadLayout`.
        tasks: the tasks in layout order.
        kind: one of `KINDS`.
        levels: fractions (lesions, silencing) or noise stds (`"noise"`).
        draws: random draws per level (paper: 30). Default: `30`.
        n_trials: test trials per task (paper's supplement: 250). Default: `250`.
        module_sizes, module: modules of the network and the lesioned module.
        seed: seed of the draws (level `i` uses the stream `("perturbation", i)`).
        test_seed: seed of the test trials.

    Returns:
        A list of `{"kind", "level", "draw", "task", "accuracy"}` dicts.
    """
    from ctxrnn.molap.training import stacked_batch

    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {KINDS}; received {kind!r}.")
    layer, _, _ = _heads(model)
    kernel = keras.ops.convert_to_numpy(layer.effective_recurrent_kernel)
    stacked = stacked_batch(tasks, layout, n_trials, test_seed)
    rows = []
    for i, level in enumerate(levels):
        kernels, unit_masks = variants(kind, kernel, float(level), draws,
                                       module_sizes=module_sizes, module=module,
                                       seed=seeding.derive(seed, "perturbation", i))
        accuracy = evaluate_variants(model, layout, tasks, stacked, recurrent_kernels=kernels,
                                     unit_masks=unit_masks)
        for draw in range(draws):
            for t, name in enumerate(layout.names):
                rows.append({"kind": kind, "level": float(level), "draw": draw, "task": name,
                             "accuracy": float(accuracy[draw, t])})
    return rows


def level_means(rows: Sequence[dict], by: str, task: str | None = None) -> dict[float, dict]:
    """`{level: {row[by]: mean accuracy of those rows}}`, sorted by level: the mean over
    tasks (unless `task`) of each draw (`by="draw"`) or each trained seed (`by="seed"`)."""
    grouped: dict[float, dict[Any, list[float]]] = {}
    for row in rows:
        if by not in row:
            raise ValueError(f"Grouping by {by!r} needs rows with a {by!r} key; received a "
                             f"row with keys {sorted(row)}.")
        if task is not None and row["task"] != task:
            continue
        grouped.setdefault(row["level"], {}).setdefault(row[by], []).append(row["accuracy"])
    return {level: {key: float(np.mean(values)) for key, values in groups.items()}
            for level, groups in sorted(grouped.items())}


def summarize(rows: Sequence[dict], task: str | None = None) -> dict[float, tuple[float, float]]:
    """`{level: (mean, std over draws)}` of the accuracy (averaged over tasks unless `task`)."""
    return {level: (float(np.mean(list(means.values()))), float(np.std(list(means.values()))))
            for level, means in level_means(rows, "draw", task).items()}


def summarize_seeds(rows: Sequence[dict], task: str | None = None
                    ) -> dict[float, tuple[float, float, float, int]]:
    """`{level: (mean, std, worst, n)}` over seeds of each seed's mean accuracy (over
    draws, and over tasks unless `task`); rows carry a `"seed"` key (the trained network's).
    """
    summary = {}
    for level, means in level_means(rows, "seed", task).items():
        values = list(means.values())
        summary[level] = (float(np.mean(values)), float(np.std(values)), float(np.min(values)),
                          len(values))
    return summary


def plot_sweeps(results: dict[str, Sequence[dict]], path, *, task: str | None = None,
                title: str | None = None, over: str = "draws"):
    """Accuracy against level, one line per approach: mean ± std over random draws
    (error bars) or over trained seeds (a band; `over="seeds"`, rows with a `"seed"`).

    Args:
        results: `{approach: rows}` from `perturbation_sweep` (same kind).
        path: PNG file to write.
        task: plot one task; default the mean over tasks.
        title: figure title (default: the kind).
        over: `"draws"` or `"seeds"`: what the spread is over.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if over not in ("draws", "seeds"):
        raise ValueError(f"Argument `over` must be 'draws' or 'seeds'; received {over!r}.")
    figure = Figure(figsize=(4.5, 3.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    kind = None
    for approach, rows in results.items():
        summary = summarize(rows, task) if over == "draws" else summarize_seeds(rows, task)
        kind = kind or (rows[0]["kind"] if rows else None)
        levels = np.array(list(summary))
        mean = np.array([summary[level][0] for level in levels]) * 100
        std = np.array([summary[level][1] for level in levels]) * 100
        if over == "draws":
            axes.errorbar(levels, mean, yerr=std, marker="o", ms=3, capsize=2, label=approach)
        else:
            n = summary[levels[0]][3] if len(levels) else 0
            line, = axes.plot(levels, mean, marker="o", ms=3, label=f"{approach} (n={n})")
            axes.fill_between(levels, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                              linewidth=0)
    axes.set_xlabel("noise sigma" if kind == "noise" else "fraction perturbed")
    axes.set_ylabel("% decisions correct")
    axes.set_ylim(0, 100)
    axes.set_title(title or f"{kind}" + (f" — {task}" if task else " — mean over tasks"))
    axes.legend(frameon=False, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path
