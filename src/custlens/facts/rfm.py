"""``rfm``: recency, frequency and monetary scores, segments and quadrants (seed 004).

Built on ``customer_value``, so the customers, the as-of date and the
treatment of refunds are the same: recency_days = days since the last
processed payment, frequency = processed payments, monetary = total spend net
of refunds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.config import RfmThresholds

SCORES = 5

SEGMENTS = (
    "Champions",
    "Loyal Customers",
    "Big Spenders",
    "Promising",
    "Need Attention",
    "At Risk",
    "Lost",
)

QUADRANT_ACTIONS = {
    "champions": "Reward with VIP benefits",
    "at_risk": "Re-engagement campaign",
    "promising": "Upsell campaign",
    "hibernating": "Win-back offer",
}
"""Seed 004's suggested action for each value × recency quadrant."""


def quintile_score(value: ir.NumericValue, *, higher_is_better: bool) -> ir.IntegerValue:
    """Score 1–5 from the share of the other customers with a strictly worse value.

    score = min(1 + ⌊5 × r / (n − 1)⌋, 5), where r is the number of customers
    whose value is strictly worse (SQL ``RANK() − 1`` in worst-first order) and
    n the number of customers: ⌊5 × percent_rank⌋ + 1. Equal values have equal
    r, hence equal scores, wherever the tie falls (NTILE would split it). A
    share exactly on an edge (0.2, 0.4, 0.6, 0.8) takes the higher score; the
    arithmetic is in integers so no rounding moves it. A lone customer
    (n = 1) has r = 0 and scores 1, as percent_rank is 0 there.
    """
    order = value.asc() if higher_is_better else value.desc()
    worse = ibis.rank().over(ibis.window(order_by=order)).cast("int64")
    n = value.count().over(ibis.window()).cast("int64")
    bucket = (worse * SCORES) // ibis.greatest(n - 1, 1)
    return ibis.least(bucket + 1, SCORES).cast("int64")


def threshold_score(
    value: ir.NumericValue, edges: list[float], *, higher_is_better: bool
) -> ir.IntegerValue:
    """Score by fixed edges for scores 5, 4, 3, 2 (seed 004), else 1.

    Higher is better (frequency, monetary): score 5 when value ≥ edges[0], …
    Lower is better (recency): score 5 when value < edges[0], …
    """
    hits = [
        (value >= edge if higher_is_better else value < edge, SCORES - i)
        for i, edge in enumerate(edges)
    ]
    return ibis.cases(*hits, else_=1).cast("int64")


def segment(r: ir.IntegerValue, f: ir.IntegerValue, m: ir.IntegerValue) -> ir.StringValue:
    """Seed 004's named segment; the first rule that holds wins."""
    champions, loyal, big, promising, attention, at_risk, lost = SEGMENTS
    return ibis.cases(
        ((r >= 4) & (f >= 4) & (m >= 4), champions),
        ((r >= 4) & (f >= 3), loyal),
        ((r >= 4) & (m >= 4), big),
        (r >= 3, promising),
        (f >= 3, attention),
        (m >= 3, at_risk),
        else_=lost,
    )


def _scores(
    base: ir.Table, method: str, thresholds: RfmThresholds
) -> tuple[ir.IntegerValue, ir.IntegerValue, ir.IntegerValue]:
    if method == "thresholds":
        return (
            threshold_score(base.recency_days, thresholds.recency_days, higher_is_better=False),
            threshold_score(base.frequency, thresholds.frequency, higher_is_better=True),
            threshold_score(base.monetary, thresholds.monetary, higher_is_better=True),
        )
    return (
        quintile_score(base.recency_days, higher_is_better=False),
        quintile_score(base.frequency, higher_is_better=True),
        quintile_score(base.monetary, higher_is_better=True),
    )


@fact("rfm", requires=("customer_value",))
def build(ctx: FactContext) -> ir.Table:
    """Per customer: RFM values, 1–5 scores, RFM code, segment, quadrant and action.

    - r/f/m scores: by quintiles over all customers (``analytics.rfm.method:
      quintiles``, the default; see :func:`quintile_score`; recent = 5) or by
      the fixed edges of ``analytics.rfm.thresholds`` (seed 004's by default:
      recency < 30/90/180/365 days, frequency ≥ 20/10/5/2, monetary ≥
      10000/5000/1000/500 for 5/4/3/2).
    - rfm_code: the three scores as text, "545".
    - segment: seed 004's seven rules, in order (:func:`segment`).
    - quadrant: high value when monetary ≥ ``rfm.high_value``; recent when the
      last purchase is fewer than ``rfm.recent_days`` days before the as-of
      date (exactly recent_days before is not recent, as in the trailing
      window of ``customer_value``). champions = high and recent, at_risk =
      high and not recent, promising = not high and recent, hibernating =
      neither; suggested_action is seed 004's action for the quadrant.
    """
    settings = ctx.config.analytics.rfm
    value = ctx["customer_value"]
    base = value.select(
        "customer_id",
        recency_days=value.days_since_last,
        frequency=value.order_count,
        monetary=value.total_spend,
    )
    r, f, m = _scores(base, settings.method, settings.thresholds)
    scored = base.mutate(r_score=r, f_score=f, m_score=m)
    high = scored.monetary >= settings.high_value
    recent = scored.recency_days < settings.recent_days
    quadrant = ibis.cases(
        (high & recent, "champions"),
        (high, "at_risk"),
        (recent, "promising"),
        else_="hibernating",
    )
    scored = scored.mutate(
        rfm_code=scored.r_score.cast("string").concat(
            scored.f_score.cast("string"), scored.m_score.cast("string")
        ),
        segment=segment(scored.r_score, scored.f_score, scored.m_score),
        quadrant=quadrant,
    )
    return scored.mutate(suggested_action=scored.quadrant.substitute(QUADRANT_ACTIONS))
