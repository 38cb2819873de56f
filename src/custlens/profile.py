"""The Customer 360 profile of one customer (seed 002), as a plain JSON-able dict.

``profile(warehouse, as_of, customer_id)`` reads the facts of the latest run and the
sources for one customer only (every query filters on its ids), so it answers
quickly on a large workspace. Any source-system id of the customer finds it:
the id is looked up in ``customer_identity``.

Shape (every value a str, int, float, bool, None, list or dict; dates and
times as ISO strings)::

    {"customer_id", "as_of",
     "overview":   {name, source_ids [{id, system}], customer_since, segment,
                    industry, region, plan, acquisition_channel, email, phone,
                    domain, health_score, band, lifecycle_stage, components,
                    churn_probability},
     "financial":  {revenue_basis, lifetime_revenue, current_mrr, current_arr,
                    last_12_months, previous_12_months, change_12_months,
                    payment_status, failed_payments_90d},
     "engagement": {nps_score, nps_category, last_activity_at,
                    days_since_last_activity, days_since_last_login,
                    login_trend, product_adoption, tickets_90d,
                    avg_resolution_hours},
     "contacts":   [{role, name, title, email, phone}],
     "recent_events": [{date, kind, description}]}   # newest first

Definitions: lifetime_revenue is the sum of MRR over every month of
``customer_mrr`` up to the as-of month (the basis of ``segment_summary``),
or net processed payments without subscription data; last_12_months is the
sum over the 12 months ending with the as-of month, previous_12_months the
12 before, change_12_months their relative change (null when the earlier
one is 0). payment_status is ``current`` without a failed payment in the
last 90 days, else ``issues``. nps_category: promoter 9–10, passive 7–8,
detractor 0–6. Recent events: MRR movements (new, expansion, contraction,
churn, reactivation), renewals of contracts of 12 months or longer, support
tickets, NPS answers and journey stages, up to the as-of date.

PII: :data:`PII_FIELDS` names the keys that hold personal data or name the
customer — the same fields the shipped semantic model marks ``meta.pii``: the
customer's name, email, phone and domain, and its contacts' names, emails and
phones; :func:`mask_pii` replaces them for a caller that may not see them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from custlens.errors import NotFoundError

if TYPE_CHECKING:
    from custlens.warehouse import Warehouse

PII_FIELDS: dict[str, tuple[str, ...]] = {
    "overview": ("name", "email", "phone", "domain"),
    "contacts": ("name", "email", "phone"),
}
"""Section → keys holding personal data. ``contacts`` is a list: the keys of each item."""

ROLE_ORDER = ("primary", "champion", "executive_sponsor")
COMPONENT_COLUMNS = (
    "usage_score",
    "support_score",
    "payment_score",
    "engagement_score",
    "nps_score",
)
RECENT_EVENTS = 10
RENEWAL_MIN_DAYS = 360


def mask_pii(profile: dict[str, Any], mask: Callable[[str], str]) -> dict[str, Any]:
    """A copy of ``profile`` with every non-null PII value (:data:`PII_FIELDS`) masked.

    Example::

        mask_pii(p, lambda v: hashlib.sha256(v.encode()).hexdigest()[:12])
    """
    out = dict(profile)
    for section, keys in PII_FIELDS.items():
        value = out.get(section)
        if isinstance(value, list):
            out[section] = [_masked(item, keys, mask) for item in value]
        elif isinstance(value, dict):
            out[section] = _masked(value, keys, mask)
    return out


def _masked(item: dict[str, Any], keys: Iterable[str], mask: Callable[[str], str]) -> dict:
    copy = dict(item)
    for key in keys:
        if copy.get(key) is not None:
            copy[key] = mask(str(copy[key]))
    return copy


def profile(
    warehouse: Warehouse, as_of: date, customer_id: str, events: int = RECENT_EVENTS
) -> dict[str, Any]:
    """The Customer 360 of the customer with this (any source-system) id, from the facts
    of the run with as-of date ``as_of`` (:meth:`Workspace.last_run_as_of`).

    Raises:
        NotFoundError: no customer record has this id (the message names it).
    """
    reader = _Reader(warehouse, as_of)
    resolved, sources = reader.identity(customer_id)
    as_of = reader.as_of
    ids = [str(s["id"]) for s in sources]
    dim = reader.one("dim_customers", "customer_id", [resolved]) or reader.one(
        "src_customers", "customer_id", [resolved]
    )
    if dim is None:
        raise NotFoundError(f"no customer {customer_id!r}")
    health = reader.one("health_scores", "customer_id", [resolved]) or {}
    propensity = reader.one("churn_propensity", "customer_id", [resolved]) or {}
    features = reader.one("churn_features", "customer_id", [resolved]) or {}
    mrr = reader.rows("customer_mrr", ids)
    value = reader.rows("customer_value", ids)
    financial = _financial(as_of, mrr, value, features)
    overview = {
        "name": dim.get("name"),
        "source_ids": sources,
        "customer_since": _iso(dim.get("signup_date") or _first_paid(mrr)),
        **{k: dim.get(k) for k in ("segment", "industry", "region", "plan")},
        "acquisition_channel": dim.get("acquisition_channel"),
        **{k: dim.get(k) for k in ("email", "phone", "domain")},
        "health_score": _round(health.get("health_score")),
        "band": health.get("band"),
        "lifecycle_stage": health.get("lifecycle_stage"),
        "components": {k.removesuffix("_score"): _round(health.get(k)) for k in COMPONENT_COLUMNS},
        # The model's probability of churn within its horizon; null when the fact
        # was not computed or the customer was not paying at the as-of date.
        "churn_probability": _round(propensity.get("churn_probability"), 3),
    }
    last_activity = reader.latest("src_usage_events", "occurred_at", ids)
    nps = features.get("latest_nps")
    engagement = {
        "nps_score": nps,
        "nps_category": _nps_category(nps),
        "last_activity_at": _iso(last_activity),
        "days_since_last_activity": (
            (as_of - last_activity.date()).days if last_activity is not None else None
        ),
        "days_since_last_login": features.get("days_since_last_login"),
        "login_trend": features.get("login_trend"),
        "product_adoption": features.get("feature_adoption"),
        "tickets_90d": features.get("tickets_90d"),
        "avg_resolution_hours": _round(features.get("avg_resolution_hours")),
    }
    return {
        "customer_id": resolved,
        "as_of": as_of.isoformat(),
        "overview": overview,
        "financial": financial,
        "engagement": engagement,
        "contacts": _contacts(reader.rows("src_contacts", ids)),
        "recent_events": _events(reader, ids, as_of, events),
    }


class _Reader:
    """Reads of one customer's rows from the workspace's tables
    (:meth:`Warehouse.rows_where`: the engine filters on the customer's ids; only its
    rows reach Python)."""

    def __init__(self, warehouse: Warehouse, as_of: date) -> None:
        self.warehouse = warehouse
        self.present = set(warehouse.list_tables())
        self.as_of = as_of

    def rows(self, name: str, ids: list[str], column: str = "customer_id") -> pl.DataFrame:
        if name not in self.present or not ids:
            return pl.DataFrame()
        return self.warehouse.rows_where(name, column, ids).drop("_run_id", strict=False)

    def one(self, name: str, column: str, ids: list[str]) -> dict[str, Any] | None:
        frame = self.rows(name, ids, column)
        return frame.row(0, named=True) if frame.height else None

    def latest(self, name: str, column: str, ids: list[str]) -> datetime | None:
        """The latest ``column`` of the customer's rows on or before the as-of date."""
        rows = self.rows(name, ids)
        if not rows.height:
            return None
        value = rows.filter(pl.col(column).cast(pl.Date) <= self.as_of)[column].max()
        return None if value is None else _to_datetime(value)

    def identity(self, customer_id: str) -> tuple[str, list[dict[str, str | None]]]:
        """The resolved id and every (id, system) record of the customer."""
        if "customer_identity" not in self.present:
            record = self.one("src_customers", "customer_id", [customer_id])
            if record is None:
                raise NotFoundError(f"no customer {customer_id!r}")
            return customer_id, [{"id": customer_id, "system": record.get("source_system")}]
        hit = self.rows("customer_identity", [customer_id], "source_customer_id")
        if not hit.height:
            raise NotFoundError(f"no customer {customer_id!r}")
        resolved = hit["customer_id"][0]
        records = self.rows("customer_identity", [resolved]).sort(
            ["is_primary", "source_customer_id"], descending=[True, False]
        )
        return resolved, [
            {"id": r["source_customer_id"], "system": r["source_system"]}
            for r in records.iter_rows(named=True)
        ]


