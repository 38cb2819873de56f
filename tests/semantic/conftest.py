"""Fixtures: the shared test workspace (see data.py) on DuckDB and Spark."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from custlens.workspace import Workspace
from tests.semantic.data import fill, write_workspace


@pytest.fixture(scope="session")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Workspace]]:
    """backend → the shared, read-only test workspace on it (built on first use)."""
    made: dict[str, Workspace] = {}

    def get(backend: str) -> Workspace:
        if backend not in made:
            folder = write_workspace(tmp_path_factory.mktemp(f"semantic-{backend}"), backend)
            made[backend] = fill(Workspace(folder))
        return made[backend]

    yield get
    for ws in made.values():
        ws.close()


@pytest.fixture
def sem(backend: str, workspaces: Callable[[str], Workspace]) -> Workspace:
    """The shared workspace on each backend (DuckDB and Spark)."""
    return workspaces(backend)


@pytest.fixture
def duck(workspaces: Callable[[str], Workspace]) -> Workspace:
    """The shared workspace on DuckDB only (for the many cheap cases)."""
    return workspaces("duckdb")
