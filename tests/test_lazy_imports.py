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
code = 0
for args in json.loads(sys.argv[1]):
    sys.argv = ["custlens", *args]
    try:
        main()
    except SystemExit as exc:
        code = code or exc.code or 0
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("LOADED " + json.dumps([code, heavy]))
"""


def loaded(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The heavy libraries a fresh interpreter loaded to run ``custlens ARGS`` (which
    must succeed: a usage error would import nothing and prove nothing)."""
    return loaded_by([list(args)], heavy=heavy)


def loaded_by(commands: list[list[str]], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """What :func:`loaded` says of several commands run one after another in one
    fresh interpreter (one start-up instead of one per command)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=heavy), json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")]
    assert line, done.stdout + done.stderr
    code, found = json.loads(line[-1].removeprefix("LOADED "))
    assert code == 0, done.stdout + done.stderr
    return list(found)


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
    # SciPy fits the models. The models' results reach DuckDB as Parquet, not as
    # Arrow tables, which DuckDB's client reads through pandas.
    assert loaded("-w", str(folder), "run") == ["scipy"]


def test_a_query_imports_no_heavy_library(folder: Path) -> None:
    with Workspace(folder) as ws:
        ws.run(only=["customer_mrr", "dim_customers"])
    asked = ["query", "-m", "subscriptions.mrr", "-d", "customers.segment", "--format", "json"]
    assert loaded("-w", str(folder), *asked) == []
    # Asked again after the same run, the answer kept on disk is read back: no Ibis.
    assert loaded("-w", str(folder), *asked, heavy=(*HEAVY, "ibis")) == []


def test_a_query_over_time_imports_neither_pandas_nor_pyarrow(folder: Path) -> None:
    # A query over time joins a spine of periods, built by Polars (PyArrow builds it
    # by importing pandas), and every result and schema comes from DuckDB without
    # PyArrow: 0.3–0.8 s of a first query.
    with Workspace(folder) as ws:
        ws.run(only=["customer_mrr"])
    asked = ["query", "-m", "subscriptions.mrr", "-t", "subscriptions.month:quarter"]
    assert loaded("-w", str(folder), *asked, heavy=(*HEAVY, "pyarrow")) == []


def test_commands_that_read_facts_import_no_query_compiler(tmp_path: Path) -> None:
    # Exporting, listing, a profile and the catalog read stored tables (a profile one
    # customer's rows, bound as parameters) and the model's YAML: they need neither
    # Ibis (0.4 s to import) nor any of the heavy libraries.
    folder = tmp_path / "ws"
    with Workspace.init(folder) as ws:
        ws.generate(customers=40, months=8, seed=3)
        ws.run(only=["growth_summary", "segment_summary", "health_scores", "churn_risk"])
    at = ["-w", str(folder)]
    commands = [
        [*at, "export", "growth_summary", "--out", str(tmp_path / "growth.csv")],
        [*at, "segments"],
        [*at, "at-risk", "--format", "csv"],
        [*at, "list", "expansion"],
        [*at, "catalog"],
        [*at, "profile", "C000001"],
    ]
    assert loaded_by(commands, heavy=(*HEAVY, "ibis")) == []
    assert (tmp_path / "growth.csv").read_text().startswith("month,")
    # The report draws with Plotly, and reads the facts as the commands above do.
    report = [*at, "report", "--out", str(tmp_path / "report.html")]
    assert loaded(*report, heavy=("pandas", "pyarrow", "ibis", "scipy", "sklearn")) == []


def test_generating_and_loading_import_neither_the_query_compiler_nor_pyarrow(
    tmp_path: Path,
) -> None:
    # The sources reach DuckDB as Parquet written by Polars (Ibis's in-memory tables
    # would import Ibis, 0.3 s of every load); PyArrow only for a frame that is not Polars.
    folder, files = tmp_path / "ws", tmp_path / "files"
    Workspace.init(folder).close()
    at, csv = ["-w", str(folder)], ["--format", "csv"]
    commands = [
        [*at, "generate", "--customers", "30", "--months", "6"],
        [*at, "generate", "--customers", "30", "--months", "6", "--out", str(files)],
        [*at, "generate", "--customers", "30", "--months", "6", "--out", str(files / "csv"), *csv],
        [*at, "load", str(files)],
        [*at, "load", str(files / "csv")],
    ]
    assert loaded_by(commands, heavy=(*HEAVY, "ibis", "pyarrow")) == []
    with Workspace(folder) as ws:
        assert ws.table("customers").height >= 30
