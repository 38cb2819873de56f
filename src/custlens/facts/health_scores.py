"""``health_scores``: a 0–100 customer health score, its parts, band and lifecycle stage.

Built from ``churn_features`` (one row per resolved customer). Each component
is a 0–100 score; the scalings are ``analytics.health.scaling`` (S below),
the weights ``analytics.health.weights`` (usage .30, support .25, payment
.20, engagement .15, NPS .10 by default; a config whose weights do not sum
to 1 is rejected). A part with nothing to measure scores S.neutral (50).

- usage_score = mean of three parts:
  recency = 100 × max(0, 1 − days_since_last_login / S.inactive_days)
  (0 when the customer never logged in); activity = 100 × min(1,
  logins_30d / S.target_logins_30d); adoption = 100 × feature_adoption.
- support_score = mean of two parts: sentiment = 50 × (1 + sentiment_90d),
  else 50 × (1 + latest_sentiment), else neutral; load = 100 × max(0, 1 −
  tickets_90d / S.max_tickets_90d).
- payment_score = 100 × max(0, 1 − failed_payments_90d / S.max_failed_payments).
- engagement_score: S.trend_points of login_trend (increasing 100, stable 60,
  declining 20).
- nps_score = 10 × latest_nps, else neutral.
- health_score = Σ weight × component (unrounded; shown rounded).
- band (``analytics.health.bands``): Excellent ≥ 80, Good ≥ 60, At Risk ≥ 40,
  else Critical (so 79.9 is Good).
- lifecycle_stage, from revenue first and behaviour second:
  ``prospect``: never paid (no month with MRR > 0 and no processed
  payment up to the as-of date); ``churned``: paid before but not now;
  ``at-risk``: paying now and showing a churn signal — login_trend
  declining, no login for S.inactive_days or more (or never, when usage is
  loaded), or a failed payment in 90 days; ``active``: paying now, no signal.
  "Paying now" is MRR > 0 in the as-of month (``customer_mrr``), or, with
  transactions only, a processed payment in the last
  ``analytics.trailing_days`` days (``customer_value.days_since_last``).
  The lifecycle does not read the health score, so "active customers with a
  critical score" (seed 002's CRM list) is a meaningful question.
- paying: the "paying now" flag above.

A ``churn_probability`` column is to follow from the predictive model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.calendar import index_of, month_index
from custlens.facts.identity import resolve_ids
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

BANDS = ("Excellent", "Good", "At Risk", "Critical")
STAGES = ("prospect", "active", "at-risk", "churned")


def _f(value: float) -> ir.FloatingValue:
    return ibis.literal(float(value), "float64")


def _clip01(value: ir.FloatingValue) -> ir.FloatingValue:
    """value limited to [0, 1] (ibis.greatest/least skip nulls: callers fill nulls first)."""
    return ibis.greatest(_f(0.0), ibis.least(_f(1.0), value))


def _revenue_status(ctx: FactContext) -> ir.Table | None:
    """customer_id, ever_paid, paying: from customer_mrr, else customer_value; None without both."""
    if ctx.has("customer_mrr"):
        mrr = resolve_ids(ctx, ctx["customer_mrr"])
        now = month_index(mrr.month) == index_of(ctx.as_of)
        return mrr.group_by("customer_id").aggregate(
            ever_paid=(mrr.mrr > 0).any(), paying=((mrr.mrr > 0) & now).any()
        )
    if ctx.has("customer_value"):
        value = resolve_ids(ctx, ctx["customer_value"])
        recent = value.days_since_last < ctx.config.analytics.trailing_days
        return value.group_by("customer_id").aggregate(
            ever_paid=(value.order_count > 0).any(), paying=recent.any()
        )
    return None


@fact(
    "health_scores",
    requires=("churn_features",),
    optional=("customer_mrr", "customer_value", "customer_identity", "src_usage_events"),
)
def build(ctx: FactContext) -> ir.Table:
    """Per customer: five health components, the weighted score, band and lifecycle stage."""
    health = ctx.config.analytics.health
    s, w, bands = health.scaling, health.weights, health.bands
    f = ctx["churn_features"]
    neutral = _f(s.neutral)

    recency = ibis.ifelse(
        f.days_since_last_login.isnull(),
        _f(0.0),
        _clip01(1.0 - f.days_since_last_login.cast("float64") / s.inactive_days),
    )
    activity = _clip01(f.logins_30d.cast("float64") / s.target_logins_30d)
    adoption = _clip01(f.feature_adoption.cast("float64"))
    usage = ibis.ifelse(
        f.login_trend.isnull(),  # usage events not loaded
        neutral,
        (recency + activity.fill_null(0.0) + adoption.fill_null(0.0)) * 100.0 / 3.0,
    )

    sentiment = f.sentiment_90d.fill_null(f.latest_sentiment)
    sentiment_part = ibis.ifelse(sentiment.isnull(), neutral, (sentiment + 1.0) * 50.0)
    load = ibis.ifelse(
        f.tickets_90d.isnull(),
        neutral,
        _clip01(1.0 - f.tickets_90d.cast("float64") / s.max_tickets_90d) * 100.0,
    )
    support = (sentiment_part + load) / 2.0

    payment = ibis.ifelse(
        f.failed_payments_90d.isnull(),
        neutral,
        _clip01(1.0 - f.failed_payments_90d.cast("float64") / s.max_failed_payments) * 100.0,
    )
    points = s.trend_points
    engagement = ibis.cases(
        (f.login_trend == "increasing", _f(points["increasing"])),
        (f.login_trend == "stable", _f(points["stable"])),
        (f.login_trend == "declining", _f(points["declining"])),
        else_=neutral,
    )
    nps = ibis.ifelse(f.latest_nps.isnull(), neutral, f.latest_nps.cast("float64") * 10.0)

    scored = f.select(
        "customer_id",
        usage_score=usage.cast("float64"),
        support_score=support.cast("float64"),
        payment_score=payment.cast("float64"),
        engagement_score=engagement.cast("float64"),
        nps_score=nps.cast("float64"),
        signal=(
            (f.login_trend == "declining").fill_null(False)
            | (f.days_since_last_login >= s.inactive_days).fill_null(False)
            | (f.days_since_last_login.isnull() & f.login_trend.notnull())
            | f.payment_issues.fill_null(False)
        ),
    )
    total = (
        scored.usage_score * w.usage
        + scored.support_score * w.support
        + scored.payment_score * w.payment
        + scored.engagement_score * w.engagement
        + scored.nps_score * w.nps
    ).cast("float64")
    scored = scored.mutate(health_score=total)
    status = _revenue_status(ctx)
    if status is not None:
        scored = scored.left_join(status, "customer_id").drop("customer_id_right")
        ever_paid = scored.ever_paid.fill_null(False)
        paying = scored.paying.fill_null(False)
    else:
        ever_paid = paying = ibis.literal(False)
    stage = ibis.cases(
        (~ever_paid, STAGES[0]),
        (~paying, STAGES[3]),
        (scored.signal, STAGES[2]),
        else_=STAGES[1],
    )
    score = scored.health_score
    return scored.select(
        "customer_id",
        "usage_score",
        "support_score",
        "payment_score",
        "engagement_score",
        "nps_score",
        "health_score",
        band=ibis.cases(
            (score >= bands.excellent, BANDS[0]),
            (score >= bands.good, BANDS[1]),
            (score >= bands.at_risk, BANDS[2]),
            else_=BANDS[3],
        ),
        lifecycle_stage=stage,
        paying=paying,
    )
