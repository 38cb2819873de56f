"""The README's examples run: its Python blocks, its ``custlens query`` lines and the
OpenAPI example of ``POST /v1/query``, against a small generated workspace (the tour's,
with fewer customers). A documented example that stops working fails here."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import custlens
from custlens.cli import app
from tests.servers import in_process, serving

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
QUERY_LINES = [
    line.split("$ ", 1)[1].split("  #")[0].strip()
    for line in re.findall(r"^\$ custlens -w acme query .*$", TEXT, flags=re.M)
]


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tour") / "acme"
    with custlens.Workspace.init(folder) as ws:
        ws.generate(customers=200, months=24, seed=7, start=date(2024, 1, 1))
        ws.run()
    return folder


def test_the_readme_has_the_examples_this_file_runs() -> None:
    assert len(PYTHON_BLOCKS) == 2
    assert len(QUERY_LINES) == 2


def test_the_first_python_block_loads_and_runs(tmp_path: Path, monkeypatch: Any) -> None:
    # Its inputs: a workspace named acme and an mrr.parquet beside it.
    custlens.Workspace.init(tmp_path / "acme").close()
    pl.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2"],
            "month": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 2, 1)],
            "mrr": [100.0, 120.0, 50.0],
        }
    ).write_parquet(tmp_path / "mrr.parquet")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    exec(PYTHON_BLOCKS[0], scope)
    tail = scope["ws"].table("growth_summary").tail(1)
    scope["ws"].close()
    # February: C1 at 120 and C2 at 50.
    assert tail["ending_mrr"].to_list() == [170.0]


def test_the_second_python_block_queries_and_asks_the_server(acme: Path) -> None:
    with custlens.Workspace(acme) as ws, serving(acme) as url:
        block = PYTHON_BLOCKS[1].replace("http://localhost:8000", url.rstrip("/"))
        scope: dict[str, Any] = {"ws": ws, "custlens": custlens}
        lines = block.strip().split("\n")
        # Each statement's value is what the example shows: keep the last two.
        exec("by_segment = " + "\n".join(lines[:3]), scope)
        exec("by_region = " + "\n".join(lines[3:5]), scope)
    assert {r["customers.segment"] for r in scope["by_segment"]} == {
        "Enterprise",
        "Mid-Market",
        "SMB",
    }
    assert all(r["subscriptions.mrr"] >= 0 for r in scope["by_segment"])
    assert sum(r["customers.count"] for r in scope["by_region"]) > 0


@pytest.mark.parametrize("line", QUERY_LINES)
def test_the_query_lines_run(acme: Path, line: str) -> None:
    argv = shlex.split(line)[1:]
    argv[argv.index("acme")] = str(acme)
    done = CliRunner().invoke(app, argv)
    assert done.exit_code == 0, done.output


@pytest.fixture()
def client(acme: Path) -> Iterator[Any]:
    with in_process(acme) as client:
        yield client


def test_every_openapi_example_of_the_query_answers(client: Any) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/query"]["post"]["requestBody"]["content"]["application/json"]
    assert len(body["examples"]) >= 3
    for name, example in body["examples"].items():
        answer = client.post("/v1/query", json=example["value"])
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json()["data"], name
    by_segment = client.post("/v1/query", json=body["examples"]["mrr_by_segment"]["value"])
    assert {r["customers.segment"] for r in by_segment.json()["data"]} <= {
        "Enterprise",
        "Mid-Market",
        "SMB",
    }


def test_mrr_by_segment_names_the_measure_that_can_answer(acme: Path) -> None:
    with custlens.Workspace(acme) as ws, pytest.raises(custlens.QueryError) as refused:
        ws.query(["mrr"], ["customers.segment"])
    assert "did you mean subscriptions.mrr or products.mrr?" in str(refused.value)


SKIPPED = (
    " serve",  # runs until stopped: the server tests serve this workspace kind
    "postgresql://me@db.internal",  # a host of the reader's; tests/sources load Postgres
    "--post https://crm.example",  # a webhook of the reader's; tests/test_handoff posts
)
TOUR = [
    line.split("$ ", 1)[1].split("  #")[0].strip()
    for line in re.findall(r"^\$ custlens .*$", TEXT, flags=re.M)
    if not any(s in line for s in SKIPPED)
]


def test_every_custlens_line_of_the_readme_runs(tmp_path: Path, monkeypatch: Any) -> None:
    """In the README's order, in one folder, as a reader would type them (with 200
    customers where the tour says 2,000, to keep the test short)."""
    monkeypatch.chdir(tmp_path)
    # The reader's own files that the load examples name.
    exports = tmp_path / "exports"
    custlens.Workspace.generate_files(exports, 200, 36, 7, fmt="csv")
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "lines.csv").write_bytes(
        (exports / "subscription_lines.csv").read_bytes()
    )
    assert len(TOUR) >= 18
    for line in TOUR:
        command, _, redirect = line.partition(" > ")
        argv = shlex.split(command.replace("--customers 2000", "--customers 200"))[1:]
        done = CliRunner().invoke(app, argv)
        assert done.exit_code == 0, f"{line}\n{done.output}"
        if redirect:
            (tmp_path / redirect.strip()).write_text(done.stdout)
    assert (tmp_path / "growth.csv").exists() and (tmp_path / "acme" / "report.html").exists()
    assert (tmp_path / "call-list.csv").read_text().startswith("rank,customer_id,")


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "growth_summary", "--out", "{tmp}/g.csv"],
        ["at-risk"],
        ["segments", "--format", "csv"],
        ["query", "-m", "subscriptions.mrr", "--format", "json"],
        ["profile", "C000001"],
        ["list", "low-health"],
    ],
)
def test_commands_that_print_numbers_say_their_as_of_month(
    acme: Path, tmp_path: Path, argv: list[str]
) -> None:
    with custlens.Workspace(acme) as ws:
        as_of = ws.last_run_as_of()
    assert as_of is not None
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = CliRunner().invoke(app, ["-w", str(acme), *args])
    assert done.exit_code == 0, done.output
    assert f"as of {as_of:%Y-%m}" in done.stderr
    assert "as of" not in done.stdout  # CSV and JSON stay clean
