"""Where a run's time goes: a :class:`Step` per fact, rollup or bookkeeping stage
(``custlens run --profile``), and :func:`stage_timed`, which compiles, stages and
times one table. The pipeline (facts) and the semantic layer (rollups) both use it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.warehouse import Warehouse


@dataclass
class Step:
    """Where a run's time went: one fact, rollup or bookkeeping step (``--profile``)."""

    name: str
    kind: str
    """fact, rollup, inputs (the input checksums and changes) or publish (counting the staged
    facts' rows in one query, writing the run record and the swap)."""
    build_seconds: float = 0.0
    """Building the Ibis expression; a model fact reads its input and fits here."""
    compile_seconds: float = 0.0
    """Compiling the expression to the backend's SQL."""
    execute_seconds: float = 0.0
    """Executing the SQL into the staging table (a rollup: and counting its rows)."""
    rows: int | None = None

    @property
    def seconds(self) -> float:
        return self.build_seconds + self.compile_seconds + self.execute_seconds


def stage_timed(
    warehouse: Warehouse,
    name: str,
    expr: ir.Table,
    step: Step,
    began: float,
    constant: tuple[str, str] | None = None,
) -> ir.Table:
    """Compile ``expr`` once and stage it as ``name``, timing both into ``step``.

    Args:
        began: when building ``expr`` started (``time.perf_counter()``): the time
            since then is the step's build time.
        constant: a (column, value) to add to every row (the run id), outside the
            SQL that is remembered (:meth:`Warehouse.compile_with_constant`).
    """
    compiled = time.perf_counter()
    step.build_seconds = compiled - began
    if constant is None:
        sql = warehouse.compile(expr)
    else:
        column, value = constant
        sql = warehouse.compile_with_constant(expr, column, value)
        import ibis

        expr = expr.mutate(**{column: ibis.literal(value)})
    executed = time.perf_counter()
    step.compile_seconds = executed - compiled
    table = warehouse.stage(name, expr, sql=sql)
    step.execute_seconds = time.perf_counter() - executed
    return table
