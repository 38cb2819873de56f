"""``kill -9`` of ``custlens run`` at ten random moments: each time the workspace opens,
every fact reads, and all of them come from one run — the last one that finished
(the one before, or the killed one if it had published). Never half of each."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custlens.runlog import RUN_ID_COLUMN
from custlens.workspace import Workspace

pytestmark = pytest.mark.slow

POINTS = 10
SEED = 20261207


def facts_of(ws: Workspace) -> dict[str, pl.DataFrame]:
    return {name: ws.table(name) for name in ws.tables() if not name.startswith(("_", "src_"))}


def test_a_run_killed_anywhere_leaves_the_last_finished_run(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        ws.generate(customers=100, months=12, seed=3, start=date(2024, 1, 1))
        ws.run(as_of=date(2024, 10, 1))
    custlens = Path(sys.executable).parent / "custlens"
    rng = random.Random(SEED)
    finished = 0
    for point in range(POINTS):
        as_of = "2024-11" if point % 2 == 0 else "2024-10"
        run = subprocess.Popen(
            [str(custlens), "-w", str(tmp_path / "ws"), "run", "--as-of", as_of],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Imports take about a second; a run about three more on this data.
        time.sleep(rng.uniform(1.0, 5.0))
        run.send_signal(signal.SIGKILL)
        if run.wait(30) == 0:
            finished += 1
        with Workspace(tmp_path / "ws") as ws:
            run_id, last_as_of = ws.latest_run()
            facts = facts_of(ws)
        assert run_id is not None and last_as_of is not None
        assert {"growth_summary", "customer_mrr", "rfm"} <= set(facts)
        for name, frame in facts.items():
            if RUN_ID_COLUMN in frame.columns and frame.height:
                assert frame[RUN_ID_COLUMN].unique().to_list() == [run_id], (point, name)
        months = facts["growth_summary"]["month"]
        assert months.max() == last_as_of.replace(day=1), point
    # The points fell before and after the publish, not all on one side.
    assert finished < POINTS
