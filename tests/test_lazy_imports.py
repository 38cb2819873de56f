"""A command imports what it needs when it needs it (issue "Fast core").

Each command runs in a fresh interpreter, which then reports which heavy
libraries it loaded: printing help or answering a query needs none of them, and a
DuckDB run needs neither scikit-learn (the churn model is fitted with SciPy) nor
pyspark, plotly or fastapi.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from custlens.workspace import Workspace

HEAVY = ("pandas", "pyspark", "sklearn", "scipy", "plotly", "fastapi", "uvicorn")

SCRIPT = """
import json, sys
from custlens.cli.main import main
sys.argv = ["custlens", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("LOADED " + json.dumps([code, heavy]))
"""


def loaded(*args: str) -> list[str]:
    """The heavy libraries a fresh interpreter loaded to run ``custlens ARGS`` (which
    must succeed: a usage error would import nothing and prove nothing)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")]
    assert line, done.stdout + done.stderr
    code, heavy = json.loads(line[-1].removeprefix("LOADED "))
    assert code == 0, done.stdout + done.stderr
    return list(heavy)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lazy") / "ws"
    with Workspace.init(folder) as ws:
        ws.generate(customers=60, months=12, seed=5)
    return folder


def test_help_imports_no_heavy_library() -> None:
    assert loaded("--help") == []
    assert loaded("query", "--help") == []


def test_a_run_on_duckdb_imports_no_model_serving_or_spark_library(folder: Path) -> None:
    # SciPy fits the models; pandas comes with pyarrow.dataset, which DuckDB loads
    # to scan the models' results (Arrow tables).
    assert set(loaded("-w", str(folder), "run")) <= {"scipy", "pandas"}


def test_a_query_imports_no_heavy_library(folder: Path) -> None:
    with Workspace(folder) as ws:
        ws.run(only=["customer_mrr", "dim_customers"])
    asked = ["query", "-m", "subscriptions.mrr", "-d", "customers.segment", "--format", "json"]
    assert loaded("-w", str(folder), *asked) == []
