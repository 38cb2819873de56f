"""The workspace configuration, ``custlens.yml``, as pydantic models.

Unknown keys are errors (``extra="forbid"``): a misspelt ``gross_margn`` must
not fall back silently to the default. Errors name the file, the line and the
key.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from custlens import currency
from custlens.errors import ConfigError

CONFIG_FILE = "custlens.yml"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tiers(_Strict):
    """Lower bounds of total spend for each value tier; below silver is Bronze."""

    platinum: float = 10_000
    gold: float = 5_000
    silver: float = 1_000

    @model_validator(mode="after")
    def _descending(self) -> Tiers:
        if not self.platinum > self.gold > self.silver >= 0:
            raise ValueError("tiers must satisfy platinum > gold > silver >= 0")
        return self


class RfmThresholds(_Strict):
    """Fixed RFM score edges (seed 004). Each list holds the edges for scores 5, 4, 3, 2."""

    recency_days: list[float] = Field(default=[30, 90, 180, 365])
    """Score 5 when recency < 30 days, 4 when < 90, 3 when < 180, 2 when < 365, else 1."""
    frequency: list[float] = Field(default=[20, 10, 5, 2])
    """Score 5 when frequency >= 20, 4 when >= 10, 3 when >= 5, 2 when >= 2, else 1."""
    monetary: list[float] = Field(default=[10_000, 5_000, 1_000, 500])
    """Score 5 when monetary >= 10000, 4 when >= 5000, 3 when >= 1000, 2 when >= 500, else 1."""

    @field_validator("recency_days", "frequency", "monetary")
    @classmethod
    def _four_edges(cls, value: list[float]) -> list[float]:
        if len(value) != 4:
            raise ValueError("needs four edges, for scores 5, 4, 3 and 2")
        return value


class Rfm(_Strict):
    """How RFM scores are made."""

    method: Literal["quintiles", "thresholds"] = "quintiles"
    thresholds: RfmThresholds = Field(default_factory=RfmThresholds)
    high_value: float = 5_000
    """Quadrants: monetary at or above this is high value (seed 004)."""
    recent_days: int = 60
    """Quadrants: a purchase within this many days of the as-of date is recent (seed 004)."""


class MrrTrend(_Strict):
    """MRR-trend risk (seed 003)."""

    months: int = Field(default=4, ge=2)
    min_r_squared: float = Field(default=0.9, ge=0, le=1)


class ChurnRisk(_Strict):
    """Purchase-gap churn risk (seed 004)."""

    gap_multiple: float = Field(default=2.0, gt=0)
    min_value: float = Field(default=1_000, ge=0)
    max_score: float = Field(default=10.0, gt=0)


FREE_MAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "ymail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "proton.me",
    "protonmail.com",
    "yandex.com",
    "zoho.com",
)
"""Personal mail providers: their domain says nothing about the company."""


class Identity(_Strict):
    """Identity resolution of customer records (``customer_identity``, ``dim_customers``)."""

    free_mail_domains: list[str] = Field(default=list(FREE_MAIL_DOMAINS))
    """Domains that never link two records (an exact email address still does)."""
    primary_system: str = "billing"
    """The source system whose id a merged customer keeps (else the smallest id)."""
    max_iterations: int = Field(default=64, ge=1)
    """Cap on label-propagation rounds; a chain longer than this is an error, not a guess."""

    @field_validator("free_mail_domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return sorted({d.strip().lower() for d in value if d.strip()})


HEALTH_COMPONENTS = ("usage", "support", "payment", "engagement", "nps")


class HealthWeights(_Strict):
    """Weight of each component in the health score; they must sum to 1."""

    usage: float = Field(default=0.30, ge=0, le=1)
    support: float = Field(default=0.25, ge=0, le=1)
    payment: float = Field(default=0.20, ge=0, le=1)
    engagement: float = Field(default=0.15, ge=0, le=1)
    nps: float = Field(default=0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> HealthWeights:
        total = sum(getattr(self, name) for name in HEALTH_COMPONENTS)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"analytics.health.weights must sum to 1, got {total:g} "
                f"({', '.join(f'{n} {getattr(self, n):g}' for n in HEALTH_COMPONENTS)})"
            )
        return self


class HealthScaling(_Strict):
    """How each churn feature becomes a 0-100 component (see ``facts/health_scores.py``)."""

    inactive_days: int = Field(default=60, ge=1)
    """Usage: the recency half falls linearly from 100 (login today) to 0 at this many days."""
    target_logins_30d: int = Field(default=4, ge=1)
    """Usage: the activity half is 100 at this many logins in the last 30 days."""
    max_tickets_90d: int = Field(default=5, ge=1)
    """Support: 0 points for ticket load at this many tickets in 90 days."""
    max_failed_payments: int = Field(default=3, ge=1)
    """Payment: 0 points at this many failed payments in 90 days."""
    neutral: float = Field(default=50.0, ge=0, le=100)
    """A part without data (no sentiment, no NPS answer, a source not loaded) scores this."""
    trend_points: dict[Literal["increasing", "stable", "declining"], float] = Field(
        default={"increasing": 100.0, "stable": 60.0, "declining": 20.0}
    )
    """Engagement: points for each login trend of ``churn_features``."""

    @field_validator("trend_points")
    @classmethod
    def _all_trends(cls, value: dict[str, float]) -> dict[str, float]:
        missing = {"increasing", "stable", "declining"} - set(value)
        if missing:
            raise ValueError(f"needs points for {', '.join(sorted(missing))}")
        if any(not 0 <= v <= 100 for v in value.values()):
            raise ValueError("points must lie between 0 and 100")
        return value


class HealthBands(_Strict):
    """Lower bounds of the health bands; below ``at_risk`` is Critical."""

    excellent: float = 80
    good: float = 60
    at_risk: float = 40

    @model_validator(mode="after")
    def _descending(self) -> HealthBands:
        if not 100 >= self.excellent > self.good > self.at_risk >= 0:
            raise ValueError("bands must satisfy 100 >= excellent > good > at_risk >= 0")
        return self


class Health(_Strict):
    """Customer health score (seed 002, DESIGN.md §4)."""

    weights: HealthWeights = Field(default_factory=HealthWeights)
    scaling: HealthScaling = Field(default_factory=HealthScaling)
    bands: HealthBands = Field(default_factory=HealthBands)


class Handoff(_Strict):
    """Thresholds of the CRM and marketing hand-off lists (``custlens list``)."""

    at_risk_below: float = Field(default=40, ge=0, le=100)
    """at-risk: active customers whose health score is below this."""
    expansion_health: float = Field(default=80, ge=0, le=100)
    """expansion: health score at or above this …"""
    expansion_nps: int = Field(default=8, ge=0, le=10)
    """… and latest NPS answer at or above this."""


class Clv(_Strict):
    """Predictive customer value (``clv_predictions``): BG/NBD or Pareto/NBD with Gamma-Gamma."""

    model: Literal["bgnbd", "pareto"] = "bgnbd"
    unit: Literal["days", "weeks"] = "weeks"
    """Unit of recency and T (weeks = days / 7)."""
    period: Literal["day", "week"] = "day"
    """What counts as one purchase: a calendar day or a calendar week (Monday to Sunday)."""
    horizon_months: int = Field(default=12, ge=1, le=600)
    discount: float = Field(default=0.01, ge=0, lt=1)
    """Monthly discount rate of the lifetime value."""
    starts: int = Field(default=4, ge=1, le=50)
    """Starting points of each maximum-likelihood fit."""
    penalizer: float = Field(default=0.0, ge=0)
    """lifetimes' ``penalizer_coef``: an L2 penalty on the parameters that keeps a fit
    finite when the data pin a parameter at a boundary (customers who never leave)."""


class ChurnModel(_Strict):
    """Churn propensity (``churn_propensity``): a model on point-in-time ``churn_features``."""

    model: Literal["logistic"] = "logistic"
    """L2 logistic regression on standard-scaled features (:mod:`custlens.predict.logistic`)."""
    horizon_months: int = Field(default=3, ge=1, le=24)
    """Churned: MRR 0 in some month within this many months after a training date."""
    training_months: int = Field(default=12, ge=2, le=120)
    """Training dates: this many month ends, the latest ``horizon_months`` before the as-of."""
    test_months: int = Field(default=3, ge=1, le=60)
    """Backtest: the latest training dates held out for testing."""


class Analytics(_Strict):
    """Thresholds of the customer-analytics facts (DESIGN.md §4)."""

    tiers: Tiers = Field(default_factory=Tiers)
    trailing_days: int = Field(default=90, ge=1)
    """Window of the trailing value beside the all-time value."""
    rfm: Rfm = Field(default_factory=Rfm)
    mrr_trend: MrrTrend = Field(default_factory=MrrTrend)
    churn_risk: ChurnRisk = Field(default_factory=ChurnRisk)
    identity: Identity = Field(default_factory=Identity)
    health: Health = Field(default_factory=Health)
    handoff: Handoff = Field(default_factory=Handoff)
    clv: Clv = Field(default_factory=Clv)
    churn_model: ChurnModel = Field(default_factory=ChurnModel)


class Server(_Strict):
    """Limits of the query API (``custlens serve``)."""

    max_rows: int = Field(default=10_000, ge=1, description="Rows per query response at most.")
    query_timeout_seconds: float = Field(default=30.0, gt=0)
    cache_answers: bool = Field(
        default=True,
        description="Keep query answers until the next run and share them between "
        "requests (answers that read a loaded source are never kept).",
    )
    threads: int = Field(
        default=4,
        ge=1,
        description="Requests answered at once; more wait. Each thread keeps its own "
        "connection and compiled plans; queries are CPU-bound, so a few per core is plenty.",
    )
    pii_salt: str | None = Field(
        default=None,
        description="Salt of the hashes that mask PII for unprivileged roles; default: a "
        "random salt kept in the workspace's .custlens-salt file.",
    )


class Role(_Strict):
    """What the holder of an API key may see."""

    privileged: bool = Field(default=False, description="Sees PII dimensions in clear.")
    filters: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Row filters added to every query, e.g. "
        "{member: customers.region, operator: equals, value: EMEA}.",
    )


class Spark(_Strict):
    """Where a Spark warehouse keeps the workspace's tables."""

    database: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The Spark database of the workspace's tables. Default: "
        "custlens_<10 hex digits of the workspace's folder>, one per workspace.",
    )
    warehouse_dir: str | None = Field(
        default=None,
        description="Where the tables' files go. Spark Connect: a Hadoop URI (file:///…, "
        "s3a://…, abfss://…) given as the database's LOCATION when custlens creates it; "
        "default the cluster's spark.sql.warehouse.dir. pyspark and spark://: a folder "
        "(file:///… or a path) every machine of the cluster reaches; default the "
        "workspace's spark-warehouse/.",
    )
    old_versions_grace_minutes: float = Field(
        default=10.0,
        ge=0,
        description="Spark Connect: how long a replaced version of a table is kept after "
        "its successor was written, for readers still on it; older ones are dropped at "
        "the next publish.",
    )


