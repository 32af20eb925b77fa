"""Population structure of low-rank networks (Dubreuil, Valente et al. 2022).

Each unit i of a network is a point in *connectivity space*: its loadings

    m_i^(1..R), n_i^(1..R)   recurrent loadings, W_rec = n m^T / N (`CTRNN(rank=R)`);
                             for a full-rank network the factors of the rank-R
                             SVD of W_rec - W_init (`low_rank_factors`)
    w_in[c, i]               its weight from each input channel c
    N * w_out[i, o]          its readout weight to each output o, times N so it
                             is O(1) whatever N (the readout sums N terms)
    b_i                      its bias, when the bias is trained

A Gaussian mixture over these points (`fit_populations`) groups the units into
populations; `clustering_stability` asks whether a split is reproducible
(bootstrap adjusted Rand index against an i.i.d. Gaussian control); networks
resampled from the fitted per-population Gaussians (`resample_loadings`,
`network_from_loadings`) test whether the statistics are all the task needs,
at any size; the smallest number of populations whose resampled networks
still do the task is the paper's functional criterion (`population_curve`).
For full-rank networks, `truncation_curve` keeps `W_init` and the rank-r part
of `W_rec - W_init`.

The reference model is current-based (`x' = -x + J tanh(x) + W_in u`), ctxrnn's
rate-based (`h' = -h + tanh(W_rec^T h + W_in^T u + b)`). Both are driven by
the same latent variables `kappa = n^T r / N` through the same loadings: in
rate form unit i's input is `m_i . kappa + w_in_i . u + b_i`, in current form
its current relaxes to the same sum. So the loading space, the mixtures and
the resampling carry over unchanged; only the readout reads `h` rather than
`tanh(x)`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ctxrnn.checks import unit_fraction
from ctxrnn.layers import CTRNN, find_ctrnn
from ctxrnn.readout import find_readout

ALGORITHMS = ("bayes", "em")
DEFAULT_N_INIT = 10  # the paper uses 50 (each restart costs as much as one fit)
MAX_ITER = 200  # EM iterations per restart (scikit-learn's default is 100)
DEFAULT_THRESHOLD = 0.9  # resampled accuracy that counts as "still does the task"


# ------------------------------------------------------------------ loadings
@dataclasses.dataclass
class Loadings:
    """Per-unit loading vectors of a network.

    Attributes:
        vectors: `(N, D)` array, one row per unit, columns named by `names`.
        names: the D column names: `m1..mR`, `n1..nR`, `in:<channel>`,
            `out:<output>`, and `bias` when the bias is trained.
        rank: R.
        input_names, output_names: the input channels and outputs, in order.
    """

    vectors: np.ndarray
    names: list[str]
    rank: int
    input_names: list[str]
    output_names: list[str]

    @property
    def units(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def has_bias(self) -> bool:
        return "bias" in self.names

    def columns(self, kind: str) -> np.ndarray:
        """The `(N, k)` columns of one kind: `"m"`, `"n"`, `"in"`, `"out"` or `"bias"`."""
        prefix = {"m": "m", "n": "n", "in": "in:", "out": "out:", "bias": "bias"}
        if kind not in prefix:
            raise ValueError(f"Argument `kind` must be one of {list(prefix)}; received {kind!r}.")
        if kind in ("m", "n"):
            chosen = [f"{kind}{r + 1}" for r in range(self.rank)]
        else:
            chosen = [name for name in self.names if name.startswith(prefix[kind])]
        return self.vectors[:, [self.names.index(name) for name in chosen]]

    def with_vectors(self, vectors) -> "Loadings":
        """The same columns with other rows (e.g. a resampled network's)."""
        vectors = np.asarray(vectors, np.float64)
        if vectors.ndim != 2 or vectors.shape[1] != len(self.names):
            raise ValueError(f"Argument `vectors` must have shape (units, {len(self.names)}); "
                             f"received {vectors.shape}.")
        return dataclasses.replace(self, vectors=vectors)


def low_rank_factors(delta, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """`(m, n)` of the best rank-R approximation of a kernel change, `delta ~ n m^T / N`.

    `delta` is in ctxrnn's `h @ W` orientation (entry `[j, i]` connects unit
    j to unit i). With the SVD `delta = A S B^T`: `n = A_R sqrt(N)`,
    `m = B_R S_R sqrt(N)` (the reference code's `m = U S sqrt(N)`,
    `n = V sqrt(N)` for `J = delta^T`).

    Args:
        delta: `(N, N)` array, e.g. `W_trained - W_init`.
        rank: R in `[1, N]`.

    Returns:
        `(m, n)`, two `(N, R)` arrays.
    """
    delta = np.asarray(delta, np.float64)
    if delta.ndim != 2 or delta.shape[0] != delta.shape[1]:
        raise ValueError(f"Argument `delta` must be a square (N, N) array; received shape "
                         f"{delta.shape}.")
    units = delta.shape[0]
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 < rank <= units:
        raise ValueError(f"Argument `rank` must be an integer in [1, {units}]; received "
                         f"rank={rank!r}.")
    a, s, bt = np.linalg.svd(delta)
    scale = np.sqrt(units)
    return bt[:rank].T * s[:rank] * scale, a[:, :rank] * scale


def loadings(model: keras.Model, *, rank: int | None = None, initial_kernel=None,
             include_bias: bool | None = None, input_names: Sequence[str] | None = None,
             output_names: Sequence[str] | None = None) -> Loadings:
    """The loading vector of every unit of an `Input -> CTRNN -> Dense` model.

    Args:
        model: a trained model. With a low-rank CTRNN (`rank=R`) its `m` and `n`
            are read directly; with a full-rank one, `m` and `n` are the rank-R
            factors of `W_rec - initial_kernel` (`low_rank_factors`).
        rank: for a full-rank network, R (required); for a low-rank one, `None`
            or its own rank.
        initial_kernel: full rank only: `(N, N)` kernel before training
            (`weights/initial.npz`'s `recurrent_kernel` of a run). Default:
            zeros (the SVD of `W_rec` itself).
        include_bias: add the bias column. Default: when the bias exists and
            is trainable.
        input_names, output_names: column labels (e.g. `suite.input_names`).
            Default: channel indices.

    Returns:
        A `Loadings`.

    Example:

    ```python
    points = loadings(model, input_names=suite.input_names)
    points.vectors.shape  # (N, 2R + inputs + outputs [+ 1])
    ```
    """
    layer = find_ctrnn(model)
    units = layer.units
    if layer.rank is not None:
        if rank not in (None, layer.rank):
            raise ValueError(f"Argument `rank` must be None or the network's rank {layer.rank}; "
                             f"received rank={rank!r}.")
        rank = layer.rank
        m = keras.ops.convert_to_numpy(layer.recurrent_m).astype(np.float64)
        n = keras.ops.convert_to_numpy(layer.recurrent_n).astype(np.float64)
    else:
        if rank is None:
            raise ValueError("Argument `rank` is required for a full-rank network (the rank of "
                             "the SVD of W_rec - W_init to keep); received rank=None.")
        kernel = keras.ops.convert_to_numpy(layer.effective_recurrent_kernel).astype(np.float64)
        base = np.zeros_like(kernel) if initial_kernel is None else np.asarray(
            initial_kernel, np.float64)
        if base.shape != kernel.shape:
            raise ValueError(f"Argument `initial_kernel` must have shape {kernel.shape}; "
                             f"received {base.shape}.")
        m, n = low_rank_factors(kernel - base, rank)
    w_in = keras.ops.convert_to_numpy(layer.effective_kernel).astype(np.float64).T
    w_out = keras.ops.convert_to_numpy(find_readout(model).kernel).astype(np.float64) * units
    input_names = [str(c) for c in (range(w_in.shape[1]) if input_names is None else input_names)]
    output_names = [str(o) for o in (range(w_out.shape[1]) if output_names is None
                                     else output_names)]
    if len(input_names) != w_in.shape[1] or len(output_names) != w_out.shape[1]:
        raise ValueError(f"Arguments `input_names`/`output_names` must name {w_in.shape[1]} "
                         f"inputs and {w_out.shape[1]} outputs; received {input_names} and "
                         f"{output_names}.")
    blocks = [m, n, w_in, w_out]
    names = ([f"m{r + 1}" for r in range(rank)] + [f"n{r + 1}" for r in range(rank)]
             + [f"in:{c}" for c in input_names] + [f"out:{o}" for o in output_names])
    bias = layer.bias
    if include_bias is None:
        include_bias = bias is not None and bias.trainable
    if include_bias:
        if bias is None:
            raise ValueError(f"Argument `include_bias=True` needs a CTRNN with a bias; "
                             f"{layer.name!r} has use_bias=False.")
        blocks.append(keras.ops.convert_to_numpy(bias).astype(np.float64)[:, None])
        names.append("bias")
    return Loadings(np.concatenate(blocks, axis=1), names, int(rank), input_names, output_names)


# ------------------------------------------------------------------ mixtures
@dataclasses.dataclass
class Populations:
    """A partition of units into populations with each population's Gaussian statistics.

    Attributes:
        labels: `(N,)` int population of each unit, `0..K-1` (populations a
            Bayesian mixture left empty are dropped and the rest renumbered).
        counts: `(K,)` units per population.
        means, covariances: `(K, D)` and `(K, D, D)` empirical statistics of
            each population's loading vectors (what resampling draws from).
        requested: the number of mixture components asked for.
    """

    labels: np.ndarray
    counts: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    requested: int

    @property
    def n_populations(self) -> int:
        return int(len(self.counts))

    @classmethod
    def from_labels(cls, vectors, labels, requested: int | None = None) -> "Populations":
        """Empirical statistics of the populations given by `labels`."""
        vectors = _as_points(vectors)
        labels = np.asarray(labels)
        if labels.shape != (len(vectors),):
            raise ValueError(f"Argument `labels` must have shape ({len(vectors)},); received "
                             f"{labels.shape}.")
        used, labels = np.unique(labels, return_inverse=True)
        groups = [vectors[labels == k] for k in range(len(used))]
        means = np.stack([g.mean(axis=0) for g in groups])
        covariances = np.stack([np.cov(g, rowvar=False, bias=True).reshape(
            vectors.shape[1], vectors.shape[1]) for g in groups])
        return cls(labels.astype(np.int64), np.array([len(g) for g in groups]), means,
                   covariances, len(used) if requested is None else int(requested))

    def to_dict(self) -> dict[str, Any]:
        return {"n_populations": self.n_populations, "requested": self.requested,
                "counts": self.counts.tolist(), "labels": self.labels.tolist(),
                "means": self.means.tolist(), "covariances": self.covariances.tolist()}


def _as_points(vectors) -> np.ndarray:
    points = vectors.vectors if isinstance(vectors, Loadings) else vectors
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or not np.all(np.isfinite(points)):
        raise ValueError(f"Argument `vectors` must be a finite (units, D) array or Loadings; "
                         f"received shape {points.shape}.")
    return points


def _mixture(n_populations: int, algorithm: str, n_init: int, seed: int,
             mean_precision_prior: float | None):
    from sklearn import mixture

    if algorithm == "bayes":
        return mixture.BayesianGaussianMixture(
            n_components=n_populations, init_params="random", n_init=n_init,
            weight_concentration_prior_type="dirichlet_process",
            mean_precision_prior=mean_precision_prior, max_iter=MAX_ITER, random_state=seed)
    if mean_precision_prior is not None:
        raise ValueError("Argument `mean_precision_prior` applies to algorithm='bayes' only; "
                         f"received {mean_precision_prior!r} with algorithm='em'.")
    # Random init, as for the Bayesian fit: k-means starts split by location, and
    # populations that differ only by covariance (zero means) never recover from it.
    return mixture.GaussianMixture(n_components=n_populations, n_init=n_init, max_iter=MAX_ITER,
                                   init_params="random", random_state=seed)


def fit_populations(vectors, n_populations: int, *, algorithm: str = "bayes",
                    n_init: int = DEFAULT_N_INIT, seed: int = 0,
                    mean_precision_prior: float | None = None) -> Populations:
    """Fits a Gaussian mixture to loading vectors and returns the populations it finds.

    `n_populations=1` is one Gaussian (no fit). Otherwise scikit-learn's
    `BayesianGaussianMixture` (the reference code's default: random init,
    Dirichlet-process weight prior) or `GaussianMixture` (EM, random init).

    Args:
        vectors: a `Loadings` or an `(N, D)` array.
        n_populations: number of components, >= 1.
        algorithm: `"bayes"` or `"em"`. Default: `"bayes"`.
        n_init: restarts, the best kept. Default: `10` (the paper: 50).
        seed: the mixture's `random_state`.
        mean_precision_prior: Bayesian only; large values (the paper's DMS
            uses 1e5) pull every mean to the data mean, so populations differ
            by covariance.

    Returns:
        `Populations` (a Bayesian fit may use fewer components than asked).

    Example:

    ```python
    pops = fit_populations(loadings(model), 2, seed=2020)
    pops.counts
    ```
    """
    points = _as_points(vectors)
    if isinstance(n_populations, bool) or not isinstance(n_populations, (int, np.integer)) or (
            not 0 < n_populations <= len(points)):
        raise ValueError(f"Argument `n_populations` must be an integer in [1, {len(points)}]; "
                         f"received n_populations={n_populations!r}.")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Argument `algorithm` must be one of {ALGORITHMS}; received "
                         f"{algorithm!r}.")
    if n_populations == 1:
        return Populations.from_labels(points, np.zeros(len(points), np.int64), 1)
    from threadpoolctl import threadpool_limits

    model = _mixture(int(n_populations), algorithm, int(n_init), int(seed), mean_precision_prior)
    # (N, D) with D < 20: BLAS threads only contend (10-30x slower on a loaded 2-core machine).
    with threadpool_limits(limits=1):
        labels = model.fit(points).predict(points)
    return Populations.from_labels(points, labels, n_populations)


def clustering_stability(vectors, n_populations: int, *, n_boot: int = 20,
                         fraction: float = 0.8, control: bool = True, seed: int = 0,
                         **fit_options) -> dict[str, Any]:
    """Bootstrap stability of a mixture clustering, against an i.i.d. Gaussian control.

    The mixture is fitted on `n_boot` random subsamples of `fraction` of the
    units; the adjusted Rand index (ARI) between the labels of every pair of
    fits, on the units both fits saw, measures how reproducible the split is
    (1: the same partition every time). A fit that leaves components empty
    (a Bayesian mixture on one Gaussian puts every unit in one population)
    made no split: its pairs count as ARI 0. The control repeats the procedure on
    as many i.i.d. draws from one Gaussian with the data's mean and
    covariance: a split of one population is not reproducible, so a real
    structure has an ARI well above the control's.

    Args:
        vectors: a `Loadings` or an `(N, D)` array.
        n_populations: mixture components (>= 2).
        n_boot: subsamples. Default: `20`.
        fraction: share of units in each subsample. Default: `0.8`.
        control: also run the i.i.d. control. Default: `True`.
        seed: seed of the subsamples, the fits and the control data.
        **fit_options: `fit_populations` options (`algorithm`, `n_init`,
            `mean_precision_prior`).

    Returns:
        `{"ari": mean, "ari_values": [...], "split_fraction": share of fits
        that used all components, "control_ari", "control_ari_values",
        "control_split_fraction", "z": (ari - control mean) / control std}`
        (control keys only with `control`).
    """
    from sklearn.metrics import adjusted_rand_score

    points = _as_points(vectors)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 2:
        raise ValueError(f"Argument `n_boot` must be an integer >= 2; received {n_boot!r}.")
    unit_fraction("fraction", fraction)
    if isinstance(n_populations, bool) or not isinstance(n_populations, int) or n_populations < 2:
        raise ValueError(f"Argument `n_populations` must be an integer >= 2; received "
                         f"{n_populations!r}.")
    sequence = np.random.SeedSequence(seed)
    data_seq, control_seq, draw_seq = sequence.spawn(3)

    def aris(data, seq):
        rng = np.random.default_rng(seq)
        size = max(n_populations, int(round(fraction * len(data))))
        fits, split = [], []
        for k in range(n_boot):
            chosen = np.sort(rng.choice(len(data), size=size, replace=False))
            found = fit_populations(data[chosen], n_populations, seed=int(rng.integers(2**31)),
                                    **fit_options)
            full = np.full(len(data), -1)
            full[chosen] = found.labels
            fits.append(full)
            split.append(found.n_populations == n_populations)
        values = []
        for (a, split_a), (b, split_b) in itertools.combinations(zip(fits, split), 2):
            shared = (a >= 0) & (b >= 0)
            values.append(float(adjusted_rand_score(a[shared], b[shared]))
                          if split_a and split_b else 0.0)
        return values, float(np.mean(split))

    values, split_fraction = aris(points, data_seq)
    result = {"n_populations": int(n_populations), "n_boot": int(n_boot),
              "fraction": float(fraction), "ari": float(np.mean(values)), "ari_values": values,
              "split_fraction": split_fraction}
    if control:
        rng = np.random.default_rng(draw_seq)
        mean, cov = points.mean(axis=0), np.cov(points, rowvar=False)
        null = rng.multivariate_normal(mean, np.atleast_2d(cov), size=len(points),
                                       method="eigh")
        control_values, control_split = aris(null, control_seq)
        spread = float(np.std(control_values))
        result.update({
            "control_ari": float(np.mean(control_values)), "control_ari_values": control_values,
            "control_split_fraction": control_split,
            "z": float((result["ari"] - np.mean(control_values)) / spread) if spread > 0
            else float("inf")})
    return result


# ---------------------------------------------------------------- resampling
def _population_sizes(counts: np.ndarray, new_size: int) -> np.ndarray:
    """Sizes proportional to `counts` summing to `new_size` (largest remainders)."""
    share = counts / counts.sum() * new_size
    sizes = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - sizes), kind="stable")
    sizes[order[: new_size - sizes.sum()]] += 1
    return sizes


