"""Aggregating each measure cube on its own and joining the subqueries: the fan-out
guard of :mod:`custlens.semantic.compile` (step 2 and 4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

import ibis

from custlens.errors import AccessError, QueryError
from custlens.semantic import rollup
from custlens.semantic.model import (
    Cube,
    Measure,
    join_tree,
)
from custlens.semantic.plan import Dim, Leaf, PlannerState, col_name
from custlens.semantic.query import (
    Filter,
)
from custlens.semantic.spine import bucket, in_range

if TYPE_CHECKING:
    import ibis.expr.types as ir


class JoinsMixin(PlannerState):
    """The planner's joins: each measure cube aggregated on its own at the group keys
    (reduced first past a one-to-many join), the subqueries combined on the keys."""

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
            table, fans_out = self._joined(cube, needed, [leaf.measure.name for leaf in leaves])
        if where is not None:
            table = table.filter(self._predicate(where, table))
        for member, (first, last) in ranges.items():
            c, _, name = member.partition(".")
            table = table.filter(in_range(table[col_name(c, "d", name)], first, last))
        groups = {
            f"k{i}": bucket(table[k.column], k.granularity) if k.granularity else table[k.column]
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
            stamp = table[col_name(cube_name, "d", semi)]
            period = [groups[f"k{keys.index(time_key)}"]] if same and time_key is not None else []
            # The window goes in a column first: a filter on a window function compiles
            # to QUALIFY, which Ibis's Spark compiler gets wrong.
            table = table.mutate(__last=stamp.max().over(ibis.window(group_by=period)))
            table = table.filter(table[col_name(cube_name, "d", semi)] == table["__last"])
            groups = {
                f"k{i}": bucket(table[k.column], k.granularity)
                if k.granularity
                else table[k.column]
                for i, k in enumerate(keys)
            }
        inputs: dict[str, ir.Value] = {}
        for leaf in leaves:
            m = leaf.measure
            if stored is not None:  # counted, summed and filtered when it was built
                inputs[leaf.key] = table[col_name(cube_name, "m", m.name)]
                continue
            value = (
                ibis.literal(1)
                if m.type == "count" and not m.sql
                else table[col_name(cube_name, "m", m.name)]
            )
            if m.filters:
                value = table[col_name(cube_name, "f", m.name)].ifelse(
                    value, ibis.null(value.type())
                )
            inputs[leaf.key] = value
        if fans_out and leaves:
            pk = cube.primary_key
            if pk is None:
                raise QueryError(
                    f"cube {cube_name!r} has no primary_key dimension, so its measures cannot be "
                    "counted once per row across a one-to-many join; declare one"
                )
            # One row per (primary key, group): the fan-out of the join is undone.
            pk_value = table[col_name(cube_name, "d", pk.name)]
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

    def _alternatives(self, root: Cube, needed: set[str], measures: Sequence[str]) -> str:
        """ "; did you mean …?": the measures of other cubes, named like the query's
        metrics or the root cube's measures, whose cube reaches every needed cube."""
        names = [*self.q.metrics, *measures]
        targets = needed - {root.name}
        found, able = [], []
        for cube in self.model.cubes.values():
            if cube.name == root.name or not cube.measures:
                continue
            reach = set(join_tree(self.model, cube.name)) | {cube.name}
            if not targets <= reach:
                continue
            able.append(cube.name)
            have = {m.name for m in cube.measures}
            found += [f"{cube.name}.{n}" for n in dict.fromkeys(names) if n in have]
        if found:
            return f"; did you mean {' or '.join(dict.fromkeys(found))}?"
        if able:
            cubes, cut = ", ".join(sorted(able)), ", ".join(sorted(targets))
            return f"; measures of {cubes} can be cut by {cut}"
        return ""

    def _covering(
        self,
        cube_name: str,
        leaves: list[Leaf],
        keys: list[Dim],
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

    def _joined(
        self, root: Cube, needed: set[str], measures: Sequence[str] = ()
    ) -> tuple[ir.Table, bool]:
        """The root cube left-joined along the shortest paths to the needed cubes."""
        parents = join_tree(self.model, root.name)
        order: list[str] = []
        for target in sorted(needed - {root.name}):
            if target not in parents:
                raise QueryError(
                    f"cube {target!r} cannot be joined to cube {root.name!r}: no join path"
                    + self._alternatives(root, needed, measures)
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
            predicates = [
                table[col_name(parent, "d", a)] == other[col_name(node, "d", b)] for a, b in keys
            ]
            table = table.join(other, predicates, how="left")
            fans_out = fans_out or relationship == "one_to_many"
        return table, fans_out

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