class Config(_Strict):
    """Settings of one workspace."""

    warehouse: str = Field(
        default="duckdb:///custlens.duckdb",
        description="Ibis URL of the warehouse; a relative DuckDB path is taken from "
        "the workspace.",
    )
    as_of: str | None = Field(
        default=None,
        description="YYYY-MM. Facts are computed to the end of this month; default: the "
        "last month with MRR or a transaction, never later than today.",
    )
    memory_limit: str | None = Field(
        default=None,
        description="Memory the engine may use, e.g. 4GB or 512MB: DuckDB's memory_limit "
        "(it spills to disk beyond it) and local Spark's driver memory. Default: the "
        "engine's own (DuckDB: 80 % of the machine's memory).",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="Threads the engine may use: DuckDB's threads and local Spark's "
        "local[N]. Default: one per core.",
    )
    opening_balance: Literal["none", "first_month"] = Field(
        default="none",
        description="first_month: customers paying in the first month of the data are "
        "starting customers of that month, not new ones (for data that begins mid-history).",
    )
    reporting_currency: str | None = Field(
        default=None,
        description="ISO 4217 code every amount is shown in; amounts in other currencies "
        "are converted with the fx_rates source. Default: the data's only currency (USD "
        "when the data names none); required when the data has several.",
    )
    gross_margin: float = Field(default=1.0, gt=0, le=1, description="Used by LTV and CAC payback.")
    cac_source: Literal["auto", "acquisition_costs", "marketing_spend"] = Field(
        default="auto",
        description="Where CAC spend comes from. auto: the sum of acquisition_costs.cac of "
        "the month's new customers when that table is loaded, else marketing_spend.",
    )

    mappings: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per source table, a file's column names and the contract's names they "
        "mean, e.g. subscription_lines: {Customer ID: customer_id} (load's --map adds to them).",
    )
    analytics: Analytics = Field(default_factory=Analytics)
    server: Server = Field(default_factory=Server)
    spark: Spark = Field(default_factory=Spark)
    roles: dict[str, Role] = Field(default_factory=dict)
    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description="API key → role name. With no keys the API answers without one, as an "
        "unprivileged role.",
    )

    @model_validator(mode="after")
    def _known_roles(self) -> Config:
        for key, role in self.api_keys.items():
            if role not in self.roles:
                known = ", ".join(sorted(self.roles)) or "none defined"
                raise ValueError(f"api key {key[:4]}…: unknown role {role!r} (roles: {known})")
        return self

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None:
            memory_mb(value)  # a ValueError names the value
        return value

    @field_validator("reporting_currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = currency.normalised(str(value))
        if code is None:
            raise ValueError(f"must be an ISO 4217 currency code such as USD or EUR, got {value!r}")
        return code

    @field_validator("as_of")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH.match(str(value)):
            raise ValueError(f"must be a month as YYYY-MM, got {value!r}")
        return value

    def as_of_month(self) -> date | None:
        """The configured as-of month as its first day, or None."""
        return parse_month(self.as_of) if self.as_of else None


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_MEMORY_UNITS_MB = {"KB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024**2}


def memory_mb(text: str) -> int:
    """Megabytes (MiB) of a size such as ``4GB``, ``512MB`` or ``1.5GiB`` (units of 1024).

    Raises:
        ValueError: not a size with a unit, or under 1 MB.
    """
    match = _MEMORY.match(str(text))
    if not match:
        raise ValueError(f"must be a size such as 4GB or 512MB, got {text!r}")
    unit = match.group(2).upper().replace("I", "")
    mb = int(float(match.group(1)) * _MEMORY_UNITS_MB[unit])
    if mb < 1:
        raise ValueError(f"must be at least 1MB, got {text!r}")
    return mb


def parse_month(text: str) -> date:
    """Parse ``YYYY-MM`` into the first day of that month."""
    if not _MONTH.match(text):
        raise ConfigError(f"expected a month as YYYY-MM, got {text!r}")
    year, month = text.split("-")
    return date(int(year), int(month), 1)


DEFAULT_CONFIG_TEXT = """\
# custlens workspace configuration. Every key is optional; a misspelt key is an error.

# Where facts live. DuckDB file in this folder by default; also postgres://user@host/db
# or pyspark (local[*]), spark://spark-master:7077 (a standalone cluster) or
# sc://host:15002 (Spark Connect).
warehouse: duckdb:///custlens.duckdb
# On Spark, where the tables go (each optional):
# spark:
#   database: custlens_acme                  # default: one per workspace folder
#   warehouse_dir: s3a://bucket/custlens     # sc://: a Hadoop URI; else a shared folder
#   old_versions_grace_minutes: 10           # sc://: replaced versions kept this long

# Compute facts to the end of this month (YYYY-MM). Default: the last month with
# MRR or a transaction, never later than today.
# as_of: 2025-12

# What the engine may use (DuckDB; local Spark's driver): memory and threads. Default:
# the engine's own (DuckDB: 80 % of memory, one thread per core). DuckDB spills to disk
# beyond memory_limit.
# memory_limit: 4GB
# threads: 2

# first_month: the first month of the data is an opening balance, not new business.
opening_balance: none

# The currency every amount is shown in (ISO 4217). Lines and transactions in other
# currencies are converted with the fx_rates source. Default: the data's only currency.
# reporting_currency: USD

# Gross margin used by LTV and CAC payback (0 < margin <= 1).
gross_margin: 1.0

# auto | acquisition_costs | marketing_spend
cac_source: auto

# Thresholds of the customer-analytics facts (all optional; these are the defaults).
# analytics:
#   tiers: {platinum: 10000, gold: 5000, silver: 1000}
#   trailing_days: 90
#   rfm:
#     method: quintiles          # or thresholds (seed 004's edges below)
#     thresholds:
#       recency_days: [30, 90, 180, 365]
#       frequency: [20, 10, 5, 2]
#       monetary: [10000, 5000, 1000, 500]
#     high_value: 5000
#     recent_days: 60
#   mrr_trend: {months: 4, min_r_squared: 0.9}
#   churn_risk: {gap_multiple: 2, min_value: 1000, max_score: 10}
#   identity: {primary_system: billing, max_iterations: 64}   # free_mail_domains: [...]
#   health:
#     weights: {usage: 0.30, support: 0.25, payment: 0.20, engagement: 0.15, nps: 0.10}
#     scaling: {inactive_days: 60, target_logins_30d: 4, max_tickets_90d: 5,
#               max_failed_payments: 3, neutral: 50,
#               trend_points: {increasing: 100, stable: 60, declining: 20}}
#     bands: {excellent: 80, good: 60, at_risk: 40}
#   handoff: {at_risk_below: 40, expansion_health: 80, expansion_nps: 8}
#   clv: {model: bgnbd, unit: weeks, period: day, horizon_months: 12, discount: 0.01,
#         starts: 4, penalizer: 0}
#   churn_model: {model: logistic, horizon_months: 3, training_months: 12, test_months: 3}

# The query API (custlens serve): limits, roles and API keys. With no api_keys the
# API answers every caller as an unprivileged role (PII hashed).
# server: {max_rows: 10000, query_timeout_seconds: 30, threads: 4}
# roles:
#   admin: {privileged: true}
#   emea_analyst:
#     filters: [{member: customers.region, operator: equals, value: EMEA}]
# api_keys:
#   change-me-admin-key: admin
#   change-me-emea-key: emea_analyst
"""


_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader where PyYAML was built with it: the semantic model's YAML parses
about 10x faster than with the pure-Python one (0.4 s of every run)."""


@functools.lru_cache(maxsize=128)
def parse_yaml(text: str) -> tuple[Any, Any]:
    """The node tree (for line numbers) and the data of a YAML text, kept per text.

    The same files are read on every run and by every workspace of a process (the
    shipped semantic model above all). Callers must not change what they get.

    Raises:
        yaml.YAMLError: not valid YAML.
    """
    node = yaml.compose(text, Loader=_YAML_LOADER)
    data = yaml.load(text, Loader=_YAML_LOADER)
    return node, data


def load_config(path: Path) -> Config:
    """Read and validate a ``custlens.yml``.

    Raises:
        ConfigError: the file is missing, is not YAML, or has a bad key or value;
            the message names the file, the line and the key.
    """
    if not path.exists():
        raise ConfigError(
            f"{path}: no such file; not a custlens workspace yet: create it with "
            f"`custlens init {path.parent}` (or `custlens.Workspace.init({str(path.parent)!r})`)"
        )
    text = path.read_text(encoding="utf-8")
    try:
        node, data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, path, node)) from None


def describe_validation_error(exc: ValidationError, path: Path, node: Any) -> str:
    """Turn a pydantic error into lines naming file, line, key and problem."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key {key!r}")
        else:
            lines.append(f"{where}: {key}: {error['msg']}")
    return "\n".join(lines)


def _line_of(node: Any, loc: list[str]) -> int | None:
    """1-based line of the key at ``loc`` in a composed YAML node tree."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == part:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            return line
    return line
