"""The semantic model: cubes and metrics in YAML, validated into pydantic objects (the
types here; reading and cross-checking the files in :mod:`custlens.semantic.loader`).

A model is read from the defaults shipped in ``custlens/semantic/defaults/`` and
then from a workspace's ``semantic/*.yml``; a cube or metric of the same name in
a later file replaces the earlier one, so a workspace extends or overrides the
defaults. Unknown keys are errors, and every error names the file, the line and
the bad key or reference.

Shape (the seed's, with the choices written down)::

    cubes:
      - name: subscriptions
        table: customer_mrr            # a warehouse table, or:
        # sql: "SELECT * FROM {{ ref('customer_mrr') }} WHERE mrr > 0"   (DuckDB dialect)
        measures:
          - {name: mrr, type: sum, sql: mrr, format: currency, semi_additive: month}
          - {name: paying, type: count_distinct, sql: customer_id, filters: [{sql: mrr > 0}]}
          - {name: arpa, type: number, sql: mrr / paying}     # over measures of this cube
        dimensions:
          - {name: customer_id, type: string, primary_key: true}
          - {name: month, type: time}
        joins:
          - {cube: customers, relationship: many_to_one, on: customer_id}
    metrics:
      - {name: mrr, type: simple, measure: subscriptions.mrr, format: currency}
      - {name: arpa, type: ratio, numerator: mrr, denominator: subscriptions.paying}
      - {name: arr, type: derived, expression: mrr * 12}
      - {name: mrr_3m, type: cumulative, measure: subscriptions.mrr, window: 3 months}

``semi_additive: <time dimension>`` marks a balance (MRR, customer counts): over
a period coarser than its grain, or with no time in the query, it takes the
rows of the period's last ``<time dimension>`` value instead of a sum over time.

``rollups:`` on a cube declare pre-aggregated tables (Cube's rollup
pre-aggregations), built by every ``custlens run``; see
:mod:`custlens.semantic.rollup` for which queries they answer::

        rollups:
          - name: by_customer
            measures: [mrr, paying_customers]        # count, sum, min, max of this cube
            dimensions: [customers.segment, customers.region]   # many-to-one joins only
            time_dimension: month
            granularity: month
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlglot
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

Granularity = Literal["day", "week", "month", "quarter", "year"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "month", "quarter", "year")
Format = Literal["currency", "percentage", "number"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REF = re.compile(r"\{\{\s*ref\(\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]\s*\)\s*\}\}")
"""``{{ ref('table') }}`` in cube SQL names a warehouse table."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a name (letters, digits and _, not first a digit)")
    return value


def _check_sql(value: str | None) -> str | None:
    if value is not None:
        try:
            sqlglot.parse_one(value, dialect="duckdb")
        except sqlglot.errors.ParseError as exc:
            first = str(exc).splitlines()[0]
            raise ValueError(f"not valid SQL ({first}): {value!r}") from None
    return value


class MeasureFilter(_Strict):
    sql: str
    """A boolean SQL expression over the cube's columns (DuckDB dialect)."""

    _sql = field_validator("sql")(_check_sql)


class Meta(_Strict):
    owner: str | None = None
    certified: bool = False
    cadence: str | None = None
    pii: bool = False
    masking: Literal["hash"] = "hash"


class Measure(_Strict):
    name: str
    type: Literal["count", "count_distinct", "sum", "avg", "min", "max", "median", "number"]
    sql: str | None = None
    """The column or expression aggregated; for ``number``, an expression over measures."""
    description: str = ""
    title: str | None = None
    format: Format = "number"
    filters: tuple[MeasureFilter, ...] = ()
    semi_additive: str | None = None
    """A time dimension of this cube over which the measure is a balance (last value)."""
    fill: Literal["zero", "null"] | None = None
    """What a period with no rows shows; default zero for counts and sums that are not
    balances, else null (a balance with no row in the period is unknown, not 0)."""
    meta: Meta = Field(default_factory=Meta)

    _name = field_validator("name")(_check_name)
    _sql = field_validator("sql")(_check_sql)

    @property
    def fills_zero(self) -> bool:
        if self.fill is not None:
            return self.fill == "zero"
        return self.type in ("count", "count_distinct", "sum") and self.semi_additive is None


