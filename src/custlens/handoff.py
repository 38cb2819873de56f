"""Hand-off lists for a CRM or a marketing tool (seed 002), and posting them to a webhook.

Two lists, read from ``health_scores`` (and ``churn_features`` for NPS) with
the thresholds of ``analytics.handoff``:

- ``low-health``: paying customers (lifecycle stage ``active`` or ``at-risk``:
  seed 002's "active" means a current customer) whose health score is below
  ``at_risk_below`` (40), lowest score first — a health-check task for the CSM.
- ``expansion``: health score at or above ``expansion_health`` (80) and a
  latest NPS answer at or above ``expansion_nps`` (8), highest score first —
  candidates for an expansion campaign.

:func:`post` sends a list as JSON with an ``Idempotency-Key`` header (a hash
of the list's content, so sending the same list twice is recognisable as one
delivery) and retries on connection errors, 429 and 5xx with exponential
backoff, a bounded number of times.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from custlens.errors import CustlensError, NotFoundError

if TYPE_CHECKING:
    from custlens.scoped import RoleView
    from custlens.workspace import Workspace

ListKind = Literal["low-health", "expansion"]
LISTS: tuple[ListKind, ...] = ("low-health", "expansion")
FORMER_NAMES: dict[str, ListKind] = {"at-risk": "low-health"}
"""The lists' names before stop 7, still accepted from Python."""
COMPONENTS = ("usage", "support", "payment", "engagement", "nps")


class HandoffError(CustlensError, RuntimeError):
    """The webhook refused the list or could not be reached after every retry."""

    status = 502


def hand_off_list(ws: Workspace | RoleView, kind: ListKind) -> pl.DataFrame:
    """The customers of list ``kind`` with their name, segment, scores, MRR and a reason.

    Columns: customer_id, name, segment, health_score, band, lifecycle_stage,
    nps, current_mrr, reason (the weakest component for low-health, the score and
    NPS for expansion).

    Raises:
        NotFoundError: an unknown list, or ``health_scores`` has not been run.
    """
    kind = FORMER_NAMES.get(kind, kind)
    if kind not in LISTS:
        raise NotFoundError(f"no list {kind!r}; lists: {', '.join(LISTS)}")
    tables = set(ws.tables())
    if "health_scores" not in tables:
        raise NotFoundError("no health_scores table: load customers and run first")
    settings = ws.config.analytics.handoff
    health = ws.table("health_scores").drop("_run_id", strict=False)
    nps = (
        ws.table("churn_features").select("customer_id", nps="latest_nps")
        if "churn_features" in tables
        else pl.DataFrame(schema={"customer_id": pl.String, "nps": pl.Int64})
    )
    rows = health.join(nps, on="customer_id", how="left")
    if kind == "low-health":
        rows = rows.filter(
            pl.col("lifecycle_stage").is_in(["active", "at-risk"]),
            pl.col("health_score") < settings.at_risk_below,
        ).sort(["health_score", "customer_id"])
    else:
        rows = rows.filter(
            pl.col("health_score") >= settings.expansion_health,
            pl.col("nps") >= settings.expansion_nps,
        ).sort(["health_score", "customer_id"], descending=[True, False])
    reason = _low_health_reason if kind == "low-health" else _expansion_reason
    rows = rows.with_columns(
        reason=pl.struct(pl.all()).map_elements(reason, return_dtype=pl.String)
        if rows.height
        else pl.lit(None, pl.String)
    )
    rows = _with_customer(ws, rows, tables)
    return rows.select(
        "customer_id",
        "name",
        "segment",
        pl.col("health_score").round(1),
        "band",
        "lifecycle_stage",
        "nps",
        "current_mrr",
        "reason",
    )


def _low_health_reason(row: dict[str, Any]) -> str:
    weakest = min(COMPONENTS, key=lambda c: row[f"{c}_score"])
    return f"health {row['health_score']:.0f}; weakest: {weakest} {row[f'{weakest}_score']:.0f}"


def _expansion_reason(row: dict[str, Any]) -> str:
    return f"health {row['health_score']:.0f} and NPS {row['nps']}"


def _with_customer(ws: Workspace | RoleView, rows: pl.DataFrame, tables: set[str]) -> pl.DataFrame:
    """Add name, segment and current MRR (as-of month) beside each resolved customer."""
    source = "dim_customers" if "dim_customers" in tables else "src_customers"
    if source in tables:
        people = ws.table(source).select("customer_id", "name", "segment").unique("customer_id")
        rows = rows.join(people, on="customer_id", how="left")
    else:
        rows = rows.with_columns(name=pl.lit(None, pl.String), segment=pl.lit(None, pl.String))
    if "customer_mrr" in tables and rows.height:
        as_of = ws.run_as_of()
        mrr = ws.table("customer_mrr")
        mrr = mrr.filter(
            (pl.col("month").dt.year() == as_of.year) & (pl.col("month").dt.month() == as_of.month)
        )
        if "customer_identity" in tables:
            identity = ws.table("customer_identity").select(
                pl.col("source_customer_id").alias("customer_id"),
                pl.col("customer_id").alias("resolved"),
            )
            mrr = mrr.join(identity, on="customer_id", how="left").with_columns(
                customer_id=pl.col("resolved").fill_null(pl.col("customer_id"))
            )
        current = mrr.group_by("customer_id").agg(current_mrr=pl.col("mrr").sum())
        rows = rows.join(current, on="customer_id", how="left")
    else:
        rows = rows.with_columns(current_mrr=pl.lit(None, pl.Float64))
    return rows


def payload(kind: str, rows: pl.DataFrame, as_of: str | None = None) -> dict[str, Any]:
    """The JSON body posted for a list: its name, the as-of date, the count and the rows."""
    return {
        "list": kind,
        "as_of": as_of,
        "count": rows.height,
        "customers": json.loads(rows.write_json()) if rows.height else [],
    }


def idempotency_key(body: dict[str, Any]) -> str:
    """A stable key for a body: the SHA-256 of its canonical JSON (sorted keys)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """What a successful post did."""

    status: int
    attempts: int
    key: str


RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


def post(
    url: str,
    body: dict[str, Any],
    *,
    retries: int = 4,
    backoff: float = 0.5,
    max_wait: float = 8.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``body`` as JSON to ``url``, retrying transient failures.

    Up to ``retries`` retries after the first attempt, waiting
    ``backoff × 2^n`` seconds (at most ``max_wait``) before retry n + 1; a
    429/5xx or a connection error is retried, any other 4xx is not. Every
    attempt carries the same ``Idempotency-Key``.

    Raises:
        HandoffError: the webhook answered with a non-retryable error, or
            every attempt failed; the message names the URL and the last status.
    """
    import httpx

    key = idempotency_key(body)
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    data = json.dumps(body, default=str).encode("utf-8")
    last = "no attempt"
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(backoff * 2 ** (attempt - 1), max_wait))
        try:
            response = httpx.post(url, content=data, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        if response.status_code < 300:
            return Delivery(response.status_code, attempt + 1, key)
        last = f"HTTP {response.status_code}"
        if response.status_code not in RETRYABLE:
            raise HandoffError(f"{url} refused the list: {last} {response.text[:200]}")
    raise HandoffError(f"{url}: could not deliver the list after {retries + 1} attempts ({last})")
