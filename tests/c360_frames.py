"""Source frames as the loader leaves them, for the Customer 360 tests."""

from __future__ import annotations

import polars as pl

from custlens.sources.contract import TABLES
from custlens.sources.load import POLARS_TYPES


def as_loaded(table: str, rows: list[dict]) -> pl.DataFrame:
    """A typed source frame with every contract column; columns absent from rows are null."""
    schema = {c.name: POLARS_TYPES[c.type] for c in TABLES[table].columns}
    present = {k for row in rows for k in row}
    frame = pl.DataFrame(
        [{k: row.get(k) for k in schema if k in present} for row in rows],
        schema={k: v for k, v in schema.items() if k in present},
        orient="row" if not rows else None,
    )
    return frame.with_columns(
        pl.lit(c.default, dtype=schema[c.name]).alias(c.name)
        for c in TABLES[table].columns
        if c.name not in frame.columns
    ).select(list(schema))
