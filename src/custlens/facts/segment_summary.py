"""``segment_summary``: customers, revenue, lifetime value and churn per segment (seed 002).

One row per value of a customer dimension (``segment`` for the fact; any of
:data:`DIMENSIONS` through :func:`summarise_by`, which ``custlens segments
--by region`` calls). A null or absent dimension value is ``"Unknown"``.
Customers that appear in the revenue data but not in ``src_customers`` are
counted under ``"Unknown"`` too, so that the rows add up to the company's
totals (Σ current_mrr = ending MRR of the as-of month in growth_summary).

Columns:

- customers: customers of the group (every resolved customer of
  ``dim_customers``, paying or not, plus the unknown ones above; every
  ``src_customers`` record when identity resolution has not run). Revenue of
  any source id is counted under its resolved customer, so a customer known
  to billing and to the CRM is one customer, not two;
- paying_customers, current_mrr: customers with MRR > 0 in the as-of month
  and their MRR (null without ``customer_mrr``);
- total_revenue: lifetime revenue to the as-of date, on the basis named by
  revenue_basis: ``"mrr"`` = the sum of MRR over every month of
  ``customer_mrr`` (used whenever it exists: it is what a subscription
  business earned, and it excludes one-time charges), else
  ``"net_payments"`` = processed payments − processed refunds of
  ``src_transactions``;
- avg_lifetime_value = total_revenue / customers;
- starting_customers: customers paying at the start of the as-of month
  (MRR > 0 in the month before); churned_customers: churn movements of
  ``mrr_movements`` in the as-of month; monthly_churn_rate =
  churned_customers / starting_customers, null when that is 0. All three
  are null without MRR data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.calendar import index_of, month_index
from custlens.errors import NotFoundError
from custlens.facts.cohort_retention import transaction_months
from custlens.facts.identity import resolve_ids
from custlens.facts.registry import FactContext, fact
from custlens.numeric import ratio

if TYPE_CHECKING:
    import ibis.expr.types as ir

DIMENSIONS = ("segment", "industry", "region", "plan", "acquisition_channel")
"""Customer attributes a summary can be broken down by (columns of ``src_customers``)."""

UNKNOWN = "Unknown"


@fact(
    "segment_summary",
    requires=("src_customers",),
    any_of=("customer_mrr", "src_transactions"),
    optional=("mrr_movements", "customer_identity", "dim_customers"),
)
def build(ctx: FactContext) -> ir.Table:
    """Customers, lifetime revenue and value, current MRR and monthly churn per segment."""
    return summarise_by(ctx, "segment")


def summarise_by(ctx: FactContext, dimension: str = "segment") -> ir.Table:
    """The segment summary of the module docstring, broken down by ``dimension``.

    Args:
        ctx: tables as the pipeline sees them (``src_customers`` and
            ``customer_mrr`` / ``mrr_movements`` facts or ``src_transactions``)
            and the as-of date; a workspace's tables serve as well.
        dimension: one of :data:`DIMENSIONS`; the first column carries its name.

    Raises:
        NotFoundError: ``dimension`` is not one of :data:`DIMENSIONS`.

    Example::

        summarise_by(FactContext(tables, as_of), "region")  # one row per region
    """
    if dimension not in DIMENSIONS:
        raise NotFoundError(
            f"cannot break down by {dimension!r}; choose one of {', '.join(DIMENSIONS)}"
        )
    customers = ctx["dim_customers"] if ctx.has("dim_customers") else ctx["src_customers"]
    value = customers[dimension].cast("string") if dimension in customers.columns else None
    people = customers.select(
        "customer_id",
        dim_value=(value if value is not None else ibis.null("string")).fill_null(UNKNOWN),
    )
    last = index_of(ctx.as_of)
    per_customer = _per_customer(ctx, last)
    if ctx.has("customer_identity"):
        merged = resolve_ids(ctx, per_customer)
        per_customer = merged.group_by("customer_id").aggregate(
            revenue=merged.revenue.sum(),
            current_mrr=merged.current_mrr.sum(),
            paying=merged.paying.max(),
            starting=merged.starting.max(),
            churned=merged.churned.max(),
        )
    # Outer join: customers without revenue still count; revenue without a
    # customer record counts under Unknown.
    joined = people.outer_join(per_customer, "customer_id")
    rows = joined.select(
        dim_value=joined.dim_value.fill_null(UNKNOWN),
        **{c: joined[c] for c in per_customer.columns if c != "customer_id"},
    )
    has_mrr = ctx.has("customer_mrr")
    churn_known = has_mrr and ctx.has("mrr_movements")
    summary = rows.group_by("dim_value").aggregate(
        customers=rows.count().cast("int64"),
        paying_customers=rows.paying.sum().cast("int64"),
        current_mrr=rows.current_mrr.sum(),
        total_revenue=rows.revenue.sum(),
        starting_customers=rows.starting.sum().cast("int64"),
        churned_customers=rows.churned.sum().cast("int64"),
    )
    null_int, null_float = ibis.null("int64"), ibis.null("float64")
    # A group whose customers have no revenue rows sums nulls: 0, not unknown,
    # when the input exists at all.
    paying = summary.paying_customers.fill_null(0) if has_mrr else null_int
    starting = summary.starting_customers.fill_null(0) if churn_known else null_int
    churned = summary.churned_customers.fill_null(0) if churn_known else null_int
    revenue = summary.total_revenue.fill_null(0.0).cast("float64")
    return summary.select(
        summary.dim_value.name(dimension),
        customers=summary.customers,
        paying_customers=paying.cast("int64"),
        current_mrr=(summary.current_mrr.fill_null(0.0) if has_mrr else null_float).cast("float64"),
        total_revenue=revenue,
        revenue_basis=ibis.literal("mrr" if has_mrr else "net_payments", "string"),
        avg_lifetime_value=ratio(revenue, summary.customers),
        starting_customers=starting.cast("int64"),
        churned_customers=churned.cast("int64"),
        monthly_churn_rate=(ratio(churned, starting) if churn_known else null_float).cast(
            "float64"
        ),
    ).order_by(dimension)


def _per_customer(ctx: FactContext, last: int) -> ir.Table:
    """customer_id, revenue, paying, current_mrr, starting, churned: one row per customer."""
    if ctx.has("customer_mrr"):
        mrr = ctx["customer_mrr"]
        idx = month_index(mrr.month)
        per = mrr.group_by("customer_id").aggregate(
            revenue=mrr.mrr.sum().cast("float64"),
            current_mrr=mrr.mrr.sum(where=idx == last).cast("float64"),
            paying=((idx == last) & (mrr.mrr > 0)).sum().cast("int64"),
            starting=((idx == last - 1) & (mrr.mrr > 0)).sum().cast("int64"),
        )
        if ctx.has("mrr_movements"):
            moves = ctx["mrr_movements"]
            churned = moves.filter(
                moves.movement == "churn", month_index(moves.month) == last
            ).select("customer_id", churned=ibis.literal(1, "int64"))
            per = per.left_join(churned, "customer_id").select(
                "customer_id",
                "revenue",
                "current_mrr",
                "paying",
                "starting",
                churned=ibis._.churned.fill_null(0),
            )
        else:
            per = per.mutate(churned=ibis.null("int64"))
        return per
    monthly = transaction_months(ctx["src_transactions"], ctx.as_of)
    return monthly.group_by("customer_id").aggregate(
        revenue=monthly.revenue.sum().cast("float64"),
        current_mrr=ibis.null("float64"),
        paying=ibis.null("int64"),
        starting=ibis.null("int64"),
        churned=ibis.null("int64"),
    )
