"""The churn model's estimator against scikit-learn's pipeline, the reference it replaces.

scikit-learn's ``SimpleImputer(median, add_indicator) → StandardScaler →
LogisticRegression`` is fitted beside :func:`custlens.predict.logistic.fit` on the
same rows: the input names, the coefficients and the probabilities must agree.
(scikit-learn stops at a gradient norm of 1e-4 where custlens goes on to 1e-10,
hence the tolerances.) ROC AUC is checked against scikit-learn and a hand count.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from custlens.predict import logistic


def rows(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Four features — one with gaps, one constant, one on a large scale — and labels."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.normal(0, 1, n),
            rng.exponential(30, n),
            np.full(n, 7.0),
            rng.normal(5000, 2000, n),
        ]
    )
    x[rng.random(n) < 0.2, 1] = np.nan
    margin = 0.8 * x[:, 0] - 0.02 * np.nan_to_num(x[:, 1], nan=60) + 0.0003 * x[:, 3] - 1
    y = (rng.random(n) < 1 / (1 + np.exp(-margin))).astype(int)
    return x, y


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fit_is_scikit_learns_pipeline(seed: int) -> None:
    x, y = rows(seed)
    names = ["a", "b", "constant", "large"]
    reference = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True),
        StandardScaler(),
        LogisticRegression(max_iter=1000, tol=1e-10),
    ).fit(x, y)
    fitted = logistic.fit(x, y, names)

    assert fitted.names == list(reference[:-1].get_feature_names_out(names))
    assert fitted.names[-1] == "missingindicator_b"
    np.testing.assert_allclose(fitted.weights, reference[-1].coef_[0], rtol=1e-4, atol=1e-5)
    assert fitted.intercept == pytest.approx(reference[-1].intercept_[0], rel=1e-4, abs=1e-5)
    test, _ = rows(seed + 10, 50)
    np.testing.assert_allclose(
        fitted.predict(test), reference.predict_proba(test)[:, 1], rtol=1e-5, atol=1e-7
    )


def test_a_gap_only_in_new_rows_is_filled_with_the_training_median() -> None:
    x = np.array([[1.0], [2.0], [3.0], [10.0]])
    fitted = logistic.fit(x, np.array([0, 0, 1, 1]), ["a"])
    assert fitted.names == ["a"]  # no gap while training: no indicator
    assert fitted.predict(np.array([[np.nan]]))[0] == pytest.approx(
        fitted.predict(np.array([[2.5]]))[0]
    )


def test_roc_auc_counts_pairs_with_ties_as_half() -> None:
    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.9, 0.9, 0.4, 0.1, 0.05])
    # Positive-negative pairs: (0.9, 0.9) ½, (0.9, 0.1) 1, (0.4, 0.9) 0, (0.4, 0.1) 1,
    # (0.05, 0.9) 0, (0.05, 0.1) 0 → 2.5 of 6.
    assert logistic.roc_auc(y, p) == pytest.approx(2.5 / 6)
    assert logistic.roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
