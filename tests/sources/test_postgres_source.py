"""Reading source tables from the real PostgreSQL server on 127.0.0.1:5432 (never a mock).

Each test session builds its tables in a schema of its own (``custlens_<uuid>``)
and drops it afterwards. When the server cannot be reached the tests fail,
saying so: a silent skip would hide that the Postgres path went untested.
Set ``CUSTLENS_TEST_POSTGRES`` to point them at another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from custlens.errors import ContractError, ContractWarning
from custlens.sources.load import load_sources, read_source, validate

SERVER = os.environ.get("CUSTLENS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    """A fresh schema holding customers and subscription_lines tables, dropped at the end."""
    import psycopg

    name = f"custlens_{uuid.uuid4().hex[:12]}"
    try:
        con = psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unreachable = str(exc).strip()
    else:
        unreachable = ""
    if unreachable:
        pytest.fail(
            f"the PostgreSQL server at {SERVER} is unreachable ({unreachable}); these tests "
            "need it (set CUSTLENS_TEST_POSTGRES to another server, or deselect with "
            "-m 'not postgres')",
            pytrace=False,
        )
    with con:
        con.execute(f'CREATE SCHEMA "{name}"')
        try:
            con.execute(
                f"""
                CREATE TABLE "{name}".customers (
                    customer_id text, name text, signup_date date, crm_score integer);
                INSERT INTO "{name}".customers VALUES
                    ('007', 'Acme', '2024-01-15', 3),
                    ('b2', 'Beta', NULL, NULL),
                    ('a1', ' Alpha ', '2023-12-01', 5);
                CREATE TABLE "{name}".subscription_lines (
                    customer_id text, period_start date, period_end date,
                    amount numeric(12, 2), kind text, billed_at timestamptz);
                INSERT INTO "{name}".subscription_lines VALUES
                    ('007', '2024-01-01', '2024-02-01', 120.50, NULL, '2024-01-01 10:00+02'),
                    ('b2', '2024-01-01', '2025-01-01', 1200.00, 'one_time', NULL);
                CREATE TABLE "{name}".bad_lines (LIKE "{name}".subscription_lines);
                INSERT INTO "{name}".bad_lines VALUES
                    ('007', '2024-01-01', '2024-02-01', 120.50, NULL, NULL),
                    ('b2', '2024-01-01', '2025-01-01', 3.00, 'monthly', NULL);
                """
            )
            yield name
        finally:
            con.execute(f'DROP SCHEMA "{name}" CASCADE')


def url(schema: str, table: str) -> str:
    return f"{SERVER}?table={schema}.{table}"


@pytest.mark.postgres
def test_reads_a_table_in_database_order(schema: str) -> None:
    frame, origin = read_source(url(schema, "customers"), "customers")
    assert origin == f"postgresql://127.0.0.1:5432/test table {schema}.customers"
    typed = validate("customers", frame, origin)
    assert typed["customer_id"].to_list() == ["007", "b2", "a1"]  # ids stay text, order kept
    assert typed["name"].to_list() == ["Acme", "Beta", "Alpha"]
    assert typed["signup_date"].to_list() == [date(2024, 1, 15), None, date(2023, 12, 1)]
    assert typed["crm_score"].to_list() == [3, None, 5]  # extra column, kept as read


@pytest.mark.postgres
def test_database_types_are_cast_to_the_contract(schema: str) -> None:
    typed = validate(
        "subscription_lines", *read_source(url(schema, "subscription_lines"), "subscription_lines")
    )
    assert typed.schema["amount"] == pl.Float64  # from numeric
    assert typed["amount"].to_list() == [120.5, 1200.0]
    assert typed["kind"].to_list() == ["recurring", "one_time"]
    assert typed["billed_at"][0] == datetime(2024, 1, 1, 8, tzinfo=UTC)  # extra: as read


@pytest.mark.postgres
def test_bad_value_names_the_row_of_the_query_result(schema: str) -> None:
    with pytest.raises(ContractError) as info:
        validate("subscription_lines", *read_source(url(schema, "bad_lines"), "subscription_lines"))
    assert str(info.value) == (
        f"postgresql://127.0.0.1:5432/test table {schema}.bad_lines, row 2 of the query result, "
        "column 'kind': 'monthly' is not one of 'recurring', 'one_time', 'usage'"
    )
    assert (info.value.row, info.value.column, info.value.value) == (2, "kind", "monthly")


@pytest.mark.postgres
def test_postgres_scheme_and_missing_table(schema: str) -> None:
    missing = url(schema, "nope").replace("postgresql://", "postgres://", 1)
    with pytest.raises(ContractError, match=rf"table {schema}\.nope: table not found$"):
        read_source(missing, "customers")


@pytest.mark.postgres
def test_load_from_postgres_into_the_warehouse(schema: str, tmp_path: Path) -> None:
    from custlens.warehouse import connect

    warehouse = connect(f"duckdb:///{tmp_path}/w.duckdb")
    try:
        # The tables carry a column each outside the contract: kept, with a warning.
        with pytest.warns(ContractWarning, match="extra column") as warned:
            rows = load_sources(
                warehouse,
                {
                    "customers": url(schema, "customers"),
                    "subscription_lines": url(schema, "subscription_lines"),
                },
            )
        extras = [str(w.message) for w in warned if w.category is ContractWarning]
        assert sorted(m.split("extra column ")[1].split()[0] for m in extras) == [
            "'billed_at'",
            "'crm_score'",
        ]
        assert rows == {"customers": 3, "subscription_lines": 2}
        loaded = warehouse.table("src_customers").to_polars().sort("customer_id")
        assert loaded["customer_id"].to_list() == ["007", "a1", "b2"]
    finally:
        warehouse.close()


def test_unreachable_server_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match=r"postgresql://127\.0\.0\.1:1/test .*cannot connect"):
        read_source("postgresql://127.0.0.1:1/test?table=public.customers", "customers")
