"""Latent primitives of a task corpus: CCA (or PCA) of inputs against targets.

MoLaP (Márton et al., section 3.3 and appendix A.2.1) derives the signals its
modules are pre-trained on from the whole corpus of tasks at once: canonical
correlation analysis between the stacked task inputs `X` and the stacked task
targets `Y` gives pairs of canonical variates `(U_k, V_k)`; module `k` learns to
turn `U_k` into `V_k`.

`LatentPrimitives` is a scikit-learn estimator wrapping
`sklearn.cross_decomposition.CCA` (or `sklearn.decomposition.PCA`). It is fitted
**once** on a large fixed sample of the corpus (z-scored columns) and then
serves any batch through `transform`; component signs are fixed at fit time so
the primitives do not flip between calls (the reference code refits the CCA on
every batch with free signs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted

from ctxrnn.checks import positive_int

METHODS = ("cca", "pca", "pca_joint", "cca_history")
#: Default lags (steps) of `method="cca_history"`: the past the target primitives
#: are related to (the code trials' stimulus epoch is 50 steps long).
HISTORY_LAGS = (5, 10, 20, 30, 40, 50)
RESCALES = (None, "minmax", "centered")


def _sign_of_largest(loadings: np.ndarray) -> np.ndarray:
    """+1/-1 per column so that each column's largest-magnitude entry is positive."""
    rows = np.argmax(np.abs(loadings), axis=0)
    signs = np.sign(loadings[rows, np.arange(loadings.shape[1])])
    signs[signs == 0] = 1.0
    return signs


