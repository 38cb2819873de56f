"""Lines and transactions name customers that ``customers`` holds (issue 27, part 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.errors import ContractError
from custlens.workspace import Workspace
from tests.sources import write

CUSTOMERS = "customer_id,name\na,Alpha\nb,Beta\n"
LINES = (
    "customer_id,period_start,period_end,amount\n"
    "a,2024-01-01,2024-02-01,100\n"
    "zz,2024-01-01,2024-02-01,50\n"
    "zz,2024-02-01,2024-03-01,50\n"
    "b,2024-01-01,2024-02-01,70\n"
)
TRANSACTIONS = (
    "transaction_id,customer_id,created_at,amount,type,status\n"
    "t1,a,2024-01-05,100,payment,processed\n"
    "t2,qq,2024-01-06,30,payment,processed\n"
)


def test_a_line_naming_an_unknown_customer_is_refused_with_file_row_and_id(
    tmp_path: Path,
) -> None:
    customers, lines = write(tmp_path, "c.csv", CUSTOMERS), write(tmp_path, "l.csv", LINES)
    with Workspace.init(tmp_path / "ws") as ws:
        with pytest.raises(ContractError) as refused:
            ws.load({"customers": customers, "subscription_lines": lines})
        assert str(refused.value) == (
            f"{lines}, row 2 (line 3), column 'customer_id': customer 'zz' is not in "
            "customers (2 rows name 1 unknown customer); load them in customers, or load "
            "with --create-missing-customers"
        )
        assert (refused.value.row, refused.value.column, refused.value.value) == (
            2,
            "customer_id",
            "zz",
        )
        assert ws.tables() == []  # nothing was loaded, customers neither


def test_customers_loaded_before_are_checked_too(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load({"customers": write(tmp_path, "c.csv", CUSTOMERS)})
        tx = write(tmp_path, "t.csv", TRANSACTIONS)
        with pytest.raises(
            ContractError,
            match=r"row 2 \(line 3\), column 'customer_id': "
            r"customer 'qq' is not in customers \(1 row name 1 unknown",
        ):
            ws.load({"transactions": tx})
        assert "src_transactions" not in ws.tables()


def test_without_customers_there_is_nothing_to_check(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        assert ws.load({"subscription_lines": write(tmp_path, "l.csv", LINES)}) == {
            "subscription_lines": 4
        }


def test_create_missing_customers_adds_the_ids_and_says_how_many(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    Workspace.init(folder).close()
    runner = CliRunner()
    first = runner.invoke(
        app, ["-w", str(folder), "load", "customers", str(write(tmp_path, "c.csv", CUSTOMERS))]
    )
    assert first.exit_code == 0, first.output
    lines = write(tmp_path, "l.csv", LINES)
    refused = runner.invoke(app, ["-w", str(folder), "load", "subscription_lines", str(lines)])
    assert refused.exit_code == 1 and "customer 'zz' is not in customers" in refused.output
    done = runner.invoke(
        app,
        ["-w", str(folder), "load", "subscription_lines", str(lines), "--create-missing-customers"],
    )
    assert done.exit_code == 0, done.output
    assert "1 customer id of subscription_lines is not in customers: added" in done.output
    with Workspace(folder) as ws:
        customers = ws.table("customers").sort("customer_id")
        assert customers["customer_id"].to_list() == ["a", "b", "zz"]
        assert customers["name"].to_list() == ["Alpha", "Beta", None]
        assert ws.table("subscription_lines").height == 4
