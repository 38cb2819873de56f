"""Long answers in pages: ``limit`` rows a page, ``next_cursor`` to the next, through a
real server (custlens.server.cursor).

Seven customers C1…C7 with payments of 10, 20, … 70; the pages of customer ids by
spend, largest first, are worked out by hand below.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from custlens import Client, QueryError
from custlens.config import CONFIG_FILE
from custlens.workspace import Workspace
from tests.servers import serving

CONFIG = """\
warehouse: duckdb:///custlens.duckdb
as_of: 2024-06
server: {max_rows: 3}
"""
IDS = [f"C{i}" for i in range(1, 8)]
QUERY = {
    "metrics": ["customer_value.total_spend"],
    "dimensions": ["customers.customer_id"],
    "order_by": ["customer_value.total_spend desc"],
}


def _load(folder: Path, amounts: list[float]) -> None:
    customers = pl.DataFrame({"customer_id": IDS})
    transactions = pl.DataFrame(
        {
            "transaction_id": [f"T{i}" for i in range(1, 8)],
            "customer_id": IDS,
            "created_at": [datetime(2024, 5, 1)] * 7,
            "amount": amounts,
        }
    )
    with Workspace(folder) as ws:
        ws.load({"customers": customers, "transactions": transactions})
        ws.run()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pages") / "ws"
    folder.mkdir()
    (folder / CONFIG_FILE).write_text(CONFIG)
    _load(folder, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    return folder


@pytest.fixture(scope="module")
def url(folder: Path) -> Iterator[str]:
    with serving(folder) as base:
        yield base


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [row["customers.customer_id"] for row in page.data]


def test_pages_follow_each_other_to_the_last(url: str) -> None:
    client = Client(url)
    pages = list(client.pages(limit=2, **QUERY))
    # By spend, largest first: C7 C6 | C5 C4 | C3 C2 | C1.
    assert [ids(p) for p in pages] == [["C7", "C6"], ["C5", "C4"], ["C3", "C2"], ["C1"]]
    assert [p.next_cursor is None for p in pages] == [False, False, False, True]
    assert not any(p.truncated for p in pages)


def test_a_page_larger_than_max_rows_is_cut_and_the_next_goes_on_from_there(url: str) -> None:
    # max_rows is 3: pages of 5 come as 3, and the cursor goes on after the third row.
    pages = list(Client(url).pages(limit=5, **QUERY))
    assert [ids(p) for p in pages] == [["C7", "C6", "C5"], ["C4", "C3", "C2"], ["C1"]]


def test_a_query_that_fits_one_page_has_no_cursor(url: str) -> None:
    two = [{"member": "customers.customer_id", "operator": "equals", "values": ["C1", "C2"]}]
    page = Client(url).query(limit=3, filters=two, **QUERY)
    assert ids(page) == ["C2", "C1"]
    assert page.next_cursor is None and page.truncated is False
    exact = Client(url).query(limit=2, filters=two, **QUERY)
    assert ids(exact) == ["C2", "C1"] and exact.next_cursor is None


def test_csv_pages_carry_the_cursor_in_a_header(url: str) -> None:
    request = urllib.request.Request(
        url + "v1/query",
        json.dumps({**QUERY, "limit": 2}).encode(),
        {"Content-Type": "application/json", "Accept": "text/csv"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.read().decode().splitlines()[1:] == ["C7,70.0", "C6,60.0"]
        assert response.headers["X-Custlens-Next-Cursor"]


def test_a_cursor_with_another_query_or_forged_is_refused(url: str) -> None:
    client = Client(url)
    first = client.query(limit=2, **QUERY)
    other = {**QUERY, "order_by": ["customer_value.total_spend asc"]}
    with pytest.raises(QueryError, match="made for another query"):
        client.query(limit=2, cursor=first.next_cursor, **other)
    with pytest.raises(QueryError, match="not a cursor from this server"):
        client.query(limit=2, cursor="not-a-cursor", **QUERY)
    with pytest.raises(QueryError, match="made for another query"):
        client.query(cursor=first.next_cursor, **QUERY)  # the limit is part of the query


def test_a_cursor_from_before_a_run_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / CONFIG_FILE).write_text(CONFIG)
    _load(folder, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    with serving(folder) as base:
        client = Client(base)
        first = client.query(limit=2, **QUERY)
        # A new run with other spends: the next page of the old order would skip or
        # repeat customers.
        _load(folder, [70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0])
        with pytest.raises(QueryError, match="the facts changed since it was made") as stale:
            client.query(limit=2, cursor=first.next_cursor, **QUERY)
        assert "ask again from the first page" in str(stale.value)
        assert ids(client.query(limit=2, **QUERY)) == ["C1", "C2"]
