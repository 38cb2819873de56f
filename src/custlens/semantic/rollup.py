"""Rollups: pre-aggregated tables that answer the queries they cover (Cube's pre-aggregations).

A rollup is declared on a cube (``rollups:`` in its YAML, see
:mod:`custlens.semantic.model`): some of the cube's count, sum, min and max
measures, grouped by some dimensions and, optionally, by a time dimension at a
granularity. ``custlens run`` rebuilds every rollup after it publishes the
facts; ``custlens rollups`` rebuilds them alone (after editing the YAML).

**Which queries a rollup answers.** The compiler aggregates each measure cube of
a query on its own (see :mod:`custlens.semantic.compile`). It reads a rollup of
that cube instead of the cube when everything that subquery touches is in the
rollup: its measures; its dimensions; the dimensions of its filters, the role's
row filter included; its date ranges. It then adds up the stored values again —
the sum of the stored counts and sums, the min of the mins, the max of the maxes
— which equals the measure over the cube's rows because:

- only count, sum, min and max are stored (an average, a median or a distinct
  count of groups is not the one of their rows: such measures are refused when
  the model is read, and a query needing one reads the cube);
- the dimensions are reached by many-to-one or one-to-one joins only, so each
  row of the cube is in exactly one row of the rollup (refused otherwise);
- the time dimension is stored truncated to the rollup's granularity — as it
  is, when that is the dimension's declared ``grain``. A query may group it by
  that granularity or a coarser one made of whole periods of it (week only from
  day; month, quarter and year from day or month; year from quarter). A date
  range on a truncated time dimension must start and end on period edges of the
  rollup's granularity ("last 12 months" does, 10 to 20 March does not), and a
  filter on it must be on a coarser granularity; a time dimension stored as it
  is takes any range or filter;
- a balance (``semi_additive``) is only stored when the dimension its last value
  is taken over is stored as it is, so the last-value step finds the same
  periods in the rollup as in the cube;
- measure filters are applied when the rollup is built.

**Freshness.** The registry table :data:`REGISTRY` records, for each rollup
table, the run it was built for and a fingerprint of its definition (the rollup
and every cube it reads). A query reads a rollup only when it was built for the
latest successful run from the definition the model has now; otherwise it reads
the cubes — slower, never stale. Loading sources empties the registry (a rollup
may read a source table), until the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

from custlens.calendar import period_start
from custlens.errors import CustlensError, NotFoundError
from custlens.semantic.model import GRANULARITIES, Cube, Rollup, SemanticModel, join_path
from custlens.sources.contract import SOURCE_PREFIX
from custlens.timing import Step, stage_timed

if TYPE_CHECKING:
    from collections.abc import Callable

    import ibis.expr.types as ir

    from custlens.warehouse import Warehouse

TABLE_PREFIX = "_rollup_"
REGISTRY = "_custlens_rollups"

_NESTS: dict[str, tuple[str, ...]] = {
    "day": ("day", "week", "month", "quarter", "year"),
    "week": ("week",),
    "month": ("month", "quarter", "year"),
    "quarter": ("quarter", "year"),
    "year": ("year",),
}
"""Rollup granularity → the query granularities made of whole periods of it."""


def table_name(cube: str, rollup: str) -> str:
    return f"{TABLE_PREFIX}{cube}__{rollup}"


def _depends_on(model: SemanticModel, cube: Cube, rollup: Rollup) -> set[str]:
    """The cubes a rollup's rows come from: its own and those on the joins to its dimensions."""
    cubes = {cube.name}
    for member in rollup.dimension_members(cube.name):
        for target, _, _ in join_path(model, cube.name, member.partition(".")[0]) or []:
            cubes.add(target)
    return cubes


