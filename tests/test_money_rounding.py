"""Money leaves custlens rounded to the cent: 0.1 + 0.2 of MRR is 0.3 in a query answer
and in an export, never 0.30000000000000004."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from custlens.workspace import Workspace


def _workspace(folder: Path) -> Workspace:
    ws = Workspace.init(folder)
    ws.load(
        {
            "customer_mrr": pl.DataFrame(
                {
                    "customer_id": ["C1", "C2"],
                    "month": [date(2024, 1, 1)] * 2,
                    "mrr": [0.1, 0.2],
                }
            )
        }
    )
    ws.run()
    return ws


def test_money_in_answers_and_exports_is_rounded_to_the_cent(tmp_path: Path) -> None:
    with _workspace(tmp_path / "ws") as ws:
        assert ws.table("growth_summary")["ending_mrr"][0] != 0.3  # the float sum, noisy
        answer = ws.query(["subscriptions.mrr"]).data
        out = ws.export("growth_summary", tmp_path / "growth.csv")
    assert answer == [{"subscriptions.mrr": 0.3}]
    exported = pl.read_csv(out)
    assert exported["ending_mrr"].to_list() == [0.3]
    assert "0.30000000000000004" not in out.read_text()
