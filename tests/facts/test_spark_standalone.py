"""The pipeline and the semantic layer on a standalone Spark cluster — a master and a
worker started from the pyspark package on loopback ports — through
``warehouse: spark://host:port``: every fact and every answer must equal DuckDB's.

A process drives one classic Spark application, and the test process may already
hold a local one (the other Spark tests), so the cluster's client is a process of
its own: it runs the workspace and writes the facts and answers beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens.synth import generate
from custlens.workspace import Workspace
from tests.facts.test_spark_connect import QUERIES, assert_answers_agree, assert_facts_agree
from tests.spark_servers import spark_standalone

pytestmark = pytest.mark.spark

AS_OF = date(2023, 8, 1)

CLIENT = """
import json, sys
from datetime import date
from pathlib import Path

from custlens.synth import generate
from custlens.warehouse.spark import spark_session
from custlens.workspace import Workspace
from tests.conftest import SPARK_TEST_CONF

url, folder, queries = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
# The tests' settings for tiny tables, and executors as small as the machine allows.
spark_session(url, "1g", {**SPARK_TEST_CONF, "spark.executor.memory": "1g"})
with Workspace.init(folder / "ws", warehouse=url) as ws:
    ws.load(generate(customers=60, months=8, seed=3))
    result = ws.run(as_of=date(2023, 8, 1))
    (folder / "facts").mkdir()
    for name in result.written:
        ws.table(name).write_parquet(folder / "facts" / f"{name}.parquet")
    answers = [ws.run_query(q).data for q in queries]
    (folder / "answers.json").write_text(json.dumps(answers, default=str))
    print("RAN " + ws.warehouse.con._session.sparkContext.master)
"""


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the cluster's client wrote the facts and answers to."""
    folder = tmp_path_factory.mktemp("spark-standalone")
    with spark_standalone(folder) as url:
        done = subprocess.run(
            [sys.executable, "-c", CLIENT, url, str(folder), json.dumps(QUERIES)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=Path(__file__).parents[2],
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"RAN {url}" in done.stdout  # the cluster ran it, not a local session
    return folder


@pytest.fixture(scope="module")
def duckdb_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    with Workspace.init(tmp_path_factory.mktemp("standalone-duckdb") / "ws") as ws:
        ws.load(generate(customers=60, months=8, seed=3))
        result = ws.run(as_of=AS_OF)
        return {
            "facts": {name: ws.table(name) for name in result.written},
            "answers": [ws.run_query(q).data for q in QUERIES],
        }


def test_every_fact_equals_duckdbs(cluster_run: Path, duckdb_run: dict) -> None:
    cluster = {p.stem: pl.read_parquet(p) for p in (cluster_run / "facts").glob("*.parquet")}
    assert_facts_agree(duckdb_run["facts"], cluster)


def test_queries_answer_as_on_duckdb(cluster_run: Path, duckdb_run: dict) -> None:
    # The answers came through JSON: dates as ISO text.
    answers = json.loads((cluster_run / "answers.json").read_text())
    duck = [[{k: _plain(v) for k, v in r.items()} for r in a] for a in duckdb_run["answers"]]
    assert_answers_agree(duck, answers)


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value
