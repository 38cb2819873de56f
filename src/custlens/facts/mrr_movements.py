"""``mrr_movements``: what changed each customer's MRR, month by month (DESIGN.md §3).

With p = MRR(m−1) and q = MRR(m): p = 0 < q is new (first paid month) or
reactivation (paid before); p > 0 = q is churn, in the first month without
MRR; q > p > 0 is expansion; p > q > 0 is contraction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")


@fact("mrr_movements", requires=("customer_mrr",))
def build(ctx: FactContext) -> ir.Table:
    """One row per customer, month and movement, with the MRR before and after."""
    mrr = ctx["customer_mrr"]
    by_customer = ibis.window(group_by="customer_id", order_by="month")
    # The spine starts at the customer's first paid month, so "paid before m"
    # is simply "m is after the spine's first month".
    steps = mrr.mutate(
        mrr_before=mrr.mrr.lag().over(by_customer).fill_null(0.0),
        first_month=mrr.month.min().over(ibis.window(group_by="customer_id")),
    )
    p, q = steps.mrr_before, steps.mrr
    movement = ibis.cases(
        ((p == 0) & (q > 0) & (steps.month == steps.first_month), "new"),
        ((p == 0) & (q > 0), "reactivation"),
        ((p > 0) & (q == 0), "churn"),
        ((p > 0) & (q > p), "expansion"),
        ((q > 0) & (p > q), "contraction"),
        else_=ibis.null("string"),
    )
    if ctx.config.opening_balance == "first_month":
        # Customers paying in the first month of the data are the opening
        # balance, not new business.
        opening = mrr.month.min().as_scalar()
        movement = ibis.ifelse(steps.month == opening, ibis.null("string"), movement)
    moved = steps.mutate(movement=movement).filter(ibis._.movement.notnull())
    return moved.select(
        "customer_id",
        "month",
        "movement",
        amount=(moved.mrr - moved.mrr_before).abs(),
        mrr_before=moved.mrr_before,
        mrr_after=moved.mrr,
    )
