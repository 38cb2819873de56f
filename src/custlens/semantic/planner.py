"""Planning one query: resolving its members, its filters and the role's access,
then building the one Ibis expression (see :mod:`custlens.semantic.compile`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from custlens.calendar import parse_date, resolve_range
from custlens.errors import AccessError, QueryError
from custlens.numeric import ratio
from custlens.semantic import arith
from custlens.semantic.joins import JoinsMixin
from custlens.semantic.model import (
    Cube,
    Metric,
    metric_references,
    window_periods,
)
from custlens.semantic.plan import Column, Dim, Leaf, Output, Plan, all_of
from custlens.semantic.query import (
    Condition,
    Filter,
    Group,
    Query,
    TimeDimension,
)
from custlens.semantic.spine import SpineMixin, bucket, in_range
from custlens.sources.contract import SOURCE_PREFIX

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.semantic.access import Role
    from custlens.semantic.compile import Compiler


class Planner(JoinsMixin, SpineMixin):
    """Plans one query (:meth:`build`): its members, filters and access here; the
    per-cube aggregation and joins in :class:`JoinsMixin`; buckets, the spine and
    compare periods in :class:`SpineMixin`."""

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

    def dimension(self, member: str, field: str) -> Dim:
        cube_name, _, rest = member.partition(".")
        name, _, granularity = rest.partition(".")
        cube = self.model.cubes.get(cube_name)
        dim = cube.dimension(name) if cube else None
        if cube is None or dim is None:
            raise QueryError(f"{field}: unknown dimension {member!r}{self._hint(member)}")
        if granularity:
            if dim.type != "time" or granularity not in dim.granularities:
                raise QueryError(f"{field}: {member!r}: {granularity!r} is not a granularity of it")
            return Dim(cube_name, dim, granularity)
        return Dim(cube_name, dim)

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

    def leaves(self, metric: Metric, seen: set[str] | None = None) -> list[Leaf]:
        """The cube measures a metric needs (number measures expanded)."""
        out: list[Leaf] = []
        for ref in metric_references(metric):
            if "." in ref:
                cube_name, _, name = ref.partition(".")
                out += self._measure_leaves(self.model.cubes[cube_name], name)
            else:
                out += self.leaves(self.model.metrics[ref])
        return out

    def _measure_leaves(self, cube: Cube, name: str) -> list[Leaf]:
        measure = cube.measure(name)
        assert measure is not None
        if measure.type != "number":
            return [Leaf(cube.name, measure)]
        out: list[Leaf] = [Leaf(cube.name, measure)]
        for ref in arith.names_in(measure.sql or ""):
            out += self._measure_leaves(cube, ref)
        return out

    def build(self) -> Plan:
        q = self.q
        dims = [self.dimension(d, f"dimensions.{i}") for i, d in enumerate(q.dimensions)]
        times: list[tuple[Dim, TimeDimension]] = []
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
            times.append((Dim(d.cube, d.dim, td.granularity), td))
        grouped = [t for t, td in times if td.granularity]
        if len(grouped) > 1:
            raise QueryError("time_dimensions: at most one time dimension may have a granularity")
        keys: list[Dim] = dims + grouped
        if len({k.member for k in keys}) != len(keys):
            raise QueryError("dimensions: a dimension is asked for twice")

        # Resolved in the order asked, so an error names the first bad metric sent.
        asked = sorted(enumerate(q.metrics), key=lambda p: self.positions.get(p[1], p[0]))
        resolved = {m: self.metric(m, f"metrics.{self.positions.get(m, i)}") for i, m in asked}
        outputs = [Output(m, resolved[m]) for m in q.metrics]
        if len({o.name for o in outputs}) != len(outputs):
            raise QueryError("metrics: a metric is asked for twice")

        where, having = self._split_filters()
        ranges = self._ranges(times)
        for member in self._having_members(having):
            if member not in {o.name for o in outputs}:
                outputs.append(Output(member, self.metric(member, "filters"), hidden=True))

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
        return all_of(dims), all_of(measures)

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

    def _dim_members(self, f: Filter | None) -> list[Dim]:
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
            column = bucket(column, d.granularity)
        return _condition(f, column, d.dim.type, f.member, as_of=self.as_of)

    def _check_access(self, dims: list[Dim], where: Filter | None) -> None:
        if self.role is None or self.role.privileged:
            return
        pii = [d.member for d in self._dim_members(where) if d.dim.meta.pii]
        if pii:
            raise AccessError(f"role {self.role.name!r} may not filter on PII dimension {pii[0]!r}")

    def _metric_value(
        self, metric: Metric, table: ir.Table, key_names: list[str], time_key: Dim | None
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

    def _order(self, keys: list[Dim], outputs: list[Output], table: ir.Table) -> list[Any]:
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
            return in_range(column, first, last).fill_null(False)
        day = parse_date(f.values[0], f"filters: {member}")
        if op == "beforeDate":
            return in_range(column, date.min, day - timedelta(days=1)).fill_null(False)
        return (~in_range(column, date.min, day)).fill_null(False)
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
