"""The same queries give the same rows on DuckDB and on local Spark (and the hand answer)."""

from __future__ import annotations

import pytest

from tests.semantic.queries import QUERIES, approx_rows


@pytest.mark.spark
def test_duckdb_spark_parity(workspaces, spark):
    duck, sparky = workspaces("duckdb"), workspaces("pyspark")
    for name, (spec, expected) in QUERIES.items():
        on_duck = approx_rows(duck.run_query(spec).data)
        on_spark = approx_rows(sparky.run_query(spec).data)
        assert on_spark == on_duck, name
        assert on_duck == approx_rows(expected), name
