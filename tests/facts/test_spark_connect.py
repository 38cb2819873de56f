"""The pipeline and the semantic layer through Spark Connect, against a real Spark
Connect server started from the pyspark package on a loopback port: every fact must
equal DuckDB's, as must the answers to queries, and a second run must publish over
the first (versioned tables behind views)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens.errors import WarehouseError
from custlens.synth import generate
from custlens.workspace import Workspace
from tests.conftest import SPARK_TEST_CONF
from tests.facts.test_parity import canonical, differences
from tests.spark_servers import spark_connect_server

pytestmark = pytest.mark.spark

TOKEN = "custlens-test-token"
AS_OF = date(2023, 8, 1)  # the last of 8 months from the generator's 2023-01 start
QUERIES = [
    {"metrics": ["mrr"]},
    {"metrics": ["subscriptions.mrr", "subscriptions.arr"], "dimensions": ["customers.segment"]},
    {
        "metrics": ["subscriptions.mrr"],
        "time_dimensions": [{"dimension": "subscriptions.month", "granularity": "quarter"}],
    },
    {"metrics": ["transactions.revenue"], "dimensions": ["customers.region"]},
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The tests' settings for tiny tables (one shuffle partition, no codegen, the C1
    # compiler alone): the server's defaults take seconds per fact here.
    # The server takes only clients with its token: every test presents it, and one
    # checks that a wrong or missing token is refused.
    folder = tmp_path_factory.mktemp("spark-connect")
    with spark_connect_server(folder, SPARK_TEST_CONF, token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def runs(url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """engine → facts, answers and the Connect workspace's folder."""
    frames = generate(customers=60, months=8, seed=3)
    root = tmp_path_factory.mktemp("connect-parity")
    out: dict[str, dict] = {}
    for engine, warehouse in (("duckdb", None), ("connect", url)):
        with Workspace.init(root / engine, warehouse=warehouse) as ws:
            ws.load(frames)
            result = ws.run(as_of=AS_OF)
            out[engine] = {
                "facts": {name: ws.table(name) for name in result.written},
                "answers": [ws.run_query(q).data for q in QUERIES],
                "folder": root / engine,
            }
    return out


def test_every_fact_equals_duckdbs(runs: dict[str, dict]) -> None:
    assert_facts_agree(runs["duckdb"]["facts"], runs["connect"]["facts"])


def assert_facts_agree(duck: dict[str, pl.DataFrame], other: dict[str, pl.DataFrame]) -> None:
    """Every fact another engine wrote equals DuckDB's, cell by cell."""
    assert sorted(other) == sorted(duck)
    assert len(duck) >= 20
    for name in duck:
        d, c = canonical(duck[name]), canonical(other[name])
        assert c.columns == d.columns, name
        assert c.height == d.height, name
        cells = differences(d, c)
        assert not cells, f"{name}: {len(cells)} cells differ:\n" + "\n".join(cells[:10])


def _rows(answer: list[dict]) -> list[list[tuple]]:
    """Each row as its (member, value) pairs by member name (dimensions sort before the
    measures in the queries above), the rows in the order of their text."""
    return sorted((sorted(r.items()) for r in answer), key=str)


def test_queries_answer_as_on_duckdb(runs: dict[str, dict]) -> None:
    assert_answers_agree(runs["duckdb"]["answers"], runs["connect"]["answers"])


def assert_answers_agree(duck: list[list[dict]], other: list[list[dict]]) -> None:
    """Another engine's answers to :data:`QUERIES` are DuckDB's (floats to 1e-9)."""
    for query, duck_answer, answer in zip(QUERIES, duck, other, strict=True):
        assert duck_answer, query
        duck_rows, rows = _rows(duck_answer), _rows(answer)
        assert len(rows) == len(duck_rows), query
        for d, c in zip(duck_rows, rows, strict=True):
            assert [k for k, _ in c] == [k for k, _ in d], query
            for (_, dv), (_, cv) in zip(d, c, strict=True):
                assert cv == (pytest.approx(dv, rel=1e-9) if isinstance(dv, float) else dv), query


def _versions(ws: Workspace, name: str) -> list[str]:
    rows = ws.warehouse.con._session.sql(
        f"SHOW TABLES IN {ws.warehouse._database} LIKE '{name}__v*'"
    ).collect()
    return sorted(r.tableName for r in rows)