def _factor(covariance: np.ndarray) -> np.ndarray:
    """`F` with `F F^T = covariance` (eigendecomposition; negative round-off clipped)."""
    values, vectors = np.linalg.eigh(covariance)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def resample_loadings(populations: Populations, new_size: int, *, seed=0,
                      take_means: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Draws the loading vectors of a new network from per-population Gaussians.

    Population k gets a share of the `new_size` units proportional to its
    count (exactly when the proportions allow it), and its units' vectors are
    i.i.d. `N(mean_k, cov_k)`, with `mean_k = 0` unless `take_means` (the
    reference code's default).

    Args:
        populations: a `Populations` (from `fit_populations`).
        new_size: units of the new network.
        seed: an int or a `numpy.random.SeedSequence`.
        take_means: draw around each population's mean instead of 0.

    Returns:
        `(vectors (new_size, D), labels (new_size,))`.
    """
    if isinstance(new_size, bool) or not isinstance(new_size, (int, np.integer)) or (
            new_size < populations.n_populations):
        raise ValueError(f"Argument `new_size` must be an integer >= the "
                         f"{populations.n_populations} populations; received "
                         f"new_size={new_size!r}.")
    rng = np.random.default_rng(seed)
    sizes = _population_sizes(populations.counts, int(new_size))
    dim = populations.means.shape[1]
    vectors, labels = [], []
    for k, size in enumerate(sizes):
        draw = rng.standard_normal((size, dim)) @ _factor(populations.covariances[k]).T
        vectors.append(draw + populations.means[k] if take_means else draw)
        labels.append(np.full(size, k))
    return np.concatenate(vectors), np.concatenate(labels)


def _network_config(layer: CTRNN, units: int, rank: int | None) -> dict[str, Any]:
    config = layer.get_config()
    for key in ("name", "trainable", "dtype", "frozen", "recurrent_initializer"):
        config.pop(key, None)
    config.update(units=int(units), rank=rank)
    if rank is not None:
        for key in ("dale", "recurrent_constraint"):
            config.pop(key, None)
    return config


class NetworkBuilder:
    """Builds networks of one architecture from loading vectors, reusing one model per size.

    Resampling evaluates many networks of the same size: building and tracing
    a Keras model is the slow part, so each size gets one model whose weights
    are replaced for every new set of loadings.

    Args:
        model: the trained `Input -> CTRNN -> Dense` model the loadings came
            from (its cell options, readout bias and input width are kept).
        template: its `Loadings` (the column layout).
        base_kernel: optional `(N, N)` kernel added to `n m^T / N`: the
            network is then full rank, `W_rec = base_kernel + n m^T / N`
            (the truncated or resampled full-rank nets), and its size must
            be N.
    """

    def __init__(self, model: keras.Model, template: Loadings, base_kernel=None):
        self.layer = find_ctrnn(model)
        self.readout = find_readout(model)
        self.template = template
        self.base_kernel = None if base_kernel is None else np.asarray(base_kernel, np.float32)
        self._models: dict[int, keras.Model] = {}

    def _model(self, units: int) -> keras.Model:
        if units not in self._models:
            rank = None if self.base_kernel is not None else self.template.rank
            n_in = int(self.layer.kernel.shape[0])
            inputs = keras.Input((None, n_in), name="inputs")
            states = CTRNN(name="ctrnn", **_network_config(self.layer, units, rank))(inputs)
            outputs = keras.layers.Dense(int(self.readout.kernel.shape[1]), name="readout",
                                         use_bias=self.readout.use_bias,
                                         activation=self.readout.activation)(states)
            self._models[units] = keras.Model(inputs, outputs, name=f"resampled_{units}")
        return self._models[units]

    def build(self, vectors) -> keras.Model:
        """The network whose units have the loading `vectors` `(units, D)`.

        The returned model is shared with later calls of the same size: use it
        (predict) before building the next one, or clone it.
        """
        points = self.template.with_vectors(vectors)
        units = points.units
        if self.base_kernel is not None and self.base_kernel.shape != (units, units):
            raise ValueError(f"A full-rank network on `base_kernel` {self.base_kernel.shape} "
                             f"needs {self.base_kernel.shape[0]} units; received {units}.")
        model = self._model(units)
        layer = find_ctrnn(model)
        cell = layer.cell
        m, n = points.columns("m"), points.columns("n")
        if self.base_kernel is None:
            cell.recurrent_m.assign(m.astype(np.float32))
            cell.recurrent_n.assign(n.astype(np.float32))
        else:
            cell.recurrent_kernel.assign(self.base_kernel + (n @ m.T / units).astype(np.float32))
        cell.kernel.assign(points.columns("in").T.astype(np.float32))
        if cell.bias is not None:
            bias = points.columns("bias")[:, 0] if points.has_bias else np.zeros(units)
            cell.bias.assign(bias.astype(np.float32))
        cell._commit_kernels()
        readout = model.get_layer("readout")
        readout.kernel.assign((points.columns("out") / units).astype(np.float32))
        if readout.use_bias:
            readout.bias.assign(self.readout.bias)
        return model


def _scores(model, batch, correct) -> np.ndarray:
    from ctxrnn.metrics import score_trials

    outputs = model.predict(batch.inputs, batch_size=512, verbose=0)
    return np.asarray(score_trials(outputs, batch, correct), dtype=float)


def _accuracy(model, batch, correct) -> float:
    return float(_scores(model, batch, correct).mean())


def _seed_sequence(seed) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def resampled_accuracy(model, populations: Populations, batch, correct, *, template: Loadings,
                       n_resamples: int = 10, new_size: int | None = None, seed=0,
                       take_means: bool = False, base_kernel=None,
                       builder: NetworkBuilder | None = None) -> list[float]:
    """Accuracies of `n_resamples` networks resampled from `populations`.

    Args:
        model: the trained model (architecture, readout bias).
        populations: the fitted populations.
        batch: a `TrialBatch` to score on (noise-free inference).
        correct: the decision rule (`Task`, `TaskSuite` or callable; see
            `ctxrnn.metrics.score_trials`).
        template: the `Loadings` the populations were fitted on.
        n_resamples: networks drawn. Default: `10` (the paper).
        new_size: units of each resampled network. Default: the trained N.
        seed: int or `SeedSequence`; draw k uses its k-th child.
        take_means: see `resample_loadings`.
        base_kernel: see `NetworkBuilder` (full-rank resampling).
        builder: a `NetworkBuilder` to reuse.

    Returns:
        The accuracy of each resampled network.
    """
    return [float(row.mean()) for row in resampled_scores(
        model, populations, batch, correct, template=template, n_resamples=n_resamples,
        new_size=new_size, seed=seed, take_means=take_means, base_kernel=base_kernel,
        builder=builder)]


def resampled_scores(model, populations: Populations, batch, correct, *, template: Loadings,
                     n_resamples: int = 10, new_size: int | None = None, seed=0,
                     take_means: bool = False, base_kernel=None,
                     builder: NetworkBuilder | None = None) -> np.ndarray:
    """Per-trial scores of the networks `resampled_accuracy` draws (the same draws).

    Returns:
        A `(n_resamples, trials)` array of scores in [0, 1]; its row means are
        `resampled_accuracy`'s values.
    """
    builder = builder or NetworkBuilder(model, template, base_kernel)
    size = template.units if new_size is None else new_size
    scores = []
    for child in _seed_sequence(seed).spawn(n_resamples):
        vectors, _ = resample_loadings(populations, size, seed=child, take_means=take_means)
        scores.append(_scores(builder.build(vectors), batch, correct))
    return np.asarray(scores)


def condition_accuracy(scores: np.ndarray, batch, keys: Sequence[str]) -> dict[str, float]:
    """Mean score per condition: trials grouped by their `batch.truth` values of `keys`.

    Args:
        scores: `(trials,)` or `(draws, trials)` scores (e.g. `resampled_scores`).
        batch: the scored `TrialBatch`.
        keys: truth names that define a condition (DMS: `("stimulus1", "stimulus2")`).

    Returns:
        `{"stimulus1=0,stimulus2=1": accuracy, ...}`, sorted by condition.
    """
    missing = [key for key in keys if key not in batch.truth]
    if missing or not keys:
        raise ValueError(f"Argument `keys` must name some of the batch's truth "
                         f"{sorted(batch.truth)}; received keys={list(keys)!r}.")
    scores = np.asarray(scores, dtype=float).reshape(-1, len(batch.task_ids))
    labels = [",".join(f"{key}={_label_value(batch.truth[key][i])}" for key in keys)
              for i in range(len(batch.task_ids))]
    return {label: float(scores[:, [l == label for l in labels]].mean())
            for label in sorted(set(labels))}


def _label_value(value) -> str:
    value = np.asarray(value).item()
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _mixture_seed(sequence: np.random.SeedSequence) -> int:
    """The int `random_state` of a mixture fit drawn from a `SeedSequence`."""
    return int(sequence.generate_state(1)[0] % 2**31)


def curve_row(k: int, populations: Populations, accuracies: Sequence[float]) -> dict[str, Any]:
    """One row of a functional-criterion curve: K, the populations found, the
    resampled accuracies and their mean, standard deviation and worst."""
    return {"requested": int(k), "n_populations": populations.n_populations,
            "counts": populations.counts.tolist(), "accuracies": list(accuracies),
            "mean": float(np.mean(accuracies)), "std": float(np.std(accuracies)),
            "min": float(np.min(accuracies))}


def smallest_reaching(rows: Sequence[dict], threshold: float) -> int | None:
    """The smallest K of a curve whose mean resampled accuracy reaches `threshold`."""
    reached = [row["requested"] for row in rows if row["mean"] >= threshold]
    return reached[0] if reached else None


def population_curve(model, batch, correct, *, max_populations: int = 3,
                     n_resamples: int = 10, new_size: int | None = None, seed=0,
                     threshold: float = DEFAULT_THRESHOLD, take_means: bool = False,
                     loading_options: dict | None = None, **fit_options) -> dict[str, Any]:
    """The functional criterion: resampled accuracy against the number of populations.

    For K = 1..`max_populations`, fits a K-component mixture to the trained
    network's loadings and scores `n_resamples` networks resampled from it.
    The answer is the smallest K whose mean resampled accuracy reaches
    `threshold` (the paper: 1 for DM, 2 for CDM and DMS).

    Args:
        model: a trained low-rank `Input -> CTRNN -> Dense` model.
        batch, correct: the trials and decision rule to score on.
        max_populations: largest K tried. Default: `3`.
        n_resamples: networks per K. Default: `10`.
        new_size: units of the resampled networks. Default: the trained N.
        seed: int seed of the mixtures and the draws.
        threshold: accuracy that counts as doing the task. Default: `0.9`.
        take_means: see `resample_loadings`.
        loading_options: passed to `loadings` (names, `include_bias`).
        **fit_options: passed to `fit_populations`.

    Returns:
        `{"trained_accuracy", "populations": [{"requested", "n_populations",
        "counts", "accuracies", "mean", "std", "min"}, ...], "n_populations":
        smallest K reaching threshold or None, "threshold", "new_size"}`.
    """
    template = loadings(model, **(loading_options or {}))
    builder = NetworkBuilder(model, template)
    sequence = _seed_sequence(seed)
    rows = []
    for k, child in zip(range(1, max_populations + 1), sequence.spawn(max_populations)):
        fit_seed, draw_seed = child.spawn(2)
        pops = fit_populations(template, k, seed=_mixture_seed(fit_seed), **fit_options)
        values = resampled_accuracy(model, pops, batch, correct, template=template,
                                    n_resamples=n_resamples, new_size=new_size, seed=draw_seed,
                                    take_means=take_means, builder=builder)
        rows.append(curve_row(k, pops, values))
    return {"trained_accuracy": _accuracy(model, batch, correct), "populations": rows,
            "n_populations": smallest_reaching(rows, threshold), "threshold": float(threshold),
            "new_size": int(template.units if new_size is None else new_size)}


# ----------------------------------------------------------------- full rank
def truncation_curve(model, initial_kernel, batch, correct, *, ranks: Sequence[int] = range(1, 10),
                     resample: bool = False, n_resamples: int = 10, seed=0) -> dict[str, Any]:
    """Accuracy of a full-rank network with `W_rec - W_init` truncated to rank r.

    The truncated net is `W_init + (rank-r SVD of W_rec - W_init)`, inputs and
    readout unchanged (the paper's "truncated accuracy", Ext. Fig. 3). With
    `resample`, also the accuracy of nets whose rank-r part is resampled from
    one Gaussian population of its loadings and added back to `W_init`.

    Args:
        model: a trained full-rank `Input -> CTRNN -> Dense` model.
        initial_kernel: `(N, N)` recurrent kernel before training.
        batch, correct: the trials and decision rule to score on.
        ranks: the ranks r. Default: 1..9.
        resample: also score one-population resamples. Default: `False`.
        n_resamples: resamples per rank. Default: `10`.
        seed: int seed of the resamples.

    Returns:
        `{"trained_accuracy", "ranks", "accuracy": [per rank], "resampled":
        [[per resample] per rank] (with `resample`)}`.
    """
    ranks = [int(r) for r in ranks]
    result = {"trained_accuracy": _accuracy(model, batch, correct), "ranks": ranks,
              "accuracy": [], "resampled": [] if resample else None}
    builder = None
    for rank, child in zip(ranks, _seed_sequence(seed).spawn(len(ranks))):
        template = loadings(model, rank=rank, initial_kernel=initial_kernel)
        if builder is None:
            builder = NetworkBuilder(model, template, base_kernel=initial_kernel)
        builder.template = template  # same architecture, this rank's columns
        result["accuracy"].append(_accuracy(builder.build(template.vectors), batch, correct))
        if resample:
            one = fit_populations(template, 1)
            result["resampled"].append(resampled_accuracy(
                model, one, batch, correct, template=template, n_resamples=n_resamples,
                seed=child, builder=builder))
    return result


# ------------------------------------------------------------------ pipeline
POPULATIONS_FILE = "populations.json"


def analyze(model, suite, out_dir, *, initial_kernel=None, max_populations: int = 3,
            n_resamples: int = 10, new_size: int | None = None, n_trials: int = 200,
            n_boot: int = 20, seed: int = 0, fit_statistics_steps: int = 0,
            statistics_learning_rate: float = 1e-4) -> dict[str, Any]:
    """Population analysis of a trained network; writes `populations.json` and figures.

    A low-rank network: loadings, the functional criterion (`population_curve`)
    and the bootstrap stability of the 2-population split. A full-rank one:
    the rank-truncation curve of `W_rec - initial_kernel`, with one-population
    resampling of the kept part (`truncation_curve`).

    Args:
        model: a trained `Input -> CTRNN -> Dense` model.
        suite: its `TaskSuite` (trials and decision rule).
        out_dir: directory to write into (created).
        initial_kernel: full rank: `W_rec` before training (default zeros).
        max_populations, n_resamples, new_size: see `population_curve`.
        n_trials: evaluation trials per task.
        n_boot: subsamples of `clustering_stability`.
        seed: seed of the trials, the mixtures and the resamples.
        fit_statistics_steps: low rank: if > 0, also the functional criterion
            with each mixture's statistics trained for this many steps
            (`population_training.trained_statistics_curve`, the reference's
            retraining of its DMS support network). Default: `0`.
        statistics_learning_rate: Adam rate of that training. Default: `1e-4`.

    Returns:
        The summary written to `populations.json`.
    """
    import pathlib

    from ctxrnn import io, seeding
    from ctxrnn.analysis import figures, populations_figures
    from ctxrnn.runs import FIGURES_DIR

    out = pathlib.Path(out_dir)
    batch = suite.validation_data(n_trials, seed=seeding.derive(seed, "evaluation"))
    layer = find_ctrnn(model)
    names = {"input_names": suite.input_names, "output_names": suite.output_names}
    made = {}
    if layer.rank is not None:
        curve = population_curve(model, batch, suite.correct, max_populations=max_populations,
                                 n_resamples=n_resamples, new_size=new_size,
                                 seed=seeding.sequence(seed, "evaluation", 1),
                                 loading_options=names)
        points = loadings(model, **names)
        two = fit_populations(points, 2, seed=seed)
        summary = {"rank": layer.rank, "units": layer.units, "loadings": points.names,
                   "curve": curve,
                   "stability": {key: value for key, value in clustering_stability(
                       points, 2, n_boot=n_boot, seed=seed).items()
                       if not key.endswith("_values")},
                   "populations_2": two.to_dict()}
        if fit_statistics_steps:
            from ctxrnn.analysis.population_training import trained_statistics_curve

            summary["trained_statistics"] = trained_statistics_curve(
                model, batch, suite.correct, suite, template=points,
                max_populations=max_populations, steps=fit_statistics_steps,
                learning_rate=statistics_learning_rate, n_resamples=n_resamples,
                new_size=new_size, seed=seeding.sequence(seed, "statistics"))
        made["populations_loadings"] = populations_figures.loadings_scatter(
            points.vectors, points.names, two.labels)
        made["populations_resampled"] = populations_figures.population_curve_figure([curve])
    else:
        base = np.zeros((layer.units, layer.units)) if initial_kernel is None else initial_kernel
        curve = truncation_curve(model, base, batch, suite.correct,
                                 ranks=range(1, min(9, layer.units) + 1), resample=True,
                                 n_resamples=n_resamples,
                                 seed=seeding.sequence(seed, "evaluation", 2))
        summary = {"rank": None, "units": layer.units, "truncation": curve,
                   "initial_kernel": "given" if initial_kernel is not None else "zeros"}
        made["populations_truncation"] = populations_figures.truncation_figure({"net": curve})
    io.write_json(out / POPULATIONS_FILE, summary)
    for name, figure in made.items():
        io.write_bytes(out / FIGURES_DIR / f"{name}.png", figures.figure_to_png(figure))
    return summary
