"""The Python surface a new user meets first: what `dir(custlens)` shows, the error for a
workspace that does not exist, the client's error for a server it cannot reach, and the
client's answers as data frames."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import custlens
from custlens.client import ClientResult


def test_dir_lists_the_two_entry_points() -> None:
    names = dir(custlens)
    assert "Workspace" in names and "Client" in names
    assert "ServerUnreachable" in names


def test_a_missing_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(custlens.ConfigError) as refused:
        custlens.Workspace(tmp_path / "acme")
    message = str(refused.value)
    assert "custlens init" in message and "Workspace.init(" in message
    assert str(tmp_path / "acme") in message


def test_a_refused_connection_is_a_connection_error_naming_the_url() -> None:
    # A port just closed: nobody listens there.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(ConnectionError) as refused:
        custlens.Client(url).meta()
    assert isinstance(refused.value, custlens.ServerUnreachable)
    assert not isinstance(refused.value, custlens.WarehouseError)
    assert url in str(refused.value)


def test_one_name_for_the_customer_profile() -> None:
    assert hasattr(custlens.Client, "profile") and not hasattr(custlens.Client, "customer")
    assert hasattr(custlens.Workspace, "profile")


RESULT = ClientResult(
    data=[
        {"subscriptions.month.month": "2024-01-01", "customers.segment": "SMB", "mrr": 10.5},
        {"subscriptions.month.month": "2024-02-01", "customers.segment": "SMB", "mrr": None},
    ],
    columns=[
        {"name": "subscriptions.month.month", "kind": "time", "type": "time"},
        {"name": "customers.segment", "kind": "dimension", "type": "string"},
        {"name": "mrr", "kind": "metric", "type": "number"},
    ],
)


def test_client_results_convert_to_polars_with_types() -> None:
    frame = RESULT.to_polars()
    assert frame.columns == ["subscriptions.month.month", "customers.segment", "mrr"]
    assert frame.schema["subscriptions.month.month"] == pl.Date
    assert frame["subscriptions.month.month"].to_list() == [date(2024, 1, 1), date(2024, 2, 1)]
    assert frame["mrr"].to_list() == [10.5, None]


def test_client_results_convert_to_pandas() -> None:
    frame = RESULT.to_pandas()
    assert list(frame.columns) == ["subscriptions.month.month", "customers.segment", "mrr"]
    assert frame["mrr"].iloc[0] == 10.5


def test_an_empty_answer_keeps_its_columns() -> None:
    empty = ClientResult(data=[], columns=RESULT.columns)
    assert empty.to_polars().columns == [c["name"] for c in RESULT.columns]


def test_local_answers_convert_to_pandas_too(tmp_path: Path) -> None:
    with custlens.Workspace.init(tmp_path / "ws") as ws:
        mrr = {"customer_id": ["C1"], "month": [date(2024, 1, 1)], "mrr": [10.0]}
        ws.load({"customer_mrr": pl.DataFrame(mrr)})
        ws.run()
        answer = ws.query(["subscriptions.mrr"])
    assert answer.to_pandas()["subscriptions.mrr"].tolist() == [10.0]