def _financial(
    as_of: date, mrr: pl.DataFrame, value: pl.DataFrame, features: dict[str, Any]
) -> dict[str, Any]:
    failed = features.get("failed_payments_90d")
    out: dict[str, Any] = {
        "revenue_basis": None,
        "lifetime_revenue": None,
        "current_mrr": None,
        "current_arr": None,
        "last_12_months": None,
        "previous_12_months": None,
        "change_12_months": None,
        "payment_status": None if failed is None else ("issues" if failed > 0 else "current"),
        "failed_payments_90d": failed,
    }
    if mrr.height:
        month = _months(mrr["month"], as_of)
        amounts = mrr["mrr"]
        last = float(amounts.filter(month == 0).sum())
        recent = float(amounts.filter((month >= 0) & (month < 12)).sum())
        before = float(amounts.filter((month >= 12) & (month < 24)).sum())
        out.update(
            revenue_basis="mrr",
            lifetime_revenue=_round(float(amounts.filter(month >= 0).sum()), 2),
            current_mrr=_round(last, 2),
            current_arr=_round(12 * last, 2),
            last_12_months=_round(recent, 2),
            previous_12_months=_round(before, 2),
            change_12_months=_round((recent - before) / before, 4) if before else None,
        )
    elif value.height:
        out.update(
            revenue_basis="net_payments",
            lifetime_revenue=_round(float(value["total_spend"].sum()), 2),
        )
    return out