def test_a_run_publishes_over_the_last_and_drops_versions_after_the_grace_period(
    runs: dict[str, dict],
) -> None:
    folder = runs["connect"]["folder"]
    with Workspace(folder) as ws:
        first = ws.table("growth_summary")
        ws.run(as_of=AS_OF, only=["growth_summary"])
        again = ws.table("growth_summary")
        listed = ws.tables()
        young = _versions(ws, "growth_summary")
    assert again.drop("_run_id").equals(first.drop("_run_id"))
    assert again["_run_id"][0] != first["_run_id"][0]
    assert not [n for n in listed if "__v" in n]  # versions are not tables of the workspace
    # Replaced a minute ago at most: within the default grace period (10 minutes), kept.
    assert len(young) == 2
    config = folder / "custlens.yml"
    config.write_text(config.read_text() + "\nspark:\n  old_versions_grace_minutes: 0\n")
    with Workspace(folder) as ws:
        ws.run(as_of=AS_OF, only=["growth_summary"])
        left = _versions(ws, "growth_summary")
        assert ws.table("growth_summary").drop("_run_id").equals(first.drop("_run_id"))
    assert len(left) == 1 and left[0] not in young


def test_the_database_and_the_folder_of_the_tables_are_the_users(url: str, tmp_path: Path) -> None:
    files = tmp_path / "facts-here"
    with Workspace.init(tmp_path / "ws", warehouse=url) as ws:
        pass
    config = tmp_path / "ws" / "custlens.yml"
    config.write_text(
        config.read_text()
        + f"\nspark:\n  database: custlens_named_test\n  warehouse_dir: file://{files}\n"
    )
    frame = pl.DataFrame({"customer_id": ["C1"], "name": ["Ada"]})
    with Workspace(tmp_path / "ws") as ws:
        ws.load({"customers": frame})
        assert ws.warehouse._database == "custlens_named_test"
        tables = ws.warehouse.con._session.sql("SHOW TABLES IN custlens_named_test").collect()
        assert "src_customers" in {r.tableName for r in tables}
        assert ws.table("customers").select("customer_id", "name").equals(frame)
    assert [p.name for p in files.iterdir() if p.name.startswith("src_customers__v")]


def test_a_local_warehouse_folder_must_be_one_this_process_reaches(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws", warehouse="pyspark") as ws:
        pass
    config = tmp_path / "ws" / "custlens.yml"
    config.write_text(config.read_text() + "\nspark:\n  warehouse_dir: s3a://bucket/facts\n")
    with Workspace(tmp_path / "ws") as ws, pytest.raises(WarehouseError) as refused:
        ws.tables()
    assert "spark.warehouse_dir 's3a://bucket/facts'" in str(refused.value)
    assert "sc://" in str(refused.value)


@pytest.mark.parametrize(("scheme", "what"), [("sc", "Spark Connect"), ("spark", "Spark master")])
def test_an_unreachable_server_is_one_line_naming_the_url(
    scheme: str, what: str, tmp_path: Path
) -> None:
    from tests.spark_servers import free_port

    dead = f"{scheme}://127.0.0.1:{free_port()}"
    with (
        Workspace.init(tmp_path / "ws", warehouse=dead) as ws,
        pytest.raises(WarehouseError) as refused,
    ):
        ws.tables()
    message = str(refused.value)
    assert dead in message and what in message
    assert "\n" not in message and "at org.apache" not in message


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (";token=not-the-token", "must be the server's spark.connect.authenticate.token"),
        ("", "the server asks for a token: add ;token=… to the URL"),
    ],
)
def test_a_refused_token_is_one_line_naming_the_url_without_the_token(
    url: str, token: str, says: str, tmp_path: Path
) -> None:
    wrong = url.replace(f";token={TOKEN}", token).removesuffix("/")
    with (
        Workspace.init(tmp_path / "ws", warehouse=wrong) as ws,
        pytest.raises(WarehouseError) as refused,
    ):
        ws.tables()
    message = str(refused.value)
    assert message.startswith(f"Spark Connect at {wrong.replace('not-the-token', '***')} ")
    assert "refused the connection" in message and says in message
    assert "not-the-token" not in message and TOKEN not in message
    assert "\n" not in message and "_InactiveRpcError" not in message


