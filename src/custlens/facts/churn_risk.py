"""``churn_risk``: customers overdue for their next purchase (seed 004, DESIGN.md §4).

A customer who bought n times over t days of tenure buys about every t / n
days; one whose silence has lasted much longer than that is at risk, and
worth chasing in proportion to what they have spent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir


@fact("churn_risk", requires=("customer_value",))
def build(ctx: FactContext) -> ir.Table:
    """Per customer: expected purchase gap, risk score, priority and the at-risk flag.

    - expected_gap_days = tenure_days / order_count (from ``customer_value``).
    - days_since_last, value (= total_spend, net of refunds).
    - risk_score = min(days_since_last / expected_gap_days,
      ``analytics.churn_risk.max_score``) for every customer; null when the
      expected gap is 0 (all purchases on the as-of date: no rhythm yet).
    - priority = risk_score × value.
    - flagged: days_since_last > ``gap_multiple`` × expected_gap_days and
      value > ``min_value`` (seed 004: 2 and 1000); never with a gap of 0,
      which the seed skips.
    - risk_rank: 1, 2, … over the flagged customers by priority, highest first
      (ties by customer_id); null when not flagged.
    """
    settings = ctx.config.analytics.churn_risk
    value = ctx["customer_value"]
    gap = value.tenure_days.cast("float64") / value.order_count.cast("float64")
    since = value.days_since_last
    has_gap = gap > 0
    # ibis.least skips nulls on DuckDB and Spark, so guard the null case explicitly.
    score = ibis.ifelse(
        has_gap,
        ibis.least(since.cast("float64") / gap, settings.max_score),
        ibis.null("float64"),
    )
    flagged = (
        has_gap & (since > settings.gap_multiple * gap) & (value.total_spend > settings.min_value)
    )
    risk = value.select(
        "customer_id",
        expected_gap_days=gap,
        days_since_last=since,
        value=value.total_spend,
        risk_score=score.cast("float64"),
        priority=(score * value.total_spend).cast("float64"),
        flagged=flagged,
    )
    # Flagged rows sort first, so their row numbers are 0 … k − 1.
    ranking = ibis.window(order_by=[risk.flagged.desc(), risk.priority.desc(), risk.customer_id])
    return risk.mutate(
        risk_rank=ibis.ifelse(
            risk.flagged, ibis.row_number().over(ranking) + 1, ibis.null("int64")
        ).cast("int64")
    )
