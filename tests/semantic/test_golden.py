"""Golden files of the compiled SQL (DuckDB) for the queries of queries.py.

Each query's rows are first checked against the hand-worked answer; then its SQL is
compared with ``golden/<name>.sql`` (pretty-printed by SQLGlot). Ibis memtables (the
time spine) get random names, normalised here. The SQL is the cubes' own, with rollups
off (the default transactions rollup would answer some of these; test_rollups.py
checks that routing).
``UPDATE_GOLDEN=1 pytest tests/semantic/test_golden.py`` rewrites the files: review the
diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlglot

from custlens.semantic import Compiler
from tests.semantic.queries import QUERIES, approx_rows

GOLDEN = Path(__file__).parent / "golden"
MEMTABLE = re.compile(r"ibis_[a-z]+_memtable_[a-z0-9]+")


def normalise(sql: str) -> str:
    """Memtable names fixed, pretty-printed one clause a line (readable diffs)."""
    sql = MEMTABLE.sub("ibis_memtable", sql)
    return sqlglot.transpile(sql, read="duckdb", write="duckdb", pretty=True)[0].strip() + "\n"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_golden_sql(duck, name):
    spec, expected = QUERIES[name]
    compiler = Compiler(duck.semantic_model, duck.warehouse, rollups=False)
    result = compiler.run(spec, as_of=duck.as_of())
    assert approx_rows(result.data) == approx_rows(expected)
    sql = normalise(result.sql)
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(sql)
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1"
    assert sql == path.read_text(), f"{path.name} differs (UPDATE_GOLDEN=1 rewrites it)"


def test_sql_is_deterministic(duck):
    spec, _ = QUERIES["spine_last_3_months"]
    assert normalise(duck.run_query(spec).sql) == normalise(duck.run_query(spec).sql)
