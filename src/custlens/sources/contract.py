"""The data contract: the source tables custlens reads, their columns and rules.

This module only declares; ``custlens.sources.load`` enforces. Column names
are exact. Types are coerced where lossless; extra columns are kept. Source
tables are stored in the warehouse under ``src_<table>`` so that a source and
a fact of the same name (``customer_mrr``) never collide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "int", "float", "date", "month", "timestamp", "bool"]
"""Contract types. ``month`` is a date stored as the first day of its month
(``2024-03``, ``2024-03-01`` and ``2024-03-31`` all mean March 2024)."""

SOURCE_PREFIX = "src_"


@dataclass(frozen=True)
class Column:
    """One column of a source table."""

    name: str
    type: ColumnType
    required: bool = False
    min: float | None = None
    max: float | None = None
    above_min: bool = False
    """The value must be above ``min``, not equal to it (an exchange rate of 0)."""
    choices: tuple[object, ...] | None = None
    default: object = None
    """Value used where an optional column is absent or null (e.g. kind = recurring)."""


@dataclass(frozen=True)
class Table:
    """One source table of the contract."""

    name: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    """Columns whose combination must be unique (a duplicate key is rejected)."""
    ordered: tuple[tuple[str, str], ...] = ()
    """Pairs (earlier, later) where later must be strictly after earlier when both are set."""
    distinct_rows: bool = False
    """Two rows alike in every column are rejected: a row exported twice would count twice."""
    required_unless: tuple[tuple[str, str], ...] = ()
    """Pairs (column, other): column may be empty only in rows where other is set."""
    intervals: tuple[str, ...] = ()
    """Text columns holding a billing interval, stored as ``"<count> <unit>"``
    (unit: week, month, quarter or year), e.g. ``Monthly`` → ``1 month``."""
    currencies: tuple[str, ...] = ()
    """Text columns holding an ISO 4217 currency code, stored in capitals (``eur`` →
    ``EUR``)."""
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def warehouse_name(self) -> str:
        return SOURCE_PREFIX + self.name


def _c(name: str, type_: ColumnType, required: bool = False, **rules: object) -> Column:
    return Column(name, type_, required, **rules)  # type: ignore[arg-type]


REVENUE_TYPES = {1: "new", 2: "expansion", 3: "contraction", 4: "churn", 5: "reactivation"}
VALUE_TYPES = {1: "actual", 2: "budget", 3: "forecast"}
JOURNEY_STAGES = ("signup", "onboarding", "first_value", "paid", "expansion", "advocacy")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            (
                _c("customer_id", "string", True),
                _c("name", "string"),
                _c("segment", "string"),
                _c("industry", "string"),
                _c("region", "string"),
                _c("plan", "string"),
                _c("acquisition_channel", "string"),
                _c("signup_date", "date"),
                _c("email", "string"),
                _c("phone", "string"),
                _c("domain", "string"),
                _c("source_system", "string"),
            ),
            unique=("customer_id",),
            description="One row per customer record of a source system.",
        ),
        Table(
            "subscription_lines",
            (
                _c("customer_id", "string", True),
                _c("period_start", "date", True),
                _c("period_end", "date"),
                _c("amount", "float", True),  # negative: a credit, a proration, a discount
                _c("line_id", "string"),
                _c("subscription_id", "string"),
                _c("product_id", "string"),
                _c("currency", "string"),
                _c(
                    "kind",
                    "string",
                    choices=("recurring", "one_time", "usage"),
                    default="recurring",
                ),
                _c("discount", "float", min=0),
                _c("billing_interval", "string"),
            ),
            ordered=(("period_start", "period_end"),),
            unique=("line_id",),
            distinct_rows=True,
            required_unless=(("period_end", "billing_interval"),),
            intervals=("billing_interval",),
            currencies=("currency",),
            description="Billed lines: amount covers the service period "
            "[period_start, period_end); with period_end empty, each billing_interval "
            "from period_start to the as-of month.",
        ),
        Table(
            "customer_mrr",
            (
                _c("customer_id", "string", True),
                _c("month", "month", True),
                _c("mrr", "float", True, min=0),
            ),
            unique=("customer_id", "month"),
            description="Already-normalised MRR, one row per customer and month.",
        ),
        Table(
            "transactions",
            (
                _c("transaction_id", "string", True),
                _c("customer_id", "string", True),
                _c("created_at", "timestamp", True),
                _c("amount", "float", True, min=0),
                _c("type", "string", choices=("payment", "refund"), default="payment"),
                _c(
                    "status",
                    "string",
                    choices=("processed", "failed", "pending"),
                    default="processed",
                ),
                _c("payment_method", "string"),
                _c("currency", "string"),
            ),
            unique=("transaction_id",),
            currencies=("currency",),
            description="Payments and refunds; amount is positive, type gives the sign.",
        ),
        Table(
            "usage_events",
            (
                _c("customer_id", "string", True),
                _c("occurred_at", "timestamp", True),
                _c("event_type", "string", True),
                _c("feature", "string"),
            ),
        ),
        Table(
            "support_tickets",
            (
                _c("ticket_id", "string", True),
                _c("customer_id", "string", True),
                _c("opened_at", "timestamp", True),
                _c("resolved_at", "timestamp"),
                _c("sentiment", "float", min=-1, max=1),
                _c("csat", "int", min=1, max=5),
            ),
            unique=("ticket_id",),
            ordered=(("opened_at", "resolved_at"),),
        ),
        Table(
            "nps_responses",
            (
                _c("customer_id", "string", True),
                _c("responded_at", "timestamp", True),
                _c("score", "int", True, min=0, max=10),
            ),
        ),
        Table(
            "journey_events",
            (
                _c("customer_id", "string", True),
                _c("occurred_at", "timestamp", True),
                _c("stage", "string", True, choices=JOURNEY_STAGES),
            ),
        ),
        Table(
            "contacts",
            (
                _c("customer_id", "string", True),
                _c("name", "string", True),
                _c("title", "string"),
                _c("role", "string", choices=("primary", "champion", "executive_sponsor")),
                _c("email", "string"),
                _c("phone", "string"),
            ),
        ),
        Table(
            "acquisition_costs",
            (
                _c("customer_id", "string", True),
                _c("cac", "float", True, min=0),
                _c("cs_monthly_cost", "float", min=0),
            ),
            unique=("customer_id",),
        ),
        Table(
            "marketing_spend",
            (
                _c("month", "month", True),
                _c("amount", "float", True, min=0),
                _c("channel", "string"),
            ),
        ),
        Table(
            "revenue_events",
            (
                _c("date", "date", True),
                _c("revenue_type_id", "int", True, choices=tuple(REVENUE_TYPES)),
                _c("value_type_id", "int", True, choices=tuple(VALUE_TYPES)),
                _c("nr_of_customers", "int", True, min=0),
                _c("amount", "float"),
            ),
            description="Customer movements by date (budget and forecast; actuals "
            "when no MRR is loaded).",
        ),
        Table(
            "starting_balances",
            (
                _c("value_type_id", "int", True, choices=tuple(VALUE_TYPES)),
                _c("nr_of_customers", "int", True, min=0),
                _c("mrr", "float", min=0),
            ),
            unique=("value_type_id",),
        ),
        Table(
            "fx_rates",
            (
                _c("date", "date", True),
                _c("currency", "string", True),
                _c("rate", "float", True, min=0, above_min=True),
            ),
            unique=("date", "currency"),
            currencies=("currency",),
            description="Exchange rates: one unit of currency is worth rate units of the "
            "reporting currency from date on (until the currency's next rate).",
        ),
    )
}