class LatentPrimitives(TransformerMixin, BaseEstimator):
    """Canonical (or principal) latent primitives of task inputs and targets.

    `fit(X, Y)` z-scores every column of `X` (inputs, one row per time step of
    a trial) and `Y` (targets), then fits one of:

    - `method="cca"` (MoLaP): `sklearn` CCA with `n_components` pairs; the
      input primitives are the input canonical variates `U`, the target
      primitives the target canonical variates `V`.
    - `method="pca"` (paper A.2.2): PCA of the inputs and, separately, of the
      targets.
    - `method="pca_joint"` (the reference code's PCA variant): one PCA of the
      concatenation `[X | Y]`, its scores used as both input and target
      primitives.
    - `method="cca_history"` (not in the paper; fitted with `fit_trials`
      only): the input primitives are the instantaneous input canonical
      variates `U` of `"cca"`; the target primitives are the target canonical
      variates of a second CCA, between the targets and the delay embedding
      `[U(t - l) for l in lags]` of the input primitives' past. With the
      MoLaP corpus the `"cca"` target variates are same-step copies of the
      inputs (`memory_demand`), which a module learns without remembering
      anything; these must be computed from what the inputs were.

    Signs are fixed once: each component's largest-magnitude input loading is
    made positive, and for CCA the target component gets the same flip so
    that every canonical correlation stays positive.

    `rescale="minmax"` maps the input primitives, and separately the target
    primitives, to [0, 1] with the global minimum and maximum (over all
    components) of the fit data, as the reference code does before
    pre-training. The bounds are fixed at fit time, so every batch is scaled
    alike. Without it the primitives are z-score sized (unit variance, tails
    of several units), and a module pre-trained on them grows a strong,
    saturating low-rank structure that the frozen-core heads cannot use
    (experiments/RESULTS_molap.md). `rescale="centered"` is the same map
    shifted to [-0.5, 0.5]: [0, 1] primitives are mostly positive time
    courses, and a module trained to sustain them can grow a real positive
    leading eigenvalue, a self-exciting mode whose saturated states erase the
    memory the heads need (RESULTS_molap.md, "Which cores fail").

    Args:
        n_components: int, number of primitives (modules). Default: `2`.
        method: `"cca"`, `"pca"` or `"pca_joint"`. Default: `"cca"`.
        max_iter: int, NIPALS iterations of the CCA. Default: `500`.
        tol: float, NIPALS tolerance. Default: `1e-6`.
        rescale: `None` (raw scores, default), `"minmax"` (to [0, 1], bounds
            fixed at fit time) or `"centered"` (to [-0.5, 0.5], same bounds).
        lags: steps of the delay embedding of `method="cca_history"`.
            Default: `HISTORY_LAGS`.

    Attributes:
        x_scaler_, y_scaler_: fitted `StandardScaler`s of inputs and targets.
        estimator_: the fitted `CCA` (`method="cca"`), `PCA` of the inputs
            (`"pca"`) or of `[X | Y]` (`"pca_joint"`).
        y_estimator_: the fitted `PCA` of the targets (`method="pca"`), else `None`.
        x_signs_, y_signs_: `(n_components,)` arrays of +1/-1 applied to the scores.
        x_bounds_, y_bounds_: `(min, max)` of the fit data's input and target
            scores (used by `rescale="minmax"` and `"centered"`).
        correlations_: `(n_components,)` correlation of each input primitive
            with its target primitive on the fit data (`"cca_history"`: of
            the input history's canonical variate with the target primitive).
        history_estimator_: the second `CCA` of `method="cca_history"`, else `None`.
        target_variance_explained_: `(n_components,)` cumulative fraction of
            the (z-scored) target variance explained by a least-squares map
            from the first `k` input primitives.
        n_features_in_, n_targets_in_: column counts seen in `fit`.

    Example:

    ```python
    from ctxrnn.molap import LatentPrimitives, corpus_arrays

    inputs, targets = corpus_arrays(tasks, batch_size=500, seed=0)   # (B, T, 25), (B, T, 22)
    primitives = LatentPrimitives(n_components=2).fit_trials(inputs, targets)
    u, v = primitives.transform_trials(inputs, targets)              # (B, T, 2) each
    ```
    """

    def __init__(self, n_components: int = 2, *, method: str = "cca", max_iter: int = 500,
                 tol: float = 1e-6, rescale: str | None = None,
                 lags: Sequence[int] = HISTORY_LAGS):
        self.n_components = n_components
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.rescale = rescale
        self.lags = lags

    # ------------------------------------------------------------------ fit
    def _check_params(self, n_x: int, n_y: int, n_samples: int):
        if self.method not in METHODS:
            raise ValueError(
                f"Argument `method` must be one of {METHODS}; received method={self.method!r}."
            )
        if self.rescale not in RESCALES:
            raise ValueError(
                f"Argument `rescale` must be one of {RESCALES}; received rescale={self.rescale!r}."
            )
        n = self.n_components
        positive_int("n_components", n)
        upper = {"cca": min(n_x, n_y, n_samples), "pca": min(n_x, n_y, n_samples),
                 "pca_joint": min(n_x + n_y, n_samples),
                 "cca_history": min(n_x, n_y, n_samples)}[self.method]
        if n > upper:
            raise ValueError(
                f"`n_components` upper bound is {upper} for method={self.method!r} with "
                f"{n_x} input and {n_y} target columns. Got {n} instead. Reduce `n_components`."
            )

    def fit(self, X, Y) -> "LatentPrimitives":
        """Fits scalers, the decomposition and the component signs.

        Args:
            X: array-like `(n_samples, n_inputs)`, input rows (time steps x trials).
            Y: array-like `(n_samples, n_targets)`, target rows.

        Returns:
            `self`.

        Raises:
            ValueError: unknown `method`, bad `n_components`, mismatched rows,
                or NaN/inf in the data.
        """
        X = check_array(X, dtype=np.float64)
        Y = check_array(Y, dtype=np.float64, ensure_2d=False)
        if Y.ndim == 1:
            Y = Y[:, None]
        check_consistent_length(X, Y)
        self._check_params(X.shape[1], Y.shape[1], X.shape[0])
        if self.method == "cca_history":
            raise ValueError("method='cca_history' relates targets to the inputs' past; fit it "
                             "on trial arrays with `fit_trials`.")
        self._fit_rows(X, Y)
        u, v = self._scores(*self._standardized(X, Y))
        self._set_fit_statistics(u, v, self._standardized(X, Y)[1])
        return self

    def _standardized(self, X, Y):
        return self.x_scaler_.transform(X), self.y_scaler_.transform(Y)

    def _fit_rows(self, X, Y):
        """Scalers, decomposition and signs of the instantaneous methods (and of the
        first stage of `"cca_history"`)."""
        self.history_estimator_ = None
        self.n_features_in_ = X.shape[1]
        self.n_targets_in_ = Y.shape[1]
        self.x_scaler_ = StandardScaler().fit(X)
        self.y_scaler_ = StandardScaler().fit(Y)
        xz, yz = self.x_scaler_.transform(X), self.y_scaler_.transform(Y)
        n = int(self.n_components)
        self.y_estimator_ = None
        if self.method in ("cca", "cca_history"):
            self.estimator_ = CCA(n_components=n, scale=False, max_iter=self.max_iter,
                                  tol=self.tol).fit(xz, yz)
            self.x_signs_ = _sign_of_largest(self.estimator_.x_rotations_)
            self.y_signs_ = self.x_signs_.copy()
        elif self.method == "pca":
            self.estimator_ = PCA(n_components=n, svd_solver="full").fit(xz)
            self.y_estimator_ = PCA(n_components=n, svd_solver="full").fit(yz)
            self.x_signs_ = _sign_of_largest(self.estimator_.components_.T)
            self.y_signs_ = _sign_of_largest(self.y_estimator_.components_.T)
        else:
            self.estimator_ = PCA(n_components=n, svd_solver="full").fit(np.hstack([xz, yz]))
            self.x_signs_ = _sign_of_largest(self.estimator_.components_.T)
            self.y_signs_ = self.x_signs_.copy()

    def _set_fit_statistics(self, u, v, yz, partner=None):
        """Bounds, correlations (of `partner`, default `u`, with `v`) and explained variance."""
        n = int(self.n_components)
        partner = u if partner is None else partner
        self.x_bounds_ = (float(u.min()), float(u.max()))
        self.y_bounds_ = (float(v.min()), float(v.max()))
        self.correlations_ = np.array([
            np.corrcoef(partner[:, k], v[:, k])[0, 1]
            if partner[:, k].std() > 0 and v[:, k].std() > 0 else 0.0
            for k in range(n)
        ])
        self.target_variance_explained_ = np.array(
            [_explained(u[:, : k + 1], yz) for k in range(n)])

    def _scores(self, xz, yz=None):
        if self.method == "cca_history":
            u = self.estimator_.transform(xz)
            v = None if yz is None else yz @ self.history_estimator_.y_rotations_
        elif self.method == "cca":
            if yz is None:
                u = self.estimator_.transform(xz)
                v = None
            else:
                u, v = self.estimator_.transform(xz, yz)
        elif self.method == "pca":
            u = self.estimator_.transform(xz)
            v = None if yz is None else self.y_estimator_.transform(yz)
        else:
            if yz is None:
                raise ValueError(
                    "method='pca_joint' scores rows of [inputs | targets]; pass `Y` to transform."
                )
            u = self.estimator_.transform(np.hstack([xz, yz]))
            v = u.copy()
        u = np.asarray(u).reshape(len(xz), -1) * self.x_signs_
        if v is not None:
            v = np.asarray(v).reshape(len(yz), -1) * self.y_signs_
        return u, v

    # ------------------------------------------------------------ transform
    def transform(self, X, Y=None):
        """Projects rows onto the fitted primitives.

        Args:
            X: array-like `(n_samples, n_inputs)`.
            Y: optional array-like `(n_samples, n_targets)`.

        Returns:
            `U` of shape `(n_samples, n_components)`, or `(U, V)` when `Y` is given.
        """
        check_is_fitted(self, "estimator_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} columns, but LatentPrimitives was fitted with "
                f"{self.n_features_in_}."
            )
        yz = None
        if Y is not None:
            Y = check_array(Y, dtype=np.float64, ensure_2d=False)
            Y = Y[:, None] if Y.ndim == 1 else Y
            check_consistent_length(X, Y)
            if Y.shape[1] != self.n_targets_in_:
                raise ValueError(
                    f"Y has {Y.shape[1]} columns, but LatentPrimitives was fitted with "
                    f"{self.n_targets_in_}."
                )
            yz = self.y_scaler_.transform(Y)
        u, v = self._scores(self.x_scaler_.transform(X), yz)
        if self.rescale in ("minmax", "centered"):
            shift = 0.5 if self.rescale == "centered" else 0.0
            u = _to_unit(u, self.x_bounds_) - shift
            v = None if v is None else _to_unit(v, self.y_bounds_) - shift
        return u if Y is None else (u, v)

    def fit_transform(self, X, Y=None, **fit_params):
        """`fit(X, Y)` then `transform(X, Y)`; returns `(U, V)`."""
        if Y is None:
            raise ValueError("LatentPrimitives.fit_transform needs targets `Y`; received Y=None.")
        return self.fit(X, Y).transform(X, Y)

    # --------------------------------------------------- trial-shaped data
    def fit_trials(self, inputs, targets) -> "LatentPrimitives":
        """`fit` on trial arrays `(batch, time, channels)` (every step is a row)."""
        inputs, targets = _check_trials(inputs, "inputs"), _check_trials(targets, "targets")
        if inputs.shape[:2] != targets.shape[:2]:
            raise ValueError(
                f"`inputs` {inputs.shape} and `targets` {targets.shape} must share "
                "(batch, time)."
            )
        flat_x = inputs.reshape(-1, inputs.shape[-1]).astype(np.float64)
        flat_y = targets.reshape(-1, targets.shape[-1]).astype(np.float64)
        if self.method != "cca_history":
            return self.fit(flat_x, flat_y)
        lags = [int(lag) for lag in self.lags]
        if not lags or min(lags) < 1 or max(lags) >= inputs.shape[1]:
            raise ValueError(f"Argument `lags` must hold steps in [1, {inputs.shape[1] - 1}]; "
                             f"received lags={self.lags!r}.")
        self._check_params(flat_x.shape[1], flat_y.shape[1], flat_x.shape[0])
        self._fit_rows(flat_x, flat_y)
        xz, yz = self._standardized(flat_x, flat_y)
        u = self._scores(xz)[0]
        past = _delay_embed(u.reshape(inputs.shape[:2] + (-1,)), lags).reshape(len(u), -1)
        self.history_estimator_ = CCA(n_components=int(self.n_components), scale=False,
                                      max_iter=self.max_iter, tol=self.tol).fit(past, yz)
        h, v = self.history_estimator_.transform(past, yz)
        # orient each target primitive like its input primitive's own past
        signs = np.sign([np.corrcoef(u[:, k], v[:, k])[0, 1] or 1.0
                         for k in range(v.shape[1])])
        self.history_estimator_.y_rotations_ = self.history_estimator_.y_rotations_ * signs
        u, v = self._scores(xz, yz)
        self._set_fit_statistics(u, v, yz, partner=h * signs)
        return self

    def transform_trials(self, inputs, targets=None):
        """Primitive time series of trial arrays.

        Args:
            inputs: `(batch, time, n_inputs)` array.
            targets: optional `(batch, time, n_targets)` array.

        Returns:
            float32 `U` `(batch, time, n_components)`, or `(U, V)` when targets are given.
        """
        inputs = _check_trials(inputs, "inputs")
        shape = inputs.shape[:2] + (int(self.n_components),)
        flat_x = inputs.reshape(-1, inputs.shape[-1])
        if targets is None:
            return self.transform(flat_x).reshape(shape).astype(np.float32)
        targets = _check_trials(targets, "targets")
        u, v = self.transform(flat_x, targets.reshape(-1, targets.shape[-1]))
        return u.reshape(shape).astype(np.float32), v.reshape(shape).astype(np.float32)


