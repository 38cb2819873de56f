"""``customer_mrr``: each customer's month-end MRR on a gap-free month spine.

DESIGN.md §3: the MRR of a customer in month m is the sum, over its recurring
lines whose service period covers the last day of m
(``period_start <= month_end(m) < period_end``), of
``amount / period_months(period_start, period_end)``. A line without a
``period_end`` recurs every ``billing_interval`` from its start to the as-of
month: ``amount / months of the interval``.

A proration — a line whose period lies inside the billing period of another
line of the same subscription (a mid-period upgrade's credit and charge) —
counts in months as its share of that billing period, ``days(line) /
days(billing period) × months(billing period)``; where several lines' periods
hold it, the shortest is its billing period. So a Stripe-style upgrade from 100
to 200 on 15 March (credit −54.84 and charge +109.68 for 15 March – 1 April)
gives 200 at the end of March, not the 198.19 of ``days / 30.4375``.

Negative recurring lines (discounts, prorations, credit notes) reduce their
period's MRR; a customer-month whose lines sum below zero has MRR 0 — a credit
larger than the month's charges is money back, not negative recurring revenue.

The spine of a customer runs from its first month with MRR > 0 to the as-of
month, gaps filled with 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.calendar import (
    index_of,
    month_index,
    month_start,
    months_between,
    period_months,
)
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

MRR_DECIMALS = 2
"""MRR is rounded to the cent per customer and month, so that float noise in
``amount / months`` never shows up as an expansion or contraction."""


@fact("customer_mrr", any_of=("src_subscription_lines", "src_customer_mrr"))
def build(ctx: FactContext) -> ir.Table:
    """Month-end MRR per customer and month, from its first paid month to the as-of month,
    with the currency the customer was billed in that month and the MRR in it
    (``original_mrr``; both null in a month billed in several currencies)."""
    last = index_of(ctx.as_of)
    if ctx.has("src_subscription_lines"):
        monthly = mrr_from_lines(ctx["src_subscription_lines"], ctx.as_of)
    else:
        given = ctx["src_customer_mrr"]
        monthly = given.select(
            "customer_id", month_idx=month_index(given.month), mrr=given.mrr.cast("float64")
        ).filter(ibis._.month_idx <= last)
    return on_spine(monthly, last, ctx.currency)


def mrr_from_lines(lines: ir.Table, as_of: object, by: tuple[str, ...] = ()) -> ir.Table:
    """customer_id, month_idx, mrr from subscription lines (recurring only), also split
    by the line columns ``by`` (``product_mrr``'s product_id)."""
    last = index_of(as_of)  # type: ignore[arg-type]
    kind = (
        lines.kind.fill_null("recurring") if "kind" in lines.columns else ibis.literal("recurring")
    )
    recurring = lines.filter(kind == "recurring", lines.period_start <= ibis.literal(as_of))
    # Month m is covered when its last day lies in [start, end): from the
    # start's month up to the month before the end's month. A line without an
    # end recurs every billing interval to the as-of month.
    prorations = "subscription_id" in recurring.columns  # only a subscription has them
    if prorations:
        recurring = with_billing_periods(recurring)
    months = period_months(recurring.period_start, recurring.period_end)
    if prorations:  # a line inside a billing period counts as its share of it
        share = recurring.period_end.delta(recurring.period_start, unit="day").cast(
            "float64"
        ) / recurring.billing_end.delta(recurring.billing_start, unit="day").cast("float64")
        months = ibis.ifelse(
            recurring.billing_start.notnull(),
            share * period_months(recurring.billing_start, recurring.billing_end),
            months,
        )
    if "billing_interval" in recurring.columns:
        months = months.fill_null(interval_months(recurring.billing_interval))
    converted = ("original_amount", "currency") if "original_amount" in recurring.columns else ()
    spans = recurring.select(
        "customer_id",
        *by,
        *converted,
        **({"months": months} if converted else {}),
        monthly=recurring.amount.cast("float64") / months,
        first_idx=month_index(recurring.period_start),
        last_idx=ibis.least(
            (month_index(recurring.period_end) - 1).fill_null(last), ibis.literal(last, "int64")
        ),
    )
    covered = spans.mutate(
        month_idx=months_between(spans.first_idx, spans.last_idx).unnest()
    ).filter(ibis._.month_idx <= ibis._.last_idx)
    total = covered.monthly.sum().round(MRR_DECIMALS)
    if not by:  # a customer-month never goes below zero (credits larger than charges)
        total = ibis.greatest(total, ibis.literal(0.0))
    if "original_amount" not in covered.columns:
        return covered.group_by("customer_id", *by, "month_idx").aggregate(mrr=total)
    # Converted lines (custlens.facts.exchange): also the MRR in the currency billed,
    # where a customer-month was billed in one.
    one = covered.currency.min() == covered.currency.max()
    original = (covered.original_amount.cast("float64") / covered.months).sum().round(MRR_DECIMALS)
    if not by:
        original = ibis.greatest(original, ibis.literal(0.0))
    return covered.group_by("customer_id", *by, "month_idx").aggregate(
        mrr=total,
        currency=ibis.ifelse(one, covered.currency.min(), ibis.null("string")),
        original_mrr=ibis.ifelse(one, original, ibis.null("float64")),
    )


def with_billing_periods(lines: ir.Table) -> ir.Table:
    """``lines`` with billing_start, billing_end: the shortest period of another line of
    the same subscription that holds the line's period (null when none does)."""
    periods = (
        lines.filter(lines.subscription_id.notnull(), lines.period_end.notnull())
        .select("subscription_id", "period_start", "period_end")
        .distinct()
    )
    # Only a period some earlier-starting (or same-start, longer) one reaches past can
    # be held: found with a running maximum, so that the pairing join below sees the
    # few prorations, not every pair of a subscription's months.
    before = ibis.window(
        group_by="subscription_id",
        order_by=[periods.period_start, periods.period_end.desc()],
        rows=(None, -1),
    )
    reached = periods.mutate(reach=periods.period_end.max().over(before))
    held = reached.filter(reached.reach >= reached.period_end).drop("reach")
    outer = periods.view()
    pairs = held.join(
        outer,
        [
            held.subscription_id == outer.subscription_id,
            outer.period_start <= held.period_start,
            held.period_end <= outer.period_end,
            (outer.period_start != held.period_start) | (outer.period_end != held.period_end),
        ],
    ).select(
        "subscription_id",
        "period_start",
        "period_end",
        billing_start=outer.period_start,
        billing_end=outer.period_end,
        billing_days=outer.period_end.delta(outer.period_start, unit="day"),
    )
    # The shortest holding period; ties (same length) by the earliest start.
    closest = ibis.window(
        group_by=["subscription_id", "period_start", "period_end"],
        order_by=["billing_days", "billing_start"],
    )
    pairs = pairs.mutate(pick=ibis.row_number().over(closest)).filter(ibis._.pick == 0)
    pairs = pairs.select(
        "subscription_id", "period_start", "period_end", "billing_start", "billing_end"
    )
    return lines.left_join(pairs, ["subscription_id", "period_start", "period_end"]).select(
        *lines.columns, "billing_start", "billing_end"
    )


UNIT_MONTHS = {"month": 1.0, "quarter": 3.0, "year": 12.0, "week": 12 / 52}
"""Months in one billing interval unit (DESIGN.md §3: k weeks are k × 12/52 months)."""


def interval_months(interval: ir.StringValue) -> ir.FloatingValue:
    """Months of a billing interval as the loader stores it, ``"<count> <unit>"``."""
    count = interval.re_extract(r"^(\d+) ", 1).cast("float64")
    unit = interval.re_extract(r" ([a-z]+)$", 1)
    per_unit = ibis.cases(
        *((unit == name, ibis.literal(months, "float64")) for name, months in UNIT_MONTHS.items())
    )
    return (count * per_unit).cast("float64")


def on_spine(monthly: ir.Table, last_index: int, currency: str) -> ir.Table:
    """Expand customer-month MRR to every month from the first paid one to ``last_index``;
    a month with no MRR is 0 in the reporting ``currency``."""
    firsts = (
        monthly.filter(monthly.mrr > 0)
        .group_by("customer_id")
        .aggregate(first_idx=ibis._.month_idx.min())
    )
    # Unnest in the select list: Table.unnest compiles to CROSS JOIN UNNEST,
    # which DuckDB runs as a lateral join ~10× slower on millions of rows.
    spine = firsts.select(
        "customer_id", month_idx=months_between(firsts.first_idx, last_index).unnest()
    ).filter(ibis._.month_idx <= last_index)
    joined = spine.left_join(monthly, ["customer_id", "month_idx"])
    mrr = joined.mrr.fill_null(0.0).cast("float64")
    if "original_mrr" in monthly.columns:
        gap = joined.mrr.isnull()
        billed = ibis.ifelse(gap, ibis.literal(currency), joined.currency)
        original = ibis.ifelse(gap, ibis.literal(0.0), joined.original_mrr).cast("float64")
    else:  # every amount was in the reporting currency
        billed, original = ibis.literal(currency), mrr
    return joined.select(
        customer_id=joined.customer_id,
        month=month_start(joined.month_idx),
        mrr=mrr,
        currency=billed.cast("string"),
        original_mrr=original,
    )