def test_polars_frames_round_trip(url: str, tmp_path: Path) -> None:
    frame = pl.DataFrame({"customer_id": ["C1", "C2"], "name": ["Ada", None]})
    with Workspace.init(tmp_path / "ws", warehouse=url) as ws:
        ws.load({"customers": frame})
        assert ws.table("customers").select("customer_id", "name").equals(frame)


def _client(script: str, folder: Path) -> subprocess.Popen[str]:
    """Another process, with its own Connect session, running ``script`` on the
    workspace at ``folder``; its output read line by line."""
    return subprocess.Popen(
        [sys.executable, "-c", script, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )


READER = """
import json, sys, time
from pathlib import Path
from custlens.workspace import Workspace

folder = Path(sys.argv[1])
reads, run_ids, heights, mixed, errors = 0, set(), set(), 0, []
with Workspace(folder) as ws:
    ws.table("growth_summary")
    print("READY", flush=True)
    while not (folder / "stop").exists():
        try:
            ids = ws.table("growth_summary")["_run_id"]
        except Exception as exc:
            errors.append(str(exc)[:300])
            continue
        reads += 1
        run_ids.update(ids.unique().to_list())
        heights.add(ids.len())
        mixed += ids.n_unique() != 1
print("RESULT " + json.dumps(
    {"reads": reads, "run_ids": sorted(run_ids), "heights": sorted(heights),
     "mixed": mixed, "errors": errors}
))
"""


def test_a_reader_in_another_process_sees_the_old_facts_or_the_new_never_a_mix(
    url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "ws"
    with Workspace.init(folder, warehouse=url) as ws:
        ws.load(generate(customers=30, months=6, seed=4))
        ws.run(as_of=date(2023, 6, 1), only=["growth_summary"])
        months = ws.table("growth_summary").height
        written = {ws.table("growth_summary")["_run_id"][0]}
        reader = _client(READER, folder)
        try:
            assert reader.stdout is not None
            assert reader.stdout.readline().strip() == "READY", reader.stderr
            for _ in range(2):
                ws.run(as_of=date(2023, 6, 1), only=["growth_summary"])
                written.add(ws.table("growth_summary")["_run_id"][0])
        finally:
            (folder / "stop").touch()
            out, err = reader.communicate(timeout=120)
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    assert line, out + err
    seen = json.loads(line[-1].removeprefix("RESULT "))
    assert seen["errors"] == []
    assert seen["mixed"] == 0
    assert seen["reads"] > 0
    # It read across the publishes (two runs' facts or more), only ever facts of a run.
    assert len(seen["run_ids"]) >= 2
    assert set(seen["run_ids"]) <= written
    assert seen["heights"] == [months]  # every read whole (the runs write the same months)


RUNNER = """
import sys
from datetime import date
from custlens.workspace import Workspace

with Workspace(sys.argv[1]) as ws:
    ws.run(as_of=date(2023, 8, 1), progress=lambda name, event: print(event, name, flush=True))
"""


def test_a_run_that_loses_its_connection_halfway_leaves_the_facts_before_it(
    runs: dict[str, dict],
) -> None:
    folder = runs["connect"]["folder"]
    with Workspace(folder) as ws:
        before = {name: ws.table(name) for name in runs["connect"]["facts"]}
    runner = _client(RUNNER, folder)
    assert runner.stdout is not None
    done = 0
    for line in runner.stdout:  # on the way: some facts staged, none published
        done += line.startswith("done ")
        if done == 3:
            break
    os.kill(runner.pid, signal.SIGKILL)  # the client and its connection, gone
    runner.wait(timeout=60)
    assert done == 3, runner.stderr.read() if runner.stderr else ""
    with Workspace(folder) as ws:
        assert set(before) <= set(ws.tables())
        for name, frame in before.items():
            assert ws.table(name).equals(frame), name


def test_workspaces_on_one_server_share_the_process_s_session(url: str, tmp_path: Path) -> None:
    # pyspark's Connect client, when a session is garbage-collected, shuts down the
    # thread pool every session of the process shares, failing another session's
    # query in flight: one session per URL, kept, is never collected.
    import gc

    with Workspace.init(tmp_path / "a", warehouse=url) as a:
        first = a.warehouse.con._session
    del a
    gc.collect()
    with Workspace.init(tmp_path / "b", warehouse=url) as b:
        assert b.warehouse.con._session is first
        assert not first.client.is_closed
        b.load({"customers": pl.DataFrame({"customer_id": ["C1"]})})
        assert b.table("customers")["customer_id"].to_list() == ["C1"]
