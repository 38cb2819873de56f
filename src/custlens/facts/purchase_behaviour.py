"""Purchase behaviour (seed 004, DESIGN.md §4): rhythm, timing and payment habits.

Three facts from processed payments dated on or before the as-of date:
``purchase_behaviour`` (per customer), ``purchase_frequency`` (how many
customers bought once, twice, …) and ``revenue_new_vs_returning`` (per month).
Timestamps are naive and read as they are (the Spark session runs in UTC), so
weekday and hour are the same on every engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.calendar import index_of, month_index, month_start, months_between
from custlens.facts.customer_value import processed_transactions
from custlens.facts.registry import FactContext, fact
from custlens.numeric import ratio

if TYPE_CHECKING:
    import ibis.expr.types as ir


def _mode(table: ir.Table, column: str) -> ir.Table:
    """Per customer, the most frequent value of ``column`` with its count and share.

    Ties go to the smallest value (earliest weekday or hour, alphabetically
    first method), so the result never depends on the engine. Nulls are not
    counted; the share is of the non-null rows.
    """
    known = table.filter(table[column].notnull())
    counts = known.group_by("customer_id", column).aggregate(uses=known.count())
    by_customer = ibis.window(
        group_by="customer_id", order_by=[counts.uses.desc(), counts[column].asc()]
    )
    ranked = counts.mutate(
        pick=ibis.row_number().over(by_customer),
        known=counts.uses.sum().over(ibis.window(group_by="customer_id")),
    )
    top = ranked.filter(ranked.pick == 0)
    return top.select("customer_id", column, uses=top.uses, known=top.known)


@fact("purchase_behaviour", requires=("src_transactions",))
def build(ctx: FactContext) -> ir.Table:
    """Per customer: days between purchases, peak weekday and hour, preferred payment method.

    One row per customer with a processed payment on or before the as-of date;
    refunds are not purchases and are left out.

    - purchases: processed payments.
    - mean_days_between, median_days_between: over the gaps between
      consecutive purchases in time order, each gap in calendar days between
      the purchase dates (two purchases on one day are 0 apart); null with a
      single purchase. The median is exact (DuckDB ``median``, Spark
      ``percentile``; neither approximates), the mean of the two middle gaps
      for an even count.
    - peak_day_of_week: ISO weekday 1 = Monday … 7 = Sunday with the most
      purchases; peak_hour: hour 0–23 with the most purchases. Each is
      counted on its own (not the joint weekday × hour cell); ties go to the
      smaller number.
    - preferred_payment_method: the method used most often, ties to the
      alphabetically first; preferred_method_share = its uses / purchases with
      a known method. Both null when no purchase names a method.
    """
    tx = processed_transactions(ctx)
    pays = tx.filter(tx.is_payment).mutate(
        weekday=tx.created_at.day_of_week.index().cast("int64") + 1,
        hour=tx.created_at.hour().cast("int64"),
    )
    in_time = ibis.window(group_by="customer_id", order_by=[pays.created_at, pays.transaction_id])
    stepped = pays.mutate(gap=pays.day.delta(pays.day.lag().over(in_time), unit="day"))
    gaps = stepped.filter(stepped.gap.notnull())
    gaps = gaps.group_by("customer_id").aggregate(
        mean_days_between=gaps.gap.cast("float64").mean(),
        median_days_between=gaps.gap.cast("float64").median(),
    )
    counts = pays.group_by("customer_id").aggregate(purchases=pays.count())
    day = _mode(pays, "weekday")
    hour = _mode(pays, "hour")
    method = _mode(pays, "payment_method")
    out = (
        counts.left_join(gaps, "customer_id")
        .left_join(day, "customer_id")
        .left_join(hour, "customer_id")
        .left_join(method, "customer_id")
    )
    return out.select(
        counts.customer_id,
        purchases=counts.purchases.cast("int64"),
        mean_days_between=gaps.mean_days_between.cast("float64"),
        median_days_between=gaps.median_days_between.cast("float64"),
        peak_day_of_week=day.weekday,
        peak_hour=hour.hour,
        preferred_payment_method=method.payment_method,
        preferred_method_share=ratio(method.uses, method.known),
    )


@fact("purchase_frequency", requires=("customer_value",))
def build_frequency(ctx: FactContext) -> ir.Table:
    """How many customers made 1, 2, 3, … purchases: order_count → customers.

    Over the customers of ``customer_value`` (at least one processed payment
    by the as-of date). Only counts that occur get a row (a long tail would
    otherwise be mostly zeros). customer_share = customers / all customers.
    """
    value = ctx["customer_value"]
    dist = value.group_by("order_count").aggregate(customers=value.count())
    return dist.select(
        order_count=dist.order_count.cast("int64"),
        customers=dist.customers.cast("int64"),
        customer_share=ratio(dist.customers, dist.customers.sum().over(ibis.window())),
    ).order_by("order_count")


@fact("revenue_new_vs_returning", requires=("src_transactions",))
def build_new_vs_returning(ctx: FactContext) -> ir.Table:
    """Per month: revenue and customers from first-time buyers and from returning ones.

    A customer is new in the calendar month of their first processed payment
    and returning in every later month. Revenue is net (payments − refunds)
    and a refund counts in the month it is dated, so a refund in the first
    month reduces new revenue. Customers are those who paid in the month
    (distinct). Customers with only refunds (no purchase) are left out. One
    row for every month from the first purchase month to the as-of month.
    """
    tx = processed_transactions(ctx)
    first = (
        tx.filter(tx.is_payment)
        .group_by("customer_id")
        .aggregate(first_idx=month_index(ibis._.day).min())
    )
    rows = tx.join(first, "customer_id")
    rows = rows.mutate(month_idx=month_index(rows.day))
    # A refund dated before the first purchase (data that starts mid-history)
    # belongs to the customer's first month, not to "returning".
    is_new = rows.month_idx <= rows.first_idx
    monthly = rows.group_by("month_idx").aggregate(
        new_customers=rows.customer_id.nunique(where=is_new & rows.is_payment),
        new_revenue=rows.signed_amount.sum(where=is_new),
        returning_customers=rows.customer_id.nunique(where=~is_new & rows.is_payment),
        returning_revenue=rows.signed_amount.sum(where=~is_new),
    )
    start = first.aggregate(first_idx=first.first_idx.min())
    last = index_of(ctx.as_of)
    spine = (
        start.select(month_idx=months_between(start.first_idx, last))
        .unnest("month_idx")
        .filter(ibis._.month_idx <= last)
    )
    out = spine.left_join(monthly, "month_idx")
    new_revenue = out.new_revenue.cast("float64").fill_null(0.0)
    returning_revenue = out.returning_revenue.cast("float64").fill_null(0.0)
    total = new_revenue + returning_revenue
    return out.select(
        month=month_start(out.month_idx),
        new_customers=out.new_customers.fill_null(0).cast("int64"),
        new_revenue=new_revenue,
        returning_customers=out.returning_customers.fill_null(0).cast("int64"),
        returning_revenue=returning_revenue,
        total_revenue=total,
        new_revenue_share=ratio(new_revenue, total),
    ).order_by("month")
