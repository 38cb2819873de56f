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
  scikit-learn's objective, by Newton steps (SciPy's ``trust-exact``) to the
  optimum, where scikit-learn's L-BFGS stops at a gradient norm of 1e-4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from custlens.errors import ModelFitError

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

    ones = np.ones((z.shape[0], 1))
    zb = np.hstack([z, ones])  # the intercept as a last column of ones
    penalty = np.append(np.ones(z.shape[1]), 0.0)  # ½‖w‖², the intercept free

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margin = sign * (zb @ theta)
        loss = -c * float(log_expit(margin).sum()) + 0.5 * float((penalty * theta) @ theta)
        g = -c * sign * expit(-margin)  # d loss / d (z·w + b) per row
        return loss, zb.T @ g + penalty * theta

    def hessian(theta: np.ndarray) -> np.ndarray:
        p = expit(zb @ theta)
        return (zb.T * (c * p * (1 - p))) @ zb + np.diag(penalty)

    # Newton steps in a trust region, then plain Newton steps: near the optimum the
    # loss no longer changes in its last digits, so the trust region cannot judge a
    # step, while the gradient still can; each step squares the error. The fit ends
    # at the optimum to rounding, and inputs that differ in their last digit (one
    # engine's sums against another's) give the same model.
    found = minimize(
        objective,
        np.zeros(zb.shape[1]),
        jac=True,
        hess=hessian,
        method="trust-exact",
        options={"gtol": 1e-8, "maxiter": 1000},
    )
    theta = found.x
    for _ in range(4):
        theta = theta - np.linalg.solve(hessian(theta), objective(theta)[1])
    if not np.abs(objective(theta)[1]).max() < 1e-8:
        raise ModelFitError(f"the logistic regression did not converge: {found.message}")
    return LogisticModel(
        names, medians, indicators, means, scales, theta[:-1].copy(), float(theta[-1])
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
