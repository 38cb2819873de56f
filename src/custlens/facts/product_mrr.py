"""``product_mrr``: each customer's month-end MRR per product — MRR by product.

The rule of ``customer_mrr`` (DESIGN.md §3) with the lines split by their
``product_id``: the MRR of a customer's product in month m is the sum, over the
customer's recurring lines of that product whose service period covers the
last day of m, of ``amount / period_months(period_start, period_end)``. Lines
without a ``product_id`` count under ``(none)``.

One row per customer, product and month with MRR other than 0, up to the as-of
month; no spine (a product a customer stopped paying for has no row after, and
its loss is the customer's movement in ``mrr_movements``). Each row is rounded
to the cent, as ``customer_mrr`` is per customer and month, so a customer's
products sum to its ``customer_mrr`` give or take a cent per product.

It needs subscription lines: a workspace that loads ``customer_mrr`` itself
has no products.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.calendar import month_start
from custlens.facts.customer_mrr import mrr_from_lines
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

NO_PRODUCT = "(none)"
"""The product of a line whose ``product_id`` is empty or not loaded."""


@fact("product_mrr", requires=("src_subscription_lines",))
def build(ctx: FactContext) -> ir.Table:
    """Month-end MRR per customer, product and month, up to the as-of month."""
    lines = ctx["src_subscription_lines"]
    none = ibis.literal(NO_PRODUCT)
    if "product_id" in lines.columns:
        given = lines.product_id.strip()
        product = ibis.ifelse(given.fill_null("") == "", none, given)
    else:
        product = none
    lines = lines.mutate(product_id=product)
    monthly = mrr_from_lines(lines, ctx.as_of, by=("product_id",))
    monthly = monthly.filter(monthly.mrr != 0)
    return monthly.select(
        "customer_id",
        "product_id",
        month=month_start(monthly.month_idx),
        mrr=monthly.mrr.cast("float64"),
    )