def fingerprint(model: SemanticModel, cube: Cube, rollup: Rollup) -> str:
    """A digest of the rollup and of every cube whose definition its rows depend on."""
    cubes = _depends_on(model, cube, rollup)
    payload = {
        "rollup": rollup.model_dump(mode="json"),
        # Without the cubes' rollups: editing one rollup does not retire the others.
        "cubes": {
            name: model.cubes[name].model_dump(mode="json", exclude={"rollups"})
            for name in sorted(cubes)
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Available:
    """A built, current rollup and what it stores."""

    cube: str
    rollup: Rollup
    table: str
    raw: frozenset[str]
    """``cube.dimension`` members stored with their own values."""
    truncated: str | None
    """The time dimension when it is stored truncated to the granularity."""
    reads: frozenset[str]
    """The warehouse tables its rows come from."""
    fingerprint: str

    @property
    def reads_sources(self) -> bool:
        return any(name.startswith(SOURCE_PREFIX) for name in self.reads)

    @classmethod
    def of(cls, model: SemanticModel, cube: Cube, rollup: Rollup) -> Available:
        raw = set(rollup.dimension_members(cube.name))
        truncated = None
        if rollup.time_dimension is not None:
            member = f"{cube.name}.{rollup.time_dimension}"
            dim = cube.dimension(rollup.time_dimension)
            if dim is not None and dim.grain == rollup.granularity:
                raw.add(member)
            else:
                truncated = member
        reads = {t for name in _depends_on(model, cube, rollup) for t in model.cubes[name].tables}
        return cls(
            cube.name,
            rollup,
            table_name(cube.name, rollup.name),
            frozenset(raw),
            truncated,
            frozenset(reads),
            fingerprint(model, cube, rollup),
        )

    @property
    def size(self) -> tuple[int, int]:
        """Orders rollups from likely smallest: fewer dimensions, then a coarser grain."""
        grain = GRANULARITIES.index(self.rollup.granularity) if self.rollup.granularity else 9
        return len(self.rollup.dimensions), -grain

    def groups(self, member: str, granularity: str | None) -> bool:
        """Whether a query can group (or filter) by ``member`` at ``granularity``."""
        if member in self.raw:
            return True
        return (
            member == self.truncated
            and granularity is not None
            and granularity in _NESTS[self.rollup.granularity or "day"]
        )

    def ranges(self, member: str, first: date, last: date) -> bool:
        """Whether a date range [first, last] on ``member`` selects whole rows of it."""
        if member in self.raw:
            return True
        if member != self.truncated:
            return False
        unit = self.rollup.granularity or "day"
        starts = first == date.min or period_start(first, unit) == first
        after = last + timedelta(days=1) if last < date.max else None
        ends = after is None or period_start(after, unit) == after
        return starts and ends


def declared(model: SemanticModel) -> list[Available]:
    """Every rollup the model declares, built or not."""
    return [Available.of(model, cube, r) for cube in model.cubes.values() for r in cube.rollups]


def current(warehouse: Warehouse, run_id: str | None, rollups: list[Available]) -> list[Available]:
    """Those of ``rollups`` the registry holds for run ``run_id``, built from the same
    definition (fingerprint).

    One tiny query, compiled once per connection: asked before every query of a model
    that declares rollups, so that a load, a rebuild after a model edit (maybe by
    another process) or rollups built since the run published its facts are seen.
    """
    if run_id is None or not rollups:
        return []

    def build() -> tuple[ir.Table, list[ir.Scalar]]:
        registry = warehouse.table(REGISTRY)
        return registry.select("cube", "rollup", "run_id", "fingerprint"), []

    try:
        rows = warehouse.run_prepared(("rollup registry",), build, [])
    except NotFoundError:  # no rollup was ever built here
        return []
    built = {
        (r["cube"], r["rollup"], r["fingerprint"])
        for r in rows.iter_rows(named=True)
        if r["run_id"] == run_id
    }
    return [a for a in rollups if (a.cube, a.rollup.name, a.fingerprint) in built]


@dataclass
class BuildResult:
    written: dict[str, int]
    """rollup table → rows."""
    skipped: dict[str, str]
    """``cube.rollup`` → why it was not built."""
    profile: list[Step] = field(default_factory=list)
    """Each rollup built, timed (``custlens run --profile``)."""


def build(
    warehouse: Warehouse,
    model: SemanticModel,
    run_id: str,
    rollup_expr: Callable[[Cube, Rollup], ir.Table],
    progress: Callable[[str, str], None] | None = None,
) -> BuildResult:
    """Build every rollup of the model for run ``run_id`` and publish them with the registry.

    ``rollup_expr`` gives a rollup's expression over its cube: the compiler's
    (``Compiler(model, warehouse, rollups=False).rollup_expr``), passed in so that
    this module, which the compiler reads, never builds one itself.

    A rollup whose cube reads a table that is not there (its fact was never
    computed) or whose SQL fails is skipped with the reason; the others are
    built. Queries keep reading the cubes until this returns.
    """
    notify = progress or (lambda name, event: None)
    result = BuildResult({}, {})
    staged: list[str] = []
    records: list[dict[str, str]] = []
    try:
        for cube in model.cubes.values():
            for rollup in cube.rollups:
                label = f"{cube.name}.{rollup.name}"
                step = Step(label, "rollup")
                began = time.perf_counter()
                try:
                    expr = rollup_expr(cube, rollup)
                except CustlensError as exc:
                    result.skipped[label] = str(exc)
                    notify(label, "skipped")
                    continue
                notify(label, "start")
                name = table_name(cube.name, rollup.name)
                try:
                    staged_table = stage_timed(warehouse, name, expr, step, began)
                    counting = time.perf_counter()
                    rows = int(warehouse.scalar(staged_table.count()))
                    step.execute_seconds += time.perf_counter() - counting
                except Exception as exc:  # the cube's SQL fails on the data: skip this one
                    warehouse.discard([name])
                    lines = str(exc).strip().splitlines()
                    result.skipped[label] = lines[0] if lines else type(exc).__name__
                    notify(label, "skipped")
                    continue
                staged.append(name)
                result.written[name] = step.rows = rows
                result.profile.append(step)
                records.append(
                    {
                        "cube": cube.name,
                        "rollup": rollup.name,
                        "table": name,
                        "run_id": run_id,
                        "fingerprint": fingerprint(model, cube, rollup),
                    }
                )
                notify(label, "done")
        if not staged and not warehouse.has(REGISTRY):
            return result  # nothing built, nothing to retire
        warehouse.stage(REGISTRY, _registry(records))
        warehouse.publish([*staged, REGISTRY])
    except Exception:
        warehouse.discard([*staged, REGISTRY])
        raise
    return result


def invalidate(warehouse: Warehouse) -> None:
    """Forget every rollup (their sources are about to change): queries read the cubes."""
    if warehouse.has(REGISTRY):
        warehouse.write_tables({REGISTRY: _registry([])})


def _registry(records: list[dict[str, str]]) -> pl.DataFrame:
    columns = ("cube", "rollup", "table", "run_id", "fingerprint")
    return pl.DataFrame(
        {c: [r[c] for r in records] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    )
