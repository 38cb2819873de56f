"""The dashboard's tables: the customers to call today (at-risk by overdue purchases
and by falling MRR) and the segments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

from custlens.errors import NotFoundError
from custlens.report import widgets as w

if TYPE_CHECKING:
    from custlens.scoped import RoleView
    from custlens.workspace import Workspace


TABLE_ROWS = 10


_AT_RISK = {
    "overdue": (
        "At-risk customers: overdue purchases",
        "Customers silent well past their own purchase rhythm, most valuable first.",
        {"value": "Spend"},
    ),
    "declining-mrr": (
        "At-risk customers: falling MRR",
        "Customers whose MRR has fallen steadily over the last months, steepest first.",
        {"current_mrr": "MRR now", "relative_slope": "Monthly change"},
    ),
}


def at_risk_section(ws: Workspace | RoleView, by: Literal["overdue", "declining-mrr"]) -> str:
    heading, subtitle, extra = _AT_RISK[by]
    section_id = f"section-at-risk-{by}"
    try:
        rows = ws.at_risk(by, TABLE_ROWS)
    except NotFoundError:
        fact = "churn_risk" if by == "overdue" else "mrr_trend_risk"
        return w.card(section_id, heading, w.missing(fact))
    if rows.height == 0:
        return w.card(section_id, heading, w.note("No customer is flagged by this signal today."))
    columns = {"customer_id": "Customer"}
    if "name" in rows.columns:
        columns["name"] = "Name"
    if "segment" in rows.columns:
        columns["segment"] = "Segment"
    columns.update(extra)
    columns["reason"] = "Why"
    return w.card(section_id, heading, w.table(rows, columns, f"table-at-risk-{by}"), subtitle)


def segments_section(summary: pl.DataFrame | None) -> str:
    heading = "Segments"
    if summary is None or summary.height == 0:
        return w.card("section-segments", heading, w.missing("segment_summary"))
    columns = {
        "segment": "Segment",
        "customers": "Customers",
        "paying_customers": "Paying",
        "current_mrr": "MRR",
        "monthly_churn_rate": "Churn",
        "avg_lifetime_value": "Lifetime value",
    }
    ordered = summary.sort("current_mrr", descending=True, nulls_last=True)
    return w.card(
        "section-segments",
        heading,
        w.table(
            ordered, {k: v for k, v in columns.items() if k in summary.columns}, "table-segments"
        ),
        "Where the MRR sits and where it is leaking.",
    )
