"""Source checksums, per month and customer bucket: made as a source is loaded, written
with it, read by the run (custlens.sources.checksums).

The expected partitions are counted by hand; a checksum is checked by what it must
do (the same for the same rows in any order, changed in the one partition whose row
changed), never against a value the module computes.
"""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from custlens import pipeline
from custlens.errors import ContractError
from custlens.sources.checksums import (
    BUCKETS,
    CHECKSUMS_TABLE,
    Change,
    changes,
    month_column,
    partition_checksums,
)
from custlens.sources.contract import TABLES
from custlens.workspace import Workspace
from tests.frames import given_mrr

D = date


# Two customers over three months; a pays every month, b in January and March.
MRR = given_mrr(
    ("a", D(2024, 1, 1), 100.0),
    ("a", D(2024, 2, 1), 100.0),
    ("a", D(2024, 3, 1), 150.0),
    ("b", D(2024, 1, 1), 50.0),
    ("b", D(2024, 3, 1), 60.0),
)


def by_partition(checksums: pl.DataFrame) -> dict[tuple[object, object], tuple[int, int]]:
    return {
        (r["month"], r["bucket"]): (r["rows"], r["checksum"])
        for r in checksums.iter_rows(named=True)
    }


def test_each_table_is_dated_by_its_first_required_date() -> None:
    assert month_column(TABLES["customer_mrr"]) == "month"
    assert month_column(TABLES["transactions"]) == "created_at"
    assert month_column(TABLES["subscription_lines"]) == "period_start"
    assert month_column(TABLES["customers"]) is None  # signup_date is optional


def test_rows_are_counted_per_month_and_customer_bucket() -> None:
    parts = partition_checksums("customer_mrr", MRR)
    # Five rows: January a, b; February a; March a, b. Per month, one row per customer's
    # bucket (a and b may share one).
    per_month = parts.group_by("month").agg(pl.col("rows").sum()).sort("month")
    assert per_month.rows() == [(D(2024, 1, 1), 2), (D(2024, 2, 1), 1), (D(2024, 3, 1), 2)]
    assert parts["rows"].sum() == 5
    assert set(parts["source"]) == {"customer_mrr"}
    buckets = parts["bucket"].to_list()
    assert all(0 <= b < 64 for b in buckets)


def test_a_checksum_does_not_depend_on_the_order_of_the_rows() -> None:
    shuffled = MRR.sample(fraction=1.0, shuffle=True, seed=3).reverse()
    assert by_partition(partition_checksums("customer_mrr", shuffled)) == by_partition(
        partition_checksums("customer_mrr", MRR)
    )


def test_a_changed_row_changes_its_partition_alone() -> None:
    before = by_partition(partition_checksums("customer_mrr", MRR))
    corrected = MRR.with_columns(
        mrr=pl.when((pl.col("customer_id") == "a") & (pl.col("month") == D(2024, 2, 1)))
        .then(120.0)
        .otherwise(pl.col("mrr"))
    )
    after = by_partition(partition_checksums("customer_mrr", corrected))
    changed = [key for key in before if before[key] != after[key]]
    assert len(changed) == 1 and changed[0][0] == D(2024, 2, 1)
    assert after[changed[0]][0] == before[changed[0]][0]  # as many rows, another checksum


def test_an_appended_month_adds_partitions_and_keeps_the_others() -> None:
    before = by_partition(partition_checksums("customer_mrr", MRR))
    appended = pl.concat([MRR, given_mrr(("a", D(2024, 4, 1), 150.0))])
    after = by_partition(partition_checksums("customer_mrr", appended))
    assert {k: v for k, v in after.items() if k[0] != D(2024, 4, 1)} == before
    assert [v[0] for k, v in after.items() if k[0] == D(2024, 4, 1)] == [1]


