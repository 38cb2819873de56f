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

from custlens.errors import ContractError
from custlens.sources.checksums import CHECKSUMS_TABLE, month_column, partition_checksums
from custlens.sources.contract import TABLES
from custlens.workspace import Workspace

D = date


def given_mrr(*rows: tuple[str, date, float]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"customer_id": pl.String, "month": pl.Date, "mrr": pl.Float64}, orient="row"
    )


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
    assert recorded == {"rows": 5, "checksum": int(checksums["checksum"].sum())}


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
