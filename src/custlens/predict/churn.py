"""Churn propensity: a logistic model on point-in-time ``churn_features``.

The training set is built in the engine (Ibis) and fitted in NumPy and SciPy
(:mod:`custlens.predict.logistic`) on the small result (DESIGN.md §1).

Training dates. With as-of date A and horizon h months
(``analytics.churn_model.horizon_months``), the latest training date is the
month end h months before A, so that its label window ends on or before A;
the ``training_months`` month ends up to it are the training dates.

Rows. For each training date t, the ``churn_features`` fact is computed *as
of t* (:func:`custlens.facts.churn_features.features` with the training dates
as a small table, so every snapshot is one query and reads only data dated on
or before its t) and joined to the customers paying at t (MRR > 0 in t's
month, from ``customer_mrr``). The
label ``churned`` is 1 when the customer's MRR is 0 in some month in
(t, t + h] — data after t + h is never read, data after t only for the label.
Which source ids make one customer (``customer_identity``) is taken from
the current run: it maps records, it does not measure behaviour.

Model. Numeric features (:data:`FEATURES`, with the MRR at t) → median
imputation with missing-value indicators → standard scaling → logistic
regression. Features that are null in every training row (their source is
not loaded) are left out.

Backtest. The last ``test_months`` training dates are the test dates; the
model is refitted on the training dates t with t + h on or before the first
test date (labels known by then) and scored on the test dates: ROC AUC and a
calibration table by decile of predicted probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from custlens.calendar import index_of, month_end_of, month_index
from custlens.errors import ModelFitError
from custlens.facts.registry import FactContext
from custlens.predict import logistic

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import polars as pl

    from custlens.pipeline import RunResult
    from custlens.workspace import Workspace

FEATURES = (
    "days_since_last_login",
    "logins_30d",
    "logins_prior_30d",
    "latest_sentiment",
    "sentiment_90d",
    "tickets_90d",
    "avg_resolution_hours",
    "features_used_90d",
    "feature_adoption",
    "failed_payments_90d",
    "days_until_renewal",
    "latest_nps",
    "mrr",
)
"""Candidate model inputs: the numeric ``churn_features`` columns and the MRR at t."""

MIN_ROWS = 10
"""Fewer training rows than this is too little history for a model."""

DECILES = 10

FACT = "churn_propensity"


def training_dates(as_of: date, horizon_months: int, training_months: int) -> list[date]:
    """The month ends t, oldest first, with t + horizon on or before the as-of month."""
    last = index_of(as_of) - horizon_months
    return [month_end_of(i) for i in range(last - training_months + 1, last + 1)]


def _mrr(ctx: FactContext) -> ir.Table:
    """customer_id (resolved), month_idx, mrr from the ``customer_mrr`` fact."""
    from custlens.facts.identity import resolve_ids

    mrr = resolve_ids(ctx, ctx["customer_mrr"])
    mrr = mrr.select("customer_id", month_idx=month_index(mrr.month), mrr=mrr.mrr)
    return mrr.group_by("customer_id", "month_idx").aggregate(mrr=ibis._.mrr.sum())


def labels(ctx: FactContext, snapshots: ir.Table, horizon_months: int) -> ir.Table:
    """as_of, customer_id, mrr, churned: for each date t of ``snapshots`` (column
    ``as_of``), the customers paying at t and whether they churn by t + h.

    Reads MRR of the months t … t + h only.
    """
    mrr = _mrr(ctx)
    dates = snapshots.select("as_of", i=month_index(snapshots.as_of))
    window = mrr.join(dates, [mrr.month_idx >= dates.i, mrr.month_idx <= dates.i + horizon_months])
    later = window.month_idx > window.i
    per = window.group_by("as_of", "customer_id").aggregate(
        mrr=window.mrr.max(where=window.month_idx == window.i),
        zero_months=window.count(where=later & (window.mrr <= 0)),
    )
    per = per.filter(per.mrr > 0)
    return per.select(
        "as_of",
        "customer_id",
        mrr=per.mrr.cast("float64"),
        churned=ibis.ifelse(per.zero_months > 0, 1, 0).cast("int64"),
    )


def paying_at(ctx: FactContext, at: date) -> ir.Table:
    """customer_id, mrr of the customers with MRR > 0 in the month of ``at``."""
    mrr = _mrr(ctx)
    now = mrr.filter(mrr.month_idx == index_of(at), mrr.mrr > 0)
    return now.select("customer_id", mrr=now.mrr.cast("float64"))


def _columns(table: ir.Table, *extra: str) -> ir.Table:
    """customer_id and every feature as float64 (and ``extra`` columns as they are)."""
    return table.select(
        "customer_id", *(table[c].cast("float64").name(c) for c in FEATURES), *extra
    )


def training_set(ctx: FactContext, dates: Sequence[date], horizon_months: int) -> ir.Table:
    """One row per training date and customer paying then: as_of, customer_id, features, churned.

    Every date's features and labels are one query (the dates a small table joined
    in), not one query per date.

    Raises:
        ModelFitError: no training dates (the history is shorter than the horizon).
    """
    from custlens.facts.churn_features import features

    if not dates:
        raise ModelFitError("no training dates: the history is shorter than the horizon")
    # An array literal, not a memtable: registering an in-memory table on DuckDB
    # loads pyarrow.dataset and with it pandas (0.3 s of every run).
    snapshots = ibis.literal(list(dates), "array<date>").unnest().name("as_of").as_table()
    rows = features(ctx, snapshots).join(
        labels(ctx, snapshots, horizon_months), ["as_of", "customer_id"]
    )
    return _columns(rows, "churned", "as_of").select("as_of", "customer_id", *FEATURES, "churned")


def prediction_set(ctx: FactContext) -> ir.Table:
    """customer_id and the features at the as-of date of the customers paying then."""
    from custlens.facts.churn_features import build

    current = ctx["churn_features"] if ctx.has("churn_features") else build(ctx)
    return _columns(current.join(paying_at(ctx, ctx.as_of), "customer_id"))


@dataclass
class ChurnModel:
    """A fitted model and the features it reads."""

    model: logistic.LogisticModel
    features: list[str]
    rows: int
    churn_rate: float

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Probability of churn within the horizon for each row of ``frame``."""
        return self.model.predict(_matrix(frame, self.features))

    def coefficients(self) -> dict[str, float]:
        """Coefficients on the standardised inputs (missing-value indicators included)."""
        out = {n: round(c, 6) for n, c in self.model.coefficients().items()}
        out["intercept"] = round(self.model.intercept, 6)
        return out


