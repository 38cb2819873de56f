"""The compiled-plan cache of the semantic layer and Workspace.as_of, which every query asks.

A cached plan must give exactly what planning again gives: the same rows, columns and
SQL; a new run, another as-of date or another role is another plan; a plan that read
data while planning (a spine's bounds) is never kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens.pipeline import month_end
from custlens.semantic.access import Role
from custlens.semantic.query import parse_query
from custlens.workspace import Workspace

START = date(2023, 1, 1)
AS_OF = date(2024, 6, 1)  # the last run counts to June 30, 2024

MRR_BY_SEGMENT = {
    "metrics": ["subscriptions.mrr", "subscriptions.paying_customers"],
    "dimensions": ["customers.segment"],
    "time_dimensions": [
        {"dimension": "subscriptions.month", "granularity": "month", "date_range": "last 6 months"}
    ],
}


def demo(folder: Path) -> Workspace:
    ws = Workspace.init(folder)
    ws.generate(customers=300, months=24, seed=3, start=START)
    ws.run(as_of=AS_OF)
    return ws


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with demo(tmp_path_factory.mktemp("cache")) as ws:
        yield ws


def plans(ws: Workspace) -> int:
    assert ws._compiler is not None
    return len(ws._compiler._plans)


def test_as_of_is_the_latest_successful_run(ws: Workspace) -> None:
    runs = ws.runs()
    expected = runs.filter(pl.col("status") == "succeeded")["as_of"][0]
    assert expected == month_end(AS_OF) == ws.as_of()


def test_a_repeated_query_reuses_its_plan_and_answers_the_same(ws: Workspace) -> None:
    first = ws.run_query(MRR_BY_SEGMENT)
    kept = plans(ws)
    # Keys in another order are the same query.
    again = ws.run_query(dict(reversed(list(MRR_BY_SEGMENT.items()))))
    assert plans(ws) == kept
    assert again.data == first.data
    assert again.sql == first.sql
    assert [c.name for c in again.columns] == [c.name for c in first.columns]
    # 3 segments × 6 months (Jan–Jun 2024), every one with rows in this data.
    assert len(first.data) == 18
    assert {r["subscriptions.month.month"] for r in first.data} == {
        date(2024, m, 1) for m in range(1, 7)
    }


def test_limit_role_and_as_of_are_part_of_the_key(ws: Workspace) -> None:
    ws.run_query(MRR_BY_SEGMENT)
    kept = plans(ws)
    limited = ws.run_query({**MRR_BY_SEGMENT, "limit": 5})
    assert len(limited.data) == 5 and not limited.truncated  # its own limit, not max_rows
    region = {"member": "customers.region", "operator": "equals", "value": "EMEA"}
    emea = Role("emea", filters=parse_query({"metrics": ["mrr"], "filters": [region]}).filters)
    everyone = ws.run_query(MRR_BY_SEGMENT)
    only_emea = ws.run_query(MRR_BY_SEGMENT, role=emea)
    assert plans(ws) == kept + 2
    total = sum(r["subscriptions.paying_customers"] for r in everyone.data)
    assert sum(r["subscriptions.paying_customers"] for r in only_emea.data) < total


def test_a_plan_that_read_data_is_not_kept(ws: Workspace) -> None:
    ws.run_query(MRR_BY_SEGMENT)
    kept = plans(ws)
    # No date range: the spine's first and last month come from the data.
    spec = {
        **MRR_BY_SEGMENT,
        "time_dimensions": [{"dimension": "subscriptions.month", "granularity": "quarter"}],
    }
    ws.run_query(spec)
    assert plans(ws) == kept


def test_a_new_run_drops_the_plans_and_moves_as_of(tmp_path: Path) -> None:
    with demo(tmp_path) as ws:
        before = ws.run_query(MRR_BY_SEGMENT)
        ws.run(as_of=date(2024, 3, 1))
        assert ws.as_of() == date(2024, 3, 31)
        after = ws.run_query(MRR_BY_SEGMENT)
    assert max(r["subscriptions.month.month"] for r in after.data) == date(2024, 3, 1)
    assert max(r["subscriptions.month.month"] for r in before.data) == date(2024, 6, 1)
