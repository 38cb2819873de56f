"""``journey_funnel``: how far customers get along the journey, by segment (seed 002).

Stages, in order: signup → onboarding → first_value → paid → expansion →
advocacy (``journey_events.stage``). Events of any source id count for the
resolved customer; events dated after the as-of date are ignored. The funnel
covers the customers with at least one journey event.

- A customer *reaches* a stage when it has an event of that stage or of any
  later one: a customer who paid without a recorded first_value event has
  passed first_value. So the funnel never widens from one stage to the next.
- customers: customers that reached the stage.
- conversion_from_first = customers / customers at signup;
  conversion_from_previous = customers / customers at the previous stage
  (null for signup); null when the base is 0.
- avg_days_from_signup: mean days (fractional, from the timestamps) from
  signup to the customer's first event of the stage, over the customers
  that have both; signup is its first signup event, else its signup_date
  (``dim_customers`` / ``src_customers``).
- segment: the customer's segment (``Unknown`` when absent); the rows with
  segment ``All`` cover every customer.

Columns: segment, stage, stage_order (1–6), customers,
conversion_from_first, conversion_from_previous, avg_days_from_signup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.identity import column, resolve_ids
from custlens.facts.registry import FactContext, fact
from custlens.numeric import ratio
from custlens.sources.contract import JOURNEY_STAGES

if TYPE_CHECKING:
    import ibis.expr.types as ir

ALL = "All"
UNKNOWN = "Unknown"
SECONDS_PER_DAY = 86_400.0


def _per_customer(ctx: FactContext) -> ir.Table:
    """customer_id, segment, reached_<stage> (0/1) and days_<stage> for each stage."""
    events = resolve_ids(ctx, ctx["src_journey_events"])
    events = events.filter(events.occurred_at.date() <= ctx.as_of)
    first = events.group_by("customer_id").aggregate(
        **{
            f"at_{stage}": events.occurred_at.min(where=events.stage == stage)
            for stage in JOURNEY_STAGES
        }
    )
    people = ctx["dim_customers"] if ctx.has("dim_customers") else ctx["src_customers"]
    people = people.select(
        "customer_id",
        segment=column(people, "segment").cast("string"),
        signup_date=column(people, "signup_date", "date"),
    )
    if not ctx.has("dim_customers"):
        people = people.distinct(on="customer_id", keep="first")
    joined = first.left_join(people, "customer_id").drop("customer_id_right")
    signup_at = joined.at_signup.fill_null(joined.signup_date.cast("timestamp"))
    cols: dict[str, ir.Value] = {"segment": joined.segment.fill_null(UNKNOWN)}
    for k, stage in enumerate(JOURNEY_STAGES):
        later = [joined[f"at_{s}"].notnull() for s in JOURNEY_STAGES[k:]]
        reached = later[0]
        for flag in later[1:]:
            reached = reached | flag
        cols[f"reached_{stage}"] = ibis.ifelse(reached, 1, 0)
        seconds = joined[f"at_{stage}"].epoch_seconds() - signup_at.epoch_seconds()
        cols[f"days_{stage}"] = seconds.cast("float64") / SECONDS_PER_DAY
    return joined.select("customer_id", **cols)


def _long(wide: ir.Table) -> ir.Table:
    """One row per (segment, stage) from a row per segment of stage sums."""
    parts = []
    for k, stage in enumerate(JOURNEY_STAGES):
        reached = wide[f"customers_{stage}"]
        previous = wide[f"customers_{JOURNEY_STAGES[k - 1]}"] if k else None
        parts.append(
            wide.select(
                "segment",
                stage=ibis.literal(stage, "string"),
                stage_order=ibis.literal(k + 1, "int64"),
                customers=reached.cast("int64"),
                conversion_from_first=ratio(reached, wide[f"customers_{JOURNEY_STAGES[0]}"]),
                conversion_from_previous=(
                    ratio(reached, previous) if previous is not None else ibis.null("float64")
                ),
                avg_days_from_signup=wide[f"avg_days_{stage}"].cast("float64"),
            )
        )
    return ibis.union(*parts)


@fact(
    "journey_funnel",
    requires=("src_journey_events", "src_customers"),
    optional=("customer_identity", "dim_customers"),
)
def build(ctx: FactContext) -> ir.Table:
    """Customers reaching each journey stage, conversions and days from signup, by segment."""
    per = _per_customer(ctx)
    sums = {
        **{f"customers_{s}": per[f"reached_{s}"].sum().cast("int64") for s in JOURNEY_STAGES},
        **{f"avg_days_{s}": per[f"days_{s}"].mean() for s in JOURNEY_STAGES},
    }
    by_segment = per.group_by("segment").aggregate(**sums)
    overall = per.aggregate(**sums).mutate(segment=ibis.literal(ALL, "string"))
    wide = ibis.union(by_segment, overall.select(*by_segment.columns))
    return _long(wide).order_by("segment", "stage_order")
