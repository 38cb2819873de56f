"""One generated data set through the whole pipeline on DuckDB and on Spark: every fact must agree.

The same sources, loaded the same way, run to the same as-of month: same facts
written, same columns and types, same rows after sorting, floats equal to a
relative 1e-9 and dates and texts exactly.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from custlens.synth import generate
from custlens.workspace import Workspace

pytestmark = pytest.mark.spark

AS_OF = date(2024, 2, 1)  # the last of 14 months from the generator's 2023-01 start
RUN_ID = "_run_id"


@pytest.fixture(scope="module")
def facts(spark: object, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """engine → fact name → table, from one data set run on each engine."""
    frames = generate(customers=150, months=14, seed=3)
    root = tmp_path_factory.mktemp("parity")
    out: dict[str, dict[str, pl.DataFrame]] = {}
    for engine, warehouse in (("duckdb", None), ("pyspark", "pyspark")):
        with Workspace.init(root / engine, warehouse=warehouse) as ws:
            assert ws.warehouse.kind == engine
            ws.load(frames)
            result = ws.run(as_of=AS_OF)
            out[engine] = {name: ws.table(name) for name in result.written}
    return out


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Without the run id, rows sorted by every non-float column, then by the floats."""
    frame = frame.drop(RUN_ID)
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    keys = [c for c in frame.columns if c not in floats] + floats
    return frame.sort(keys, nulls_last=True)


def test_both_engines_write_the_same_facts(facts: dict[str, dict]) -> None:
    assert sorted(facts["pyspark"]) == sorted(facts["duckdb"])
    for name in ("customer_mrr", "mrr_movements", "growth_summary", "customer_count"):
        assert name in facts["duckdb"], name
        assert facts["duckdb"][name].height > 0, name
    assert facts["duckdb"]["growth_summary"]["month"].max() == AS_OF


def differences(duck: pl.DataFrame, spark: pl.DataFrame) -> list[str]:
    """Cells that differ between two canonical frames of the same shape."""
    out = []
    for column in duck.columns:
        for row, (d, s) in enumerate(zip(duck[column], spark[column], strict=True)):
            if d is None or s is None:
                same = d is None and s is None
            elif isinstance(d, float):
                same = math.isclose(d, s, rel_tol=1e-9, abs_tol=1e-12) or (d != d and s != s)
            else:
                same = d == s
            if not same:
                out.append(f"{column}, row {row}: duckdb {d!r}, spark {s!r}")
    return out


def assert_same(facts: dict[str, dict], name: str) -> None:
    duck, spark = canonical(facts["duckdb"][name]), canonical(facts["pyspark"][name])
    assert spark.columns == duck.columns, name
    assert spark.height == duck.height, name
    cells = differences(duck, spark)
    assert not cells, f"{name}: {len(cells)} cells differ:\n" + "\n".join(cells[:20])
    assert dict(spark.schema) == dict(duck.schema), name


COMPARED = ("customer_mrr", "mrr_movements", "growth_summary", "customer_count", "metrics_catalog")


@pytest.mark.parametrize("name", COMPARED)
def test_a_fact_is_the_same_on_duckdb_and_spark(facts: dict[str, dict], name: str) -> None:
    assert_same(facts, name)


def test_facts_added_later_are_the_same_too(facts: dict[str, dict]) -> None:
    for name in sorted(set(facts["duckdb"]) - set(COMPARED)):
        assert_same(facts, name)
