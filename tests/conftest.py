"""Shared fixtures: one `backend` fixture over DuckDB and local Spark, and small workspaces.

The Spark session is started once for the whole suite (it takes seconds);
each Spark workspace gets a database of its own, so tests never see each
other's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens import pipeline
from custlens.config import CONFIG_FILE
from custlens.warehouse import spark_session
from custlens.workspace import Workspace

BACKENDS = ["duckdb", pytest.param("pyspark", marks=pytest.mark.spark)]
URLS = {"duckdb": "duckdb:///custlens.duckdb", "pyspark": "pyspark"}


SPARK_TEST_CONF = {
    # The tests run many small jobs in a JVM that lives minutes: the C1 compiler alone
    # starts faster and costs less CPU than C2's optimisation of code that runs a few
    # times (a Spark fact test ~20 % faster on 2 cores). C1 alone gets a 48 MB code
    # cache, which a suite's worth of Spark jobs fills ("CodeCache is full. Compiler
    # has been disabled."), and everything after runs interpreted: give it 256 MB.
    "spark.driver.extraJavaOptions": (
        "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
    ),
    # Tables of a dozen rows: one shuffle partition, no adaptive re-planning, and
    # interpreted expressions instead of Java generated and compiled per query (the
    # compile costs more than it saves on such tables; Spark's own suites test both
    # paths). Measured on a churn-features run: 6.5 s → 4.3 s.
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@pytest.fixture(scope="session")
def spark() -> object:
    return spark_session("local[2]", conf=SPARK_TEST_CONF)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "pyspark":
        request.getfixturevalue("spark")
    return str(request.param)


MakeWorkspace = Callable[..., Workspace]


@pytest.fixture
def make_workspace(backend: str, tmp_path: Path) -> MakeWorkspace:
    """Build a workspace on the current backend, with extra config lines."""
    made: list[Workspace] = []

    def make(name: str | None = None, **settings: object) -> Workspace:
        folder = tmp_path / (name or f"ws{len(made)}")
        folder.mkdir()
        lines = [f"warehouse: {URLS[backend]}"] + [f"{k}: {v}" for k, v in settings.items()]
        (folder / CONFIG_FILE).write_text("\n".join(lines) + "\n")
        ws = Workspace(folder)
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.close()


RunFacts = Callable[..., dict[str, pl.DataFrame]]


@pytest.fixture
def run_facts(make_workspace: MakeWorkspace) -> RunFacts:
    """Put typed source frames in a fresh warehouse, run the pipeline, return every fact."""

    def run(
        sources: Mapping[str, pl.DataFrame],
        as_of: date,
        only: list[str] | None = None,
        **settings: object,
    ) -> dict[str, pl.DataFrame]:
        ws = make_workspace(**settings)
        ws.warehouse.write_tables({f"src_{name}": frame for name, frame in sources.items()})
        # The pipeline alone: a fact test has no use for the semantic model's rollups
        # (Spark would spend seconds writing them).
        result = pipeline.run(ws.warehouse, ws.config, as_of=as_of, only=only)
        return Facts(ws, list(result.written))

    return run


class Facts(Mapping[str, pl.DataFrame]):
    """The facts a run wrote, each read when a test first asks for it.

    A test reads one or two of the facts a run writes; on Spark each read is a job
    of its own (about half a second).
    """

    def __init__(self, ws: Workspace, names: list[str]) -> None:
        self._ws = ws
        self._names = names
        self._read: dict[str, pl.DataFrame] = {}

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._read:
            self._read[name] = self._ws.table(name).drop("_run_id")
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