def test_an_undated_table_is_partitioned_by_customer_bucket_alone() -> None:
    customers = pl.DataFrame({"customer_id": ["a", "b", "c"], "name": ["A", "B", "C"]})
    parts = partition_checksums("customers", customers)
    assert parts["month"].null_count() == parts.height
    assert parts["rows"].sum() == 3


@pytest.fixture
def ws(tmp_path) -> Workspace:
    workspace = Workspace.init(tmp_path / "ws")
    yield workspace
    workspace.close()


def stored(ws: Workspace) -> pl.DataFrame:
    return ws.warehouse.read(CHECKSUMS_TABLE)


def test_a_load_writes_the_checksums_of_what_it_loaded(ws: Workspace) -> None:
    ws.load({"customer_mrr": MRR})
    checksums = stored(ws)
    assert set(checksums["source"]) == {"customer_mrr"}
    assert checksums["rows"].sum() == 5
    assert by_partition(checksums) == by_partition(partition_checksums("customer_mrr", MRR))


def test_loading_one_source_again_replaces_its_checksums_alone(ws: Workspace) -> None:
    marketing = pl.DataFrame({"month": [D(2024, 1, 1)], "amount": [500.0]})
    ws.load({"customer_mrr": MRR, "marketing_spend": marketing})
    spend_before = stored(ws).filter(pl.col("source") == "marketing_spend")
    ws.load({"customer_mrr": MRR.head(2)})
    after = stored(ws)
    assert after.filter(pl.col("source") == "customer_mrr")["rows"].sum() == 2
    assert after.filter(pl.col("source") == "marketing_spend").equals(spend_before)


def test_a_refused_load_leaves_the_checksums_as_they_were(ws: Workspace) -> None:
    ws.load({"customer_mrr": MRR})
    before = stored(ws)
    broken = MRR.with_columns(mrr=pl.lit(-5.0))  # MRR may not be negative
    with pytest.raises(ContractError):
        ws.load({"customer_mrr": broken})
    assert stored(ws).equals(before)


def test_the_run_records_the_checksums_made_at_load(ws: Workspace) -> None:
    ws.load({"customer_mrr": MRR})
    ws.run(only=["customer_mrr"])
    checksums = stored(ws)
    (record,) = ws.table("_custlens_runs").to_dicts()
    recorded = json.loads(record["inputs"])["customer_mrr"]
    assert recorded == {
        "rows": 5,
        "checksum": int(checksums["checksum"].sum()),
        "since_last_run": "new",  # the first run
    }


def test_a_source_written_around_load_is_checksummed_by_the_engine(ws: Workspace) -> None:
    ws.load({"customer_mrr": MRR})
    made_at_load = int(stored(ws)["checksum"].sum())
    # Written straight into the warehouse (as tests do): the stored checksums count five
    # rows, the table holds two, so they are not trusted.
    ws.warehouse.write_tables({"src_customer_mrr": MRR.head(2)})
    ws.run(only=["customer_mrr"])
    (record,) = ws.table("_custlens_runs").to_dicts()
    recorded = json.loads(record["inputs"])["customer_mrr"]
    assert recorded["rows"] == 2
    assert recorded["checksum"] != made_at_load


def bucket_of(customer_id: str) -> int:
    """The bucket a customer's rows fall in, read off a checksum of its rows alone."""
    (bucket,) = partition_checksums(
        "customer_mrr", MRR.filter(pl.col("customer_id") == customer_id)
    )["bucket"].unique()
    return int(bucket)