def _delay_embed(series: np.ndarray, lags: Sequence[int]) -> np.ndarray:
    """`(batch, time, c)` -> `(batch, time, c * len(lags))`: the series `lag` steps
    earlier for each lag (zeros before the trial starts)."""
    out = np.zeros(series.shape[:2] + (series.shape[-1] * len(lags),), series.dtype)
    width = series.shape[-1]
    for index, lag in enumerate(lags):
        out[:, lag:, index * width:(index + 1) * width] = series[:, :-lag]
    return out


def _to_unit(scores: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    low, high = bounds
    return (scores - low) / (high - low) if high > low else scores - low


def _check_trials(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(
            f"Argument `{name}` must have shape (batch, time, channels); received {array.shape}."
        )
    return array


def _explained(u: np.ndarray, yz: np.ndarray) -> float:
    """Fraction of the total variance of `yz` explained by a linear map from `u`."""
    design = np.hstack([u, np.ones((len(u), 1))])
    coef, *_ = np.linalg.lstsq(design, yz, rcond=None)
    residual = yz - design @ coef
    total = np.sum((yz - yz.mean(axis=0)) ** 2)
    return float(1.0 - np.sum(residual ** 2) / total) if total > 0 else 0.0


def corpus_arrays(tasks: Sequence, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Channel-stacked inputs and targets of a task corpus (MoLaP's CCA data).

    Every task draws `batch_size` trials with the same `seed`; trial `b` of
    every task sits in row `b`, inputs and targets are concatenated along the
    channel axis (25 input and 22 target channels for the nine MoLaP tasks).

    Args:
        tasks: task objects with `generate(batch_size, seed)`.
        batch_size: int, trials per task.
        seed: int, seed passed to every task.

    Returns:
        `(inputs, targets)`, float32 arrays `(batch, time, sum inputs)` and
        `(batch, time, sum targets)`.

    Raises:
        ValueError: if `tasks` is empty or the tasks' trial lengths differ.
    """
    if not tasks:
        raise ValueError("Argument `tasks` must hold at least one task; received none.")
    batches = [task.generate(batch_size, seed=seed) for task in tasks]
    lengths = {np.asarray(b.inputs).shape[1] for b in batches}
    if len(lengths) != 1:
        raise ValueError(
            f"The tasks' trials must have one length to be stacked; received lengths "
            f"{sorted(lengths)}."
        )
    inputs = np.concatenate([np.asarray(b.inputs, np.float32) for b in batches], axis=-1)
    targets = np.concatenate([np.asarray(b.targets, np.float32) for b in batches], axis=-1)
    return inputs, targets


def _r2(design: np.ndarray, target: np.ndarray, train: np.ndarray, ridge: float) -> float:
    """Held-out R^2 of an affine ridge fit of `target` on `design` (rows `train` fit,
    the rest test)."""
    design = np.hstack([design, np.ones((len(design), 1))])
    a, b = design[train], target[train]
    penalty = ridge * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    coef = np.linalg.solve(a.T @ a + penalty, a.T @ b)
    test_x, test_y = design[~train], target[~train]
    total = np.sum((test_y - test_y.mean()) ** 2)
    return float(1.0 - np.sum((test_y - test_x @ coef) ** 2) / total) if total > 0 else 0.0


def memory_demand(u, v, *, history: slice, response: slice, ridge: float = 1e-3,
                  seed: int = 0) -> dict[str, list[float]]:
    """How much each primitive pair needs memory: R^2 of the target variate from the
    same step's input variate vs from the input variate's history.

    For pair `k`, on held-out trials (half of them): `"same_step"` is the R^2 of an
    affine map `U_k(t) -> V_k(t)` over all steps; `"history"` the R^2 of
    the trial's mean `V_k` over `response` from `U_k` over the `history` steps (an
    affine ridge map of the whole stretch). A pair whose target is a copy of the
    same step's input (`same_step` near 1, `history` near 0) can be learned
    without holding any information.

    Args:
        u, v: `(trials, time, components)` input and target primitives
            (`LatentPrimitives.transform_trials`).
        history: the steps whose inputs may be remembered (e.g. the stimulus epoch).
        response: the steps where the targets are read.
        ridge: ridge coefficient of the history fit. Default: `1e-3`.
        seed: seed of the train/test split of trials.

    Returns:
        `{"same_step": [R^2 per pair], "history": [R^2 per pair]}`.
    """
    u, v = _check_trials(u, "u"), _check_trials(v, "v")
    if u.shape != v.shape:
        raise ValueError(f"Arguments `u` {u.shape} and `v` {v.shape} must have one shape.")
    trials = u.shape[0]
    if trials < 4:
        raise ValueError(f"Argument `u` must hold at least 4 trials; received {trials}.")
    train = np.zeros(trials, bool)
    train[np.random.default_rng(seed).permutation(trials)[: trials // 2]] = True
    rows = np.repeat(train, u.shape[1])
    same, past = [], []
    for k in range(u.shape[-1]):
        same.append(_r2(u[..., k].reshape(-1, 1), v[..., k].reshape(-1), rows, 0.0))
        past.append(_r2(u[:, history, k], v[:, response, k].mean(axis=1), train, ridge))
    return {"same_step": same, "history": past}
