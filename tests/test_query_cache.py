"""The compiled-plan cache of the semantic layer and Workspace.as_of, which every query asks.

A cached plan must give exactly what planning again gives: the same rows, columns and
SQL; a new run, another as-of date or another role is another plan; a plan that read
data while planning (a spine's bounds) is kept only when the data was facts (a new run
drops every plan), never when it was a source (a load changes those).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens.calendar import month_end
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


MONTHLY_PAYMENTS = {"dimension": "transactions.created_at", "granularity": "month"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated workspace run to AS_OF, built once; tests open it or copies of it."""
    folder = tmp_path_factory.mktemp("cache-built") / "ws"
    with Workspace.init(folder) as ws:
        ws.generate(customers=300, months=24, seed=3, start=START)
        ws.run(as_of=AS_OF)
    return folder


@pytest.fixture
def demo(built: Path) -> Callable[[Path], Workspace]:
    """A fresh copy of the built workspace at ``folder``, for a test that runs again."""

    def copy(folder: Path) -> Workspace:
        shutil.copytree(built, folder, dirs_exist_ok=True)
        return Workspace(folder)

    return copy


@pytest.fixture(scope="module")
def ws(built: Path) -> Iterator[Workspace]:
    with Workspace(built) as ws:
        yield ws


def test_as_of_is_the_latest_successful_run(ws: Workspace) -> None:
    runs = ws.runs()
    expected = runs.filter(pl.col("status") == "succeeded")["as_of"][0]
    assert expected == month_end(AS_OF) == ws.as_of()


def test_a_repeated_query_reuses_its_plan_and_answers_the_same(ws: Workspace) -> None:
    first = ws.run_query(MRR_BY_SEGMENT)
    # Keys in another order are the same query.
    again = ws.run_query(dict(reversed(list(MRR_BY_SEGMENT.items()))))
    assert not again.planned
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
    limited = ws.run_query({**MRR_BY_SEGMENT, "limit": 5})
    assert len(limited.data) == 5 and not limited.truncated  # its own limit, not max_rows
    region = {"member": "customers.region", "operator": "equals", "value": "EMEA"}
    emea = Role("emea", filters=parse_query({"metrics": ["mrr"], "filters": [region]}).filters)
    everyone = ws.run_query(MRR_BY_SEGMENT)
    only_emea = ws.run_query(MRR_BY_SEGMENT, role=emea)
    assert (limited.planned, everyone.planned, only_emea.planned) == (True, False, True)
    total = sum(r["subscriptions.paying_customers"] for r in everyone.data)
    assert sum(r["subscriptions.paying_customers"] for r in only_emea.data) < total


def test_a_plan_that_read_a_source_is_not_kept_one_that_read_facts_is(ws: Workspace) -> None:
    # No date range: the spine's first and last period come from the data.
    payments = {"metrics": ["transactions.revenue"], "time_dimensions": [MONTHLY_PAYMENTS]}
    assert ws.run_query(payments).planned
    assert ws.run_query(payments).planned  # a source's spine: planned again every time
    quarters = {
        **MRR_BY_SEGMENT,
        "time_dimensions": [{"dimension": "subscriptions.month", "granularity": "quarter"}],
    }
    first = ws.run_query(quarters)
    again = ws.run_query(quarters)
    assert (first.planned, again.planned) == (True, False)  # a fact's spine: kept
    assert again.data == first.data


def test_a_new_run_drops_the_plans_and_moves_as_of(
    demo: Callable[[Path], Workspace], tmp_path: Path
) -> None:
    with demo(tmp_path) as ws:
        before = ws.run_query(MRR_BY_SEGMENT)
        ws.run(as_of=date(2024, 3, 1))
        assert ws.as_of() == date(2024, 3, 31)
        after = ws.run_query(MRR_BY_SEGMENT)
    assert max(r["subscriptions.month.month"] for r in after.data) == date(2024, 3, 1)
    assert max(r["subscriptions.month.month"] for r in before.data) == date(2024, 6, 1)


def test_metrics_in_another_order_share_the_plan_and_keep_the_order_asked(ws: Workspace) -> None:
    spec = {**MRR_BY_SEGMENT, "compare": "previous_period"}
    first = ws.run_query(spec)
    swapped = ws.run_query({**spec, "metrics": list(reversed(spec["metrics"]))})
    assert not swapped.planned
    mrr, paying = "subscriptions.mrr", "subscriptions.paying_customers"
    suffixes = ["", ".previous", ".delta", ".percent_change"]
    assert [c.name for c in first.columns] == ["customers.segment", "subscriptions.month.month"] + [
        m + s for m in (mrr, paying) for s in suffixes
    ]
    assert [c.name for c in swapped.columns] == [
        "customers.segment",
        "subscriptions.month.month",
    ] + [m + s for m in (paying, mrr) for s in suffixes]
    assert list(swapped.data[0]) == [c.name for c in swapped.columns]
    assert swapped.frame.columns == [c.name for c in swapped.columns]
    assert [{k: r[k] for k in first.data[0]} for r in swapped.data] == first.data


