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
from collections import OrderedDict
from datetime import date
from typing import TYPE_CHECKING, Any

from custlens.currency import DEFAULT
from custlens.errors import ConfigError, NotFoundError, QueryError, first_line
from custlens.format import round_money
from custlens.semantic import rollup
from custlens.semantic.cache import ResultCache
from custlens.semantic.model import (
    REF,
    Cube,
    Rollup,
    SemanticModel,
)
from custlens.semantic.plan import Dim, Leaf, Plan, QueryResult, col_name, reordered
from custlens.semantic.planner import Planner
from custlens.semantic.query import (
    Query,
    canonical,
    parse_query,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.semantic.access import Role
    from custlens.warehouse import Warehouse


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
        # that read data while planning (a spine's bounds, see Planner.reads_data) is
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
        currency: str = DEFAULT,
    ) -> QueryResult:
        """Answer a query; rows beyond ``max_rows`` are cut and ``truncated`` set; money
        is rounded to the minor unit of ``currency`` (the facts' reporting currency).

        ``run_id`` is the latest successful run: rollups built for it may answer, and
        ``results`` (shared between compilers, e.g. a server's threads) may hold the
        answer already.
        """
        parsed = parse_query(query)
        one_order = canonical(parsed)
        key = (one_order.model_dump_json(), repr(role), as_of, max_rows)
        if results is not None and run_id is not None:
            # Before the rollup check: a kept answer read facts of this run (or rollups
            # of them), which neither a load nor a rollup rebuild changes.
            hit = results.get((*key, run_id, self.model_key))
            if hit is not None:
                return reordered(hit, parsed.metrics, cached=True)
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
            planner = Planner(self, one_order, as_of, role)
            planner.positions = {m: i for i, m in enumerate(parsed.metrics)}
            plan = planner.build()
            limit = min(plan.query.limit or max_rows, max_rows)
            expr = plan.expr.limit(limit + 1, offset=plan.query.offset)
            try:
                sql = self.warehouse.compile(expr)
            except Exception as exc:
                raise QueryError(
                    f"the warehouse could not run the query: {first_line(exc)}"
                ) from None
            if not planner.reads_data or not plan.reads_sources:
                self._plans[key] = (plan, expr, sql)
                if len(self._plans) > self.PLAN_CACHE_SIZE:
                    self._plans.popitem(last=False)
        limit = min(plan.query.limit or max_rows, max_rows)
        try:
            frame = self.warehouse.to_polars(expr, sql=sql)
        except Exception as exc:  # the engine's own message, without its stack
            raise QueryError(f"the warehouse could not run the query: {first_line(exc)}") from None
        # Cut by the server's limit, not by the query's own.
        truncated = frame.height > limit and limit == max_rows
        frame = frame.head(limit).rename(plan.names).select(c.name for c in plan.columns)
        # Money leaves rounded to the cent, never with float noise (44595.600000000006).
        frame = round_money(
            frame, [c.name for c in plan.columns if c.format == "currency"], currency
        )
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
            currency=currency,
            frame=frame,
            rollups=list(plan.rollups),
            metric_of=plan.metric_of,
            planned=cached is None,
            reads_sources=plan.reads_sources,
        )
        if results is not None and run_id is not None and not plan.reads_sources:
            results.put((*key, run_id, self.model_key), result)
        return reordered(result, parsed.metrics)

    def expression(
        self, query: Query | dict[str, Any], *, as_of: date, role: Role | None = None
    ) -> ir.Table:
        """The whole answer of a query as an unexecuted expression, columns named by member
        (no row limit, no masking: for code that goes on computing in the warehouse, such
        as the set of customers a role may see)."""
        parsed = parse_query(query)
        plan = Planner(self, parsed, as_of, role).build()
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
        return Planner(self, parse_query(query), as_of, role).build()

    def rollup_expr(self, cube: Cube, spec: Rollup) -> ir.Table:
        """The rows of a rollup: its measures aggregated by its dimensions and time.

        Columns are named as in the joined cube tables (``<cube>__d__<dim>``,
        ``<cube>__m__<measure>``), so a query's filters and groups apply to the
        rollup as they would to the cube.
        """
        planner = Planner(self, Query.model_construct(), date.today(), None)
        keys = [planner.dimension(m, "rollup") for m in spec.dimension_members(cube.name)]
        if spec.time_dimension is not None:
            dim = cube.dimension(spec.time_dimension)
            assert dim is not None
            # Stored as it is at its own grain (a balance needs its own stamps).
            granularity = None if dim.grain == spec.granularity else spec.granularity
            keys.append(Dim(cube.name, dim, granularity))
        leaves = []
        for name in spec.measures:
            measure = cube.measure(name)
            assert measure is not None
            leaves.append(Leaf(cube.name, measure))
        # No semi-additive step: the rollup keeps every stamp of a balance.
        table = planner._aggregate(cube.name, None, leaves, keys, None, {}, None)
        names = {f"k{i}": k.column for i, k in enumerate(keys)}
        names |= {leaf.key: col_name(cube.name, "m", leaf.measure.name) for leaf in leaves}
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
        items = [f'{d.expression} AS "{col_name(cube.name, "d", d.name)}"' for d in cube.dimensions]
        for m in cube.measures:
            if m.type == "number":
                continue
            items.append(f'{m.sql or "1"} AS "{col_name(cube.name, "m", m.name)}"')
            if m.filters:
                test = " AND ".join(f"({f.sql})" for f in m.filters)
                items.append(f'({test}) AS "{col_name(cube.name, "f", m.name)}"')
        text = f'SELECT {", ".join(items)} FROM {source} AS "{cube.name}"'
        try:
            return self.warehouse.sql(text)
        except Exception as exc:
            where = self.model.origin.get(f"cube:{cube.name}", cube.name)
            raise ConfigError(
                f"{where}: cube {cube.name!r}: its SQL fails: {first_line(exc)}"
            ) from None
