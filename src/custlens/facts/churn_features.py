"""``churn_features``: seed 002's churn-prediction inputs per customer, at the as-of date.

One row per resolved customer (``dim_customers``; every ``src_customers``
record before identity resolution). Activity of any of a customer's source
ids counts for the customer (:func:`~custlens.facts.identity.resolve_ids`).

Windows: "the last N days" are the N calendar days ending on the as-of date
A, i.e. events dated A − N + 1 … A (0 … N − 1 days before A), as in
``customer_value``'s trailing window; nothing dated after A counts. "The 30
days before" are the events 30 … 59 days before A.

Columns (null where the source table is not loaded, or where the customer has
nothing to measure):

- last_login_at, days_since_last_login: latest ``usage_events`` row with
  event_type ``login``; whole days from its date to A.
- logins_30d, logins_prior_30d: logins 0 … 29 and 30 … 59 days before A.
- login_trend (seed 002's rule, with its ``login_count_60d`` read as the
  prior 30 days — the only reading under which "increasing" can happen):
  ``increasing`` when logins_30d > logins_prior_30d; else ``declining``
  when logins_30d < 0.5 × logins_prior_30d; else ``stable`` (0 and 0 is
  stable; 2 after 4 is stable, 1 after 4 declining).
- latest_sentiment: sentiment of the customer's latest ticket (by opened_at)
  that has one; sentiment_90d: mean sentiment of the tickets opened in the
  last 90 days. Sentiment runs from −1 to 1.
- tickets_90d: tickets opened in the last 90 days (0 with none);
  avg_resolution_hours: mean hours from opened_at to resolved_at of those
  that were resolved by the end of A.
- features_used_90d: distinct features in usage_events of the last 90
  days; product_features: distinct features anyone used up to A;
  feature_adoption = features_used_90d / product_features (0 … 1).
- failed_payments_90d: transactions with status ``failed`` created in the
  last 90 days; payment_issues = failed_payments_90d > 0.
- days_until_renewal: days from A to the end (``period_end``, exclusive) of
  the latest-ending recurring subscription line that covers A; null without
  a current line. contract_ending_soon = days_until_renewal < 60 (seed 002;
  a monthly plan renews within a month, so it is always "ending soon").
- latest_nps, latest_nps_at: the customer's latest NPS answer up to A.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, TypeAlias

import ibis

from custlens.facts.identity import resolve_ids
from custlens.facts.registry import FactContext, fact
from custlens.numeric import ratio

if TYPE_CHECKING:
    import ibis.expr.types as ir

WINDOW_DAYS = 90
LOGIN_DAYS = 30
RENEWAL_DAYS = 60


def customers(ctx: FactContext) -> ir.Table:
    """The customer universe: resolved customers, else every customer record."""
    if ctx.has("dim_customers"):
        return ctx["dim_customers"].select("customer_id")
    return ctx["src_customers"].select("customer_id").distinct()


AsOf: TypeAlias = "date | ir.Table"
"""The as-of date of the features: one date (the fact), or a table of dates in a
column ``as_of`` (the churn model's training snapshots, all in one query)."""

KEYS = ["as_of", "customer_id"]


def at_dates(table: ir.Table, dates: AsOf) -> ir.Table:
    """``table`` with an ``as_of`` column: the one date, or a row per date of ``dates``.

    One date is a literal column, which the engines fold back into constants (filters
    still reach the scan); several dates are a cross join with their small table.
    """
    if isinstance(dates, date):
        return table.mutate(as_of=ibis.literal(dates, "date"))
    return table.cross_join(dates.select("as_of"))


def days_before(as_of: ir.DateValue, at: ir.TimestampValue) -> ir.IntegerValue:
    """Whole calendar days from the date of ``at`` to the as-of date."""
    return as_of.delta(at.date(), unit="day").cast("int64")


def _until_as_of(ctx: FactContext, dates: AsOf, table: ir.Table, at: str) -> ir.Table:
    """Rows of a customer-keyed source dated on or before A, with resolved ids and ``ago``."""
    table = at_dates(resolve_ids(ctx, table), dates)
    table = table.filter(table[at].date() <= table.as_of)
    return table.mutate(ago=days_before(table.as_of, table[at]))


def _usage(ctx: FactContext, dates: AsOf) -> ir.Table:
    events = _until_as_of(ctx, dates, ctx["src_usage_events"], "occurred_at")
    login = events.event_type == "login"
    recent = events.ago < WINDOW_DAYS
    return events.group_by(KEYS).aggregate(
        last_login_at=events.occurred_at.max(where=login),
        logins_30d=events.count(where=login & (events.ago < LOGIN_DAYS)),
        logins_prior_30d=events.count(
            where=login & (events.ago >= LOGIN_DAYS) & (events.ago < 2 * LOGIN_DAYS)
        ),
        features_used_90d=events.feature.nunique(where=recent & events.feature.notnull()),
    )


def _tickets(ctx: FactContext, dates: AsOf) -> ir.Table:
    tickets = _until_as_of(ctx, dates, ctx["src_support_tickets"], "opened_at")
    recent = tickets.ago < WINDOW_DAYS
    resolved = tickets.resolved_at.notnull() & (tickets.resolved_at.date() <= tickets.as_of)
    hours = (tickets.resolved_at.epoch_seconds() - tickets.opened_at.epoch_seconds()).cast(
        "float64"
    ) / 3600.0
    with_sentiment = tickets.sentiment.notnull()
    return tickets.group_by(KEYS).aggregate(
        latest_sentiment=tickets.sentiment.argmax(
            ibis.ifelse(with_sentiment, tickets.opened_at, ibis.null("timestamp"))
        ),
        sentiment_90d=tickets.sentiment.mean(where=recent),
        tickets_90d=tickets.count(where=recent),
        avg_resolution_hours=hours.mean(where=recent & resolved),
    )


def _payments(ctx: FactContext, dates: AsOf) -> ir.Table:
    tx = _until_as_of(ctx, dates, ctx["src_transactions"], "created_at")
    failed = tx.status.fill_null("processed") == "failed"
    return tx.group_by(KEYS).aggregate(
        failed_payments_90d=tx.count(where=failed & (tx.ago < WINDOW_DAYS))
    )


def _contracts(ctx: FactContext, dates: AsOf) -> ir.Table:
    lines = at_dates(resolve_ids(ctx, ctx["src_subscription_lines"]), dates)
    current = lines.filter(
        lines.kind.fill_null("recurring") == "recurring",
        lines.period_start <= lines.as_of,
        lines.period_end > lines.as_of,
    )
    per = current.group_by(KEYS).aggregate(contract_end=current.period_end.max())
    return per.select(
        *KEYS,
        days_until_renewal=per.contract_end.delta(per.as_of, unit="day").cast("int64"),
    )


def _nps(ctx: FactContext, dates: AsOf) -> ir.Table:
    answers = _until_as_of(ctx, dates, ctx["src_nps_responses"], "responded_at")
    return answers.group_by(KEYS).aggregate(
        latest_nps=answers.score.argmax(answers.responded_at).cast("int64"),
        latest_nps_at=answers.responded_at.max(),
    )


NULLS: dict[str, dict[str, str]] = {
    "src_usage_events": {
        "last_login_at": "timestamp",
        "logins_30d": "int64",
        "logins_prior_30d": "int64",
        "features_used_90d": "int64",
    },
    "src_support_tickets": {
        "latest_sentiment": "float64",
        "sentiment_90d": "float64",
        "tickets_90d": "int64",
        "avg_resolution_hours": "float64",
    },
    "src_transactions": {"failed_payments_90d": "int64"},
    "src_subscription_lines": {"days_until_renewal": "int64"},
    "src_nps_responses": {"latest_nps": "int64", "latest_nps_at": "timestamp"},
}
"""Columns each optional source provides, and their types when it is absent."""

_PARTS = {
    "src_usage_events": _usage,
    "src_support_tickets": _tickets,
    "src_transactions": _payments,
    "src_subscription_lines": _contracts,
    "src_nps_responses": _nps,
}


@fact(
    "churn_features",
    requires=("src_customers",),
    optional=(*_PARTS, "customer_identity", "dim_customers"),
)
def build(ctx: FactContext) -> ir.Table:
    """Per customer: login recency and trend, support, adoption, payments, renewal, NPS."""
    return features(ctx, ctx.as_of).drop("as_of")


def features(ctx: FactContext, dates: AsOf) -> ir.Table:
    """The features of every customer at each as-of date (column ``as_of``): the fact's
    one date, or the churn model's training dates in a single query (twelve separate
    snapshots cost Ibis seconds to build and compile, and Spark as many jobs)."""
    table = at_dates(customers(ctx), dates)
    for source, part in _PARTS.items():
        if ctx.has(source):
            table = table.left_join(part(ctx, dates), KEYS).drop("as_of_right", "customer_id_right")
        else:
            table = table.mutate(**{c: ibis.null(t) for c, t in NULLS[source].items()})
    has_usage = ctx.has("src_usage_events")
    if has_usage:
        products = _product_features(ctx, dates)
        table = table.left_join(products, "as_of").drop("as_of_right")
    zero = ibis.literal(0, "int64")
    logins = table.logins_30d.fill_null(zero) if has_usage else table.logins_30d
    prior = table.logins_prior_30d.fill_null(zero) if has_usage else table.logins_prior_30d
    trend = ibis.cases(
        (logins > prior, "increasing"),
        (logins.cast("float64") < prior.cast("float64") * 0.5, "declining"),
        else_="stable",
    )
    used = table.features_used_90d.fill_null(zero) if has_usage else table.features_used_90d
    product = table.product_features.fill_null(zero) if has_usage else ibis.null("int64")
    tickets = table.tickets_90d
    failed = table.failed_payments_90d
    if ctx.has("src_support_tickets"):
        tickets = tickets.fill_null(zero)
    if ctx.has("src_transactions"):
        failed = failed.fill_null(zero)
    return table.select(
        "as_of",
        "customer_id",
        "last_login_at",
        days_since_last_login=days_before(table.as_of, table.last_login_at),
        logins_30d=logins.cast("int64"),
        logins_prior_30d=prior.cast("int64"),
        login_trend=(trend if has_usage else ibis.null("string")),
        latest_sentiment=table.latest_sentiment.cast("float64"),
        sentiment_90d=table.sentiment_90d.cast("float64"),
        tickets_90d=tickets.cast("int64"),
        avg_resolution_hours=table.avg_resolution_hours.cast("float64"),
        features_used_90d=used.cast("int64"),
        product_features=product.cast("int64"),
        feature_adoption=(ratio(used, product) if has_usage else ibis.null("float64")),
        failed_payments_90d=failed.cast("int64"),
        payment_issues=failed > 0,
        days_until_renewal=table.days_until_renewal,
        contract_ending_soon=table.days_until_renewal < RENEWAL_DAYS,
        latest_nps=table.latest_nps,
        latest_nps_at=table.latest_nps_at,
    )


def _product_features(ctx: FactContext, dates: AsOf) -> ir.Table:
    """Per as-of date: product_features, the distinct features anyone used up to it."""
    events = at_dates(ctx["src_usage_events"], dates)
    events = events.filter(events.occurred_at.date() <= events.as_of, events.feature.notnull())
    return events.group_by("as_of").aggregate(
        product_features=events.feature.nunique().cast("int64")
    )