def test_the_shared_result_cache_answers_facts_until_the_next_run(
    demo: Callable[[Path], Workspace], tmp_path: Path
) -> None:
    from custlens.semantic.cache import ResultCache

    shared = ResultCache()
    with demo(tmp_path) as ws, Workspace(tmp_path) as other:
        ws.results = other.results = shared
        first = ws.run_query(MRR_BY_SEGMENT)
        assert not first.cached
        # Another workspace on the folder (another server thread) gets the answer kept.
        again = other.run_query({**MRR_BY_SEGMENT, "metrics": MRR_BY_SEGMENT["metrics"][::-1]})
        assert again.cached
        assert [c.name for c in again.columns][2:] == MRR_BY_SEGMENT["metrics"][::-1]
        assert [{k: r[k] for k in first.data[0]} for r in again.data] == first.data
        # A source (loaded data can change without a run) is asked each time.
        payments = {"metrics": ["transactions.revenue"], "time_dimensions": [MONTHLY_PAYMENTS]}
        ws.run_query(payments)
        assert not other.run_query(payments).cached
        ws.run(as_of=date(2024, 3, 1))
        after = ws.run_query(MRR_BY_SEGMENT)
        assert not after.cached
        assert max(r["subscriptions.month.month"] for r in after.data) == date(2024, 3, 1)


def test_the_shared_result_cache_does_not_answer_for_another_model(tmp_path: Path) -> None:
    # A server thread started after an edit of the semantic YAML reads the new model;
    # an answer kept from the old model (same run) must not be its answer.
    from custlens.semantic.cache import ResultCache
    from tests.semantic.data import MODEL, fill, write_workspace

    shared = ResultCache()
    folder = write_workspace(tmp_path / "ws", "duckdb")
    spec = {"metrics": ["sales.total"]}
    with fill(Workspace(folder)) as ws:
        ws.results = shared
        # 35 + 10 + 20 + 30 + 40 + 50 + 60
        assert ws.run_query(spec).data == [{"sales.total": 245.0}]
        doubled = MODEL.replace(
            "{name: total, type: sum, sql: amount, format: currency}",
            "{name: total, type: sum, sql: amount * 2, format: currency}",
        )
        assert doubled != MODEL
        (folder / "semantic" / "test.yml").write_text(doubled)
        with Workspace(folder) as other:
            other.results = shared
            answer = other.run_query(spec)
    assert not answer.cached
    assert answer.data == [{"sales.total": 490.0}]


def test_the_next_command_reads_the_answer_kept_on_disk_until_the_next_run(
    demo: Callable[[Path], Workspace], tmp_path: Path
) -> None:
    # Each command is a process: an answer is kept on disk for the next one that asks.
    swapped = {**MRR_BY_SEGMENT, "metrics": MRR_BY_SEGMENT["metrics"][::-1]}
    payments = {"metrics": ["transactions.revenue"], "time_dimensions": [MONTHLY_PAYMENTS]}
    with demo(tmp_path) as ws:
        ws.keep_answers = True
        first = ws.run_query(MRR_BY_SEGMENT)
        ws.run_query(payments)
    assert not first.cached
    with Workspace(tmp_path, keep_answers=True) as other:
        again = other.run_query(swapped)
        assert again.cached and not again.planned
        assert [c.name for c in again.columns][2:] == swapped["metrics"]
        assert again.frame.select(first.frame.columns).equals(first.frame)
        assert [{k: r[k] for k in first.data[0]} for r in again.data] == first.data
        assert (again.sql, again.as_of, again.currency) == (first.sql, first.as_of, first.currency)
        # A source can change with a load, without a run: never kept.
        assert not other.run_query(payments).cached
        # Another role is another answer.
        assert not other.run_query(MRR_BY_SEGMENT, role=Role("analyst")).cached
        other.run(as_of=date(2024, 3, 1))
    with Workspace(tmp_path, keep_answers=True) as later:
        after = later.run_query(MRR_BY_SEGMENT)
    assert not after.cached
    assert max(r["subscriptions.month.month"] for r in after.data) == date(2024, 3, 1)
    # Only the latest run's answers are kept.
    kept = tmp_path / ".custlens" / "answers"
    assert [p.name for p in kept.iterdir()] == [later.latest_run()[0]]


def test_a_kept_answer_is_not_the_answer_of_an_edited_model_or_config(tmp_path: Path) -> None:
    from tests.semantic.data import MODEL, fill, write_workspace

    folder = write_workspace(tmp_path / "ws", "duckdb")
    spec = {"metrics": ["sales.total"]}
    with fill(Workspace(folder, keep_answers=True)) as ws:
        assert ws.run_query(spec).data == [{"sales.total": 245.0}]
    with Workspace(folder, keep_answers=True) as ws:
        assert ws.run_query(spec).cached
    doubled = MODEL.replace(
        "{name: total, type: sum, sql: amount, format: currency}",
        "{name: total, type: sum, sql: amount * 2, format: currency}",
    )
    assert doubled != MODEL
    (folder / "semantic" / "test.yml").write_text(doubled)
    with Workspace(folder, keep_answers=True) as ws:
        answer = ws.run_query(spec)
    assert not answer.cached
    assert answer.data == [{"sales.total": 490.0}]
    # The config too (roles, row limits and currency live there).
    config = folder / "custlens.yml"
    config.write_text(config.read_text() + "\n# edited\n")
    with Workspace(folder, keep_answers=True) as ws:
        assert not ws.run_query(spec).cached
        # A file cut short is a miss, and goes.
        kept = max(
            (folder / ".custlens" / "answers").glob("*/*.answer"), key=lambda p: p.stat().st_mtime
        )
        kept.write_bytes(kept.read_bytes()[:40])
        assert not ws.run_query(spec).cached
        assert ws.run_query(spec).cached
