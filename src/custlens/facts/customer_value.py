"""``customer_value``: what each customer has paid, all-time and lately (DESIGN.md §4).

Read from processed transactions dated on or before the as-of date (failed and
pending ones never happened, as far as value goes): payments add their amount,
refunds subtract it, each on its own date. Day counts are calendar days between
the transaction's date and the as-of date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.registry import FactContext, fact
from custlens.numeric import ratio

if TYPE_CHECKING:
    import ibis.expr.types as ir

TIERS = ("Platinum", "Gold", "Silver", "Bronze")

MONEY = "decimal(38, 6)"
"""Amounts are summed as exact decimals (to a millionth). A float sum depends on the
order of its terms, which differs between engines and between two parallel DuckDB runs;
the last-bit difference is enough to move a customer across a quintile edge of ``rfm``."""


def processed_transactions(ctx: FactContext) -> ir.Table:
    """Processed payments and refunds up to the as-of date, with their signed value.

    Columns: transaction_id, customer_id, created_at, day (its date),
    is_payment, signed_amount (+amount for a payment, −amount for a refund, as
    :data:`MONEY`; cast sums to float64), payment_method. A missing type or
    status takes the contract's default (payment, processed), as the loader would.
    """
    tx = ctx["src_transactions"]
    kind = tx.type.fill_null("payment")
    tx = tx.filter(
        tx.status.fill_null("processed") == "processed",
        tx.created_at.date() <= ctx.as_of,
    )
    is_payment = kind == "payment"
    amount = tx.amount.cast(MONEY)
    return tx.select(
        "transaction_id",
        "customer_id",
        "created_at",
        "payment_method",
        day=tx.created_at.date(),
        is_payment=is_payment,
        signed_amount=ibis.ifelse(is_payment, amount, -amount),
    )


def days_before_as_of(ctx: FactContext, day: ir.DateValue) -> ir.IntegerValue:
    """Whole calendar days from ``day`` to the as-of date (0 on the as-of date itself)."""
    return ibis.literal(ctx.as_of).delta(day, unit="day").cast("int64")


@fact("customer_value", requires=("src_transactions",))
def build(ctx: FactContext) -> ir.Table:
    """Per customer: total and trailing spend, orders, first and last purchase, tier.

    One row per customer with at least one processed payment on or before the
    as-of date (a customer with only refunds made no purchase and has no row).

    - total_spend: Σ payments − Σ refunds. A refund larger than its payment
      (or a refund of a payment made before the data begins) makes it
      negative; the true number is kept, not clipped at 0.
    - order_count: processed payments; avg_order_value = total_spend / order_count.
    - first_purchase_at, last_purchase_at: timestamps of the first and last payment.
    - tenure_days, days_since_last: calendar days from the date of the first /
      last payment to the as-of date.
    - tier: Platinum / Gold / Silver at or above ``analytics.tiers`` edges on
      total_spend, else Bronze.
    - trailing window: the ``analytics.trailing_days`` calendar days ending on
      the as-of date, i.e. transactions 0 … trailing_days − 1 days before it.
      A purchase exactly trailing_days days before the as-of date is outside
      (as in seed 004, where "the last 90 days" starts 90 days before now).
      trailing_spend is net of refunds dated in the window; trailing_orders
      counts the window's payments.
    - trailing_share = trailing_spend / total_spend (null when total_spend is 0);
      trailing_avg_order_value = trailing_spend / trailing_orders (null with
      no trailing orders), to set beside avg_order_value.
    """
    analytics = ctx.config.analytics
    tx = processed_transactions(ctx)
    recent = days_before_as_of(ctx, tx.day) < analytics.trailing_days
    per = tx.group_by("customer_id").aggregate(
        total_spend=tx.signed_amount.sum(),
        order_count=tx.count(where=tx.is_payment),
        first_purchase_at=tx.created_at.min(where=tx.is_payment),
        last_purchase_at=tx.created_at.max(where=tx.is_payment),
        trailing_spend=tx.signed_amount.sum(where=recent),
        trailing_orders=tx.count(where=tx.is_payment & recent),
    )
    per = per.filter(per.order_count > 0)
    tiers = analytics.tiers
    total = per.total_spend.cast("float64")
    trailing = per.trailing_spend.cast("float64").fill_null(0.0)
    return per.select(
        "customer_id",
        total_spend=total,
        avg_order_value=ratio(total, per.order_count),
        order_count=per.order_count.cast("int64"),
        first_purchase_at=per.first_purchase_at,
        last_purchase_at=per.last_purchase_at,
        tenure_days=days_before_as_of(ctx, per.first_purchase_at.date()),
        days_since_last=days_before_as_of(ctx, per.last_purchase_at.date()),
        tier=ibis.cases(
            (total >= tiers.platinum, TIERS[0]),
            (total >= tiers.gold, TIERS[1]),
            (total >= tiers.silver, TIERS[2]),
            else_=TIERS[3],
        ),
        trailing_spend=trailing,
        trailing_orders=per.trailing_orders.cast("int64"),
        trailing_share=ratio(trailing, total),
        trailing_avg_order_value=ratio(trailing, per.trailing_orders),
    )
