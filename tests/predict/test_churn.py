"""Churn propensity (``custlens.predict.churn``, ``churn_propensity``, ``custlens churn-model``).

A hand-made data set whose churners are separable by one feature: every
customer pays 100 a month from 2023-01. A loyal customer logs in every 7
days (so days_since_last_login is 0 … 6 at any month end) and never leaves.
A churner with last paid month L logs in weekly too, but logs in for the last
time on the last day of month L − 3: at the end of L − 3 it looks loyal, at
the ends of L − 2, L − 1 and L (the three training dates whose 3-month label
window holds its first unpaid month L + 1) no login for 28 days or more.

As-of 2024-12 (A = 2024-12-31), horizon 3, 12 training months: the training
dates are the month ends 2023-10 … 2024-09 (2024-09-30 + 3 months = A). The
backtest's test dates are 2024-07 … 2024-09; it trains on the dates t with
t + 3 months ≤ 2024-07-31, i.e. 2023-10 … 2024-04.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from custlens.calendar import index_of, month_end
from custlens.cli import app
from custlens.errors import ModelFitError
from custlens.facts.registry import FactContext
from custlens.predict import churn
from custlens.workspace import Workspace
from tests.c360_frames import as_loaded
from tests.frames import lines

AS_OF = date(2024, 12, 1)
FIRST = date(2023, 1, 1)
LOYAL = [f"l{i:02d}" for i in range(14)]
LAST_PAID = {  # churner → its last paid month (first of the month)
    "c01": date(2023, 11, 1),
    "c02": date(2023, 12, 1),
    "c03": date(2024, 1, 1),
    "c04": date(2024, 2, 1),
    "c05": date(2024, 3, 1),
    "c06": date(2024, 4, 1),
    "c07": date(2024, 5, 1),
    "c08": date(2024, 6, 1),
    "c09": date(2024, 8, 1),
    "c10": date(2024, 9, 1),
    "c11": date(2024, 10, 1),
    "c12": date(2024, 11, 1),
    # At risk at the as-of date: still paying, logins stopped 2024-10-31 / 2024-11-30.
    "c13": date(2025, 1, 1),
    "c14": date(2025, 2, 1),
}
AT_RISK = ("c13", "c14")
SETTINGS = {"analytics": "{churn_model: {horizon_months: 3, training_months: 12, test_months: 3}}"}


def shift(first: date, months: int) -> date:
    i = index_of(first) + months
    return date(i // 12, i % 12 + 1, 1)


def monthly_lines(customer: str, last_paid: date) -> list[tuple]:
    rows, month = [], FIRST
    while month <= last_paid:
        rows.append((customer, month, shift(month, 1), 100.0))
        month = shift(month, 1)
    return rows


def weekly_logins(customer: str, until: date) -> list[dict]:
    day, out = date(2023, 1, 2), []
    while day <= until:
        out.append(
            {
                "customer_id": customer,
                "occurred_at": datetime(day.year, day.month, day.day, 9),
                "event_type": "login",
            }
        )
        day += timedelta(days=7)
    return out


def dataset() -> dict[str, pl.DataFrame]:
    customers = [*LOYAL, *LAST_PAID]
    sub, usage = [], []
    for c in LOYAL:
        sub += monthly_lines(c, date(2025, 6, 1))  # paid beyond the as-of date
        usage += weekly_logins(c, date(2025, 1, 31))
    for c, last in LAST_PAID.items():
        sub += monthly_lines(c, last)
        usage += weekly_logins(c, month_end(shift(last, -3)) - timedelta(days=1))
        # … and the last login on the last day of month L − 3.
        end = month_end(shift(last, -3))
        usage.append(
            {
                "customer_id": c,
                "occurred_at": datetime(end.year, end.month, end.day, 9),
                "event_type": "login",
            }
        )
    return {
        "customers": as_loaded("customers", [{"customer_id": c} for c in customers]),
        "subscription_lines": lines(*sub),
        "usage_events": as_loaded("usage_events", usage),
    }


def naive_rows(dates: list[date], horizon: int = 3) -> dict[tuple[date, str], int]:
    """(date, customer) → churned, worked out from the scheme, not from the code."""
    out = {}
    for t in dates:
        m = index_of(t)
        for c in LOYAL:
            out[(t, c)] = 0
        for c, last in LAST_PAID.items():
            if m <= index_of(last):  # paying at t
                # Churned when the first unpaid month L + 1 lies in (t, t + h].
                out[(t, c)] = int(index_of(last) + 1 <= m + horizon)
    return out


def training_frame(ws: Workspace, dates: list[date]) -> pl.DataFrame:
    """The training set on the workspace's warehouse (customer_mrr run to the as-of)."""
    ws.run(as_of=AS_OF, only=["customer_mrr"])
    names = [n for n in ws.warehouse.list_tables() if not n.startswith("_")]
    ctx = FactContext({n: ws.warehouse.table(n) for n in names}, month_end(AS_OF), ws.config)
    frame = ws.warehouse.to_polars(churn.training_set(ctx, dates, 3))
    return frame.sort("as_of", "customer_id")


