"""The plan of a query and its answer: the columns, the result, the plan the compiler
keeps, and the small helpers the planner's parts share."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from custlens.currency import DEFAULT
from custlens.semantic.model import Dimension, Measure, Metric, SemanticModel
from custlens.semantic.query import (
    Filter,
    Group,
    Query,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.semantic.access import Role
    from custlens.semantic.compile import Compiler


@dataclass(frozen=True)
class Column:
    """What a column of a result holds."""

    name: str
    kind: str
    """dimension, time or metric."""
    type: str
    """string, number, boolean or time."""
    format: str | None = None
    title: str | None = None


@dataclass
class QueryResult:
    """Rows keyed by member name, what each column is, and the SQL that ran."""

    data: list[dict[str, Any]]
    columns: list[Column]
    sql: str
    as_of: date
    truncated: bool = False
    currency: str = DEFAULT
    """ISO 4217 code of every column formatted as currency (rounded to its minor unit)."""
    frame: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    rollups: list[str] = field(default_factory=list)
    """The rollup tables the query read instead of its cubes."""
    cached: bool = False
    """Answered from the result cache (the same query since the latest run)."""
    planned: bool = False
    """Planned and compiled for this answer; False when a kept plan was reused (the same
    query, role, as-of date and row limit since the latest run) or the answer was cached."""
    metric_of: dict[str, str] = field(default_factory=dict, repr=False)
    """metric column → the metric it shows (value, previous, delta, percent change)."""
    reads_sources: bool = False
    """Read a loaded source (not only facts): a load may change it without a run, so
    it is never kept between questions."""
    run_id: str | None = None
    """The run whose facts answered (None before the first run)."""

    def to_polars(self) -> pl.DataFrame:
        return self.frame

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        return self.frame.to_pandas()


def reordered(result: QueryResult, metrics: tuple[str, ...], cached: bool = False) -> QueryResult:
    """The answer with its metric columns in the order the query asked for them."""
    rank = {m: i for i, m in enumerate(metrics)}
    columns = sorted(
        result.columns,
        key=lambda c: rank[result.metric_of[c.name]] if c.name in result.metric_of else -1,
    )
    if columns == result.columns and cached == result.cached:
        return result
    planned = result.planned and not cached
    names = [c.name for c in columns]
    frame = result.frame.select(names)
    return replace(
        result,
        columns=columns,
        frame=frame,
        data=[{n: row[n] for n in names} for row in result.data],
        cached=cached,
        planned=planned,
    )


@dataclass(frozen=True)
class Dim:
    cube: str
    dim: Dimension
    granularity: str | None = None

    @property
    def member(self) -> str:
        base = f"{self.cube}.{self.dim.name}"
        return f"{base}.{self.granularity}" if self.granularity else base

    @property
    def column(self) -> str:
        return col_name(self.cube, "d", self.dim.name)


@dataclass(frozen=True)
class Leaf:
    """A cube measure that some output needs."""

    cube: str
    measure: Measure

    @property
    def key(self) -> str:
        return f"{self.cube}__{self.measure.name}"


@dataclass
class Output:
    name: str
    metric: Metric
    hidden: bool = False


def col_name(cube: str, kind: str, name: str) -> str:
    return f"{cube}__{kind}__{name}"


@dataclass
class Plan:
    """A compiled query: the expression, its output names and what each column is."""

    query: Query
    expr: ir.Table
    names: dict[str, str]
    """internal column → member name."""
    columns: list[Column]
    pii: set[str]
    rollups: list[str] = field(default_factory=list)
    reads_sources: bool = False
    """Whether the query reads a loaded source table (which changes without a run)."""
    metric_of: dict[str, str] = field(default_factory=dict)
    """metric column → the metric it shows."""


def member_column(table: ir.Table, cube: str, name: str) -> ir.Value:
    return table[f"{cube}__{name}"]


def all_of(filters: list[Filter]) -> Filter | None:
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else Group.model_validate({"and": filters})


class PlannerState:
    """What the planner's parts (:class:`~custlens.semantic.planner.Planner` and its
    mixins) share: the query being planned and what planning has learnt so far. The
    methods each part calls on another are declared here for the type checker."""

    c: Compiler
    model: SemanticModel
    q: Query
    as_of: date
    role: Role | None
    reads_data: bool
    rollups: list[str]
    tables: set[str]
    positions: dict[str, int]
    _time_column: str

    if TYPE_CHECKING:

        def leaves(self, metric: Metric, seen: set[str] | None = None) -> list[Leaf]:
            raise NotImplementedError

        def _dim_members(self, f: Filter | None) -> list[Dim]:
            raise NotImplementedError

        def _predicate(self, f: Filter, table: ir.Table, *, post: bool = False) -> ir.BooleanValue:
            raise NotImplementedError

        def _metric_value(
            self, metric: Metric, table: ir.Table, key_names: list[str], time_key: Dim | None
        ) -> ir.Value:
            raise NotImplementedError

        def _aggregate(
            self,
            cube_name: str,
            semi: str | None,
            leaves: list[Leaf],
            keys: list[Dim],
            where: Filter | None,
            ranges: dict[str, tuple[date, date]],
            time_key: Dim | None,
        ) -> ir.Table:
            raise NotImplementedError

        def _combine(
            self,
            subqueries: list[ir.Table],
            key_names: list[str],
            keys: list[Dim],
            time_key: Dim | None,
            ranges: dict[str, tuple[date, date]],
            leaves: dict[str, Leaf],
            cut: date | None = None,
        ) -> ir.Table:
            raise NotImplementedError

        def _spine(
            self,
            time_key: Dim,
            name: str,
            ranges: dict[str, tuple[date, date]],
            union: ir.Table,
            cut: date | None = None,
        ) -> ir.Table:
            raise NotImplementedError
