"""Time in a query: date ranges, buckets, the gap-free spine of periods, cumulative
metrics and compare periods (steps 4 to 6 of :mod:`custlens.semantic.compile`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import ibis
import polars as pl

from custlens.calendar import period_start, resolve_range, shift, shift_column
from custlens.errors import QueryError
from custlens.numeric import ratio
from custlens.semantic import arith
from custlens.semantic.model import (
    Metric,
    metric_references,
)
from custlens.semantic.plan import Dim, Leaf, Output, PlannerState, member_column
from custlens.semantic.query import (
    Filter,
    TimeDimension,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir


UNIT_CODE = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


def periods_between(first: date, last: date, unit: str) -> int:
    if unit == "day":
        return (last - first).days
    if unit == "week":
        return (last - first).days // 7
    months = (last.year - first.year) * 12 + last.month - first.month
    return months // {"month": 1, "quarter": 3, "year": 12}[unit]


def bucket(column: ir.Value, granularity: str) -> ir.DateValue:
    return column.truncate(UNIT_CODE[granularity]).cast("date")


def in_range(column: ir.Value, first: date, last: date) -> ir.BooleanValue:
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


class SpineMixin(PlannerState):
    """The planner's time: date ranges, the gap-free spine of periods, cumulative
    metrics over it and the compare periods."""

    def _ranges(self, times: list[tuple[Dim, TimeDimension]]) -> dict[str, tuple[date, date]]:
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
        self, ranges: dict[str, tuple[date, date]], time_key: Dim | None
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
            count = periods_between(period_start(first, unit), period_start(last, unit), unit) + 1
        elif first.day == 1 and (last + timedelta(days=1)).day == 1:
            unit, count = "month", periods_between(first, last, "month") + 1
        else:
            unit, count = "day", (last - first).days + 1
        moved = dict(ranges)
        moved[target] = (
            shift(first, unit, -count),
            shift(last + timedelta(days=1), unit, -count) - timedelta(days=1),
        )
        return moved, (unit, count)

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
        keys: list[Dim],
        outputs: list[Output],
        where: Filter | None,
        ranges: dict[str, tuple[date, date]],
        time_key: Dim | None,
    ) -> ir.Table:
        """Keys k0…, outputs o0… for one date range: steps 2–5 of the module docstring."""
        self._post_names = [o.name for o in outputs]
        leaves: dict[str, Leaf] = {}
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

        groups: dict[tuple[str, str | None], list[Leaf]] = {}
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
                        partial(member_column, table, leaf.cube),
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

    def _spine(
        self,
        time_key: Dim,
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
        # Built by Polars: PyArrow would import pandas to build it (0.3–0.8 s of a query).
        return ibis.memtable(pl.DataFrame({name: periods}, schema={name: pl.Date}))

    def _compare(
        self,
        current: ir.Table,
        previous: ir.Table,
        keys: list[Dim],
        outputs: list[Output],
        time_key: Dim | None,
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