def _months(months: pl.Series, as_of: date) -> pl.Series:
    """Months before the as-of month (0 = the as-of month, negative = after it)."""
    return (as_of.year * 12 + as_of.month) - (months.dt.year() * 12 + months.dt.month())


def _first_paid(mrr: pl.DataFrame) -> date | None:
    if not mrr.height:
        return None
    paid = mrr.filter(pl.col("mrr") > 0)
    return paid["month"].min() if paid.height else None  # type: ignore[return-value]


def _contacts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    if not frame.height:
        return []
    rank = {role: i for i, role in enumerate(ROLE_ORDER)}
    rows = [
        {k: r.get(k) for k in ("role", "name", "title", "email", "phone")}
        for r in frame.iter_rows(named=True)
    ]
    return sorted(rows, key=lambda r: (rank.get(r["role"], len(rank)), r["name"] or ""))


def _events(reader: _Reader, ids: list[str], as_of: date, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` events of the customer, newest first."""
    found: list[tuple[datetime, str, str]] = []
    end = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    moves = reader.rows("mrr_movements", ids)
    for r in moves.iter_rows(named=True):
        verb = {
            "new": "New subscription",
            "expansion": "Expansion",
            "contraction": "Contraction",
            "churn": "Churned",
            "reactivation": "Reactivated",
        }.get(r["movement"], r["movement"])
        change = f"{r['mrr_before']:,.0f} → {r['mrr_after']:,.0f}"
        found.append(
            (_to_datetime(r["month"]), r["movement"], f"{verb}: MRR {change} ({r['amount']:+,.0f})")
        )
    found.extend(_renewals(reader.rows("src_subscription_lines", ids)))
    for r in reader.rows("src_support_tickets", ids).iter_rows(named=True):
        resolved = r.get("resolved_at")
        status = (
            f"resolved in {(resolved - r['opened_at']).total_seconds() / 3600:.0f} h"
            if resolved is not None and resolved < end
            else "open"
        )
        found.append((r["opened_at"], "ticket", f"Support ticket {r['ticket_id']} ({status})"))
    for r in reader.rows("src_nps_responses", ids).iter_rows(named=True):
        category = _nps_category(r["score"])
        found.append((r["responded_at"], "nps", f"NPS answer {r['score']} ({category})"))
    for r in reader.rows("src_journey_events", ids).iter_rows(named=True):
        stage = str(r["stage"]).replace("_", " ")
        found.append((r["occurred_at"], "journey", f"Reached journey stage: {stage}"))
    found = [e for e in found if e[0] is not None and e[0] < end]
    found.sort(key=lambda e: (e[0], e[1]), reverse=True)
    return [
        {"date": e[0].date().isoformat(), "kind": e[1], "description": e[2]} for e in found[:limit]
    ]


def _renewals(lines: pl.DataFrame) -> list[tuple[datetime, str, str]]:
    """Recurring lines of 12 months or longer that start after the customer's first line."""
    if not lines.height:
        return []
    recurring = lines.filter(pl.col("kind").fill_null("recurring") == "recurring")
    if not recurring.height:
        return []
    first = recurring["period_start"].min()
    out = []
    for r in recurring.iter_rows(named=True):
        if r["period_end"] is None:
            continue  # an open-ended line recurs; it has no contract term to renew
        days = (r["period_end"] - r["period_start"]).days
        if r["period_start"] > first and days >= RENEWAL_MIN_DAYS:
            out.append(
                (
                    _to_datetime(r["period_start"]),
                    "renewal",
                    f"Renewed a {round(days / 30.4375)}-month contract ({r['amount']:,.0f})",
                )
            )
    return out


def _nps_category(score: int | None) -> str | None:
    if score is None:
        return None
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    # pandas Timestamp from a scalar query
    return value.to_pydatetime().replace(tzinfo=None)  # type: ignore[no-any-return]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or value != value:
        return None
    return round(float(value), digits)
