"""Views a person reaches for, built from the facts: at-risk lists and segment breakdowns.

Each returns a Polars frame with a plain-language ``reason`` (for the at-risk
lists) so it can be printed, handed to a CRM as CSV/JSON, or tested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

from custlens.errors import NotFoundError
from custlens.format import money, percent

if TYPE_CHECKING:
    from custlens.scoped import RoleView
    from custlens.workspace import Workspace

AtRiskBy = Literal["overdue", "declining-mrr", "lapsed"]
"""The at-risk signals, each named for what it measures."""

SIGNALS: tuple[AtRiskBy, ...] = ("overdue", "declining-mrr", "lapsed")

FORMER_NAMES: dict[str, AtRiskBy] = {
    "churn-risk": "overdue",
    "trend": "declining-mrr",
    "recency": "lapsed",
}
"""The signals' names before stop 7, still accepted from Python."""

_NEEDS = {"declining-mrr": "mrr_trend_risk", "lapsed": "rfm", "overdue": "churn_risk"}


def at_risk(ws: Workspace | RoleView, by: AtRiskBy = "overdue", top: int = 10) -> pl.DataFrame:
    """The top at-risk customers by one signal, with the reason for each.

    - ``overdue``: customers silent well past their own purchase rhythm
      (``churn_risk`` flagged), highest priority (risk × value) first;
    - ``declining-mrr``: MRR falling steadily (``mrr_trend_risk``: slope < 0
      and r² ≥ the threshold), steepest relative decline first;
    - ``lapsed``: big spenders who stopped buying (``rfm`` quadrant at_risk),
      highest spend first.

    Every signal lists customers who have paid; a prospect never is. Each list
    starts with ``rank`` (1 = call first) and ends with a ``reason``.

    Raises:
        NotFoundError: the fact behind the signal has not been computed, or an
            unknown signal.
    """
    by = FORMER_NAMES.get(by, by)
    if by not in _NEEDS:
        raise NotFoundError(f"no at-risk signal {by!r}; signals: {', '.join(SIGNALS)}")
    fact = _NEEDS[by]
    if fact not in ws.tables():
        raise NotFoundError(f"no {fact} table: load its inputs and run `custlens run` first")
    table = ws.table(fact)
    if by == "declining-mrr":
        rows = table.filter(pl.col("at_risk")).sort("risk_rank")
        columns = ["customer_id", "current_mrr", "slope", "relative_slope", "r_squared"]
    elif by == "lapsed":
        rows = table.filter(pl.col("quadrant") == "at_risk").sort(
            ["monetary", "customer_id"], descending=[True, False]
        )
        rows = rows.rename({"segment": "rfm_segment"})
        columns = ["customer_id", "monetary", "recency_days", "rfm_segment"]
    else:
        rows = table.filter(pl.col("flagged")).sort(
            ["priority", "customer_id"], descending=[True, False]
        )
        # Ordered by priority (risk score × spend), shown as the rank it gives: a
        # product of a ratio and dollars reads as money, which it is not.
        columns = ["customer_id", "value", "days_since_last", "expected_gap_days", "risk_score"]
    top_rows = rows.head(top)
    # Reasons are written for a person, in Python, over at most `top` rows.
    code = ws.currency()
    reasons = [_REASONS[by](row, code) for row in top_rows.iter_rows(named=True)]
    listed = top_rows.select(columns).with_columns(reason=pl.Series(reasons, dtype=pl.String))
    listed = listed.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))
    return _with_names(ws, listed)


def _trend_reason(row: dict, code: str) -> str:
    return (
        f"MRR down {percent(-row['relative_slope'])} of its mean a month over "
        f"{row['months_used']} months (r² {row['r_squared']:.2f})"
    )


def _recency_reason(row: dict, code: str) -> str:
    return f"spent {money(row['monetary'], code)} in all; no purchase in {row['recency_days']} days"


def _churn_reason(row: dict, code: str) -> str:
    return (
        f"no purchase in {row['days_since_last']} days, {row['risk_score']:.1f}× "
        f"the usual gap of {row['expected_gap_days']:.0f} days"
    )


_REASONS = {"declining-mrr": _trend_reason, "lapsed": _recency_reason, "overdue": _churn_reason}


def segments(ws: Workspace | RoleView, by: str = "segment") -> pl.DataFrame:
    """Customers, revenue, lifetime value, MRR and churn per value of a customer dimension.

    ``segment`` reads the ``segment_summary`` fact; another dimension
    (industry, region, plan, acquisition_channel) is computed from the
    latest facts with the same definition.
    """
    if by == "segment":
        if "segment_summary" not in ws.tables():
            raise NotFoundError("no segment_summary table: load customers and run first")
        return ws.table("segment_summary").drop("_run_id", strict=False)
    from custlens.facts.segment_summary import summarise_by

    context = ws.context()
    frame = context.materialise(summarise_by(context, by))
    return frame.sort(by)


def _with_names(ws: Workspace | RoleView, rows: pl.DataFrame) -> pl.DataFrame:
    """Put the customer's name and segment beside its id, when customers are loaded."""
    if "src_customers" not in ws.tables() or rows.is_empty():
        return rows
    customers = ws.table("customers")
    wanted = [c for c in ("name", "segment") if c in customers.columns]
    if not wanted:
        return rows
    names = customers.select("customer_id", *wanted)
    first = [c for c in ("rank", "customer_id") if c in rows.columns]
    return rows.join(names, on="customer_id", how="left", maintain_order="left").select(
        *first, *wanted, *[c for c in rows.columns if c not in first]
    )
