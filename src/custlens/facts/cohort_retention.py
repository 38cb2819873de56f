"""``cohort_retention``: cohorts by first paid month × months since, as a triangle (DESIGN.md §4).

Two kinds of cohort, each present when its input is:

- ``subscription`` (from the ``customer_mrr`` fact): a customer's cohort is its
  first month with MRR > 0; it is active in a month with MRR > 0 there; its
  revenue in a month is that month's MRR. ``orders`` is null: a subscription
  has no orders, and 0 would read as "nobody ordered".
- ``transaction`` (from ``src_transactions``, on or before the as-of date): a
  customer's cohort is the month of its first processed payment; it is active
  in a month in which it made a processed payment; its revenue in a month is
  processed payments minus processed refunds dated in that month (a refund can
  make it negative); ``orders`` counts processed payments. A customer without
  a processed payment is in no cohort, and its refunds count nowhere; refunds
  dated before a customer's first payment (months_since < 0) are dropped.

One row per cohort kind, cohort month and months since (0, 1, … up to the
as-of month), gap-free: a month in which nobody of the cohort was active is a
row with 0 active customers, 0 revenue and (transactions) 0 orders.

- logo_retention = active_customers / cohort_customers;
- revenue_retention = revenue / revenue at months_since 0 of the same cohort,
  null when that is 0.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import ibis

from custlens.calendar import index_of, month_index, month_start, months_between
from custlens.facts.registry import FactContext, fact
from custlens.numeric import ratio

if TYPE_CHECKING:
    import ibis.expr.types as ir

COHORT_KINDS = ("subscription", "transaction")


@fact("cohort_retention", any_of=("customer_mrr", "src_transactions"))
def build(ctx: FactContext) -> ir.Table:
    """Customers, logo and revenue retention per cohort kind, cohort month and months since."""
    last = index_of(ctx.as_of)
    parts = []
    if ctx.has("customer_mrr"):
        parts.append(_triangle("subscription", _subscription_activity(ctx["customer_mrr"]), last))
    if ctx.has("src_transactions"):
        monthly = transaction_months(ctx["src_transactions"], ctx.as_of)
        parts.append(_triangle("transaction", monthly, last))
    table = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    return table.order_by("cohort_kind", "cohort_month", "months_since")


def transaction_months(transactions: ir.Table, as_of: date) -> ir.Table:
    """customer_id, month_idx, revenue, orders: processed transactions per customer and month.

    revenue = processed payments − processed refunds of the month; orders =
    processed payments of the month. Only transactions dated on or before
    ``as_of`` count. Absent ``type`` / ``status`` columns take the contract's
    defaults (payment, processed), as a loaded source would.
    """
    tx = transactions
    status = (
        tx.status.fill_null("processed") if "status" in tx.columns else ibis.literal("processed")
    )
    done = tx.filter(status == "processed", tx.created_at.date() <= ibis.literal(as_of))
    kind = done.type.fill_null("payment") if "type" in done.columns else ibis.literal("payment")
    payment = kind == "payment"
    amount = done.amount.cast("float64")
    signed = done.select(
        "customer_id",
        month_idx=month_index(done.created_at.date()),
        revenue=ibis.ifelse(payment, amount, -amount),
        order=payment.cast("int64"),
    )
    return signed.group_by("customer_id", "month_idx").aggregate(
        revenue=signed.revenue.sum(), orders=signed.order.sum().cast("int64")
    )


def _subscription_activity(mrr: ir.Table) -> ir.Table:
    """customer_id, month_idx, revenue (MRR) and null orders, per spine month."""
    return mrr.select(
        "customer_id",
        month_idx=month_index(mrr.month),
        revenue=mrr.mrr.cast("float64"),
        orders=ibis.null("int64"),
    )


def _triangle(kind: str, monthly: ir.Table, last: int) -> ir.Table:
    """The cohort triangle of one kind from customer-month activity.

    ``monthly`` has customer_id, month_idx, revenue and orders; a customer is
    active in a month when it has a row with revenue > 0 (subscriptions) or
    orders > 0 (transactions), and its cohort is the first such month.
    """
    if kind == "subscription":
        active = monthly.revenue > 0
    else:
        active = monthly.orders > 0
    monthly = monthly.mutate(active=active)
    firsts = (
        monthly.filter(monthly.active)
        .group_by("customer_id")
        .aggregate(cohort_idx=ibis._.month_idx.min())
    )
    sizes = firsts.group_by("cohort_idx").aggregate(cohort_customers=ibis._.count())
    # Every cohort gets every month from its own to the as-of month, whether
    # anyone was active in it or not: the triangle has no holes.
    spine = (
        sizes.mutate(month_idx=months_between(sizes.cohort_idx, last))
        .unnest("month_idx")
        .filter(ibis._.month_idx <= last)
    )
    dated = monthly.join(firsts, "customer_id")
    dated = dated.filter(dated.month_idx >= dated.cohort_idx)
    activity = dated.group_by("cohort_idx", "month_idx").aggregate(
        active_customers=dated.active.sum().cast("int64"),
        revenue=dated.revenue.sum(),
        orders=dated.orders.sum(),
    )
    rows = spine.left_join(activity, ["cohort_idx", "month_idx"])
    rows = rows.select(
        cohort_idx=rows.cohort_idx,
        months_since=(rows.month_idx - rows.cohort_idx).cast("int64"),
        cohort_customers=rows.cohort_customers.cast("int64"),
        active_customers=rows.active_customers.fill_null(0).cast("int64"),
        revenue=rows.revenue.fill_null(0.0).cast("float64"),
        orders=(ibis.null("int64") if kind == "subscription" else rows.orders.fill_null(0)).cast(
            "int64"
        ),
    )
    first_revenue = (
        ibis.ifelse(rows.months_since == 0, rows.revenue, ibis.null("float64"))
        .max()
        .over(ibis.window(group_by="cohort_idx"))
    )
    return rows.select(
        cohort_kind=ibis.literal(kind, "string"),
        cohort_month=month_start(rows.cohort_idx),
        months_since=rows.months_since,
        cohort_customers=rows.cohort_customers,
        active_customers=rows.active_customers,
        logo_retention=ratio(rows.active_customers, rows.cohort_customers),
        revenue=rows.revenue,
        revenue_retention=ratio(rows.revenue, first_revenue),
        orders=rows.orders,
    )
