"""The run log: the table with one row per ``custlens run`` (its id, as-of month,
reporting currency, status, timings), and the latest successful run, which
every command that reads facts asks for."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from custlens.errors import NotFoundError

if TYPE_CHECKING:
    from custlens.warehouse import Warehouse

RUNS_TABLE = "_custlens_runs"
RUN_ID_COLUMN = "_run_id"
"""The column of every fact naming the run that wrote its rows."""
LATEST_COLUMNS = ("run_id", "started_at", "as_of", "status", "currency")
"""What :func:`latest` reads of the run log (``currency`` only where runs recorded it)."""


def latest(warehouse: Warehouse) -> tuple[str | None, date | None, str | None]:
    """Id, as-of date and reporting currency of the latest successful run (the
    currency None when the run predates it); all None before the first.

    The run log's few columns this needs are read (a row per run; not the runs' notes
    and inputs, kilobytes each, on every query a server answers) and searched here:
    one plain read, which needs no query compiler.
    """
    try:
        runs = warehouse.read(RUNS_TABLE, LATEST_COLUMNS)
    except NotFoundError:
        return None, None, None
    done = runs.filter(pl.col("status") == "succeeded")
    if done.is_empty():
        return None, None, None
    newest = done.row(done["started_at"].arg_max() or 0, named=True)
    # Runs recorded before custlens kept the currency have no such column.
    return newest["run_id"], newest["as_of"], newest.get("currency")
