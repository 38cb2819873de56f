"""One sign convention everywhere (DESIGN §4): contraction and churn are positive
amounts, subtracted in every bridge — in the fact, the cube's measures, the metrics
and exports alike. Only charts draw them below zero."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens.workspace import Workspace

# C1 pays 100, then 60 (contraction 40), then nothing (churn 60).
# C2 pays 50 in January and 80 in February (expansion 30), then 80.
MRR = pl.DataFrame(
    {
        "customer_id": ["C1", "C1", "C1", "C2", "C2", "C2"],
        "month": [date(2024, m, 1) for m in (1, 2, 3)] * 2,
        "mrr": [100.0, 60.0, 0.0, 50.0, 80.0, 80.0],
    }
)

# month → (new, expansion, contraction, churn), worked out by hand from MRR above.
EXPECTED = {
    date(2024, 1, 1): (150.0, 0.0, 0.0, 0.0),
    date(2024, 2, 1): (0.0, 30.0, 40.0, 0.0),
    date(2024, 3, 1): (0.0, 0.0, 0.0, 60.0),
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace.init(tmp_path_factory.mktemp("signs") / "ws")
    ws.load({"customer_mrr": MRR})
    ws.run(as_of=date(2024, 3, 1))
    yield ws
    ws.close()


def _by_month(rows: list[dict], time_key: str, members: list[str]) -> dict:
    return {
        date.fromisoformat(str(r[time_key])[:10]): tuple(float(r[m] or 0.0) for m in members)
        for r in rows
    }


def test_the_fact_stores_every_movement_positive(ws: Workspace) -> None:
    moves = ws.table("mrr_movements")
    assert (moves["amount"] > 0).all()


@pytest.mark.parametrize("cube", ["movements", "growth"])
def test_each_cube_reports_contraction_and_churn_positive(ws: Workspace, cube: str) -> None:
    members = [f"{cube}.{m}_mrr" for m in ("new", "expansion", "contraction", "churn")]
    answer = ws.query(
        members,
        time_dimensions=[{"dimension": f"{cube}.month", "granularity": "month"}],
    ).data
    assert _by_month(answer, f"{cube}.month.month", members) == EXPECTED


def test_the_metrics_match_the_cubes_and_net_new_subtracts(ws: Workspace) -> None:
    members = ["new_mrr", "expansion_mrr", "contraction_mrr", "churn_mrr"]
    answer = ws.query(
        [*members, "net_new_mrr"],
        time_dimensions=[{"dimension": "growth.month", "granularity": "month"}],
    ).data
    assert _by_month(answer, "growth.month.month", members) == EXPECTED
    net = {str(r["growth.month.month"])[:7]: r["net_new_mrr"] for r in answer}
    assert net == {"2024-01": 150.0, "2024-02": -10.0, "2024-03": -60.0}


def test_the_signed_net_change_of_the_movements_cube(ws: Workspace) -> None:
    answer = ws.query(
        ["movements.net_mrr"],
        time_dimensions=[{"dimension": "movements.month", "granularity": "month"}],
    ).data
    net = {str(r["movements.month.month"])[:7]: r["movements.net_mrr"] for r in answer}
    assert net == {"2024-01": 150.0, "2024-02": -10.0, "2024-03": -60.0}


def test_exports_keep_the_convention(ws: Workspace, tmp_path: Path) -> None:
    out = pl.read_csv(ws.export("growth_summary", tmp_path / "g.csv"))
    march = out.filter(pl.col("month").cast(pl.Utf8).str.starts_with("2024-03"))
    assert march["churn_mrr"].to_list() == [60.0]