class Dimension(_Strict):
    name: str
    type: Literal["string", "number", "boolean", "time"]
    sql: str | None = None
    """Column or expression; defaults to the dimension's name."""
    description: str = ""
    title: str | None = None
    primary_key: bool = False
    granularities: tuple[Granularity, ...] = GRANULARITIES
    grain: Granularity | None = None
    """The grain the values already have (``month``: every value is a month's first day).
    A balance queried at its grain needs no last-value step. A promise about the data:
    declare it only when it holds."""
    format: Format | None = None
    meta: Meta = Field(default_factory=Meta)

    _name = field_validator("name")(_check_name)
    _sql = field_validator("sql")(_check_sql)

    @property
    def expression(self) -> str:
        return self.sql or self.name


class Join(_Strict):
    cube: str = Field(alias="name")
    """The cube joined to."""
    relationship: Literal["many_to_one", "one_to_many", "one_to_one"]
    on: str | dict[str, str]
    """A dimension both cubes have, or {this cube's dimension: the other's}."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true.
        if isinstance(data, dict) and True in data:
            data = dict(data)
            data["on"] = data.pop(True)
        return data

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        if isinstance(self.on, str):
            return ((self.on, self.on),)
        return tuple(self.on.items())


class Rollup(_Strict):
    """A pre-aggregated table of a cube: its measures by dimensions and a time grain."""

    name: str
    measures: tuple[str, ...]
    """Measures of this cube: count, sum, min or max (they re-aggregate exactly)."""
    dimensions: tuple[str, ...] = ()
    """This cube's dimensions by name, or ``cube.dimension`` of a cube it reaches by
    many-to-one or one-to-one joins (a one-to-many join would count rows twice)."""
    time_dimension: str | None = None
    """A time dimension of this cube."""
    granularity: Granularity | None = None
    """The rollup's time grain; queries at this grain or a coarser one can use it."""

    _name = field_validator("name")(_check_name)

    def dimension_members(self, cube: str) -> tuple[str, ...]:
        """Its dimensions as ``cube.dimension``."""
        return tuple(d if "." in d else f"{cube}.{d}" for d in self.dimensions)


class Cube(_Strict):
    name: str
    table: str | None = None
    sql: str | None = None
    description: str = ""
    title: str | None = None
    measures: tuple[Measure, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    joins: tuple[Join, ...] = ()
    rollups: tuple[Rollup, ...] = ()
    meta: dict[str, Any] = Field(default_factory=dict)

    _name = field_validator("name")(_check_name)

    @field_validator("sql")
    @classmethod
    def _cube_sql(cls, value: str | None) -> str | None:
        if value is not None:
            _check_sql(REF.sub(r"\1", value))
        return value

    def measure(self, name: str) -> Measure | None:
        return next((m for m in self.measures if m.name == name), None)

    def dimension(self, name: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.name == name), None)

    @property
    def primary_key(self) -> Dimension | None:
        return next((d for d in self.dimensions if d.primary_key), None)

    @property
    def tables(self) -> tuple[str, ...]:
        """Warehouse tables this cube reads."""
        if self.table:
            return (self.table,)
        return tuple(REF.findall(self.sql or ""))


class Metric(_Strict):
    name: str
    type: Literal["simple", "ratio", "derived", "cumulative"]
    measure: str | None = Field(default=None)
    """simple / cumulative: ``cube.measure`` (the seed's ``expression`` is accepted)."""
    numerator: str | None = None
    denominator: str | None = None
    expression: str | None = None
    """derived: arithmetic over metric names; simple: the measure, as in the seed."""
    window: str | None = None
    """cumulative: a trailing window such as ``3 months``; none is a running total."""
    description: str = ""
    title: str | None = None
    format: Format = "number"
    time_grain: Granularity | None = None
    meta: Meta = Field(default_factory=Meta)

    _name = field_validator("name")(_check_name)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            window_periods(value)
        return value