def _matrix(frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    return np.column_stack(
        [frame[c].cast(float).fill_null(float("nan")).to_numpy() for c in features]
    ).astype(float)


def fit(frame: pl.DataFrame, model: str = "logistic") -> ChurnModel:
    """Fit the churn model on a training set (see :func:`training_set`).

    Raises:
        ModelFitError: too few rows, or only one class (nobody churned, or everybody).
    """
    if model != "logistic":
        raise ModelFitError(f"unknown churn model {model!r}")
    if frame.height < MIN_ROWS:
        raise ModelFitError(
            f"{frame.height} training rows (customer-months paying at a training date); "
            f"need at least {MIN_ROWS}: too little history"
        )
    # The rows in one order whatever order the engine returned them in: the
    # optimiser's sums then run alike, and DuckDB and Spark give the same model.
    keys = [c for c in ("as_of", "customer_id") if c in frame.columns]
    frame = frame.sort(keys) if keys else frame
    y = frame["churned"].cast(int).to_numpy()
    churners = int(y.sum())
    if churners in (0, len(y)):
        what = "no customer churned" if churners == 0 else "every customer churned"
        raise ModelFitError(f"only one class in {len(y)} training rows: {what}")
    features = [c for c in FEATURES if c in frame.columns and frame[c].null_count() < frame.height]
    estimator = logistic.fit(_matrix(frame, features), y, features)
    return ChurnModel(estimator, features, frame.height, churners / len(y))


@dataclass
class Backtest:
    """Out-of-time scores: train on earlier dates, test on later ones."""

    train_dates: list[date]
    test_dates: list[date]
    train_rows: int
    test_rows: int
    auc: float | None
    """ROC AUC on the test rows; None when they hold one class only."""
    calibration: pl.DataFrame
    """decile, customers, mean_predicted, observed_rate, churned."""

    def record(self) -> dict[str, Any]:
        return {
            "train_dates": [d.isoformat() for d in self.train_dates],
            "test_dates": [d.isoformat() for d in self.test_dates],
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "auc": None if self.auc is None else round(self.auc, 6),
            "calibration": self.calibration.to_dicts(),
        }


def calibration_table(p: np.ndarray, y: np.ndarray) -> pl.DataFrame:
    """Deciles of predicted probability: customers, mean predicted, observed churn rate.

    Rows are ranked by probability (ties in row order) and cut into ten
    groups of sizes differing by at most one; empty groups are left out.
    """
    import polars as pl

    order = np.argsort(p, kind="stable")
    decile = np.empty(len(p), dtype=int)
    decile[order] = np.arange(len(p)) * DECILES // max(len(p), 1) + 1
    frame = pl.DataFrame({"decile": decile, "p": p, "y": y})
    return (
        frame.group_by("decile")
        .agg(
            customers=pl.len(),
            mean_predicted=pl.col("p").mean(),
            observed_rate=pl.col("y").cast(pl.Float64).mean(),
            churned=pl.col("y").sum(),
        )
        .sort("decile")
        .with_columns(pl.col("customers").cast(pl.Int64), pl.col("churned").cast(pl.Int64))
    )


def backtest(
    frame: pl.DataFrame, horizon_months: int, test_months: int, model: str = "logistic"
) -> Backtest:
    """Fit on the dates whose labels are known by the first test date, score the test dates.

    Raises:
        ModelFitError: too few dates for a test period and a training period before
            it, or the training part cannot support the model.
    """
    import polars as pl

    dates = sorted(frame["as_of"].unique().to_list())
    if len(dates) <= test_months:
        raise ModelFitError(
            f"{len(dates)} training dates with paying customers: a backtest needs more "
            f"than the {test_months} test months"
        )
    test_dates = dates[-test_months:]
    limit = index_of(test_dates[0]) - horizon_months
    train_dates = [d for d in dates if index_of(d) <= limit]
    if not train_dates:
        raise ModelFitError(
            f"no training date has its {horizon_months}-month label window closed by the "
            f"first test date {test_dates[0]}: too little history for a backtest"
        )
    train = frame.filter(pl.col("as_of").is_in(train_dates))
    test = frame.filter(pl.col("as_of").is_in(test_dates))
    fitted = fit(train, model)
    p = fitted.predict(test)
    y = test["churned"].cast(int).to_numpy()
    auc = logistic.roc_auc(y, p) if 0 < y.sum() < len(y) else None
    return Backtest(
        train_dates, test_dates, train.height, test.height, auc, calibration_table(p, y)
    )


def fit_and_write(
    ws: Workspace, as_of: date | None = None, horizon_months: int | None = None
) -> tuple[RunResult, dict[str, Any]]:
    """Run ``churn_propensity`` (with this horizon); return the run and what the fit reported.

    Raises:
        ConfigError: a horizon out of range.
        ModelFitError: too little history or one class only; nothing was written.
        NotFoundError: the fact's inputs are not loaded.
    """
    from pydantic import ValidationError

    from custlens.config import ChurnModel as Settings
    from custlens.errors import ConfigError, NotFoundError

    config = ws.config
    if horizon_months is not None:
        current = config.analytics.churn_model.model_dump()
        try:
            settings = Settings.model_validate({**current, "horizon_months": horizon_months})
        except ValidationError as exc:
            problems = "; ".join(e["msg"] for e in exc.errors())
            raise ConfigError(f"--horizon-months: {problems}") from None
        analytics = config.analytics.model_copy(update={"churn_model": settings})
        config = config.model_copy(update={"analytics": analytics})
    # Every fact of a workspace is at one as-of date: the latest run's, unless asked.
    result = ws.run(as_of=ws.as_of_month(as_of), only=[FACT], config=config)
    if FACT in result.skipped:
        raise NotFoundError(f"{FACT} was not computed: it {result.skipped[FACT]}")
    return result, result.notes[FACT]
