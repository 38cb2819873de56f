"""Customer lifetime value from a purchase model (BG/NBD or Pareto/NBD) and Gamma-Gamma spend.

CLV over a horizon of H months with a monthly discount rate d is, as in
``lifetimes``' ``customer_lifetime_value``::

    Σ_{i=1..H} E[avg value] × (E[purchases by month i] − E[purchases by month i−1]) / (1 + d)^i

Where custlens differs from lifetimes: a month is 30.4375 days (365.25 / 12,
the month of DESIGN.md §3), or 30.4375 / 7 weeks, where lifetimes takes 30
days or 4.345 weeks; and the expected purchases reported beside it are over
the same horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from custlens.predict import bgnbd, gammagamma, paretonbd
from custlens.predict.mle import Array, Fit, distinct

if TYPE_CHECKING:
    import polars as pl

DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0}
MODELS: dict[str, ModuleType] = {"bgnbd": bgnbd, "pareto": paretonbd}
COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "expected_avg_value",
    "clv",
)


@dataclass(frozen=True)
class Fitted:
    """The two fitted models of a CLV prediction."""

    purchases: Fit
    spend: Fit

    def record(self, **settings: object) -> dict[str, object]:
        """Settings and both fits, JSON-ready, for the run record."""
        return {**settings, "purchases": self.purchases.record(), "spend": self.spend.record()}


def month_length(unit: str) -> float:
    """One month in the summary's time unit."""
    return DAYS_PER_MONTH / DAYS_PER_UNIT[unit]


def fit(
    frequency: Array,
    recency: Array,
    T: Array,
    monetary_value: Array,
    model: str = "bgnbd",
    starts: int = 4,
    penalizer: float = 0.0,
) -> Fitted:
    """Fit the purchase model and the Gamma-Gamma spend model.

    Raises:
        ModelFitError: either fit failed; the message says why.
    """
    purchases = MODELS[model].fit(frequency, recency, T, starts=starts, penalizer=penalizer)
    spend = gammagamma.fit(frequency, monetary_value, starts=starts, penalizer=penalizer)
    return Fitted(purchases, spend)


def predict(
    fitted: Fitted,
    frequency: Array,
    recency: Array,
    T: Array,
    monetary_value: Array,
    *,
    unit: str = "weeks",
    horizon_months: int = 12,
    discount: float = 0.01,
) -> dict[str, Array]:
    """p_alive, expected_purchases (over the horizon), expected_avg_value and clv per customer.

    Customers sharing (frequency, recency, T) are computed once.
    """
    model = MODELS[fitted.purchases.model]
    params = fitted.purchases.values()
    (x, t_x, age), inverse = distinct(frequency, recency, T)
    step = month_length(unit)
    with np.errstate(all="ignore"):
        alive = model.p_alive(params, x, t_x, age)
        cumulative = [np.zeros_like(x)] + [
            model.expected_purchases(params, i * step, x, t_x, age)
            for i in range(1, horizon_months + 1)
        ]
    discounted = np.zeros_like(x)
    for i in range(1, horizon_months + 1):
        discounted += (cumulative[i] - cumulative[i - 1]) / (1 + discount) ** i
    value = gammagamma.expected_average_value(fitted.spend.values(), frequency, monetary_value)
    return {
        "p_alive": alive[inverse],
        "expected_purchases": cumulative[horizon_months][inverse],
        "expected_avg_value": value,
        "clv": value * discounted[inverse],
    }


def predict_frame(
    summary: pl.DataFrame,
    *,
    model: str = "bgnbd",
    unit: str = "weeks",
    horizon_months: int = 12,
    discount: float = 0.01,
    starts: int = 4,
    penalizer: float = 0.0,
) -> tuple[pl.DataFrame, Fitted]:
    """Fit on a repeat-purchase summary frame and return it with the predictions (COLUMNS)."""
    import polars as pl

    columns: dict[str, Any] = {
        c: summary[c].cast(pl.Float64).to_numpy() for c in ("frequency", "recency", "T")
    }
    columns["monetary_value"] = summary["monetary_value"].cast(pl.Float64).to_numpy()
    fitted = fit(**columns, model=model, starts=starts, penalizer=penalizer)
    out = predict(fitted, **columns, unit=unit, horizon_months=horizon_months, discount=discount)
    frame = summary.select(COLUMNS[:5]).with_columns(
        pl.col("frequency").cast(pl.Int64),
        *(pl.Series(name, values, dtype=pl.Float64) for name, values in out.items()),
    )
    return frame, fitted


def holdout_table(
    fitted: Fitted,
    summary: pl.DataFrame,
    *,
    max_bucket: int = 7,
) -> pl.DataFrame:
    """Predicted vs actual purchases in the holdout period, by calibration frequency.

    ``summary`` has the holdout columns of
    :func:`custlens.facts.clv_summary.summary` (``calibration_end`` given).
    Buckets are 0, 1, …, max_bucket − 1 and "max_bucket+".
    """
    import polars as pl

    model = MODELS[fitted.purchases.model]
    x, t_x, age = (summary[c].cast(pl.Float64).to_numpy() for c in ("frequency", "recency", "T"))
    duration = float(summary["duration_holdout"][0]) if summary.height else 0.0
    with np.errstate(all="ignore"):
        predicted = model.expected_purchases(fitted.purchases.values(), duration, x, t_x, age)
    bucket = np.minimum(x, max_bucket).astype(np.int64)
    frame = pl.DataFrame(
        {
            "bucket": bucket,
            "predicted": predicted,
            "actual": summary["frequency_holdout"].cast(pl.Float64).to_numpy(),
        }
    )
    out = (
        frame.group_by("bucket")
        .agg(
            customers=pl.len(),
            predicted_per_customer=pl.col("predicted").mean(),
            actual_per_customer=pl.col("actual").mean(),
            predicted=pl.col("predicted").sum(),
            actual=pl.col("actual").sum(),
        )
        .sort("bucket")
    )
    label = pl.when(pl.col("bucket") >= max_bucket).then(pl.lit(f"{max_bucket}+"))
    return out.with_columns(
        calibration_frequency=label.otherwise(pl.col("bucket").cast(pl.String))
    ).select(
        "calibration_frequency",
        "customers",
        "predicted_per_customer",
        "actual_per_customer",
        "predicted",
        "actual",
    )
