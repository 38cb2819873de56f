"""The churn model's estimator: median imputation with missing-value indicators,
standard scaling and L2-regularised logistic regression, fitted by SciPy's L-BFGS.

It is what scikit-learn's ``make_pipeline(SimpleImputer(strategy="median",
add_indicator=True), StandardScaler(), LogisticRegression())`` computes, written
out because importing scikit-learn takes about a second — more than the rest of a
small workspace's run — while SciPy's optimiser is loaded by the customer-value
models anyway. tests/predict/test_logistic.py fits scikit-learn's pipeline beside
it and checks that both give the same coefficients and probabilities.

- Imputation: each column's missing values (NaN) become the median of its values
  in the training rows. A column with a missing value in the training rows gets an
  indicator column (1.0 where missing), placed after the features, named
  ``missingindicator_<feature>``.
- Scaling: every column (indicators included) minus its training mean, divided by
  its population standard deviation; a constant column is divided by 1.
- Regression: weights w and intercept b minimise
  ``C · Σ log-loss(yᵢ, σ(xᵢ·w + b)) + ½‖w‖²`` (the intercept is not penalised),
  scikit-learn's objective, to a gradient norm of 1e-10 rather than its 1e-4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

INDICATOR_PREFIX = "missingindicator_"


@dataclass(frozen=True)
class LogisticModel:
    """A fitted model: what imputation, scaling and regression learnt from the training rows."""

    names: list[str]
    """The model's inputs in order: the features, then the missing-value indicators."""
    medians: np.ndarray
    indicators: np.ndarray
    """Indexes of the features that have an indicator."""
    means: np.ndarray
    scales: np.ndarray
    weights: np.ndarray
    intercept: float

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        filled = np.where(missing, self.medians, x)
        full = np.hstack([filled, missing[:, self.indicators].astype(float)])
        return (full - self.means) / self.scales

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability of class 1 for each row of ``x`` (NaN marks a missing value)."""
        from scipy.special import expit

        return np.asarray(expit(self._inputs(x) @ self.weights + self.intercept), dtype=float)

    def coefficients(self) -> dict[str, float]:
        """Weight per input name (on the standardised inputs)."""
        return {n: float(w) for n, w in zip(self.names, self.weights, strict=True)}


def fit(x: np.ndarray, y: np.ndarray, features: Sequence[str], c: float = 1.0) -> LogisticModel:
    """Fit on rows ``x`` (NaN = missing; no column all missing) and labels ``y`` in {0, 1}."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    missing = np.isnan(x)
    medians = np.nanmedian(x, axis=0)
    indicators = np.flatnonzero(missing.any(axis=0))
    names = [*features, *(INDICATOR_PREFIX + features[int(i)] for i in indicators)]
    full = np.hstack([np.where(missing, medians, x), missing[:, indicators].astype(float)])
    means = full.mean(axis=0)
    scales = full.std(axis=0)
    # As scikit-learn: a (near-)constant column is left unscaled.
    scales[scales < 10 * np.finfo(float).eps * np.maximum(np.abs(means), 1.0)] = 1.0
    z = (full - means) / scales
    sign = 2.0 * y - 1.0  # log-loss of label y at margin m is -log σ(sign · m)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        margin = sign * (z @ w + b)
        loss = -c * float(log_expit(margin).sum()) + 0.5 * float(w @ w)
        g = -c * sign * expit(-margin)  # d loss / d (z·w + b) per row
        return loss, np.append(z.T @ g + w, g.sum())

    start = np.zeros(z.shape[1] + 1)
    found = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 15000, "gtol": 1e-10, "ftol": 1e-15},
    )
    return LogisticModel(
        names, medians, indicators, means, scales, found.x[:-1].copy(), float(found.x[-1])
    )


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC: the chance that a random positive scores above a random negative (ties
    count one half) — the Mann–Whitney statistic from average ranks."""
    import polars as pl

    # Polars' average rank is scipy.stats.rankdata's, without SciPy's 0.3 s stats import.
    ranks = pl.Series(p).rank("average").to_numpy()
    positives = int(y.sum())
    negatives = len(y) - positives
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
