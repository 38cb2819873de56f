"""``custlens clv`` through Typer's CliRunner, on DuckDB, with the CDNOW sample."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.workspace import Workspace
from tests.predict.test_models import cdnow_transactions
from tests.test_cli import assert_user_error, flat

runner = CliRunner()


@pytest.fixture(scope="module")
def cdnow_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cdnow")
    source = cdnow_transactions()
    assert runner.invoke(app, ["init", str(folder)]).exit_code == 0
    with Workspace(folder) as ws:
        ws.load({"transactions": source})
    return folder


def clv(folder: Path, *args: str) -> str:
    result = runner.invoke(app, ["-w", str(folder), "clv", "--as-of", "1997-09", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_clv_prints_the_parameters_and_writes_the_table(cdnow_folder: Path) -> None:
    out = flat(clv(cdnow_folder))
    for text in ("BG/NBD", "0.2426", "4.413", "0.7929", "2.4259", "-9,582.43"):
        assert text in out, text
    for text in ("Gamma-Gamma", "6.249", "3.744", "15.44", "-4,055.92"):
        assert text in out, text
    assert "Wrote clv_predictions: 2,357 customers" in out
    with Workspace(cdnow_folder) as ws:
        assert ws.table("clv_predictions").height == 2357
        notes = json.loads(ws.runs()["notes"][0])
    assert notes["clv_predictions"]["purchases"]["model"] == "bgnbd"


def test_clv_json_with_pareto_days_and_a_holdout(cdnow_folder: Path) -> None:
    out = json.loads(
        clv(
            cdnow_folder,
            "--model", "pareto", "--unit", "days", "--horizon-months", "6",
            "--discount", "0.02", "--holdout-from", "1997-07-01", "--format", "json",
        )
    )  # fmt: skip
    assert out["unit"] == "days" and out["horizon_months"] == 6 and out["discount"] == 0.02
    assert out["purchases"]["model"] == "pareto"
    # In days α and β are 7 × their weekly values (10.58 × 7 = 74.0, 11.67 × 7 = 81.7);
    # r, s and the log-likelihood (up to the Jacobian, n_repeat × ln 7) are the same scale-free.
    params = out["purchases"]["params"]
    assert params["alpha"] == pytest.approx(10.578 * 7, rel=2e-3)
    assert params["beta"] == pytest.approx(11.669 * 7, rel=2e-3)
    assert params["r"] == pytest.approx(0.553, abs=5e-3)
    buckets = out["holdout"]
    assert [b["calibration_frequency"] for b in buckets] == [*"0123456", "7+"]
    # Every customer whose first purchase came before July is in exactly one bucket.
    with Workspace(cdnow_folder) as ws:
        tx = ws.table("transactions")
    first = tx.group_by("customer_id").agg(pl.col("created_at").min())
    before = first.filter(pl.col("created_at") < datetime(1997, 7, 1)).height
    assert sum(b["customers"] for b in buckets) == before
    assert all(b["predicted"] >= 0 for b in buckets)


def test_clv_errors_are_one_line(cdnow_folder: Path, tmp_path: Path) -> None:
    bad_day = runner.invoke(app, ["-w", str(cdnow_folder), "clv", "--holdout-from", "July"])
    assert "expected a day as YYYY-MM-DD" in assert_user_error(bad_day)
    late = runner.invoke(
        app, ["-w", str(cdnow_folder), "clv", "--as-of", "1997-09", "--holdout-from", "1998-01-01"]
    )
    assert "is after the as-of date 1997-09-30" in assert_user_error(late)
    nothing = tmp_path / "nothing"
    assert runner.invoke(app, ["init", str(nothing)]).exit_code == 0
    out = assert_user_error(runner.invoke(app, ["-w", str(nothing), "clv"]))
    assert "clv_predictions was not computed: it needs src_transactions" in out
    empty = tmp_path / "empty"
    assert runner.invoke(app, ["init", str(empty)]).exit_code == 0
    with Workspace(empty) as ws:
        # Three customers with one purchase each.
        ws.load({"transactions": cdnow_transactions().unique("customer_id").head(3)})
    out = assert_user_error(runner.invoke(app, ["-w", str(empty), "clv"]))
    assert "BG/NBD fit needs customers with repeat purchases" in out


def test_clv_without_as_of_fits_at_the_latest_runs_as_of_and_says_so(tmp_path: Path) -> None:
    # Issue 14: after `run --as-of 1997-09`, a bare `clv` fitted to the last transaction
    # (1998-06) and wrote clv_predictions at another date than every other fact.
    folder = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(folder)]).exit_code == 0
    with Workspace(folder) as ws:
        ws.load({"transactions": cdnow_transactions()})
    ran = runner.invoke(app, ["-w", str(folder), "run", "--as-of", "1997-09", "--only", "rfm"])
    assert ran.exit_code == 0, ran.output
    result = runner.invoke(app, ["-w", str(folder), "clv"])
    assert result.exit_code == 0, result.output
    assert "as of 1997-09" in flat(result.output)
    with Workspace(folder) as ws:
        runs = ws.runs().sort("started_at")
    assert [d.isoformat() for d in runs["as_of"]] == ["1997-09-30", "1997-09-30"]
