"""``metrics_catalog``: what each KPI of ``growth_summary`` means, and who owns it.

Kept beside the facts so a reader of a number can find its definition in the
warehouse itself. (The semantic layer will generate this from its metric YAML.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

# name, field, definition, formula, owner
KPIS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "Starting MRR",
        "starting_mrr",
        "MRR at the end of the previous month.",
        "ending_mrr(m-1)",
        "Finance",
    ),
    (
        "New MRR",
        "new_mrr",
        "MRR of customers paying for the first time.",
        "sum(q) where p = 0 and never paid",
        "Sales",
    ),
    (
        "Expansion MRR",
        "expansion_mrr",
        "MRR added by paying customers (upsell, add-ons, ended discounts).",
        "sum(q - p) where q > p > 0",
        "Customer Success",
    ),
    (
        "Reactivation MRR",
        "reactivation_mrr",
        "MRR of returning customers who had paid before and stopped.",
        "sum(q) where p = 0 and paid before",
        "Customer Success",
    ),
    (
        "Contraction MRR",
        "contraction_mrr",
        "MRR lost by customers who still pay (downgrades, discounts).",
        "sum(p - q) where p > q > 0",
        "Customer Success",
    ),
    (
        "Churn MRR",
        "churn_mrr",
        "MRR lost by customers who stopped paying, in their first month without MRR.",
        "sum(p) where p > 0 and q = 0",
        "Customer Success",
    ),
    (
        "Ending MRR",
        "ending_mrr",
        "Month-end MRR: recurring line amounts over their period in months, "
        "for lines covering the month's last day.",
        "S + N + R + E - C - X",
        "Finance",
    ),
    ("ARR", "arr", "Annual run rate of recurring revenue.", "12 * ending_mrr", "Finance"),
    (
        "Starting customers",
        "starting_customers",
        "Customers with MRR > 0 at the end of the previous month.",
        "ending_customers(m-1)",
        "RevOps",
    ),
    (
        "New customers",
        "new_customers",
        "Customers whose first paid month is this month.",
        "count(new)",
        "Sales",
    ),
    (
        "Reactivated customers",
        "reactivated_customers",
        "Customers paying again after months without MRR.",
        "count(reactivation)",
        "Customer Success",
    ),
    (
        "Churned customers",
        "churned_customers",
        "Customers in their first month without MRR.",
        "count(churn)",
        "Customer Success",
    ),
    (
        "Ending customers",
        "ending_customers",
        "Customers with MRR > 0 at month end.",
        "S_c + new + reactivated - churned",
        "RevOps",
    ),
    (
        "MRR growth rate",
        "mrr_growth_rate",
        "Change of MRR over the month, relative to its start.",
        "(ending_mrr - S) / S",
        "Finance",
    ),
    (
        "Net revenue retention",
        "net_revenue_retention",
        "Share of starting MRR kept, with expansion, without new or reactivated business.",
        "(S + E - C - X) / S",
        "Finance",
    ),
    (
        "Gross revenue retention",
        "gross_revenue_retention",
        "Share of starting MRR kept, before expansion.",
        "(S - C - X) / S",
        "Finance",
    ),
    (
        "Quick ratio",
        "quick_ratio",
        "MRR gained for each unit of MRR lost.",
        "(N + E + R) / (C + X)",
        "Finance",
    ),
    ("ARPA", "arpa", "Average MRR per paying account.", "ending_mrr / ending_customers", "Finance"),
    (
        "Customer churn rate",
        "customer_churn_rate",
        "Share of starting customers who churned in the month.",
        "churned_customers / S_c",
        "Customer Success",
    ),
    (
        "CAC spend",
        "cac_spend",
        "Acquisition spend of the month: cac of its new customers, or its marketing spend.",
        "sum(cac of new customers) | marketing_spend",
        "Marketing",
    ),
    ("CAC", "cac", "Acquisition cost per new customer.", "cac_spend / new_customers", "Marketing"),
    (
        "LTV",
        "ltv",
        "Lifetime value of an average account at this month's churn rate.",
        "arpa * gross_margin / customer_churn_rate",
        "Finance",
    ),
    (
        "CAC payback months",
        "cac_payback_months",
        "Months of margin an account needs to repay its acquisition cost.",
        "cac / (arpa * gross_margin)",
        "Finance",
    ),
    (
        "LTV to CAC",
        "ltv_to_cac",
        "Lifetime value per unit of acquisition cost.",
        "ltv / cac",
        "Finance",
    ),
    (
        "Customer churn rate (12 months)",
        "customer_churn_rate_12m",
        "Average monthly churn over the trailing 12 months, weighted by starting customers.",
        "sum(churned, 12m) / sum(S_c, 12m)",
        "Customer Success",
    ),
    (
        "LTV (12 months)",
        "ltv_12m",
        "LTV at the trailing 12-month churn rate; steadier than the monthly one.",
        "arpa * gross_margin / customer_churn_rate_12m",
        "Finance",
    ),
    (
        "Net revenue retention (annual)",
        "net_revenue_retention_12m",
        "MRR now of the customers paying 12 months ago, over their MRR then.",
        "sum(mrr(m) of payers at m-12) / sum(mrr(m-12))",
        "Finance",
    ),
    (
        "Gross revenue retention (annual)",
        "gross_revenue_retention_12m",
        "As annual NRR, each customer capped at its MRR 12 months ago.",
        "sum(min(mrr(m), mrr(m-12))) / sum(mrr(m-12))",
        "Finance",
    ),
)


@fact("metrics_catalog", requires=("growth_summary",))
def build(ctx: FactContext) -> ir.Table:
    """Name, definition, formula, table, field, owner and cadence of every growth KPI."""
    return ibis.memtable(
        {
            "name": [k[0] for k in KPIS],
            "definition": [k[2] for k in KPIS],
            "formula": [k[3] for k in KPIS],
            "table": ["growth_summary"] * len(KPIS),
            "field": [k[1] for k in KPIS],
            "owner": [k[4] for k in KPIS],
            "cadence": ["monthly"] * len(KPIS),
        }
    )
