"""Runs the facts in dependency order, writes them atomically, records the run.

A run computes every fact whose inputs are present into staging tables, then
publishes all of them, together with its record in ``_custlens_runs``, in one
swap. A failure before the swap leaves the previous facts in place and records
the failed run. Each fact row carries the ``_run_id`` of the run that wrote it.

A fact that fits a model (``clv_predictions``) reads its per-customer input
through ``FactContext.materialise`` and reports the fitted parameters in
``FactContext.notes``; the run record keeps them as JSON in its ``notes``
column, by fact. When the data cannot support the model (``ModelFitError``),
the fact is skipped with the reason, unless the run named it in ``only``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import polars as pl

from custlens.calendar import as_of_month, index_of, month_end, month_index
from custlens.config import Config
from custlens.errors import CustlensError, ModelFitError, NotFoundError, PipelineError
from custlens.facts import REGISTRY, Fact, FactContext, ordered
from custlens.facts.exchange import in_reporting_currency
from custlens.runlog import RUN_ID_COLUMN, RUNS_TABLE
from custlens.sources import checksums
from custlens.sources.contract import SOURCE_PREFIX, TABLES
from custlens.timing import Step, stage_timed
from custlens.version import __version__

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.warehouse import Warehouse

Progress = Callable[[str, str], None]
"""Called with (fact name, event) where event is "start", "done" or "skipped"."""


@dataclass
class RunResult:
    """What a run did."""

    run_id: str
    as_of: date | None
    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, dict[str, object]] = field(default_factory=dict)
    """What facts reported about themselves (fitted model parameters), by fact."""
    rollups: dict[str, int] = field(default_factory=dict)
    """Rollup tables of the semantic model built after the facts, with their rows."""
    rollups_skipped: dict[str, str] = field(default_factory=dict)
    """Rollups not built (``cube.rollup``, or ``rollups`` for a broken model), and why."""
    currency: str | None = None
    """The reporting currency every amount of the facts is in (None before it was
    decided: a run that failed early)."""
    status: str = "succeeded"
    seconds: float = 0.0
    profile: list[Step] = field(default_factory=list)
    """Each step of the run in order, timed (``custlens run --profile``)."""
    changes: dict[str, checksums.Change] = field(default_factory=dict)
    """How each source changed since the latest full run, by contract name."""


def default_as_of_month(warehouse: Warehouse, today: date | None = None) -> date | None:
    """The last month with any MRR or transaction, never later than today's month.

    For subscription lines this is the month of the latest period start: the
    last month that was billed. (An annual line billed last month covers
    eleven more months; taking its end would put the as-of date a year ahead
    of the data, with every monthly customer churned.)

    Returns the first day of that month, or None when there is no revenue data.
    """
    today = today or date.today()
    candidates: list[int] = []
    queries: list[ir.Scalar] = []
    if warehouse.has(SOURCE_PREFIX + "subscription_lines"):
        lines = warehouse.table(SOURCE_PREFIX + "subscription_lines")
        recurring = lines.filter(lines.kind.fill_null("recurring") == "recurring")
        queries.append(month_index(recurring.period_start).max())
    if warehouse.has(SOURCE_PREFIX + "customer_mrr"):
        given = warehouse.table(SOURCE_PREFIX + "customer_mrr")
        queries.append(month_index(given.month).max(where=given.mrr > 0))
    if warehouse.has(SOURCE_PREFIX + "transactions"):
        tx = warehouse.table(SOURCE_PREFIX + "transactions")
        queries.append(month_index(tx.created_at.date()).max())
    for query in queries:
        value = warehouse.scalar(query)
        if value is not None and value == value:  # skip null and NaN
            candidates.append(int(value))
    if not candidates:
        return None
    last = min(max(candidates), index_of(today))
    return date(last // 12, last % 12 + 1, 1)


def run(
    warehouse: Warehouse,
    config: Config,
    as_of: date | None = None,
    progress: Progress | None = None,
    today: date | None = None,
    only: Iterable[str] | None = None,
) -> RunResult:
    """Compute every fact whose inputs are loaded and publish them in one swap.

    Args:
        warehouse: where sources are read and facts written.
        config: the workspace settings.
        as_of: first day of the as-of month; default: the config's, else
            :func:`default_as_of_month`.
        progress: told when each fact starts, ends or is skipped.
        today: the date that caps the default as-of (for tests).
        only: compute just these facts and the facts they read; the other
            facts keep their previous tables.

    Raises:
        PipelineError: a fact failed; nothing was published and the run is
            recorded as failed.
    """
    started = datetime.now(UTC).replace(tzinfo=None)
    clock = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    month = as_of_month(
        as_of, None, config.as_of_month(), lambda: default_as_of_month(warehouse, today)
    )
    result = RunResult(run_id, month)
    notify = progress or (lambda name, event: None)

    sources = {
        name: warehouse.table(name)
        for name in warehouse.list_tables()
        if name.startswith(SOURCE_PREFIX) and name[len(SOURCE_PREFIX) :] in TABLES
    }
    clock_inputs = time.perf_counter()
    inputs, read_checksums = fingerprints(warehouse, sources)
    result.changes = _with_changes(warehouse, inputs, read_checksums)
    result.profile.append(
        Step(
            "input checksums and changes",
            "inputs",
            execute_seconds=time.perf_counter() - clock_inputs,
            rows=len(inputs),
        )
    )
    tables: dict[str, ir.Table] = dict(sources)
    staged: list[str] = []
    try:
        money = in_reporting_currency(tables, config, warehouse.to_polars)
        tables.update(money.tables)
        result.currency = money.reporting
        for f in ordered(selected(only)):
            gaps = f.missing(tables)
            if month is None and not gaps:
                gaps = ["revenue data to set the as-of month (load MRR or transactions)"]
            if gaps:
                result.skipped[f.name] = "needs " + ", ".join(gaps)
                notify(f.name, "skipped")
                continue
            notify(f.name, "start")
            assert month is not None
            ctx = FactContext(
                tables,
                month_end(month),
                config,
                collect=warehouse.to_polars,
                currency=money.reporting,
            )
            step = Step(f.name, "fact")
            began = time.perf_counter()
            try:
                expr = f.build(ctx)
            except ModelFitError as exc:
                # Too little data for a model is a gap in the data, like a missing
                # input: skip it, unless the run was asked for this fact by name.
                if only is not None and f.name in set(only):
                    raise
                result.skipped[f.name] = f"model not fitted: {exc}"
                notify(f.name, "skipped")
                continue
            tables[f.name] = stage_timed(
                warehouse, f.name, expr, step, began, (RUN_ID_COLUMN, run_id)
            )
            if ctx.notes:
                result.notes[f.name] = ctx.notes
            staged.append(f.name)
            result.profile.append(step)
            notify(f.name, "done")
        counting = time.perf_counter()
        # One query for every count: on Spark each query is a job of its own (~0.3 s).
        rows = row_counts(warehouse, {name: tables[name] for name in staged})
        for step in result.profile:
            if step.kind == "fact":
                result.written[step.name] = step.rows = rows[step.name]
        result.profile.append(
            Step("count rows", "publish", execute_seconds=time.perf_counter() - counting)
        )
        publishing = time.perf_counter()
        result.seconds = publishing - clock
        record = _record(result, started, inputs)
        warehouse.stage(RUNS_TABLE, _with_history(warehouse, record))
        if only is None:
            # What the next run compares its sources with. A run of some facts leaves
            # the others computed from older sources, so only a full run sets it.
            warehouse.stage(checksums.RUN_CHECKSUMS_TABLE, read_checksums)
            staged.append(checksums.RUN_CHECKSUMS_TABLE)
        warehouse.publish([*staged, RUNS_TABLE])
        result.profile.append(
            Step("publish", "publish", execute_seconds=time.perf_counter() - publishing)
        )
        result.seconds = time.perf_counter() - clock
    except Exception as exc:
        warehouse.discard([*staged, RUNS_TABLE])
        result.status = "failed"
        result.seconds = time.perf_counter() - clock
        failed = _record(result, started, inputs, error=str(exc))
        try:
            warehouse.write_tables({RUNS_TABLE: _with_history(warehouse, failed)})
        except CustlensError:
            pass  # the original error is the one worth reporting
        if isinstance(exc, CustlensError):
            raise
        raise PipelineError(
            f"run {run_id} failed: {exc}; the previous facts are unchanged"
        ) from exc
    return result


def selected(only: Iterable[str] | None) -> dict[str, Fact]:
    """The registered facts named in ``only`` and every fact they read, or all of them.

    Raises:
        NotFoundError: a name that is not a fact; the message lists the facts.
    """
    if only is None:
        return dict(REGISTRY)
    chosen: dict[str, Fact] = {}
    pending = list(only)
    while pending:
        name = pending.pop()
        if name not in REGISTRY:
            raise NotFoundError(f"no fact {name!r}; facts: {', '.join(sorted(REGISTRY))}")
        if name not in chosen:
            chosen[name] = REGISTRY[name]
            pending.extend(dep for dep in REGISTRY[name].inputs if dep in REGISTRY)
    return chosen


def fingerprints(
    warehouse: Warehouse, tables: dict[str, ir.Table]
) -> tuple[dict[str, dict[str, Any]], pl.DataFrame]:
    """Row count and a content checksum of each input, so a run can be traced to its
    data, and the partition checksums they come from.

    A source's checksums were made as it was loaded (:mod:`custlens.sources.checksums`)
    and are read back; they are trusted while the source holds as many rows as they
    count. A source written otherwise (around ``load``) is checksummed by the engine,
    and has no partition checksums.
    """
    found: dict[str, dict[str, int]] = {}
    trusted = pl.DataFrame(schema=checksums.SCHEMA)
    stored = checksums.stored(warehouse) if tables else None
    if stored is not None:
        whole = checksums.totals(stored)
        counts = row_counts(warehouse, {n: t for n, t in tables.items() if n in whole})
        found = {n: whole[n] for n, rows in counts.items() if whole[n]["rows"] == rows}
        short = [n[len(SOURCE_PREFIX) :] for n in found]
        trusted = stored.filter(pl.col("source").is_in(short)).cast(checksums.SCHEMA)  # type: ignore[arg-type]
    computed = _engine_fingerprints(warehouse, {n: t for n, t in tables.items() if n not in found})
    everything = {**found, **computed}
    return {name[len(SOURCE_PREFIX) :]: dict(everything[name]) for name in tables}, trusted


def _with_changes(
    warehouse: Warehouse, inputs: dict[str, dict[str, Any]], trusted: pl.DataFrame
) -> dict[str, checksums.Change]:
    """How each source changed since the latest full run (recorded in ``inputs``)."""
    previous = checksums.stored(warehouse, checksums.RUN_CHECKSUMS_TABLE)
    found = checksums.changes(previous, trusted, list(inputs))
    for name, change in found.items():
        inputs[name]["since_last_run"] = change.status
        if change.months:
            inputs[name]["changed_months"] = [m.strftime("%Y-%m") for m in change.months]
        if change.buckets:
            inputs[name]["changed_buckets"] = change.buckets
    return found


def _engine_fingerprints(
    warehouse: Warehouse, tables: dict[str, ir.Table]
) -> dict[str, dict[str, int]]:
    """Row count and checksum of each table, computed by the engine from every cell."""
    parts: dict[str, ir.Table] = {}
    for name, table in tables.items():
        # The checksum is order-independent and stays small enough to sum on any engine.
        cells = [table[c].cast("string").fill_null("∅") for c in table.columns]
        row_hash = cells[0].concat(*cells[1:])
        parts[name] = table.aggregate(
            rows=table.count().cast("int64"),
            checksum=(row_hash.hash() % 1_000_003).abs().sum().cast("int64"),
        )
    return {
        name: {"rows": int(row["rows"]), "checksum": int(row["checksum"] or 0)}
        for name, row in _per_table(warehouse, parts).items()
    }


def row_counts(warehouse: Warehouse, tables: dict[str, ir.Table]) -> dict[str, int]:
    """The rows of each table, in one query."""
    parts = {name: t.aggregate(rows=t.count().cast("int64")) for name, t in tables.items()}
    return {name: int(row["rows"]) for name, row in _per_table(warehouse, parts).items()}


def _per_table(warehouse: Warehouse, aggregates: dict[str, ir.Table]) -> dict[str, dict]:
    """The one-row ``aggregates`` of several tables, read in one query: name → row.

    On Spark each query is a job of its own (~0.3 s), so a run asks once, not per table.
    """
    if not aggregates:
        return {}
    parts = [agg.mutate(_table=ibis.literal(name)) for name, agg in aggregates.items()]
    values = warehouse.to_polars(ibis.union(*parts))
    return {row.pop("_table"): row for row in values.iter_rows(named=True)}


def _record(
    result: RunResult,
    started: datetime,
    inputs: dict[str, dict[str, int]],
    error: str | None = None,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [result.run_id],
            "started_at": [started],
            "finished_at": [datetime.now(UTC).replace(tzinfo=None)],
            "as_of": [month_end(result.as_of) if result.as_of else None],
            "status": [result.status],
            "inputs": [json.dumps(inputs, sort_keys=True)],
            "facts": [json.dumps(result.written, sort_keys=True)],
            "skipped": [json.dumps(result.skipped, sort_keys=True)],
            "error": [error],
            "version": [__version__],
            "notes": [json.dumps(result.notes, sort_keys=True)],
            "currency": [result.currency],
        },
        schema={
            "run_id": pl.String,
            "started_at": pl.Datetime("us"),
            "finished_at": pl.Datetime("us"),
            "as_of": pl.Date,
            "status": pl.String,
            "inputs": pl.String,
            "facts": pl.String,
            "skipped": pl.String,
            "error": pl.String,
            "version": pl.String,
            "notes": pl.String,
            "currency": pl.String,
        },
    )


def _with_history(warehouse: Warehouse, record: pl.DataFrame) -> pl.DataFrame:
    if not warehouse.has(RUNS_TABLE):
        return record
    history = warehouse.to_polars(warehouse.table(RUNS_TABLE))
    # Runs recorded before a column existed get it empty.
    missing = [name for name in record.columns if name not in history.columns]
    history = history.with_columns(pl.lit(None).alias(name) for name in missing)
    history = history.select(record.columns).cast(record.schema)  # type: ignore[arg-type]
    return pl.concat([history, record])
