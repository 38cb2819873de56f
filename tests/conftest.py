"""Shared fixtures: one `backend` fixture over DuckDB and local Spark, and small workspaces.

The Spark session is started once for the whole suite (it takes seconds);
each Spark workspace gets a database of its own, so tests never see each
other's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


@pytest.fixture(scope="session")
def spark() -> object:
    return spark_session("local[2]")


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
        return {name: ws.table(name).drop("_run_id") for name in result.written}

    return run