def test_training_dates_end_a_horizon_before_the_as_of() -> None:
    got = churn.training_dates(date(2024, 12, 31), 3, 12)
    assert got[0] == date(2023, 10, 31) and got[-1] == date(2024, 9, 30) and len(got) == 12
    assert churn.training_dates(date(2024, 3, 31), 2, 2) == [date(2023, 12, 31), date(2024, 1, 31)]


def test_training_set_matches_a_naive_computation(make_workspace) -> None:
    """Parity: DuckDB and Spark give the same rows, labels and login recency as by hand."""
    dates = [date(2023, 12, 31), date(2024, 4, 30), date(2024, 9, 30)]
    ws = make_workspace()
    ws.load(dataset())
    frame = training_frame(ws, dates)
    expected = naive_rows(dates)
    got = {(r["as_of"], r["customer_id"]): r["churned"] for r in frame.iter_rows(named=True)}
    assert got == expected
    for row in frame.iter_rows(named=True):
        t, c = row["as_of"], row["customer_id"]
        # Loyal (and not-yet-leaving) customers: a weekly login, 0 … 6 days ago;
        # churners labelled 1: the last login was the last day of L − 3.
        if expected[(t, c)] == 1:
            last_login = month_end(shift(LAST_PAID[c], -3))
            assert row["days_since_last_login"] == (t - last_login).days
            assert row["days_since_last_login"] >= 28
        else:
            assert 0 <= row["days_since_last_login"] <= 6
        assert row["mrr"] == 100.0


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_future_data_does_not_change_past_training_rows(make_workspace) -> None:
    """Leakage: data dated after t + h leaves the rows of t unchanged."""
    dates = churn.training_dates(month_end(AS_OF), 3, 12)
    ws = make_workspace()
    ws.load(dataset())
    before = training_frame(ws, dates)
    # After 2024-04-30 + 3 months = 2024-07-31: c06 (left in 2024-04) comes back
    # in 2024-09 and logs in again; a brand-new customer signs up and logs in.
    future = dataset()
    future["customers"] = pl.concat(
        [future["customers"], as_loaded("customers", [{"customer_id": "n01"}])]
    )
    future["subscription_lines"] = pl.concat(
        [
            future["subscription_lines"],
            lines(("c06", date(2024, 9, 1), date(2024, 10, 1), 100.0)),
            lines(("n01", date(2024, 8, 1), date(2024, 9, 1), 50.0)),
        ]
    )
    future["usage_events"] = pl.concat(
        [
            future["usage_events"],
            as_loaded("usage_events", weekly_logins("c06", date(2024, 9, 30))[-8:]),
            as_loaded("usage_events", weekly_logins("n01", date(2024, 8, 31))[-4:]),
        ]
    )
    ws.load(future)
    after = training_frame(ws, dates)
    cut = date(2024, 4, 30)
    assert after.filter(pl.col("as_of") <= cut).equals(before.filter(pl.col("as_of") <= cut))
    # The later dates do see the new data (the comparison above has teeth).
    assert not after.filter(pl.col("as_of") > cut).equals(before.filter(pl.col("as_of") > cut))


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_the_fact_ranks_at_risk_customers_first(make_workspace) -> None:
    ws = make_workspace(**SETTINGS)
    ws.load(dataset())
    result = ws.run(as_of=AS_OF, only=["churn_propensity"])
    fact = ws.table("churn_propensity").drop("_run_id")
    # Paying at 2024-12: the 14 loyal customers and c13, c14 (c12 left after 2024-11).
    assert sorted(fact["customer_id"]) == sorted([*LOYAL, *AT_RISK])
    assert set(fact["model"]) == {"logistic"}
    assert set(fact["trained_through"]) == {date(2024, 9, 30)}
    p = dict(zip(fact["customer_id"], fact["churn_probability"], strict=True))
    assert min(p[c] for c in AT_RISK) > 0.5 > max(p[c] for c in LOYAL)
    # The profile shows it (rounded to 3 places); null for a customer not paying now.
    assert ws.profile("c13")["overview"]["churn_probability"] == round(p["c13"], 3)
    assert ws.profile("c01")["overview"]["churn_probability"] is None
    notes = result.notes["churn_propensity"]
    assert notes["training_dates"] == ["2023-10-31", "2024-09-30"]
    assert "days_since_last_login" in notes["features"]
    assert "latest_nps" not in notes["features"]  # no NPS loaded: never fitted on
    assert notes["coefficients"]["days_since_last_login"] > 0
    test = notes["backtest"]
    assert test["train_dates"][-1] == "2024-04-30" and test["test_dates"][0] == "2024-07-31"
    # Test rows: 2024-07 … 09 — labelled 1: c09 (L = 2024-08) at 07, 08; c10 at 07 … 09;
    # c11 at 08, 09; c12 at 09: 8 churner-months.
    assert sum(row["churned"] for row in test["calibration"]) == 8
    assert test["auc"] > 0.99
    top = test["calibration"][-1]
    assert top["observed_rate"] > 0.5 and top["mean_predicted"] > 0.5


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_too_little_history_or_one_class_is_a_model_fit_error(make_workspace) -> None:
    # As-of 2023-03: training dates up to 2022-12, before anyone paid.
    ws = make_workspace(**SETTINGS)
    ws.load(dataset())
    with pytest.raises(ModelFitError, match="too little history"):
        ws.run(as_of=date(2023, 3, 1), only=["churn_propensity"])
    skipped = ws.run(as_of=date(2023, 3, 1)).skipped["churn_propensity"]
    assert skipped.startswith("model not fitted:")
    # Loyal customers only: nobody churns.
    loyal = dataset()
    loyal["subscription_lines"] = loyal["subscription_lines"].filter(
        pl.col("customer_id").str.starts_with("l")
    )
    ws2 = make_workspace(**SETTINGS)
    ws2.load(loyal)
    with pytest.raises(ModelFitError, match="no customer churned"):
        ws2.run(as_of=AS_OF, only=["churn_propensity"])


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_cli_churn_model(make_workspace) -> None:
    ws = make_workspace(**SETTINGS)
    ws.load(dataset())
    folder = Path(ws.path)
    runner = CliRunner()
    args = ["-w", str(folder), "churn-model", "--as-of", "2024-12"]
    result = runner.invoke(app, [*args, "--backtest"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "days_since_last_login" in out and "ROC AUC 1.000" in out
    assert "Calibration by decile" in out and "Wrote churn_propensity: 16 paying customers" in out
    result = runner.invoke(app, [*args, "--horizon-months", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["horizon_months"] == 2 and data["training_dates"][-1] == "2024-10-31"
    assert "calibration" not in data["backtest"]
    bad = runner.invoke(app, [*args, "--horizon-months", "99"])
    assert bad.exit_code == 1 and "horizon" in bad.output
