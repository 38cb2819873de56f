"""Amounts are shown in the reporting currency: its sign and its minor unit (JPY has
none, so yen leave custlens whole) in query answers, exports, the CLI and the API.

The workspace bills in yen only and sets nothing: the data's only currency is the
reporting currency. C1 pays ¥10,000 a month; C2 ¥100,000 a year, ¥8,333.33 a month:
¥8,333 shown, and the ending MRR ¥18,333.33 shown as ¥18,333.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from custlens.cli.main import app
from custlens.workspace import Workspace

AS_OF = date(2024, 3, 1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("yen") / "ws"
    with Workspace.init(folder) as ws:
        ws.load(
            {
                "customers": pl.DataFrame({"customer_id": ["C1", "C2"]}),
                "subscription_lines": pl.DataFrame(
                    {
                        "customer_id": ["C1", "C1", "C1", "C2"],
                        "period_start": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-01"],
                        "period_end": ["2024-02-01", "2024-03-01", "2024-04-01", "2025-01-01"],
                        "amount": [10_000.0, 10_000.0, 10_000.0, 100_000.0],
                        "currency": ["jpy", "JPY", "JPY", "JPY"],
                    }
                ),
            }
        )
        result = ws.run(as_of=AS_OF)
        assert result.currency == "JPY"
    yield folder


def cli(folder: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["-w", str(folder), *args], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_workspace_reports_in_the_datas_only_currency(folder: Path) -> None:
    with Workspace(folder) as ws:
        assert ws.currency() == "JPY"
        answer = ws.query(["subscriptions.mrr"], ["customers.customer_id"])
    assert answer.currency == "JPY"
    assert {r["customers.customer_id"]: r["subscriptions.mrr"] for r in answer.data} == {
        "C1": 10_000.0,
        "C2": 8_333.0,
    }


def test_an_export_is_rounded_to_the_yen(folder: Path, tmp_path: Path) -> None:
    with Workspace(folder) as ws:
        out = ws.export("growth_summary", tmp_path / "growth.csv")
    ending = pl.read_csv(out).sort("month")["ending_mrr"].to_list()
    assert ending == [18_333.0, 18_333.0, 18_333.0]


def test_the_cli_shows_the_yen_sign_and_no_decimals(folder: Path) -> None:
    out = cli(folder, "query", "--metric", "mrr")
    assert "¥18,333" in out
    assert "$" not in out
    listed = cli(
        folder, "query", "--metric", "subscriptions.mrr", "--dimension", "customers.customer_id"
    )
    assert "¥8,333" in listed and "¥10,000" in listed
    # The as-of note (on stderr), then the JSON.
    as_json = json.loads(
        cli(folder, "query", "--metric", "mrr", "--format", "json").splitlines()[-1]
    )
    assert as_json == [{"mrr": 18_333.0}]


def test_the_api_names_the_currency(folder: Path) -> None:
    from fastapi.testclient import TestClient

    from custlens.server import create_app

    with TestClient(create_app(folder)) as client:
        body = client.post("/v1/query", json={"metrics": ["mrr"]}).json()
        cube = client.post("/v1/query", json={"measures": ["subscriptions.mrr"]}).json()
    assert body["currency"] == "JPY"
    assert body["data"] == [{"mrr": 18_333.0}]
    assert cube["annotation"]["measures"]["subscriptions.mrr"]["currency"] == "JPY"


def test_the_dashboard_draws_yen(folder: Path) -> None:
    from custlens.report import build_report

    with Workspace(folder) as ws:
        page = build_report(ws)
    assert '<div class="value">¥18,333</div>' in page  # the MRR tile
    # The charts' JSON writes ¥ as \u00a5: the money axes and their hovers.
    assert '"tickprefix":"\\u00a5"' in page
    assert "\\u00a5%{y:,.0f}" in page
    assert '"tickprefix":"$"' not in page and "$%{" not in page


def test_ad_hoc_breakdowns_read_converted_sources(tmp_path: Path) -> None:
    # Revenue by region from payments only: EMEA's customer paid €100 on 5 January at
    # 1.10 (the rate of 2 January) = $110 and $50; NA's paid $40. By hand: EMEA 160, NA 40.
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "custlens.yml").write_text("reporting_currency: USD\n")
    with Workspace(folder) as ws:
        ws.load(
            {
                "customers": pl.DataFrame({"customer_id": ["E1", "N1"], "region": ["EMEA", "NA"]}),
                "transactions": pl.DataFrame(
                    {
                        "transaction_id": ["T1", "T2", "T3"],
                        "customer_id": ["E1", "E1", "N1"],
                        "created_at": ["2024-01-05", "2024-01-06", "2024-01-07"],
                        "amount": [100.0, 50.0, 40.0],
                        "currency": ["EUR", "USD", None],
                    }
                ),
                "fx_rates": pl.DataFrame(
                    {"date": ["2024-01-02"], "currency": ["EUR"], "rate": [1.10]}
                ),
            }
        )
        ws.run(as_of=date(2024, 1, 1))
        by_region = ws.segments("region")
    revenue = dict(zip(by_region["region"], by_region["total_revenue"], strict=True))
    assert revenue == pytest.approx({"EMEA": 160.0, "NA": 40.0})


def test_mrr_by_the_currency_billed(folder: Path) -> None:
    with Workspace(folder) as ws:
        answer = ws.query(["subscriptions.mrr"], ["subscriptions.currency"])
        stored = ws.table("customer_mrr").filter(pl.col("month") == AS_OF)
    assert answer.data == [{"subscriptions.currency": "JPY", "subscriptions.mrr": 18_333.0}]
    # Nothing was converted: the original MRR is the MRR.
    assert stored["original_mrr"].to_list() == stored["mrr"].to_list()
