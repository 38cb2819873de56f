"""``growth_summary``: the monthly MRR bridge and growth KPIs (DESIGN.md §3).

One row for every month from the first month with MRR to the as-of month.
S = starting MRR, S_c = starting customers; N/E/R/C/X = new, expansion,
reactivation, contraction and churn MRR. Every ratio whose denominator is 0
is null, never 0 or infinity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.calendar import index_of, month_index, month_start, months_between
from custlens.facts.registry import FactContext, fact
from custlens.numeric import ratio

if TYPE_CHECKING:
    import ibis.expr.types as ir

MOVEMENT_COLUMNS = {
    "new": "new_mrr",
    "expansion": "expansion_mrr",
    "reactivation": "reactivation_mrr",
    "contraction": "contraction_mrr",
    "churn": "churn_mrr",
}
TRAILING_MONTHS = 12


@fact(
    "growth_summary",
    requires=("customer_mrr", "mrr_movements"),
    optional=("src_acquisition_costs", "src_marketing_spend"),
)
def build(ctx: FactContext) -> ir.Table:
    """Monthly MRR bridge, customer bridge and growth KPIs."""
    mrr, moves = ctx["customer_mrr"], ctx["mrr_movements"]
    gm = ctx.config.gross_margin

    balances = mrr.group_by(month_idx=month_index(mrr.month)).aggregate(
        ending_mrr=mrr.mrr.sum(),
        ending_customers=(mrr.mrr > 0).sum().cast("int64"),
    )
    flows = moves.group_by(month_idx=month_index(moves.month)).aggregate(
        **{
            column: moves.amount.sum(where=moves.movement == kind)
            for kind, column in MOVEMENT_COLUMNS.items()
        },
        new_customers=(moves.movement == "new").sum().cast("int64"),
        reactivated_customers=(moves.movement == "reactivation").sum().cast("int64"),
        churned_customers=(moves.movement == "churn").sum().cast("int64"),
    )
    first = balances.aggregate(first_idx=balances.month_idx.min())
    last = index_of(ctx.as_of)
    spine = (
        first.select(month_idx=months_between(first.first_idx, last))
        .unnest("month_idx")
        .filter(ibis._.month_idx <= last)
    )
    rows = spine.left_join(balances, "month_idx").left_join(flows, "month_idx")
    rows = rows.select(
        "month_idx",
        ending_mrr=rows.ending_mrr.fill_null(0.0),
        ending_customers=rows.ending_customers.fill_null(0),
        **{c: rows[c].fill_null(0.0) for c in MOVEMENT_COLUMNS.values()},
        **{
            c: rows[c].fill_null(0)
            for c in ("new_customers", "reactivated_customers", "churned_customers")
        },
    )

    by_month = ibis.window(order_by="month_idx")
    opening = ctx.config.opening_balance == "first_month"
    first = rows.month_idx == rows.month_idx.min().over()
    rows = rows.mutate(
        # The first month starts from nothing, or from itself when it is the
        # opening balance (no movements are recorded in it then).
        starting_mrr=ibis.ifelse(
            first, rows.ending_mrr if opening else 0.0, rows.ending_mrr.lag().over(by_month)
        ).cast("float64"),
        starting_customers=ibis.ifelse(
            first,
            rows.ending_customers if opening else 0,
            rows.ending_customers.lag().over(by_month),
        ).cast("int64"),
    )
    rows = _with_cac_spend(ctx, moves, rows)

    s, n, e = rows.starting_mrr, rows.new_mrr, rows.expansion_mrr
    r, c, x = rows.reactivation_mrr, rows.contraction_mrr, rows.churn_mrr
    trailing = ibis.window(order_by="month_idx", preceding=TRAILING_MONTHS - 1, following=0)
    kpis = rows.mutate(
        arr=rows.ending_mrr * 12,
        mrr_growth_rate=ratio(rows.ending_mrr - s, s),
        net_revenue_retention=ratio(s + e - c - x, s),
        gross_revenue_retention=ratio(s - c - x, s),
        quick_ratio=ratio(n + e + r, c + x),
        arpa=ratio(rows.ending_mrr, rows.ending_customers),
        customer_churn_rate=ratio(rows.churned_customers, rows.starting_customers),
        customer_churn_rate_12m=ratio(
            rows.churned_customers.sum().over(trailing),
            rows.starting_customers.sum().over(trailing),
        ),
        cac=ratio(rows.cac_spend, rows.new_customers),
    )
    kpis = kpis.mutate(
        ltv=ratio(kpis.arpa * gm, kpis.customer_churn_rate),
        ltv_12m=ratio(kpis.arpa * gm, kpis.customer_churn_rate_12m),
        cac_payback_months=ratio(kpis.cac, kpis.arpa * gm),
    )
    kpis = kpis.mutate(ltv_to_cac=ratio(kpis.ltv, kpis.cac))
    annual = _annual_retention(mrr)
    kpis = kpis.left_join(annual, "month_idx")
    return kpis.select(
        month=month_start(kpis.month_idx),
        starting_mrr=kpis.starting_mrr,
        new_mrr=kpis.new_mrr,
        expansion_mrr=kpis.expansion_mrr,
        reactivation_mrr=kpis.reactivation_mrr,
        contraction_mrr=kpis.contraction_mrr,
        churn_mrr=kpis.churn_mrr,
        ending_mrr=kpis.ending_mrr,
        arr=kpis.arr,
        starting_customers=kpis.starting_customers,
        new_customers=kpis.new_customers,
        reactivated_customers=kpis.reactivated_customers,
        churned_customers=kpis.churned_customers,
        ending_customers=kpis.ending_customers,
        mrr_growth_rate=kpis.mrr_growth_rate,
        net_revenue_retention=kpis.net_revenue_retention,
        gross_revenue_retention=kpis.gross_revenue_retention,
        quick_ratio=kpis.quick_ratio,
        arpa=kpis.arpa,
        customer_churn_rate=kpis.customer_churn_rate,
        cac_spend=kpis.cac_spend,
        cac=kpis.cac,
        ltv=kpis.ltv,
        cac_payback_months=kpis.cac_payback_months,
        ltv_to_cac=kpis.ltv_to_cac,
        customer_churn_rate_12m=kpis.customer_churn_rate_12m,
        ltv_12m=kpis.ltv_12m,
        net_revenue_retention_12m=kpis.net_revenue_retention_12m,
        gross_revenue_retention_12m=kpis.gross_revenue_retention_12m,
    ).order_by("month")


def _with_cac_spend(ctx: FactContext, moves: ir.Table, rows: ir.Table) -> ir.Table:
    """Add cac_spend, the month's acquisition spend; null when no source is loaded.

    auto: Σ cac of the month's new customers when acquisition_costs is loaded
    (a month without new customers spent 0), else the month's marketing spend
    (a month missing from it is unknown: null, not free).
    """
    source = ctx.config.cac_source
    if source in ("auto", "acquisition_costs") and ctx.has("src_acquisition_costs"):
        costs = ctx["src_acquisition_costs"]
        new = moves.filter(moves.movement == "new")
        joined = new.join(costs, "customer_id")
        spend = joined.group_by(month_idx=month_index(joined.month)).aggregate(
            cac_spend=joined.cac.sum().cast("float64")
        )
        rows = rows.left_join(spend, "month_idx")
        return rows.mutate(cac_spend=rows.cac_spend.fill_null(0.0))
    if source in ("auto", "marketing_spend") and ctx.has("src_marketing_spend"):
        mkt = ctx["src_marketing_spend"]
        spend = mkt.group_by(month_idx=month_index(mkt.month)).aggregate(
            cac_spend=mkt.amount.sum().cast("float64")
        )
        return rows.left_join(spend, "month_idx")
    return rows.mutate(cac_spend=ibis.null("float64"))


def _annual_retention(mrr: ir.Table) -> ir.Table:
    """Annual (cohort) NRR and GRR per month: of the customers paying 12 months
    earlier, their MRR now (NRR) and now capped at then (GRR), over their MRR then."""
    now = mrr.select("customer_id", month_idx=month_index(mrr.month), mrr_now=mrr.mrr)
    then = mrr.filter(mrr.mrr > 0).select(
        "customer_id",
        month_idx=month_index(mrr.month) + TRAILING_MONTHS,
        mrr_then=mrr.mrr,
    )
    # The spine runs to the as-of month for everyone who ever paid, so a
    # customer paying then has a row now (0 after churn).
    pairs = then.join(now, ["customer_id", "month_idx"])
    return pairs.group_by("month_idx").aggregate(
        net_revenue_retention_12m=ratio(pairs.mrr_now.sum(), pairs.mrr_then.sum()),
        gross_revenue_retention_12m=ratio(
            ibis.least(pairs.mrr_now, pairs.mrr_then).sum(), pairs.mrr_then.sum()
        ),
    )