def test_changes_name_the_months_and_buckets_that_changed() -> None:
    before = partition_checksums("customer_mrr", MRR)
    # b's March corrected, and an April for a: March (b's bucket) and April (a's).
    after = partition_checksums(
        "customer_mrr",
        pl.concat(
            [
                MRR.with_columns(
                    mrr=pl.when((pl.col("customer_id") == "b") & (pl.col("month") == D(2024, 3, 1)))
                    .then(65.0)
                    .otherwise(pl.col("mrr"))
                ),
                given_mrr(("a", D(2024, 4, 1), 150.0)),
            ]
        ),
    )
    (change,) = changes(before, after, ["customer_mrr"]).values()
    assert change.status == "changed"
    assert change.months == [D(2024, 3, 1), D(2024, 4, 1)]
    assert change.buckets == sorted({bucket_of("a"), bucket_of("b")})
    assert change.describe().startswith("months 2024-03, 2024-04; ")
    assert change.describe().endswith(f" of {BUCKETS} customer buckets")


def test_a_removed_row_is_a_change_of_its_month() -> None:
    before = partition_checksums("customer_mrr", MRR)
    after = partition_checksums("customer_mrr", MRR.filter(pl.col("month") != D(2024, 2, 1)))
    (change,) = changes(before, after, ["customer_mrr"]).values()
    assert change.months == [D(2024, 2, 1)] and change.buckets == [bucket_of("a")]


def test_sources_new_unchanged_or_not_comparable() -> None:
    parts = partition_checksums("customer_mrr", MRR)
    assert changes(None, parts, ["customer_mrr"]) == {"customer_mrr": Change("new")}
    assert changes(parts, parts, ["customer_mrr"]) == {"customer_mrr": Change("unchanged")}
    other_polars = parts.with_columns(method=pl.lit("polars 0.1 struct hash, seed 0"))
    assert changes(other_polars, parts, ["customer_mrr"])["customer_mrr"].status == "not compared"
    # No checksums now (a source written around load): nothing to compare.
    assert changes(parts, parts.clear(), ["customer_mrr"])["customer_mrr"].status == "not compared"


def test_the_run_log_says_what_changed_since_the_last_full_run(ws: Workspace) -> None:
    marketing = pl.DataFrame({"month": [D(2024, 1, 1)], "amount": [500.0]})
    ws.load({"customer_mrr": MRR, "marketing_spend": marketing})
    ws.run()
    ws.load({"customer_mrr": pl.concat([MRR, given_mrr(("b", D(2024, 4, 1), 60.0))])})
    second = ws.run()
    assert second.changes["customer_mrr"] == Change("changed", [D(2024, 4, 1)], [bucket_of("b")])
    assert second.changes["marketing_spend"] == Change("unchanged")
    record = ws.table("_custlens_runs").sort("started_at").to_dicts()[-1]
    inputs = json.loads(record["inputs"])
    assert inputs["customer_mrr"]["since_last_run"] == "changed"
    assert inputs["customer_mrr"]["changed_months"] == ["2024-04"]
    assert inputs["customer_mrr"]["changed_buckets"] == [bucket_of("b")]
    assert inputs["marketing_spend"]["since_last_run"] == "unchanged"
    # A run of some facts compares with the last full run, and does not replace it: the
    # full run after it still sees b's April gone.
    ws.load({"customer_mrr": MRR})
    assert ws.run(only=["customer_mrr"]).changes["customer_mrr"].months == [D(2024, 4, 1)]
    assert ws.run().changes["customer_mrr"].months == [D(2024, 4, 1)]
    assert ws.run().changes["customer_mrr"] == Change("unchanged")


def test_changes_are_found_on_every_engine(make_workspace) -> None:
    # The checksums are Polars's, made at load; the engine stores and returns them.
    ws = make_workspace()
    ws.load({"customer_mrr": MRR})
    first = pipeline.run(ws.warehouse, ws.config)
    assert first.changes == {"customer_mrr": Change("new")}
    ws.load({"customer_mrr": MRR.filter(pl.col("customer_id") == "a")})
    # One fact is enough: a run of some facts compares with the last full run too.
    second = pipeline.run(ws.warehouse, ws.config, only=["customer_mrr"])
    assert second.changes["customer_mrr"] == Change(
        "changed", [D(2024, 1, 1), D(2024, 3, 1)], [bucket_of("b")]
    )
