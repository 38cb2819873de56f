"""Query → plan → one Ibis expression → the warehouse.

How a query is answered, and why each step is there:

1. **Resolve** every member against the model: metrics (by name, or a cube's
   measure as ``cube.measure``), dimensions, time dimensions, filters. A bad name
   is a :class:`~custlens.errors.QueryError` that names it.
2. **Aggregate each measure cube on its own** ("aggregate at the join keys
   first"): the measures of one cube are computed in one subquery that joins
   only the cubes the query's dimensions and filters need. A measure is never
   summed over the rows of a one-to-many join: when the path to a dimension
   leaves through a one-to-many join, the joined rows are first reduced to one
   per (primary key of the measure's cube, group) — so customers → transactions
   and customers → tickets in one query (the chasm trap) each count once.
3. **Balances are semi-additive**: a measure with ``semi_additive: <time dim>``
   keeps only the rows of the last ``<time dim>`` value of each queried period
   (or of the whole filtered range when the query has no time on that
   dimension), so MRR for a quarter is the MRR of its last month.
4. **Join the subqueries on the group keys** (null-safe) over a key table that,
   for a time dimension with a granularity, is a gap-free spine of periods ×
   the other keys: a period with no rows is a row, 0 or null as the measure says.
5. **Metrics** on top: ratio (null on a zero denominator), derived (arithmetic
   over metrics), cumulative (running total or trailing window over the spine).
6. **Compare** (previous period / previous year): the same query over the shifted
   range, joined on the shifted period: current, previous, delta, % change.
7. **Measure filters** apply after aggregation; then order, offset and limit.

A measure cube's subquery reads a **rollup** of that cube instead of the cube
when the rollup holds everything the subquery touches (see
:mod:`custlens.semantic.rollup`): the same steps over a few thousand rows
instead of millions.

Values from the query become Ibis literals; the only SQL text is the cube SQL
the workspace owner wrote, transpiled from DuckDB's dialect by the warehouse.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import ibis
import polars as pl

from custlens.calendar import parse_date, period_start, resolve_range, shift, shift_column
from custlens.errors import AccessError, ConfigError, NotFoundError, QueryError
from custlens.numeric import ratio
from custlens.semantic import arith, rollup
from custlens.semantic.model import (
    REF,
    Cube,
    Dimension,
    Measure,
    Metric,
    Rollup,
    SemanticModel,
    join_tree,
    metric_references,
    window_periods,
)
from custlens.semantic.query import (
    Condition,
    Filter,
    Group,
    Query,
    TimeDimension,
    parse_query,
)
from custlens.sources.contract import SOURCE_PREFIX

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.semantic.access import Role
    from custlens.warehouse import Warehouse

_UNIT_CODE = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


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
    frame: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    rollups: list[str] = field(default_factory=list)
    """The rollup tables the query read instead of its cubes."""
    cached: bool = False
    """Answered from the result cache (the same query since the latest run)."""
    metric_of: dict[str, str] = field(default_factory=dict, repr=False)
    """metric column → the metric it shows (value, previous, delta, percent change)."""

    def to_polars(self) -> pl.DataFrame:
        return self.frame


# -- resolved members ---------------------------------------------------------------


@dataclass(frozen=True)
class _Dim:
    cube: str
    dim: Dimension
    granularity: str | None = None

    @property
    def member(self) -> str:
        base = f"{self.cube}.{self.dim.name}"
        return f"{base}.{self.granularity}" if self.granularity else base

    @property
    def column(self) -> str:
        return _col(self.cube, "d", self.dim.name)


@dataclass(frozen=True)
class _Leaf:
    """A cube measure that some output needs."""

    cube: str
    measure: Measure

    @property
    def key(self) -> str:
        return f"{self.cube}__{self.measure.name}"


@dataclass
class _Output:
    name: str
    metric: Metric
    hidden: bool = False


def _col(cube: str, kind: str, name: str) -> str:
    return f"{cube}__{kind}__{name}"


class Compiler:
    """Answers queries against one model and one warehouse.

    Cube base tables (the cube SQL with every dimension and measure input as a
    named column) are built once and reused across queries.
    """

    PLAN_CACHE_SIZE = 256
    """Compiled queries kept (least recently used dropped first)."""

    def __init__(self, model: SemanticModel, warehouse: Warehouse, *, rollups: bool = True) -> None:
        self.model = model
        self.warehouse = warehouse
        self.use_rollups = rollups
        self.rollups: list[rollup.Available] = []
        """Rollups current for ``_run_id``: the ones queries may read."""
        self._run_id: str | None = None
        self._model_key: str | None = None
        self._declared: list[rollup.Available] | None = None
        """Every rollup the model declares (built or not)."""
        self._bases: dict[str, ir.Table] = {}
        # (query, role, as_of, max_rows) → (plan, limited expression, its SQL): planning
        # and compiling to SQL cost more than DuckDB's work on most queries. A plan
        # that read data while planning (a spine's bounds, see _Planner.reads_data) is
        # kept only when it read facts, which change only with a run (and a new run
        # drops every plan); one that read a source is not kept (a load changes it).
        # So a hit is exactly what planning again would give.
        self._plans: OrderedDict[tuple[str, str, date, int], tuple[Plan, ir.Table, str]] = (
            OrderedDict()
        )

    # -- public --------------------------------------------------------------

    def run(
        self,
        query: Query | dict[str, Any],
        *,
        as_of: date,
        role: Role | None = None,
        max_rows: int = 10_000,
        run_id: str | None = None,
        results: ResultCache | None = None,
    ) -> QueryResult:
        """Answer a query; rows beyond ``max_rows`` are cut and ``truncated`` set.

        ``run_id`` is the latest successful run: rollups built for it may answer, and
        ``results`` (shared between compilers, e.g. a server's threads) may hold the
        answer already.
        """
        parsed = parse_query(query)
        # Metrics in one order: [a, b] and [b, a] share a plan (and a cached answer);
        # the columns come back in the order asked.
        canonical = parsed.model_copy(update={"metrics": tuple(sorted(parsed.metrics))})
        key = (canonical.model_dump_json(), repr(role), as_of, max_rows)
        if results is not None and run_id is not None:
            # Before the rollup check: a kept answer read facts of this run (or rollups
            # of them), which neither a load nor a rollup rebuild changes.
            hit = results.get((*key, run_id, self.model_key))
            if hit is not None:
                return _reordered(hit, parsed.metrics, cached=True)
        if self.use_rollups and self._declared is None:
            self._declared = rollup.declared(self.model)
        current = rollup.current(self.warehouse, run_id, self._declared or [])
        if run_id != self._run_id or current != self.rollups:
            # A new run, or rollups built, rebuilt or retired since: plans made before
            # may read old ones, or hold a spine from the old data.
            self.rollups = current
            self._run_id = run_id
            self._plans.clear()
        cached = self._plans.get(key)
        if cached is not None:
            self._plans.move_to_end(key)
            plan, expr, sql = cached
        else:
            planner = _Planner(self, canonical, as_of, role)
            planner.positions = {m: i for i, m in enumerate(parsed.metrics)}
            plan = planner.build()
            limit = min(plan.query.limit or max_rows, max_rows)
            expr = plan.expr.limit(limit + 1, offset=plan.query.offset)
            try:
                sql = self.warehouse.compile(expr)
            except Exception as exc:
                raise QueryError(
                    f"the warehouse could not run the query: {_first_line(exc)}"
                ) from None
            if not planner.reads_data or not plan.reads_sources:
                self._plans[key] = (plan, expr, sql)
                if len(self._plans) > self.PLAN_CACHE_SIZE:
                    self._plans.popitem(last=False)
        limit = min(plan.query.limit or max_rows, max_rows)
        try:
            frame = self.warehouse.to_polars(expr, sql=sql)
        except Exception as exc:  # the engine's own message, without its stack
            raise QueryError(f"the warehouse could not run the query: {_first_line(exc)}") from None
        # Cut by the server's limit, not by the query's own.
        truncated = frame.height > limit and limit == max_rows
        frame = frame.head(limit).rename(plan.names).select(c.name for c in plan.columns)
        if role is not None and not role.privileged:
            from custlens.semantic.access import mask_frame

            frame = mask_frame(
                frame, [c.name for c in plan.columns if c.name in plan.pii], role.salt
            )
        result = QueryResult(
            data=frame.to_dicts(),
            columns=list(plan.columns),
            sql=sql,
            as_of=as_of,
            truncated=truncated,
            frame=frame,
            rollups=list(plan.rollups),
            metric_of=plan.metric_of,
        )
        if results is not None and run_id is not None and not plan.reads_sources:
            results.put((*key, run_id, self.model_key), result)
        return _reordered(result, parsed.metrics)

    def expression(
        self, query: Query | dict[str, Any], *, as_of: date, role: Role | None = None
    ) -> ir.Table:
        """The whole answer of a query as an unexecuted expression, columns named by member
        (no row limit, no masking: for code that goes on computing in the warehouse, such
        as the set of customers a role may see)."""
        parsed = parse_query(query)
        plan = _Planner(self, parsed, as_of, role).build()
        return plan.expr.rename({member: column for column, member in plan.names.items()})

    @property
    def model_key(self) -> str:
        """A digest of the model's definitions: answers shared between compilers (a
        server's threads, each reading the YAML when it starts) are only shared between
        compilers of the same model."""
        if self._model_key is None:
            payload = {
                "cubes": {n: c.model_dump(mode="json") for n, c in self.model.cubes.items()},
                "metrics": {n: m.model_dump(mode="json") for n, m in self.model.metrics.items()},
            }
            text = json.dumps(payload, sort_keys=True, default=str)
            self._model_key = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self._model_key

    def plan(self, query: Query | dict[str, Any], *, as_of: date, role: Role | None = None) -> Plan:
        return _Planner(self, parse_query(query), as_of, role).build()

    def rollup_expr(self, cube: Cube, spec: Rollup) -> ir.Table:
        """The rows of a rollup: its measures aggregated by its dimensions and time.

        Columns are named as in the joined cube tables (``<cube>__d__<dim>``,
        ``<cube>__m__<measure>``), so a query's filters and groups apply to the
        rollup as they would to the cube.
        """
        planner = _Planner(self, Query.model_construct(), date.today(), None)
        keys = [planner.dimension(m, "rollup") for m in spec.dimension_members(cube.name)]
        if spec.time_dimension is not None:
            dim = cube.dimension(spec.time_dimension)
            assert dim is not None
            # Stored as it is at its own grain (a balance needs its own stamps).
            granularity = None if dim.grain == spec.granularity else spec.granularity
            keys.append(_Dim(cube.name, dim, granularity))
        leaves = []
        for name in spec.measures:
            measure = cube.measure(name)
            assert measure is not None
            leaves.append(_Leaf(cube.name, measure))
        # No semi-additive step: the rollup keeps every stamp of a balance.
        table = planner._aggregate(cube.name, None, leaves, keys, None, {}, None)
        names = {f"k{i}": k.column for i, k in enumerate(keys)}
        names |= {leaf.key: _col(cube.name, "m", leaf.measure.name) for leaf in leaves}
        return table.rename({new: old for old, new in names.items()})

    # -- cube bases ----------------------------------------------------------

    def base(self, cube: Cube) -> ir.Table:
        """The cube as a table: ``<cube>__d__<dim>``, ``__m__<measure>``, ``__f__<measure>``."""
        if cube.name not in self._bases:
            self._bases[cube.name] = self._build_base(cube)
        return self._bases[cube.name]

    def _build_base(self, cube: Cube) -> ir.Table:
        for table in cube.tables:
            if not self.warehouse.has(table):
                raise NotFoundError(
                    f"cube {cube.name!r} reads table {table!r}, which is not in the warehouse "
                    "(load its source or run `custlens run`)"
                )
        if cube.table:
            source = self.warehouse.sql_name(cube.table)
        else:
            source = (
                "(" + REF.sub(lambda m: self.warehouse.sql_name(m.group(1)), cube.sql or "") + ")"
            )
        items = [f'{d.expression} AS "{_col(cube.name, "d", d.name)}"' for d in cube.dimensions]
        for m in cube.measures:
            if m.type == "number":
                continue
            items.append(f'{m.sql or "1"} AS "{_col(cube.name, "m", m.name)}"')
            if m.filters:
                test = " AND ".join(f"({f.sql})" for f in m.filters)
                items.append(f'({test}) AS "{_col(cube.name, "f", m.name)}"')
        text = f'SELECT {", ".join(items)} FROM {source} AS "{cube.name}"'
        try:
            return self.warehouse.sql(text)
        except Exception as exc:
            where = self.model.origin.get(f"cube:{cube.name}", cube.name)
            raise ConfigError(
                f"{where}: cube {cube.name!r}: its SQL fails: {_first_line(exc)}"
            ) from None


class ResultCache:
    """Answers kept per (query, role, as-of date, row limit, run, model), shared between threads.

    Facts change only with a run, so an answer is reused until the next run; an
    answer that read a loaded source is not kept (a load changes it without a run).
    Least recently used answers go first; answers of many rows are not kept.
    """

    def __init__(self, size: int = 512, max_rows: int = 2_000) -> None:
        self.size = size
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[Any, ...], QueryResult] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> QueryResult | None:
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None:
                self._answers.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], result: QueryResult) -> None:
        if len(result.data) > self.max_rows:
            return
        with self._lock:
            self._answers[key] = result
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


def _reordered(result: QueryResult, metrics: tuple[str, ...], cached: bool = False) -> QueryResult:
    """The answer with its metric columns in the order the query asked for them."""
    rank = {m: i for i, m in enumerate(metrics)}
    columns = sorted(
        result.columns,
        key=lambda c: rank[result.metric_of[c.name]] if c.name in result.metric_of else -1,
    )
    if columns == result.columns and cached == result.cached:
        return result
    names = [c.name for c in columns]
    frame = result.frame.select(names)
    return replace(
        result,
        columns=columns,
        frame=frame,
        data=[{n: row[n] for n in names} for row in result.data],
        cached=cached,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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


class _Planner:
    def __init__(self, compiler: Compiler, query: Query, as_of: date, role: Role | None) -> None:
        self.c = compiler
        self.model = compiler.model
        self.q = query
        self.as_of = as_of
        self.role = role
        self.reads_data = False
        """Whether planning ran a query (a spine's bounds): such a plan is not cached."""
        self.rollups: list[str] = []
        """Rollup tables read instead of cubes."""
        self.tables: set[str] = set()
        """Warehouse tables the query reads."""
        self.positions: dict[str, int] = {}
        """metric → its index in the query as sent (errors name that field)."""

    # -- resolution ----------------------------------------------------------

    def dimension(self, member: str, field: str) -> _Dim:
        cube_name, _, rest = member.partition(".")
        name, _, granularity = rest.partition(".")
        cube = self.model.cubes.get(cube_name)
        dim = cube.dimension(name) if cube else None
        if cube is None or dim is None:
            raise QueryError(f"{field}: unknown dimension {member!r}{self._hint(member)}")
        if granularity:
            if dim.type != "time" or granularity not in dim.granularities:
                raise QueryError(f"{field}: {member!r}: {granularity!r} is not a granularity of it")
            return _Dim(cube_name, dim, granularity)
        return _Dim(cube_name, dim)

    @property
    def reads_sources(self) -> bool:
        return any(name.startswith(SOURCE_PREFIX) for name in self.tables)

    def _hint(self, member: str) -> str:
        cube_name = member.partition(".")[0]
        cube = self.model.cubes.get(cube_name)
        if cube is None:
            return f" (no cube {cube_name!r}; cubes: {', '.join(sorted(self.model.cubes))})"
        names = [d.name for d in cube.dimensions] + [m.name for m in cube.measures]
        return f" (members of {cube_name}: {', '.join(names)})"

    def metric(self, member: str, field: str) -> Metric:
        if member in self.model.metrics:
            return self.model.metrics[member]
        cube_name, _, name = member.partition(".")
        cube = self.model.cubes.get(cube_name)
        measure = cube.measure(name) if cube else None
        if measure is None:
            raise QueryError(f"{field}: unknown metric or measure {member!r}{self._hint(member)}")
        return Metric.model_construct(  # an implicit simple metric; the name is dotted
            name=member,
            type="simple",
            measure=member,
            format=measure.format,
            title=measure.title,
            description=measure.description,
        )

    def leaves(self, metric: Metric, seen: set[str] | None = None) -> list[_Leaf]:
        """The cube measures a metric needs (number measures expanded)."""
        out: list[_Leaf] = []
        for ref in metric_references(metric):
            if "." in ref:
                cube_name, _, name = ref.partition(".")
                out += self._measure_leaves(self.model.cubes[cube_name], name)
            else:
                out += self.leaves(self.model.metrics[ref])
        return out

    def _measure_leaves(self, cube: Cube, name: str) -> list[_Leaf]:
        measure = cube.measure(name)
        assert measure is not None
        if measure.type != "number":
            return [_Leaf(cube.name, measure)]
        out: list[_Leaf] = [_Leaf(cube.name, measure)]
        for ref in arith.names_in(measure.sql or ""):
            out += self._measure_leaves(cube, ref)
        return out

    # -- build ---------------------------------------------------------------

    def build(self) -> Plan:
        q = self.q
        dims = [self.dimension(d, f"dimensions.{i}") for i, d in enumerate(q.dimensions)]
        times: list[tuple[_Dim, TimeDimension]] = []
        for i, td in enumerate(q.time_dimensions):
            d = self.dimension(td.dimension, f"time_dimensions.{i}.dimension")
            if d.dim.type != "time":
                raise QueryError(
                    f"time_dimensions.{i}.dimension: {td.dimension!r} is not a time dimension"
                )
            if td.granularity and td.granularity not in d.dim.granularities:
                raise QueryError(
                    f"time_dimensions.{i}.granularity: {td.granularity!r} is not a "
                    f"granularity of {td.dimension!r}"
                )
            times.append((_Dim(d.cube, d.dim, td.granularity), td))
        grouped = [t for t, td in times if td.granularity]
        if len(grouped) > 1:
            raise QueryError("time_dimensions: at most one time dimension may have a granularity")
        keys: list[_Dim] = dims + grouped
        if len({k.member for k in keys}) != len(keys):
            raise QueryError("dimensions: a dimension is asked for twice")

        # Resolved in the order asked, so an error names the first bad metric sent.
        asked = sorted(enumerate(q.metrics), key=lambda p: self.positions.get(p[1], p[0]))
        resolved = {m: self.metric(m, f"metrics.{self.positions.get(m, i)}") for i, m in asked}
        outputs = [_Output(m, resolved[m]) for m in q.metrics]
        if len({o.name for o in outputs}) != len(outputs):
            raise QueryError("metrics: a metric is asked for twice")

        where, having = self._split_filters()
        ranges = self._ranges(times)
        for member in self._having_members(having):
            if member not in {o.name for o in outputs}:
                outputs.append(_Output(member, self.metric(member, "filters"), hidden=True))

        time_key = grouped[0] if grouped else None
        self._time_column = f"k{keys.index(time_key)}" if time_key else ""
        cumulative = [o for o in outputs if self._has_cumulative(o.metric)]
        cumulative.sort(key=lambda o: self.positions.get(o.name, len(self.positions)))
        if cumulative and time_key is None:
            raise QueryError(
                f"metrics: {cumulative[0].name!r} is cumulative and needs a time dimension "
                "with a granularity"
            )
        self._check_access(dims + [t for t, _ in times], where)

        if q.compare:
            if time_key is None and not ranges:
                raise QueryError("compare: needs a time dimension with a date_range")
            current = self._result(keys, outputs, where, ranges, time_key)
            previous_ranges, step = self._previous(ranges, time_key)
            previous = self._result(keys, outputs, where, previous_ranges, time_key)
            table = self._compare(current, previous, keys, outputs, time_key, step)
        else:
            table = self._result(keys, outputs, where, ranges, time_key)

        if having is not None:
            table = table.filter(self._predicate(having, table, post=True))

        names: dict[str, str] = {}
        columns: list[Column] = []
        metric_of: dict[str, str] = {}
        for i, k in enumerate(keys):
            names[f"k{i}"] = k.member
            kind = "time" if k.granularity else "dimension"
            columns.append(Column(k.member, kind, k.dim.type, k.dim.format, k.dim.title))
        for j, o in enumerate(outputs):
            if o.hidden:
                continue
            names[f"o{j}"] = o.name
            metric_of[o.name] = o.name
            columns.append(Column(o.name, "metric", "number", o.metric.format, o.metric.title))
            if q.compare:
                for suffix, fmt in (
                    ("previous", o.metric.format),
                    ("delta", o.metric.format),
                    ("percent_change", "percentage"),
                ):
                    names[f"o{j}_{suffix}"] = f"{o.name}.{suffix}"
                    metric_of[f"{o.name}.{suffix}"] = o.name
                    columns.append(Column(f"{o.name}.{suffix}", "metric", "number", fmt))
        order = self._order(keys, outputs, table)
        if order:
            table = table.order_by(order)
        table = table.select(*names)
        pii = {k.member for k in keys if k.dim.meta.pii}
        return Plan(
            q,
            table,
            names,
            columns,
            pii,
            sorted(set(self.rollups)),
            self.reads_sources,
            metric_of,
        )

    # -- filters -------------------------------------------------------------

    def _split_filters(self) -> tuple[Filter | None, Filter | None]:
        """(dimension filters, measure filters) as two trees; mixing in an `or` is an error."""
        dims: list[Filter] = []
        measures: list[Filter] = []
        role_filters = list(self.role.filters) if self.role else []
        for i, f in enumerate([*self.q.filters, *role_filters]):
            kinds = self._kinds(f, f"filters.{i}")
            if kinds == {"dimension"}:
                dims.append(f)
            elif kinds == {"measure"}:
                measures.append(f)
            else:
                raise QueryError(
                    f"filters.{i}: a group mixes dimensions and measures; dimension filters "
                    "apply before aggregation and measure filters after, so give them separately"
                )
        return _all_of(dims), _all_of(measures)

    def _kinds(self, f: Filter, field: str) -> set[str]:
        if isinstance(f, Group):
            out: set[str] = set()
            for i, item in enumerate(f.items):
                out |= self._kinds(item, f"{field}.{f.kind}.{i}")
            return out
        member = f.member
        if member in self.model.metrics:
            return {"measure"}
        cube_name, _, name = member.partition(".")
        cube = self.model.cubes.get(cube_name)
        if cube is not None and cube.measure(name) is not None:
            return {"measure"}
        self.dimension(member, f"{field}.member")
        return {"dimension"}

    def _having_members(self, f: Filter | None) -> list[str]:
        if f is None:
            return []
        if isinstance(f, Group):
            return [m for item in f.items for m in self._having_members(item)]
        return [f.member]

    def _dim_members(self, f: Filter | None) -> list[_Dim]:
        if f is None:
            return []
        if isinstance(f, Group):
            return [m for item in f.items for m in self._dim_members(item)]
        return [self.dimension(f.member, "filters")]

    def _predicate(self, f: Filter, table: ir.Table, *, post: bool = False) -> ir.BooleanValue:
        if isinstance(f, Group):
            parts = [self._predicate(item, table, post=post) for item in f.items]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if f.kind == "and" else (out | p)
            return out
        if post:
            j = next(i for i, name in enumerate(self._post_names) if name == f.member)
            return _condition(f, table[f"o{j}"], "number", f.member)
        d = self.dimension(f.member, "filters")
        column = table[d.column]
        if d.granularity:
            column = _bucket(column, d.granularity)
        return _condition(f, column, d.dim.type, f.member, as_of=self.as_of)

    # -- access --------------------------------------------------------------

    def _check_access(self, dims: list[_Dim], where: Filter | None) -> None:
        if self.role is None or self.role.privileged:
            return
        pii = [d.member for d in self._dim_members(where) if d.dim.meta.pii]
        if pii:
            raise AccessError(f"role {self.role.name!r} may not filter on PII dimension {pii[0]!r}")

    # -- time ----------------------------------------------------------------

    def _ranges(self, times: list[tuple[_Dim, TimeDimension]]) -> dict[str, tuple[date, date]]:
        """time dimension member (without granularity) → inclusive date range."""
        out: dict[str, tuple[date, date]] = {}
        for i, (d, td) in enumerate(times):
            if td.date_range is not None:
                first, last = resolve_range(
                    td.date_range, self.as_of, f"time_dimensions.{i}.date_range"
                )
                key = f"{d.cube}.{d.dim.name}"
                if key in out:  # two ranges on one dimension: their intersection
                    first, last = max(first, out[key][0]), min(last, out[key][1])
                out[key] = (first, last)
        return out

    def _previous(
        self, ranges: dict[str, tuple[date, date]], time_key: _Dim | None
    ) -> tuple[dict[str, tuple[date, date]], tuple[str, int]]:
        """The ranges one period (or a year) earlier, and the shift as (unit, count)."""
        target = f"{time_key.cube}.{time_key.dim.name}" if time_key else next(iter(ranges))
        if target not in ranges:
            raise QueryError(f"compare: the time dimension {target!r} needs a date_range")
        first, last = ranges[target]
        if self.q.compare == "previous_year":
            unit, count = (
                ("week", 52) if time_key and time_key.granularity == "week" else ("year", 1)
            )
        elif time_key is not None and time_key.granularity:
            unit = time_key.granularity
            count = _periods_between(period_start(first, unit), period_start(last, unit), unit) + 1
        elif first.day == 1 and (last + timedelta(days=1)).day == 1:
            unit, count = "month", _periods_between(first, last, "month") + 1
        else:
            unit, count = "day", (last - first).days + 1
        moved = dict(ranges)
        moved[target] = (
            shift(first, unit, -count),
            shift(last + timedelta(days=1), unit, -count) - timedelta(days=1),
        )
        return moved, (unit, count)

    # -- the aggregate --------------------------------------------------------

    def _has_cumulative(self, metric: Metric) -> bool:
        if metric.type == "cumulative":
            return True
        return any(
            self._has_cumulative(self.model.metrics[r])
            for r in metric_references(metric)
            if "." not in r
        )

    def _result(
        self,
        keys: list[_Dim],
        outputs: list[_Output],
        where: Filter | None,
        ranges: dict[str, tuple[date, date]],
        time_key: _Dim | None,
    ) -> ir.Table:
        """Keys k0…, outputs o0… for one date range: steps 2–5 of the module docstring."""
        self._post_names = [o.name for o in outputs]
        leaves: dict[str, _Leaf] = {}
        for o in outputs:
            for leaf in self.leaves(o.metric):
                leaves.setdefault(leaf.key, leaf)
        cumulative = any(self._has_cumulative(o.metric) for o in outputs)
        # A running total needs the history before the range: its lower bound is
        # applied after the window, not before the aggregate.
        agg_ranges = dict(ranges)
        cut: date | None = None
        if cumulative and time_key is not None:
            tk = f"{time_key.cube}.{time_key.dim.name}"
            if tk in agg_ranges:
                cut = agg_ranges[tk][0]
                agg_ranges[tk] = (date.min, agg_ranges[tk][1])

        groups: dict[tuple[str, str | None], list[_Leaf]] = {}
        for leaf in leaves.values():
            if leaf.measure.type == "number":
                continue
            groups.setdefault((leaf.cube, leaf.measure.semi_additive), []).append(leaf)
        number_leaves = [leaf for leaf in leaves.values() if leaf.measure.type == "number"]
        if not groups:  # dimensions only: the distinct combinations
            root = keys[0].cube if keys else None
            if root is None:
                raise QueryError("a query needs at least one metric or dimension")
            groups[(root, None)] = []

        subqueries = [
            self._aggregate(cube, semi, group, keys, where, agg_ranges, time_key)
            for (cube, semi), group in groups.items()
        ]
        key_names = [f"k{i}" for i in range(len(keys))]
        table = self._combine(subqueries, key_names, keys, time_key, agg_ranges, leaves, cut)
        # number measures of a cube, over its (filled) measures
        for leaf in number_leaves:
            table = table.mutate(
                **{
                    leaf.key: arith.evaluate(
                        leaf.measure.sql or "",
                        partial(_member_column, table, leaf.cube),
                    )
                }
            )
        values: dict[str, ir.Value] = {}
        for j, o in enumerate(outputs):
            values[f"o{j}"] = self._metric_value(o.metric, table, key_names, time_key)
        table = table.select(*key_names, **values)
        if cut is not None and time_key is not None:
            first = period_start(cut, time_key.granularity or "day")
            table = table.filter(table[self._time_column] >= ibis.literal(first))
        return table

    def _aggregate(
        self,
        cube_name: str,
        semi: str | None,
        leaves: list[_Leaf],
        keys: list[_Dim],
        where: Filter | None,
        ranges: dict[str, tuple[date, date]],
        time_key: _Dim | None,
    ) -> ir.Table:
        cube = self.model.cubes[cube_name]
        needed = {k.cube for k in keys} | {d.cube for d in self._dim_members(where)}
        needed |= {member.partition(".")[0] for member in ranges}
        if self.role is not None:
            for d in [m for f in self.role.filters for m in self._dim_members(f)]:
                if d.cube != cube_name and d.cube not in join_tree(self.model, cube_name):
                    raise AccessError(
                        f"role {self.role.name!r} sees only rows filtered on {d.member}, and "
                        f"cube {cube_name!r} cannot be filtered that way: it is not available "
                        "to this role"
                    )
        stored = self._covering(cube_name, leaves, keys, where, ranges)
        if stored is not None:
            # Every row of the rollup is one group of cube rows: no joins, no fan-out.
            table, fans_out = self.c.warehouse.table(stored.table), False
            self.rollups.append(stored.table)
            self.tables |= {stored.table, *stored.reads}
        else:
            table, fans_out = self._joined(cube, needed)
        if where is not None:
            table = table.filter(self._predicate(where, table))
        for member, (first, last) in ranges.items():
            c, _, name = member.partition(".")
            table = table.filter(_in_range(table[_col(c, "d", name)], first, last))
        groups = {
            f"k{i}": _bucket(table[k.column], k.granularity) if k.granularity else table[k.column]
            for i, k in enumerate(keys)
        }
        stamp_dim = cube.dimension(semi) if semi is not None else None
        same = time_key is not None and time_key.cube == cube_name and time_key.dim.name == semi
        # At the stamp's own grain a period holds one stamp: the last-value step
        # would keep every row, so it is skipped (it is the costliest step of a query).
        at_grain = (
            same
            and stamp_dim is not None
            and stamp_dim.grain is not None
            and time_key is not None
            and time_key.granularity == stamp_dim.grain
        )
        if semi is not None and not at_grain:
            # A balance: keep the rows of the last stamp of each queried period (or of
            # the whole filtered range), never a sum over the months of a quarter.
            stamp = table[_col(cube_name, "d", semi)]
            period = [groups[f"k{keys.index(time_key)}"]] if same and time_key is not None else []
            # The window goes in a column first: a filter on a window function compiles
            # to QUALIFY, which Ibis's Spark compiler gets wrong.
            table = table.mutate(__last=stamp.max().over(ibis.window(group_by=period)))
            table = table.filter(table[_col(cube_name, "d", semi)] == table["__last"])
            groups = {
                f"k{i}": _bucket(table[k.column], k.granularity)
                if k.granularity
                else table[k.column]
                for i, k in enumerate(keys)
            }
        inputs: dict[str, ir.Value] = {}
        for leaf in leaves:
            m = leaf.measure
            if stored is not None:  # counted, summed and filtered when it was built
                inputs[leaf.key] = table[_col(cube_name, "m", m.name)]
                continue
            value = (
                ibis.literal(1)
                if m.type == "count" and not m.sql
                else table[_col(cube_name, "m", m.name)]
            )
            if m.filters:
                value = table[_col(cube_name, "f", m.name)].ifelse(value, ibis.null(value.type()))
            inputs[leaf.key] = value
        if fans_out and leaves:
            pk = cube.primary_key
            if pk is None:
                raise QueryError(
                    f"cube {cube_name!r} has no primary_key dimension, so its measures cannot be "
                    "counted once per row across a one-to-many join; declare one"
                )
            # One row per (primary key, group): the fan-out of the join is undone.
            pk_value = table[_col(cube_name, "d", pk.name)]
            table = table.select(__pk=pk_value, **groups, **inputs).distinct()
        else:
            table = table.select(**groups, **inputs)
        combine = _reaggregate if stored is not None else _aggregate
        aggregates = {leaf.key: combine(leaf.measure, table[leaf.key]) for leaf in leaves}
        if not groups:
            return table.aggregate(**aggregates)
        if not aggregates:
            return table.select(*groups).distinct()
        return table.group_by(*groups).aggregate(**aggregates)

    def _covering(
        self,
        cube_name: str,
        leaves: list[_Leaf],
        keys: list[_Dim],
        where: Filter | None,
        ranges: dict[str, tuple[date, date]],
    ) -> rollup.Available | None:
        """The smallest current rollup of the cube that holds everything this subquery
        touches (fewest dimensions, then the coarsest time grain), or None."""
        if not leaves:
            return None
        wanted = {leaf.measure.name for leaf in leaves}
        filtered = self._dim_members(where)
        covering = [
            stored
            for stored in self.c.rollups
            if stored.cube == cube_name
            and wanted <= set(stored.rollup.measures)
            and all(stored.groups(f"{k.cube}.{k.dim.name}", k.granularity) for k in keys)
            and all(stored.groups(f"{d.cube}.{d.dim.name}", d.granularity) for d in filtered)
            and all(stored.ranges(m, first, last) for m, (first, last) in ranges.items())
        ]
        return min(covering, key=lambda stored: stored.size, default=None)

    def _joined(self, root: Cube, needed: set[str]) -> tuple[ir.Table, bool]:
        """The root cube left-joined along the shortest paths to the needed cubes."""
        parents = join_tree(self.model, root.name)
        order: list[str] = []
        for target in sorted(needed - {root.name}):
            if target not in parents:
                raise QueryError(
                    f"cube {target!r} cannot be joined to cube {root.name!r}: no join path"
                )
            path = []
            node = target
            while node != root.name:
                path.append(node)
                node = parents[node][0]
            for node in reversed(path):
                if node not in order:
                    order.append(node)
        table = self.c.base(root)
        self.tables.update(root.tables)
        fans_out = False
        for node in order:
            parent, (_, keys, relationship) = parents[node]
            other = self.c.base(self.model.cubes[node])
            self.tables.update(self.model.cubes[node].tables)
            predicates = [table[_col(parent, "d", a)] == other[_col(node, "d", b)] for a, b in keys]
            table = table.join(other, predicates, how="left")
            fans_out = fans_out or relationship == "one_to_many"
        return table, fans_out

    def _combine(
        self,
        subqueries: list[ir.Table],
        key_names: list[str],
        keys: list[_Dim],
        time_key: _Dim | None,
        ranges: dict[str, tuple[date, date]],
        leaves: dict[str, _Leaf],
        cut: date | None = None,
    ) -> ir.Table:
        """One row per key combination (gap-free in time), every subquery's measures beside.

        ``cut`` is the start of a range whose lower bound was lifted for a running total:
        the spine still reaches back to it when the data starts later.
        """
        measured = any(leaf.measure.type != "number" for leaf in leaves.values())
        if not key_names:
            table = subqueries[0]
            for sq in subqueries[1:]:
                table = table.cross_join(sq)
        elif len(subqueries) == 1 and (time_key is None or not measured):
            # One grouped subquery already has one row per key combination.
            table = subqueries[0]
        else:
            union = subqueries[0].select(*key_names)
            for sq in subqueries[1:]:
                union = union.union(sq.select(*key_names))
            union = union.distinct()
            if time_key is not None and measured:
                name = f"k{keys.index(time_key)}"
                spine = self._spine(time_key, name, ranges, union, cut)
                others = [k for k in key_names if k != name]
                union = spine.cross_join(union.select(*others).distinct()) if others else spine
            table = union
            for sq in subqueries:
                values = [c for c in sq.columns if c not in key_names]
                if not values:
                    continue
                right = sq.rename({f"r_{k}": k for k in key_names})
                predicates = [table[k].identical_to(right[f"r_{k}"]) for k in key_names]
                table = table.join(right, predicates, how="left").drop(
                    *(f"r_{k}" for k in key_names)
                )
        fills = {
            leaf.key: table[leaf.key].fill_null(0)
            for leaf in leaves.values()
            if leaf.measure.type != "number"
            and leaf.measure.fills_zero
            and leaf.key in table.columns
        }
        return table.mutate(**fills) if fills else table

    def _spine(
        self,
        time_key: _Dim,
        name: str,
        ranges: dict[str, tuple[date, date]],
        union: ir.Table,
        cut: date | None = None,
    ) -> ir.Table:
        """Every period from the range's (or the data's) first to its last."""
        unit = time_key.granularity or "day"
        first, last = ranges.get(f"{time_key.cube}.{time_key.dim.name}", (date.min, date.max))
        if first == date.min or last == date.max:
            self.reads_data = True
            bounds = self.c.warehouse.to_polars(
                union.aggregate(lo=union[name].min(), hi=union[name].max())
            ).row(0)
            if bounds[0] is None:
                first = last = None  # type: ignore[assignment]
            else:
                first = bounds[0] if first == date.min else first
                last = bounds[1] if last == date.max else last
            if cut is not None:  # a range that starts before the data still starts there
                first = cut if first is None else min(first, cut)
                last = (
                    last if last is not None else ranges[f"{time_key.cube}.{time_key.dim.name}"][1]
                )
        periods: list[date] = []
        if first is not None and last is not None:
            period, end = period_start(first, unit), period_start(last, unit)
            while period <= end:
                periods.append(period)
                period = shift(period, unit, 1)
        import pyarrow as pa

        return ibis.memtable(pa.table({name: pa.array(periods, pa.date32())}))

    def _metric_value(
        self, metric: Metric, table: ir.Table, key_names: list[str], time_key: _Dim | None
    ) -> ir.Value:
        def value(ref: str) -> ir.Value:
            if "." in ref:
                cube, _, measure = ref.partition(".")
                return table[f"{cube}__{measure}"]
            return self._metric_value(self.model.metrics[ref], table, key_names, time_key)

        if metric.type == "simple":
            return value(metric_references(metric)[0])
        if metric.type == "ratio":
            return ratio(value(metric.numerator or ""), value(metric.denominator or ""))
        if metric.type == "derived":
            return arith.evaluate(metric.expression or "", value)
        # cumulative: a running total, or a trailing window of periods
        ref = metric_references(metric)[0]
        cube, _, name = ref.partition(".")
        measure = self.model.cubes[cube].measure(name)
        if measure is None or measure.type not in ("sum", "count") or measure.semi_additive:
            raise QueryError(
                f"metric {metric.name!r}: a cumulative metric needs an additive measure "
                f"(sum or count, not a balance); {ref!r} is not"
            )
        assert time_key is not None and time_key.granularity is not None
        preceding: int | None = None
        if metric.window:
            count, unit = window_periods(metric.window)
            if unit != time_key.granularity:
                raise QueryError(
                    f"metric {metric.name!r}: its window is {metric.window!r}; query it by "
                    f"{unit}, not by {time_key.granularity}"
                )
            preceding = count - 1
        order = self._time_column
        window = ibis.window(
            group_by=[table[k] for k in key_names if k != order],
            order_by=[table[order]],
            preceding=preceding,
            following=0,
        )
        return value(ref).fill_null(0).sum().over(window)

    def _compare(
        self,
        current: ir.Table,
        previous: ir.Table,
        keys: list[_Dim],
        outputs: list[_Output],
        time_key: _Dim | None,
        step: tuple[str, int],
    ) -> ir.Table:
        """Current rows with the previous period's values, their delta and % change."""
        key_names = [f"k{i}" for i in range(len(keys))]
        if time_key is not None:
            name = f"k{keys.index(time_key)}"
            previous = previous.mutate(**{name: shift_column(previous[name], *step)})
        right = previous.rename({f"p_{c}": c for c in previous.columns})
        if key_names:
            predicates = [current[k].identical_to(right[f"p_{k}"]) for k in key_names]
            table = current.join(right, predicates, how="left")
        else:
            table = current.cross_join(right)
        values: dict[str, ir.Value] = {}
        for j in range(len(outputs)):
            now, before = table[f"o{j}"], table[f"p_o{j}"]
            values[f"o{j}_previous"] = before
            values[f"o{j}_delta"] = now - before
            values[f"o{j}_percent_change"] = ratio(now - before, before.abs())
        return table.select(*key_names, *(f"o{j}" for j in range(len(outputs))), **values)

    def _order(self, keys: list[_Dim], outputs: list[_Output], table: ir.Table) -> list[Any]:
        """The query's order, then every key ascending (so pages are stable); nulls last."""
        by_member = {k.member: f"k{i}" for i, k in enumerate(keys)}
        for j, o in enumerate(outputs):
            by_member[o.name] = f"o{j}"
            for suffix in ("previous", "delta", "percent_change"):
                if f"o{j}_{suffix}" in table.columns:
                    by_member[f"{o.name}.{suffix}"] = f"o{j}_{suffix}"
        order: list[Any] = []
        used: set[str] = set()
        hidden = self.role is not None and not self.role.privileged
        for i, item in enumerate(self.q.order_by):
            column = by_member.get(item.field)
            if hidden and any(k.member == item.field and k.dim.meta.pii for k in keys):
                assert self.role is not None
                raise AccessError(
                    f"role {self.role.name!r} may not order by PII dimension {item.field!r}: "
                    "the order would tell the hidden values"
                )
            if column is None:
                raise QueryError(
                    f"order_by.{i}.field: {item.field!r} is not a member of the query; "
                    f"order by one of {', '.join(by_member)}"
                )
            used.add(column)
            c = table[column]
            order.append(
                c.desc(nulls_first=False) if item.direction == "desc" else c.asc(nulls_first=False)
            )
        time_first = sorted(range(len(keys)), key=lambda i: keys[i].granularity is None)
        # Masked PII never orders rows for a role that may not see it (the order would leak).
        order += [
            table[f"k{i}"].asc(nulls_first=False)
            for i in time_first
            if f"k{i}" not in used and not (hidden and keys[i].dim.meta.pii)
        ]
        return order


# -- helpers -------------------------------------------------------------------------


def _all_of(filters: list[Filter]) -> Filter | None:
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else Group.model_validate({"and": filters})


def _member_column(table: ir.Table, cube: str, name: str) -> ir.Value:
    return table[f"{cube}__{name}"]


def _periods_between(first: date, last: date, unit: str) -> int:
    if unit == "day":
        return (last - first).days
    if unit == "week":
        return (last - first).days // 7
    months = (last.year - first.year) * 12 + last.month - first.month
    return months // {"month": 1, "quarter": 3, "year": 12}[unit]


def _bucket(column: ir.Value, granularity: str) -> ir.DateValue:
    return column.truncate(_UNIT_CODE[granularity]).cast("date")


def _in_range(column: ir.Value, first: date, last: date) -> ir.BooleanValue:
    if column.type().is_timestamp():
        lo = (
            ibis.literal(datetime.combine(first, datetime.min.time())) if first > date.min else None
        )
        hi = ibis.literal(datetime.combine(last + timedelta(days=1), datetime.min.time()))
        return (column >= lo) & (column < hi) if lo is not None else column < hi
    value = column.cast("date") if not column.type().is_date() else column
    if first == date.min:
        return value <= ibis.literal(last)
    return value.between(ibis.literal(first), ibis.literal(last))


def _aggregate(measure: Measure, value: ir.Value) -> ir.Scalar:
    kind = measure.type
    if kind == "count":
        return value.count()
    if kind == "count_distinct":
        return value.nunique()
    if kind == "sum":
        return value.cast("float64").sum()
    if kind == "avg":
        return value.cast("float64").mean()
    if kind == "min":
        return value.min()
    if kind == "max":
        return value.max()
    return value.cast("float64").median()


def _reaggregate(measure: Measure, value: ir.Value) -> ir.Scalar:
    """A measure over the rows of a rollup that stores it per group (see rollup.py)."""
    if measure.type == "count":  # a count over no rows is 0, not null
        return ibis.coalesce(value.sum(), 0).cast("int64")
    if measure.type == "sum":
        return value.cast("float64").sum()
    return value.min() if measure.type == "min" else value.max()


def _coerce(value: Any, kind: str, member: str) -> Any:
    if kind == "number":
        if isinstance(value, bool):
            raise QueryError(f"filters: {member!r} is a number; {value!r} is not")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise QueryError(f"filters: {member!r} is a number; {value!r} is not") from None
    if kind == "boolean":
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise QueryError(f"filters: {member!r} is true or false; {value!r} is not")
    if kind == "time":
        return parse_date(value, f"filters: {member}")
    return str(value)


def _condition(
    f: Condition, column: ir.Value, kind: str, member: str, as_of: date | None = None
) -> ir.BooleanValue:
    op = f.operator
    if op == "set":
        return column.notnull()
    if op == "notSet":
        return column.isnull()
    if op in ("inDateRange", "beforeDate", "afterDate"):
        if kind != "time":
            raise QueryError(f"filters: {op} needs a time dimension; {member!r} is {kind}")
        if op == "inDateRange":
            value = f.values[0] if len(f.values) == 1 else list(f.values)
            first, last = resolve_range(value, as_of or date.today(), f"filters: {member}")
            return _in_range(column, first, last).fill_null(False)
        day = parse_date(f.values[0], f"filters: {member}")
        if op == "beforeDate":
            return _in_range(column, date.min, day - timedelta(days=1)).fill_null(False)
        return (~_in_range(column, date.min, day)).fill_null(False)
    if op in ("contains", "notContains", "startsWith", "endsWith"):
        if kind != "string":
            raise QueryError(f"filters: {op} needs a string dimension; {member!r} is {kind}")
        text = str(f.values[0]).lower()
        lowered = column.lower()
        test = (
            lowered.startswith(text)
            if op == "startsWith"
            else lowered.endswith(text)
            if op == "endsWith"
            else lowered.contains(text)
        )
        return (~test | column.isnull()) if op == "notContains" else test.fill_null(False)
    values = [_coerce(v, kind, member) for v in f.values]
    if kind == "time" and column.type().is_timestamp():
        column = column.cast("date")
    literals = [ibis.literal(v) for v in values]
    if op == "equals":
        return (column == literals[0]).fill_null(False)
    if op == "notEquals":
        return (column != literals[0]) | column.isnull()
    if op == "in":
        return column.isin(literals).fill_null(False)
    if op == "notIn":
        return ~column.isin(literals) | column.isnull()
    if op == "between":
        if len(literals) != 2:
            raise QueryError(f"filters: between on {member!r} takes two values")
        return column.between(literals[0], literals[1]).fill_null(False)
    if kind == "boolean":
        raise QueryError(f"filters: {op} does not apply to the boolean {member!r}")
    compare = {
        "gt": column > literals[0],
        "gte": column >= literals[0],
        "lt": column < literals[0],
        "lte": column <= literals[0],
    }
    return compare[op].fill_null(False)
