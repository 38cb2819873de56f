"""At-risk lists and segment breakdowns, from hand-made data, through the CLI too."""

from __future__ import annotations

import json
from datetime import date, datetime

import polars as pl
import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.errors import NotFoundError
from custlens.views import at_risk, segments
from custlens.workspace import Workspace

AS_OF = date(2024, 6, 1)  # the as-of date is June 30


def payments(*rows: tuple[str, datetime, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "created_at": [r[1] for r in rows],
            "amount": [r[2] for r in rows],
        }
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("views")
    ws = Workspace.init(folder)
    d = datetime
    ws.load(
        {
            "customers": pl.DataFrame(
                {
                    "customer_id": ["a", "b", "c", "d"],
                    "name": ["Alpha", "Beta", "Gamma", "Delta"],
                    "region": ["NA", "NA", "NA", "EMEA"],
                }
            ),
            "transactions": payments(
                # a: 4 × 500 from Mar 22 (tenure 100 days to Jun 30, gap 25), last May 1:
                # 60 days > 2 × 25 and value 2000 > 1000 → flagged, risk 60/25 = 2.4.
                ("a", d(2024, 3, 22), 500),
                ("a", d(2024, 3, 25), 500),
                ("a", d(2024, 4, 1), 500),
                ("a", d(2024, 5, 1), 500),
                # b: 3 × 3000 on Jan 1–3 (tenure 181, gap 60.33), last Jan 3: 179 days
                # → risk 179 / 60.33 = 2.967, priority 2.967 × 9000 = 26,702: first.
                ("b", d(2024, 1, 1), 3000),
                ("b", d(2024, 1, 2), 3000),
                ("b", d(2024, 1, 3), 3000),
                # c: worth 500, below the 1000 minimum: never flagged.
                ("c", d(2023, 1, 1), 500),
            ),
            "customer_mrr": pl.DataFrame(
                {
                    # d falls 400 → 100 in a straight line (slope −100, r² 1, mean 250);
                    # e (no customer record) is flat.
                    "customer_id": ["d"] * 4 + ["e"] * 4,
                    "month": [date(2024, m, 1) for m in (3, 4, 5, 6)] * 2,
                    "mrr": [400.0, 300.0, 200.0, 100.0] + [100.0] * 4,
                }
            ),
        }
    )
    ws.run(as_of=AS_OF)
    yield ws
    ws.close()


def test_overdue_list_is_ordered_by_priority_with_reasons(ws: Workspace) -> None:
    rows = at_risk(ws, "overdue").to_dicts()
    assert [r["customer_id"] for r in rows] == ["b", "a"]
    assert [r["name"] for r in rows] == ["Beta", "Alpha"]
    # Ordered by priority (b: 2.967 × 9000 = 26,702 before a), shown as a rank, not
    # as the dollar-like product.
    assert [r["rank"] for r in rows] == [1, 2]
    assert "priority" not in rows[0]
    assert rows[0]["risk_score"] == pytest.approx(179 / (181 / 3))
    assert rows[0]["reason"] == "no purchase in 179 days, 3.0× the usual gap of 60 days"
    assert rows[1]["reason"] == "no purchase in 60 days, 2.4× the usual gap of 25 days"
    assert at_risk(ws, "overdue", top=1)["customer_id"].to_list() == ["b"]


def test_lapsed_list_is_high_value_gone_quiet(ws: Workspace) -> None:
    # High value = monetary ≥ 5000 and quiet = no purchase in 60 days: only b.
    rows = at_risk(ws, "lapsed").to_dicts()
    assert [r["customer_id"] for r in rows] == ["b"]
    assert rows[0]["reason"] == "spent $9,000 in all; no purchase in 179 days"


def test_declining_mrr_list_is_steady_decline(ws: Workspace) -> None:
    rows = at_risk(ws, "declining-mrr").to_dicts()
    assert [r["customer_id"] for r in rows] == ["d"]
    assert rows[0]["slope"] == pytest.approx(-100.0)
    assert rows[0]["reason"] == "MRR down 40.0 % of its mean a month over 4 months (r² 1.00)"


def test_the_former_signal_names_still_answer_from_python(ws: Workspace) -> None:
    renamed = {"churn-risk": "overdue", "trend": "declining-mrr", "recency": "lapsed"}
    for former, name in renamed.items():
        assert at_risk(ws, former).equals(at_risk(ws, name)), former  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="signals: overdue, declining-mrr, lapsed"):
        at_risk(ws, "health")  # type: ignore[arg-type]


def test_the_cli_names_each_signal_for_what_it_measures(ws: Workspace) -> None:
    result = CliRunner().invoke(app, ["-w", str(ws.path), "at-risk", "--help"])
    for name in ("overdue", "declining-mrr", "lapsed"):
        assert name in result.output
    old = CliRunner().invoke(app, ["-w", str(ws.path), "at-risk", "--by", "trend"])
    assert old.exit_code == 2


def test_segments_by_region(ws: Workspace) -> None:
    by_region = {r["region"]: r for r in segments(ws, "region").to_dicts()}
    assert set(by_region) == {"EMEA", "NA", "Unknown"}
    assert by_region["EMEA"]["customers"] == 1
    assert by_region["EMEA"]["current_mrr"] == pytest.approx(100.0)
    assert by_region["EMEA"]["total_revenue"] == pytest.approx(1000.0)  # 400+300+200+100
    assert by_region["NA"]["customers"] == 3
    assert by_region["Unknown"]["total_revenue"] == pytest.approx(400.0)  # e, flat 100 × 4
    with pytest.raises(NotFoundError, match="choose one of"):
        segments(ws, "colour")


def test_the_cli_hands_lists_over_as_json_and_csv(ws: Workspace) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["-w", str(ws.path), "at-risk", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["customer_id"] for r in json.loads(result.stdout)] == ["b", "a"]
    result = runner.invoke(
        app, ["-w", str(ws.path), "segments", "--by", "region", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("region,customers")
    result = runner.invoke(app, ["-w", str(ws.path), "at-risk", "--by", "declining-mrr"])
    assert result.exit_code == 0, result.output
    assert "Delta" in result.output and "40.0 %" in result.output
