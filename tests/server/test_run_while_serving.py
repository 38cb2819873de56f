"""A run publishes while a server answers eight clients: no error, and every answer is
the old run's or the new one's, never a mix and never DuckDB's lock message.

The data: C1 and C2 billed from April 2024, C3 only from June.

    as of May:   subscriptions.mrr = 100 + 50        = 150
    as of June:  subscriptions.mrr = 100 + 50 + 200  = 350
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens import Client, NotFoundError
from custlens.config import CONFIG_FILE
from custlens.workspace import Workspace
from tests.servers import serving

OLD = ("2024-05-31", 150.0)
NEW = ("2024-06-30", 350.0)
CLIENTS = 8


def _workspace(folder: Path) -> Path:
    folder.mkdir()
    (folder / CONFIG_FILE).write_text("warehouse: duckdb:///custlens.duckdb\n")
    starts = {"C1": 4, "C2": 4, "C3": 6}
    amounts = {"C1": 100.0, "C2": 50.0, "C3": 200.0}
    rows = [
        {
            "customer_id": c,
            "line_id": f"{c}-{m}",
            "period_start": date(2024, m, 1),
            "period_end": date(2024, m + 1, 1),
            "amount": amounts[c],
        }
        for c, first in starts.items()
        for m in range(first, 7)
    ]
    with Workspace(folder) as ws:
        ws.load({"subscription_lines": pl.DataFrame(rows)})
        ws.run(as_of=date(2024, 5, 1))
    return folder


def test_a_run_publishes_while_eight_clients_query(tmp_path: Path) -> None:
    folder = _workspace(tmp_path / "ws")
    answers: list[tuple[str, float]] = []
    errors: list[str] = []
    done = threading.Event()

    def ask(url: str) -> None:
        client = Client(url)
        while not done.is_set():
            try:
                result = client.query(["subscriptions.mrr"])
                answers.append((result.as_of, result.data[0]["subscriptions.mrr"]))
            except Exception as exc:  # any failure is the test's finding
                errors.append(f"{type(exc).__name__}: {exc}")

    with serving(folder) as url:
        assert Client(url).query(["subscriptions.mrr"]).data == [{"subscriptions.mrr": 150.0}]
        clients = [threading.Thread(target=ask, args=(url,)) for _ in range(CLIENTS)]
        for thread in clients:
            thread.start()
        custlens = Path(sys.executable).parent / "custlens"
        run = subprocess.run(
            [str(custlens), "-w", str(folder), "run", "--as-of", "2024-06"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        # The clients go on for a moment after the run, to see the new answer.
        seen_before = len(answers)
        time.sleep(1.0)
        done.set()
        for thread in clients:
            thread.join(30)
        after = Client(url).query(["subscriptions.mrr"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert errors == []
    assert seen_before > CLIENTS  # they were querying while the run went on
    assert set(answers) <= {OLD, NEW}, set(answers) - {OLD, NEW}
    assert (after.as_of, after.data[0]["subscriptions.mrr"]) == NEW


def test_a_workspace_with_nothing_loaded_is_served(tmp_path: Path) -> None:
    # No DuckDB file yet: the server serves an empty copy until a load or run writes one.
    Workspace.init(tmp_path / "empty").close()
    with serving(tmp_path / "empty") as url:
        import urllib.request

        with urllib.request.urlopen(url) as page:
            assert "No run recorded yet" in page.read().decode()
        with pytest.raises(NotFoundError, match="customer_mrr"):
            Client(url).query(["subscriptions.mrr"])
