"""Checksums of the loaded sources, per partition: made once, as a source is loaded,
written beside it in the same atomic write, and read by every run.

A run records what its inputs were: rows and a checksum per source, in the run log.
Computed from the stored rows on every run, that took 1.5 s of a run at 13.6 M rows
(every cell cast to text and hashed by the engine); made by Polars from the frame a
load has in memory anyway, it costs the load about 0.5 s once.

Each source's rows are split into partitions — the month of the table's first
required date (``month`` of ``customer_mrr``, ``created_at`` of ``transactions``;
none for ``customers``) and one of :data:`BUCKETS` buckets of its ``customer_id`` —
so that the checksums also tell which months and which customers changed between
two loads. A checksum is the sum of its rows' hashes: it does not depend on the
order of the rows. It compares only with one made the same way (:data:`METHOD`:
Polars promises its hashes within one version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

import polars as pl

from custlens.errors import NotFoundError
from custlens.sources.contract import SOURCE_PREFIX, TABLES, Table

if TYPE_CHECKING:
    from custlens.warehouse import Warehouse

CHECKSUMS_TABLE = "_custlens_source_checksums"
"""One row per source and partition (month, bucket): rows and checksum."""
RUN_CHECKSUMS_TABLE = "_custlens_run_checksums"
"""The checksums of the sources the latest full run read, published with its facts:
what the next run compares the sources with."""
BUCKETS = 64
METHOD = f"polars {pl.__version__} struct hash, seed 0"
"""How a checksum was made; two checksums made otherwise cannot be compared."""
SCHEMA = {
    "source": pl.String,
    "month": pl.Date,
    "bucket": pl.Int32,
    "rows": pl.Int64,
    "checksum": pl.Int64,
    "method": pl.String,
}
_HASH_SHIFT = 33
"""A row's 64-bit hash shifted to 31 bits, so that the sum of any partition's rows
(up to 2^32 of them) fits in 64 bits."""


def stored(warehouse: Warehouse, table: str = CHECKSUMS_TABLE) -> pl.DataFrame | None:
    """The checksums ``table`` holds (the loads', or with :data:`RUN_CHECKSUMS_TABLE` the
    latest full run's); None before the first load or full run wrote it."""
    try:
        return warehouse.read(table)
    except NotFoundError:
        return None


def month_column(table: Table) -> str | None:
    """The column whose month partitions ``table``: its first required date, month or
    timestamp column (None: the table is not dated)."""
    dated = (c for c in table.columns if c.required and c.type in ("date", "month", "timestamp"))
    return next((c.name for c in dated), None)


def partition_checksums(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows and checksum of each partition of ``frame``, a validated frame of the contract
    table ``table`` as it is written to the warehouse (:data:`SCHEMA`)."""
    dated = month_column(TABLES[table])
    month = (
        pl.col(dated).dt.truncate("1mo").cast(pl.Date)
        if dated is not None and dated in frame.columns
        else pl.lit(None, pl.Date)
    )
    bucket = (
        (pl.col("customer_id").hash(seed=0) % BUCKETS).cast(pl.Int32)
        if "customer_id" in frame.columns
        else pl.lit(None, pl.Int32)
    )
    row_hash = pl.struct(pl.all()).hash(seed=0) // (1 << _HASH_SHIFT)
    return (
        frame.lazy()
        .group_by(month=month, bucket=bucket)
        .agg(rows=pl.len().cast(pl.Int64), checksum=row_hash.cast(pl.Int64).sum())
        .select(
            source=pl.lit(table, pl.String),
            month="month",
            bucket="bucket",
            rows="rows",
            checksum="checksum",
            method=pl.lit(METHOD, pl.String),
        )
        .sort("month", "bucket", nulls_last=True)
        .collect()
    )


def merged(previous: pl.DataFrame | None, loaded: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """The checksums after a load: ``previous`` for the sources not loaded again, and the
    partitions of each frame of ``loaded`` (contract table name → validated frame)."""
    kept = (
        previous.filter(~pl.col("source").is_in(list(loaded))).select(list(SCHEMA))
        if previous is not None
        else pl.DataFrame(schema=SCHEMA)
    )
    new = [partition_checksums(name, frame) for name, frame in loaded.items()]
    return pl.concat([kept.cast(SCHEMA), *new], how="vertical")  # type: ignore[arg-type]


def totals(stored: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Rows and checksum of each whole source (its partitions summed), by warehouse name
    (``src_<table>``)."""
    summed = stored.group_by("source").agg(pl.col("rows").sum(), pl.col("checksum").sum())
    return {
        SOURCE_PREFIX + row["source"]: {"rows": int(row["rows"]), "checksum": int(row["checksum"])}
        for row in summed.iter_rows(named=True)
    }


Status = Literal["new", "unchanged", "changed", "not compared"]


@dataclass
class Change:
    """How one source changed since the latest full run."""

    status: Status
    """``new``: the run before did not read it; ``not compared``: its checksums were
    made another way (another Polars version) or not at all (written around a load)."""
    months: list[date] = field(default_factory=list)
    """The months with a row added, removed or changed (a dated source)."""
    buckets: list[int] = field(default_factory=list)
    """The customer buckets with a row added, removed or changed."""

    def describe(self) -> str:
        """In a few words: ``months 2025-11, 2025-12; 3 of 64 customer buckets``."""
        if self.status != "changed":
            return self.status
        parts = []
        if self.months:
            shown = ", ".join(m.strftime("%Y-%m") for m in self.months[:6])
            more = f" and {len(self.months) - 6} more" if len(self.months) > 6 else ""
            parts.append(f"month{'s' if len(self.months) > 1 else ''} {shown}{more}")
        if self.buckets:
            parts.append(f"{len(self.buckets)} of {BUCKETS} customer buckets")
        return "; ".join(parts) or "changed"


def changes(
    previous: pl.DataFrame | None, current: pl.DataFrame, sources: list[str]
) -> dict[str, Change]:
    """How each of ``sources`` (contract table names) changed between the checksums
    ``previous`` (of the latest full run, None before the first) and ``current``.

    A source absent from ``current`` is ``not compared``; one absent from
    ``previous`` is ``new``. Partitions are compared by rows and checksum: one that
    appears, disappears or differs names its month and its bucket.
    """
    found: dict[str, Change] = {}
    for source in sources:
        now = current.filter(pl.col("source") == source)
        before = (
            previous.filter(pl.col("source") == source) if previous is not None else now.clear()
        )
        methods = set(now["method"]) | set(before["method"])
        if now.is_empty() or methods - {METHOD}:
            found[source] = Change("not compared")
        elif before.is_empty():
            found[source] = Change("new")
        else:
            found[source] = _compared(before, now)
    return found


def _compared(before: pl.DataFrame, now: pl.DataFrame) -> Change:
    keys = ["month", "bucket"]
    joined = now.select(*keys, "rows", "checksum").join(
        before.select(*keys, "rows", "checksum"),
        on=keys,
        how="full",
        coalesce=True,
        nulls_equal=True,
        suffix="_before",
    )
    differ = joined.filter(
        pl.col("rows").ne_missing(pl.col("rows_before"))
        | pl.col("checksum").ne_missing(pl.col("checksum_before"))
    )
    if differ.is_empty():
        return Change("unchanged")
    months = sorted(m for m in differ["month"].unique().to_list() if m is not None)
    buckets = sorted(b for b in differ["bucket"].unique().to_list() if b is not None)
    return Change("changed", months, buckets)
