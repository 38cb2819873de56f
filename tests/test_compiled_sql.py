"""Compiled SQL is remembered by what the expression is (custlens.warehouse.compiled).

One fingerprint must mean one SQL: any difference in the expression — a literal
(1, 1.0, True and "1" apart), a column, a type, a table's name, namespace or
schema — changes the fingerprint, and in-memory data is never fingerprinted. A second run
reuses the first run's SQL and writes the same facts.
"""

from __future__ import annotations

from datetime import date

import ibis
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from custlens.warehouse.compiled import CompiledSql, fingerprint
from custlens.workspace import Workspace

SCHEMA = {"customer_id": "string", "month": "date", "mrr": "float64"}


def monthly(
    schema: dict[str, str] = SCHEMA,
    name: str = "src_customer_mrr",
    since: date = date(2024, 1, 1),
    database: str | None = None,
) -> ibis.Table:
    t = ibis.table(schema, name=name, database=database)
    t = t.filter(t.month >= since, t.customer_id.isin(["a", "b"]))
    return t.group_by("month").aggregate(mrr=t.mrr.sum(), customers=t.customer_id.nunique())


def test_the_same_expression_built_twice_has_one_fingerprint() -> None:
    assert fingerprint(monthly()) is not None
    assert fingerprint(monthly()) == fingerprint(monthly())


@pytest.mark.parametrize(
    "other",
    [
        lambda: monthly(since=date(2024, 2, 1)),  # a literal
        lambda: monthly(name="src_other"),  # a table's name
        lambda: monthly(database="main"),  # its namespace
        lambda: monthly({**SCHEMA, "mrr": "float32"}),  # a column's type
        lambda: monthly({**SCHEMA, "extra": "int64"}),  # its schema
        lambda: monthly().mutate(x=1),  # the expression
        lambda: monthly().mutate(x=1.0),  # 1 and 1.0 are other SQL
        lambda: monthly().mutate(x=True),
        lambda: monthly().mutate(x=ibis.literal("1")),
    ],
)
def test_any_difference_in_the_expression_changes_the_fingerprint(other) -> None:
    assert fingerprint(other()) != fingerprint(monthly())


def test_in_memory_data_is_never_fingerprinted() -> None:
    rows = ibis.memtable(pl.DataFrame({"customer_id": ["a"]}))
    assert fingerprint(monthly().cross_join(rows)) is None


def test_a_remembered_compile_is_the_compile() -> None:
    cache = CompiledSql("duckdb")
    calls: list[object] = []

    def compile(expr: ibis.Table) -> str:
        calls.append(expr)
        return ibis.to_sql(expr, dialect="duckdb")

    first = cache.compile(monthly(), compile)
    again = cache.compile(monthly(), compile)
    assert first == again == ibis.to_sql(monthly(), dialect="duckdb")
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    cache.compile(monthly(since=date(2020, 1, 1)), compile)
    assert len(calls) == 2


def test_a_second_run_reuses_the_sql_and_writes_the_same_facts(tmp_path) -> None:
    from custlens.warehouse.compiled import cache_for

    with Workspace.init(tmp_path / "ws") as ws:
        ws.generate(customers=40, months=12, seed=2)
        only = ["growth_summary", "customer_count", "rfm"]
        first = ws.run(only=only)

        def rows(name: str) -> pl.DataFrame:
            return ws.table(name).drop("_run_id").sort(pl.all())

        tables = {name: rows(name) for name in first.written}
        hits = cache_for("duckdb").hits
        second = ws.run(only=only)
        # Every fact but the one holding in-memory data (customer_count's balance).
        assert cache_for("duckdb").hits - hits >= len(second.written) - 1
        for name in second.written:
            # DuckDB sums in parallel, in any order: floats agree to rounding.
            assert_frame_equal(rows(name), tables[name], rel_tol=1e-12, abs_tol=1e-9)
            assert set(ws.table(name)["_run_id"]) == {second.run_id}, name


def test_the_next_process_starts_with_the_sql_the_last_run_used(tmp_path) -> None:
    from custlens.warehouse import compiled

    folder = tmp_path / "ws"
    only = ["growth_summary", "rfm"]
    with Workspace.init(folder) as ws:
        ws.generate(customers=40, months=12, seed=2)
        ws.run(only=only)
    saved = folder / ".custlens" / "compiled-sql.json"
    assert saved.exists()

    compiled._CACHES.clear()  # as a new process has it
    with Workspace(folder) as ws:
        ws.run(only=only)
        cache = compiled.cache_for("duckdb")
        assert cache.hits >= 3  # customer_mrr, mrr_movements, growth_summary, rfm, …
        first = cache.misses

    compiled._CACHES.clear()
    saved.write_text("{not json", encoding="utf-8")  # a broken file is only a miss
    with Workspace(folder) as ws:
        ws.run(only=only)
        assert compiled.cache_for("duckdb").hits == 0
        assert compiled.cache_for("duckdb").misses > first
