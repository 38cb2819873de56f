"""The pipeline (DESIGN.md §5): run records, atomic publication, skipped facts, the as-of month.

On DuckDB and on Spark. The data is a few customer-months whose facts are
worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from custlens import pipeline
from custlens.errors import NotFoundError, PipelineError
from custlens.facts import REGISTRY, FactContext
from custlens.warehouse import STAGE_PREFIX
from custlens.workspace import Workspace
from tests.frames import given_mrr, lines

D = date
RUNS = "_custlens_runs"
CHECKSUMS = "_custlens_source_checksums"
REVENUE_FACTS = ("customer_mrr", "mrr_movements", "growth_summary", "customer_count")


# month:  Jan  Feb  Mar
# a       100  100  150
# b        50    0
# c             30
FIRST = given_mrr(
    ("a", D(2024, 1, 1), 100.0),
    ("a", D(2024, 2, 1), 100.0),
    ("a", D(2024, 3, 1), 150.0),
    ("b", D(2024, 1, 1), 50.0),
    ("b", D(2024, 2, 1), 0.0),
    ("c", D(2024, 2, 1), 30.0),
)


def runs_of(ws: Workspace) -> list[dict[str, object]]:
    """The run log, oldest first."""
    return ws.table(RUNS).sort("started_at").to_dicts()


def all_tables(ws: Workspace) -> list[str]:
    """Every table of the warehouse, staging tables included (Workspace.tables() hides them)."""
    wh = ws.warehouse
    names = wh.con.list_tables(database=wh._database) if wh._database else wh.con.list_tables()
    names = list(names)
    if wh.kind == "pyspark":
        names += [p.name for p in (ws.path / "spark-warehouse").iterdir()]
    return names


def facts_of(ws: Workspace, names: tuple[str, ...] | list[str]) -> dict[str, pl.DataFrame]:
    return {name: ws.table(name) for name in names}


def test_runs_are_recorded_and_a_second_run_replaces_the_facts(make_workspace) -> None:
    ws = make_workspace()
    ws.load({"customer_mrr": FIRST})
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    first = ws.run(as_of=D(2024, 2, 1))

    (record,) = runs_of(ws)
    assert record["run_id"] == first.run_id
    assert record["status"] == "succeeded"
    assert record["as_of"] == D(2024, 2, 29)  # the last day of the as-of month (a leap year)
    assert (
        before
        <= record["started_at"]
        <= record["finished_at"]
        <= datetime.now(UTC).replace(tzinfo=None)
    )
    inputs = json.loads(record["inputs"])
    assert set(inputs) == {"customer_mrr"}
    assert inputs["customer_mrr"]["rows"] == 6
    assert isinstance(inputs["customer_mrr"]["checksum"], int)
    assert record["version"] == version("custlens")
    assert record["error"] is None
    # To Feb: a Jan, Feb; b Jan, Feb (0); c Feb → 5 customer-months;
    # movements: a new, b new (Jan), b churn, c new (Feb) → 4; two months of growth.
    assert {k: first.written[k] for k in REVENUE_FACTS} == {
        "customer_mrr": 5,
        "mrr_movements": 4,
        "growth_summary": 2,
        "customer_count": 2,
    }
    assert json.loads(record["facts"]) == first.written
    for name, rows in first.written.items():
        table = ws.table(name)
        assert table.height == rows, name
        assert table["_run_id"].to_list() == [first.run_id] * rows, name

    # Second run: d joins in March, and the as-of month moves to March.
    ws.load({"customer_mrr": pl.concat([FIRST, given_mrr(("d", D(2024, 3, 1), 20.0))])})
    second = ws.run(as_of=D(2024, 3, 1))
    assert second.run_id != first.run_id
    old, new = runs_of(ws)
    assert new["run_id"] == second.run_id
    assert new["status"] == "succeeded"
    assert new["as_of"] == D(2024, 3, 31)
    second_inputs = json.loads(new["inputs"])["customer_mrr"]
    assert second_inputs["rows"] == 7
    assert second_inputs["checksum"] != inputs["customer_mrr"]["checksum"]
    for name in second.written:
        assert set(ws.table(name)["_run_id"]) == {second.run_id}, name
    # a 100 100 150, b 50 0 0, c 0 30 0, d 0 0 20 → ending 150, 130, 170.
    growth = ws.table("growth_summary")
    assert growth["month"].to_list() == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert growth["ending_mrr"].to_list() == [150.0, 130.0, 170.0]
    assert growth["ending_customers"].to_list() == [2, 2, 2]
    moves = ws.table("mrr_movements").filter(pl.col("month") == D(2024, 3, 1))
    assert sorted(zip(moves["customer_id"], moves["movement"], moves["amount"], strict=True)) == [
        ("a", "expansion", 50.0),
        ("c", "churn", 30.0),
        ("d", "new", 20.0),
    ]
    # The first record is kept as it was (its null error stays null).
    assert old == record

    # Another process opens the workspace: it finds the run log and the facts. (On Spark
    # a new session has no catalog entries: dropping the database stands in for that.)
    if ws.warehouse.kind == "pyspark":
        ws.warehouse.con.raw_sql(f"DROP DATABASE {ws.warehouse._database} CASCADE")
    with Workspace(ws.path) as again:
        assert again.runs()["run_id"].to_list() == [second.run_id, first.run_id]
        assert again.table("growth_summary")["ending_mrr"].to_list() == [150.0, 130.0, 170.0]


def boom(ctx: FactContext) -> object:
    raise RuntimeError("boom: growth_summary exploded")


def test_a_failing_fact_leaves_the_previous_facts_and_records_the_failure(
    make_workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace()
    ws.load({"customer_mrr": FIRST})
    good = ws.run(as_of=D(2024, 3, 1))
    published = facts_of(ws, list(good.written))
    tables = sorted(ws.tables())

    ws.load({"customer_mrr": given_mrr(("z", D(2024, 1, 1), 999.0))})
    monkeypatch.setitem(
        REGISTRY, "growth_summary", dataclasses.replace(REGISTRY["growth_summary"], build=boom)
    )
    with pytest.raises(PipelineError, match="boom") as info:
        ws.run(as_of=D(2024, 3, 1))
    assert "unchanged" in str(info.value)

    # customer_mrr and mrr_movements were staged before growth_summary failed:
    # none of it is published, and no staging table is left behind.
    for name, frame in published.items():
        assert_frame_equal(ws.table(name), frame, check_row_order=False)
    assert sorted(ws.tables()) == tables
    leftovers = [n for n in all_tables(ws) if n.startswith((STAGE_PREFIX, "_trash_"))]
    assert leftovers == []

    ok, failed = runs_of(ws)
    assert ok["run_id"] == good.run_id and ok["status"] == "succeeded"
    assert failed["status"] == "failed"
    assert "boom" in failed["error"]
    assert failed["as_of"] == D(2024, 3, 31)
    assert json.loads(failed["inputs"])["customer_mrr"]["rows"] == 1
    assert failed["run_id"] != good.run_id
    # Queries count from the latest run that succeeded, not from the newer failure.
    assert ws.latest_run() == (good.run_id, D(2024, 3, 31))


def test_facts_without_their_inputs_are_skipped_with_the_reason(make_workspace) -> None:
    ws = make_workspace()
    spend = pl.DataFrame({"month": [D(2024, 1, 1)], "amount": [500.0]})
    ws.load({"marketing_spend": spend})
    result = ws.run()
    assert result.written == {}
    assert result.as_of is None  # no MRR and no transaction: no as-of month
    assert set(result.skipped) == set(REGISTRY)
    assert "subscription_lines" in result.skipped["customer_mrr"]
    assert "customer_mrr" in result.skipped["customer_mrr"]
    assert "customer_mrr" in result.skipped["mrr_movements"]
    (record,) = runs_of(ws)
    assert record["status"] == "succeeded"
    assert record["as_of"] is None
    assert json.loads(record["skipped"]) == result.skipped
    assert json.loads(record["inputs"])["marketing_spend"]["rows"] == 1
    # The run log, the loaded source, its checksums and those the run read
    # (custlens.sources.checksums).
    assert sorted(ws.tables()) == [
        "_custlens_run_checksums",
        RUNS,
        CHECKSUMS,
        "src_marketing_spend",
    ]


def test_a_fact_runs_when_its_inputs_are_there_while_others_are_skipped(make_workspace) -> None:
    ws = make_workspace()
    # Budget only: 3 new customers planned in January 2024, 1 churned in February.
    events = pl.DataFrame(
        {
            "date": [D(2024, 1, 10), D(2024, 2, 5)],
            "revenue_type_id": [1, 4],
            "value_type_id": [2, 2],
            "nr_of_customers": [3, 1],
        }
    )
    ws.load({"revenue_events": events})
    result = ws.run(as_of=D(2024, 2, 1))
    assert set(result.written) == {"customer_count"}
    assert "subscription_lines" in result.skipped["customer_mrr"]
    counts = ws.table("customer_count")
    assert counts["ending_balance"].to_list() == [3, 2]
    assert counts["value_type_id"].to_list() == [2, 2]


def test_the_default_as_of_is_the_last_billed_month_capped_at_today(make_workspace) -> None:
    ws = make_workspace()
    wh = ws.warehouse
    assert pipeline.default_as_of_month(wh, today=D(2030, 1, 1)) is None
    ws.load(
        {
            "subscription_lines": lines(
                ("a", D(2024, 1, 15), D(2025, 1, 15), 1200.0, "recurring"),  # annual, to 2025
                ("a", D(2024, 3, 15), D(2024, 4, 15), 50.0, "recurring"),  # last period start
                ("b", D(2024, 6, 1), D(2024, 7, 1), 500.0, "one_time"),  # not MRR
            )
        }
    )
    # The latest recurring period start is in March 2024 (not the annual's 2025 end).
    assert pipeline.default_as_of_month(wh, today=D(2030, 1, 1)) == D(2024, 3, 1)
    assert pipeline.default_as_of_month(wh, today=D(2024, 2, 20)) == D(2024, 2, 1)

    transactions = pl.DataFrame(
        {
            "transaction_id": ["t1", "t2"],
            "customer_id": ["a", "a"],
            "created_at": [datetime(2024, 1, 15, 9), datetime(2024, 5, 31, 23, 59)],
            "amount": [1200.0, 50.0],
        }
    )
    ws.load({"transactions": transactions})
    assert pipeline.default_as_of_month(wh, today=D(2030, 1, 1)) == D(2024, 5, 1)
    assert pipeline.default_as_of_month(wh, today=D(2024, 4, 1)) == D(2024, 4, 1)

    result = pipeline.run(wh, ws.config, today=D(2024, 4, 30))
    assert result.as_of == D(2024, 4, 1)
    (record,) = runs_of(ws)
    assert record["as_of"] == D(2024, 4, 30)
    # a pays 100 (annual) from January, 150 in March, 100 again in April.
    growth = ws.table("growth_summary")
    assert growth["month"].to_list() == [D(2024, m, 1) for m in (1, 2, 3, 4)]
    assert growth["ending_mrr"].to_list() == [100.0, 100.0, 150.0, 100.0]


def test_the_default_as_of_of_given_mrr_ignores_zero_months(make_workspace) -> None:
    ws = make_workspace()
    ws.load(
        {
            "customer_mrr": given_mrr(
                ("a", D(2024, 1, 1), 10.0),
                ("a", D(2024, 4, 1), 25.5),
                ("b", D(2024, 9, 1), 0.0),  # a zero row is not revenue
            )
        }
    )
    assert pipeline.default_as_of_month(ws.warehouse, today=D(2030, 1, 1)) == D(2024, 4, 1)
    assert pipeline.default_as_of_month(ws.warehouse, today=D(2024, 3, 3)) == D(2024, 3, 1)


def test_the_configured_as_of_is_used_when_none_is_given(make_workspace) -> None:
    ws = make_workspace(as_of="2024-02")
    ws.load({"customer_mrr": FIRST})
    result = ws.run()
    assert result.as_of == D(2024, 2, 1)
    assert ws.table("growth_summary")["month"].max() == D(2024, 2, 1)
    assert runs_of(ws)[0]["as_of"] == D(2024, 2, 29)


def test_only_runs_the_named_facts_and_what_they_read(tmp_path) -> None:
    ws = Workspace.init(tmp_path / "only")
    ws.load({"subscription_lines": lines(("a", date(2024, 1, 1), date(2024, 3, 1), 200.0))})
    result = ws.run(as_of=date(2024, 2, 1), only=["growth_summary"])
    assert sorted(result.written) == ["customer_mrr", "growth_summary", "mrr_movements"]
    with pytest.raises(NotFoundError, match=r"no fact 'growth'; facts: .*growth_summary"):
        ws.run(only=["growth"])
    ws.close()
