"""The warehouse: atomic multi-table writes on every backend, and a real Postgres warehouse."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import ibis
import polars as pl
import psycopg
import pytest

from custlens.errors import NotFoundError, WarehouseError
from custlens.warehouse import Warehouse, connect
from custlens.workspace import Workspace

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def test_write_tables_replaces_all_or_nothing(make_workspace):
    wh = make_workspace().warehouse
    wh.write_tables({"a": pl.DataFrame({"x": [1, 2]}), "b": pl.DataFrame({"y": ["p"]})})
    assert wh.list_tables() == ["a", "b"]

    class Unwritable:
        """An object no backend can store: the second write must fail."""

    with pytest.raises(WarehouseError, match="writing a, b failed"):
        wh.write_tables({"a": pl.DataFrame({"x": [9]}), "b": Unwritable()})
    # Neither table changed and no staging table is left behind.
    assert wh.to_polars(wh.table("a"))["x"].sort().to_list() == [1, 2]
    assert wh.to_polars(wh.table("b"))["y"].to_list() == ["p"]
    assert wh.list_tables() == ["a", "b"]
    assert not [n for n in wh.con.list_tables() if n.startswith("_stage_")]


def test_rows_where_reads_the_rows_of_the_given_values_and_nothing_else(make_workspace):
    wh = make_workspace().warehouse
    ids = ["C1", "O'Brien", "C2' OR '1'='1", "a\\b", "nul\x00byte"]
    wh.write_tables({"t": pl.DataFrame({"customer_id": [*ids, "C2"], "n": [1, 2, 3, 4, 5, 6]})})
    # A quote in a value is the value (never SQL), a repeated value reads its rows once.
    got = wh.rows_where("t", "customer_id", [*ids, "C1"])
    assert sorted(got["n"].to_list()) == [1, 2, 3, 4, 5]
    assert wh.rows_where("t", "customer_id", ["C2' OR '1'='1"])["n"].to_list() == [3]
    assert wh.rows_where("t", "customer_id", ["nobody"]).height == 0
    assert wh.rows_where("t", "customer_id", []).columns == ["customer_id", "n"]
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        wh.rows_where("nope", "customer_id", ["C1"])
    assert wh.list_tables() == ["t"]


def test_read_gives_every_row_and_the_named_columns_the_table_has(make_workspace):
    wh = make_workspace().warehouse
    wh.write_tables({"t": pl.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]})})
    assert wh.read("t").columns == ["a", "b", "c"]
    # In the table's order; a name it lacks (a column older tables do not have) skipped.
    picked = wh.read("t", ["c", "a", "missing"])
    assert picked.sort("a").to_dict(as_series=False) == {"a": [1, 2], "c": [0.5, 1.5]}
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        wh.read("nope", ["a"])


def test_an_in_memory_table_reaches_duckdb_as_it_is(tmp_path):
    # Through Parquet into a temporary table (no pandas): the same values and types,
    # a column of nulls included, and nothing among the warehouse's tables.
    wh = connect("duckdb:///w.duckdb", tmp_path)
    rows = pl.DataFrame(
        {
            "day": [date(2024, 2, 29), None],
            "at": [datetime(2024, 1, 1, 9, 30), None],
            "amount": [1.5, -2.0],
            "n": [1, None],
            "name": ["O'Brien", None],
            "tags": [["a", "b"], []],
        }
    )
    assert wh.to_polars(ibis.memtable(rows)).equals(rows)
    nulls = pl.DataFrame({"x": [1, 2], "nothing": [None, None]})
    assert wh.to_polars(ibis.memtable(nulls))["x"].to_list() == [1, 2]
    wh.stage("t", rows)
    wh.publish(["t"])
    assert wh.read("t").equals(rows)
    assert wh.list_tables() == ["t"]
    wh.close()


def test_missing_table_is_not_found(make_workspace):
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        make_workspace().warehouse.table("nope")


def test_unknown_url_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match="unknown warehouse URL 'mysql://x'"):
        connect("mysql://x", tmp_path)


@pytest.fixture
def pg_schema():
    name = f"custlens_wh_{uuid.uuid4().hex[:8]}"
    try:
        conn = psycopg.connect(POSTGRES, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    conn.execute(f"CREATE SCHEMA {name}")
    yield name
    conn.execute(f"DROP SCHEMA {name} CASCADE")
    conn.close()


@pytest.mark.postgres
def test_pipeline_on_a_postgres_warehouse(tmp_path, pg_schema):
    (tmp_path / "custlens.yml").write_text(f"warehouse: {POSTGRES}?schema={pg_schema}\n")
    lines = pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "period_start": [date(2024, 1, 1), date(2024, 2, 1)],
            "period_end": [date(2025, 1, 1), date(2024, 3, 1)],
            "amount": [1200.0, 40.0],
        }
    )
    with Workspace(tmp_path) as ws:
        ws.load({"subscription_lines": lines})
        ws.run(as_of=date(2024, 3, 1))
        growth = ws.table("growth_summary").sort("month")
        # Prepared queries bind through Ibis here (run_prepared's fallback).
        assert ws.last_run_as_of() == date(2024, 3, 31)
        wh = ws.warehouse

        def build():
            t, p = wh.table("src_subscription_lines"), ibis.param("string")
            return t.filter(t.customer_id == p).select("customer_id", "amount"), [p]

        for cid, amount in (("a", 1200.0), ("b", 40.0)):
            got = wh.run_prepared(("lines",), build, [cid])
            assert got.rows() == [(cid, amount)]
    # a pays 100 a month all year; b pays 40 in February only.
    assert growth["ending_mrr"].to_list() == [100.0, 140.0, 100.0]
    assert growth["churn_mrr"].to_list() == [0.0, 0.0, 40.0]
    with psycopg.connect(POSTGRES) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (pg_schema,),
            )
        }
    assert {"growth_summary", "mrr_movements", "src_subscription_lines"} <= tables


PEOPLE = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c", "x' OR '1'='1"],
        "amount": [1.5, 2.0, None, 4.0],
        "seen_at": [
            datetime(2024, 1, 2, 3, 4, 5),
            None,
            datetime(2024, 6, 1),
            datetime(2023, 1, 1),
        ],
        "day": [date(2024, 1, 2), date(2024, 2, 3), None, date(2023, 1, 1)],
    }
)


def _by_ids(wh: Warehouse, calls: list[int], count: int):
    def build():
        calls.append(count)
        t = wh.table("people")
        params = [ibis.param("string") for _ in range(count)]
        # A parameter used twice, and a union of one filter per id.
        parts = [t.filter((t.customer_id == p) | (t.customer_id == p.upper())) for p in params]
        return ibis.union(*parts, distinct=False) if count > 1 else parts[0], params

    return build


def test_run_prepared_binds_values_into_a_query_compiled_once(make_workspace):
    wh = make_workspace().warehouse
    wh.write_tables({"people": PEOPLE})
    calls: list[int] = []
    t = wh.table("people")
    for ids in (["a"], ["c"], ["b", "c"], ["c", "a"], ["zz", "b"]):
        got = wh.run_prepared(("people", len(ids)), _by_ids(wh, calls, len(ids)), ids)
        # The same frame, types included, as the expression with the values as literals.
        expected = wh.to_polars(t.filter(t.customer_id.isin(ids)))
        assert got.schema == expected.schema
        assert got.sort("customer_id").equals(expected.sort("customer_id")), ids
    assert calls == [1, 2]  # built once per key
    # A value is bound, never pasted into the SQL: quotes in it change nothing.
    hit = wh.run_prepared(("people", 1), _by_ids(wh, calls, 1), ["x' OR '1'='1"])
    assert hit["customer_id"].to_list() == ["x' OR '1'='1"]
    if wh.kind == "duckdb":
        sql = wh._prepared[("people", 1)].sql
        assert sql is not None and "$1" in sql and "custlens-param" not in sql
    assert calls == [1, 2]


def test_run_prepared_builds_again_after_this_connection_writes(make_workspace):
    wh = make_workspace().warehouse
    wh.write_tables({"people": PEOPLE})
    calls: list[int] = []
    before = wh.run_prepared(("people", 1), _by_ids(wh, calls, 1), ["a"])
    assert before.columns == ["customer_id", "amount", "seen_at", "day"]
    # The table is replaced with another schema and other rows.
    wh.write_tables({"people": pl.DataFrame({"customer_id": ["a", "a"], "n": [7, 8]})})
    after = wh.run_prepared(("people", 1), _by_ids(wh, calls, 1), ["a"])
    assert calls == [1, 1]
    assert after.columns == ["customer_id", "n"]
    assert sorted(after["n"].to_list()) == [7, 8]


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_run_prepared_checks_its_parameters(make_workspace):
    wh = make_workspace().warehouse
    wh.write_tables({"people": PEOPLE})
    with pytest.raises(ValueError, match="takes 2 values, got 1"):
        wh.run_prepared(("people", 2), _by_ids(wh, [], 2), ["a"])

    def numeric():
        t = wh.table("people")
        p = ibis.param("float64")
        return t.filter(t.amount == p), [p]

    with pytest.raises(TypeError, match="string parameters"):
        wh.run_prepared(("amount",), numeric, ["1.5"])


def test_a_file_held_by_another_process_is_an_error_naming_it(tmp_path) -> None:
    # DuckDB lets one process write a file; a second gets a raw lock error. After
    # the wait, custlens says who holds it and what to do.
    import subprocess
    import sys

    from custlens.errors import WarehouseError
    from custlens.warehouse.duckdb import _connect

    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "c.execute('CREATE TABLE t (a INT)'); print('ready', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError) as refused:
            _connect(str(path), {}, wait=0.3)
    finally:
        holder.kill()
        holder.wait()
    message = str(refused.value)
    assert f"in use by process {holder.pid}" in message
    assert "waited 0.3 s" in message and "custlens serve" in message