def window_periods(text: str) -> tuple[int, str]:
    """``"3 months"`` → (3, "month")."""
    match = re.fullmatch(r"\s*(\d+)\s+([a-z]+?)s?\s*", text)
    if not match or match.group(2) not in GRANULARITIES or int(match.group(1)) < 1:
        raise ValueError(f"expected a window like '3 months' (day … year), got {text!r}")
    return int(match.group(1)), match.group(2)


class ModelFile(_Strict):
    cubes: tuple[Cube, ...] = ()
    metrics: tuple[Metric, ...] = ()


@dataclass
class SemanticModel:
    """Every cube and metric, by name, checked for dangling references."""

    cubes: dict[str, Cube] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    """'cube:x' / 'metric:y' → 'file:line' where it was defined, for error messages."""

    def cube(self, name: str) -> Cube:
        from custlens.errors import QueryError

        if name not in self.cubes:
            raise QueryError(f"unknown cube {name!r}; cubes: {', '.join(sorted(self.cubes))}")
        return self.cubes[name]

    def money_columns(self, table: str) -> set[str]:
        """The columns of warehouse table ``table`` that some cube reads as money (a
        measure with ``format: currency`` over a plain column of it)."""
        return {
            m.sql or m.name
            for cube in self.cubes.values()
            if cube.table == table
            for m in cube.measures
            if m.format == "currency" and m.type != "number" and (m.sql or m.name).isidentifier()
        }


JoinEdge = tuple[str, tuple[tuple[str, str], ...], str]
"""(other cube, ((this cube's dimension, the other's), …), relationship seen from this cube)."""

_FLIP = {"many_to_one": "one_to_many", "one_to_many": "many_to_one", "one_to_one": "one_to_one"}


def join_edges(model: SemanticModel, name: str) -> list[JoinEdge]:
    """The joins a cube declares and the joins declared to it, seen from it."""
    out: list[JoinEdge] = []
    for join in model.cubes[name].joins:
        out.append((join.cube, join.keys, join.relationship))
    for other in model.cubes.values():
        for join in other.joins:
            if join.cube == name and other.name != name:
                out.append(
                    (other.name, tuple((b, a) for a, b in join.keys), _FLIP[join.relationship])
                )
    return out


def join_tree(model: SemanticModel, root: str) -> dict[str, tuple[str, JoinEdge]]:
    """Breadth-first from ``root``: cube → (the cube it is reached from, that edge)."""
    parents: dict[str, tuple[str, JoinEdge]] = {}
    queue = [root]
    seen = {root}
    while queue:
        name = queue.pop(0)
        for edge in join_edges(model, name):
            if edge[0] not in seen:
                seen.add(edge[0])
                parents[edge[0]] = (name, edge)
                queue.append(edge[0])
    return parents


def join_path(model: SemanticModel, root: str, target: str) -> list[JoinEdge] | None:
    """The edges of the shortest join path from ``root`` to ``target`` (None: no path)."""
    parents = join_tree(model, root)
    if target != root and target not in parents:
        return None
    path: list[JoinEdge] = []
    node = target
    while node != root:
        node, edge = parents[node]
        path.append(edge)
    return path[::-1]


def metric_references(metric: Metric) -> list[str]:
    """Measures (``cube.measure``) and metric names a metric is defined over."""
    from custlens.semantic.arith import names_in

    if metric.type in ("simple", "cumulative"):
        ref = metric.measure or (metric.expression or "").strip()
        return [ref] if ref else []
    if metric.type == "ratio":
        return (
            [r for r in (metric.numerator, metric.denominator) if r]
            if (metric.numerator and metric.denominator)
            else []
        )
    return names_in(metric.expression or "")
