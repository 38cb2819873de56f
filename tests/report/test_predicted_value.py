"""The dashboard's predicted-value cards, checked against ``clv_predictions`` as read back."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from custlens.format import money
from custlens.report import build_report
from custlens.report.predicted_value import CHART_IDS, TABLE_ID
from custlens.workspace import Workspace
from tests.report import demo_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW sample to 1997-09-30, its customers in three segments by id."""
    from tests.predict.test_models import cdnow_transactions

    folder = tmp_path_factory.mktemp("clv") / "ws"
    transactions = cdnow_transactions().filter(pl.col("created_at") < datetime(1997, 10, 1))
    ids = transactions["customer_id"].unique().sort()
    segments = ["Enterprise", "Mid-market", "SMB"]
    customers = pl.DataFrame(
        {"customer_id": ids, "segment": [segments[i % 3] for i in range(ids.len())]}
    )
    with Workspace.init(folder) as ws:
        ws.load({"transactions": transactions, "customers": customers})
        ws.run(as_of=date(1997, 9, 1), only=["clv_predictions"])
    return folder


def test_the_cards_show_segments_p_alive_and_the_top_customers(workspace: Path) -> None:
    with Workspace(workspace) as ws:
        page = build_report(ws)
        clv = ws.table("clv_predictions")
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' in page, chart_id
    assert "Expected value by segment" in page
    # Each segment's bar is the sum of its customers' clv, read back from the table.
    chart = page[page.index(f'id="{CHART_IDS[0]}"') :]
    chart = chart[: chart.index("</script>")]
    import json

    bars = json.loads(re.search(r'"x":(\[[^\]]*\])', chart).group(1))  # type: ignore[union-attr]
    names = json.loads(re.search(r'"y":(\[[^\]]*\])', chart).group(1))  # type: ignore[union-attr]
    with Workspace(workspace) as ws:
        segment_of = ws.table("customers").select("customer_id", "segment")
    sums = clv.join(segment_of, on="customer_id").group_by("segment").agg(pl.col("clv").sum())
    assert dict(zip(names, bars, strict=True)) == pytest.approx(dict(sums.iter_rows()))
    table = page[page.index(f'id="{TABLE_ID}"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    assert len(rows) == min(10, clv.height)
    best = clv.sort("clv", descending=True).row(0, named=True)
    assert f"<td>{best['customer_id']}</td>" in rows[0]
    assert money(best["clv"]) in rows[0]
    # Every customer lands in the probability-alive histogram.
    chart = page[page.index(f'id="{CHART_IDS[1]}"') :]
    chart = chart[: chart.index("</script>")]
    values = re.search(r'"x":\[([^\]]*)\]', chart)
    assert values is not None
    assert len(values.group(1).split(",")) == clv.height


def test_without_clv_predictions_the_section_is_a_note(tmp_path: Path) -> None:
    folder = demo_workspace(tmp_path / "ws", only=["growth_summary"])
    with Workspace(folder) as ws:
        page = build_report(ws)
    assert "No clv_predictions table in this workspace" in page
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' not in page


def test_a_skipped_fit_is_named_as_the_reason(tmp_path: Path) -> None:
    # One purchase each: nobody repeats, so the CLV models cannot be fitted and the
    # run skips clv_predictions with the reason; the card gives that reason, not
    # "load the sources it needs" (they are loaded).
    transactions = pl.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t3"],
            "customer_id": ["a", "b", "c"],
            "created_at": [datetime(2024, m, 10) for m in (1, 2, 3)],
            "amount": [10.0, 20.0, 30.0],
        }
    )
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load({"transactions": transactions})
        result = ws.run(as_of=date(2024, 6, 1))
        assert "clv_predictions" in result.skipped
        page = build_report(ws)
    assert "No clv_predictions table: the latest run skipped it (model not fitted" in page
    assert "load the sources it needs" not in page.split('id="section-clv"')[1][:600]
