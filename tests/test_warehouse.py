"""The warehouse: atomic multi-table writes on every backend, and a real Postgres warehouse."""

from __future__ import annotations

import uuid
from datetime import date

import polars as pl
import psycopg
import pytest

from custlens.errors import NotFoundError, WarehouseError
from custlens.warehouse import Warehouse
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


def test_missing_table_is_not_found(make_workspace):
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        make_workspace().warehouse.table("nope")


def test_unknown_url_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match="unknown warehouse URL 'mysql://x'"):
        Warehouse.connect("mysql://x", tmp_path)


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
