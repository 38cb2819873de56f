"""The repeat-purchase summary the customer-value models read (``lifetimes`` conventions).

Computed in the engine from processed payments (refunds, failed and pending
transactions are not purchases). Purchases are grouped into periods, a
calendar day or a calendar week (Monday to Sunday), and each customer is
described by:

- frequency: the number of periods with a purchase, minus the first one
  (repeat purchase periods);
- recency: the age of the customer at their last purchase period, measured
  from the first; 0 without repeat purchases;
- T: the age at the end of observation (the as-of date, or the calibration
  end), measured from the first purchase period;
- monetary_value: the mean spend of the repeat periods (a period's spend is
  the sum of its payments); 0 when frequency is 0.

Ages are in days or weeks (days / 7). With ``period: day`` this is
``lifetimes.utils.summary_data_from_transaction_data(freq="D",
freq_multiplier=1 or 7)``; with ``period: week`` it is ``freq="W"``
(period starts and the end of observation both taken to the Monday of their
week). One difference: nothing dated after the as-of date counts, where
lifetimes keeps the rest of the as-of week when it groups by weeks.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

import ibis

from custlens.calendar import period_start
from custlens.facts.customer_value import MONEY

if TYPE_CHECKING:
    import ibis.expr.types as ir

Unit = Literal["days", "weeks"]
Period = Literal["day", "week"]
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0}


def purchases(transactions: ir.Table, end: date) -> ir.Table:
    """Processed payments dated on or before ``end``: customer_id, day, amount."""
    tx = transactions
    tx = tx.filter(
        tx.type.fill_null("payment") == "payment",
        tx.status.fill_null("processed") == "processed",
        tx.created_at.date() <= end,
    )
    return tx.select("customer_id", day=tx.created_at.date(), amount=tx.amount.cast(MONEY))


def _periods(tx: ir.Table, period: Period) -> ir.Table:
    start = tx.day.truncate("W") if period == "week" else tx.day
    per = tx.group_by("customer_id", period=start).aggregate(spend=tx.amount.sum())
    return per


def summary(
    transactions: ir.Table,
    end: date,
    *,
    unit: Unit = "weeks",
    period: Period = "day",
    calibration_end: date | None = None,
) -> ir.Table:
    """Per customer: frequency, recency, T, monetary_value (see the module docstring).

    Args:
        transactions: the ``src_transactions`` table.
        end: the end of observation (the as-of date); nothing after it counts.
        unit: the unit of recency and T.
        period: what counts as one purchase: a day or a calendar week.
        calibration_end: when given, the summary is of the calibration period
            (up to and including this date; customers whose first purchase
            falls in it), and it adds the holdout after it, up to ``end``:
            frequency_holdout (purchase periods), monetary_value_holdout (their
            mean spend; 0 without any) and duration_holdout (end −
            calibration_end, in the unit).

    Returns:
        customer_id, frequency (int64), recency, T, monetary_value (float64),
        plus the holdout columns with ``calibration_end``.
    """
    per_unit = DAYS_PER_UNIT[unit]
    observe = calibration_end if calibration_end is not None else end
    periods = _periods(purchases(transactions, end), period)
    cut = ibis.literal(period_start(observe, period))
    calibration = periods.filter(periods.period <= cut)
    agg = calibration.group_by("customer_id").aggregate(
        first=calibration.period.min(),
        last=calibration.period.max(),
        count=calibration.count(),
        total=calibration.spend.sum(),
        first_spend=calibration.spend.argmin(calibration.period),
    )
    frequency = (agg["count"] - 1).cast("int64")
    repeat_spend = (agg.total - agg.first_spend).cast("float64")
    out = agg.select(
        "customer_id",
        frequency=frequency,
        recency=agg["last"].delta(agg["first"], unit="day").cast("float64") / per_unit,
        T=cut.delta(agg["first"], unit="day").cast("float64") / per_unit,
        monetary_value=ibis.ifelse(
            frequency > 0, repeat_spend / frequency.cast("float64"), ibis.literal(0.0, "float64")
        ),
    )
    if calibration_end is None:
        return out
    holdout = periods.filter(periods.period > cut)
    later = holdout.group_by("customer_id").aggregate(
        frequency_holdout=holdout.count(), holdout_total=holdout.spend.sum()
    )
    joined = out.left_join(later, "customer_id")
    count = joined.frequency_holdout.fill_null(0).cast("int64")
    duration = (end - calibration_end).days / per_unit
    return joined.select(
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        frequency_holdout=count,
        monetary_value_holdout=ibis.ifelse(
            count > 0,
            joined.holdout_total.cast("float64") / count.cast("float64"),
            ibis.literal(0.0, "float64"),
        ),
        duration_holdout=ibis.literal(duration, "float64"),
    )
