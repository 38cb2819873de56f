"""The repeat-purchase summary and ``clv_predictions`` (DESIGN.md §4), on DuckDB and on Spark.

Summary values are worked out by hand in the comments and checked against
``lifetimes.utils`` (an independent implementation); the fact's predictions are
checked against the published CDNOW estimates and against lifetimes' own
prediction formulas at the same parameters.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import polars as pl
import pytest

from custlens.facts.clv_summary import summary
from tests.frames import rows_by_customer, transactions
from tests.predict.test_models import cdnow_transactions

T = datetime
# As-of 2024-06-30 (a Sunday); weeks start on Monday.
AS_OF = date(2024, 6, 30)
SOURCE = transactions(
    # one: a single purchase on 06-03 → frequency 0, recency 0, T 27 days, monetary 0.
    ("one", T(2024, 6, 3, 9), 50),
    # daily: 06-01 (two payments, 10 + 20 = 30, one period), 06-05 (40), 06-20 (60);
    # a failed payment and a refund are not purchases; 07-01 is after the as-of date.
    ("daily", T(2024, 6, 1, 8), 10),
    ("daily", T(2024, 6, 1, 18), 20),
    ("daily", T(2024, 6, 5, 12), 40),
    ("daily", T(2024, 6, 10), 999, "payment", "failed"),
    ("daily", T(2024, 6, 12), 5, "refund"),
    ("daily", T(2024, 6, 20, 23, 59), 60),
    ("daily", T(2024, 7, 1), 70),
)


def run_summary(make_workspace, **options: object) -> dict[str, dict]:
    ws = make_workspace()
    ws.warehouse.write_tables({"src_transactions": SOURCE})
    table = summary(ws.warehouse.table("src_transactions"), AS_OF, **options)  # type: ignore[arg-type]
    return rows_by_customer(ws.warehouse.to_polars(table))


def test_summary_by_day_in_days_and_weeks(make_workspace):
    by_day = run_summary(make_workspace, unit="days")
    # daily: 3 purchase days (06-01, 06-05, 06-20) → frequency 2; recency 06-20 − 06-01 = 19;
    # T = 06-30 − 06-01 = 29; repeat periods spend 40 and 60 → monetary 50.
    assert by_day["daily"] == {
        "customer_id": "daily",
        "frequency": 2,
        "recency": 19.0,
        "T": 29.0,
        "monetary_value": 50.0,
    }
    assert by_day["one"] == {
        "customer_id": "one",
        "frequency": 0,
        "recency": 0.0,
        "T": 27.0,
        "monetary_value": 0.0,
    }
    in_weeks = run_summary(make_workspace, unit="weeks")
    assert in_weeks["daily"]["recency"] == pytest.approx(19 / 7)
    assert in_weeks["daily"]["T"] == pytest.approx(29 / 7)


def test_summary_by_calendar_week_with_a_holdout(make_workspace):
    # Weeks (Monday starts): 06-01 is in the week of 05-27, 06-05 of 06-03, 06-20 of 06-17;
    # the as-of 06-30 in the week of 06-24. daily: frequency 2, recency (06-17 − 05-27) / 7
    # = 3, T = (06-24 − 05-27) / 7 = 4, monetary (40 + 60) / 2 = 50.
    weekly = run_summary(make_workspace, unit="weeks", period="week")
    assert weekly["daily"] == {
        "customer_id": "daily",
        "frequency": 2,
        "recency": 3.0,
        "T": 4.0,
        "monetary_value": 50.0,
    }
    # Calibration to 06-04 (days): daily has 06-01 only → frequency 0, T 3 days; the holdout
    # 06-05 … 06-30 holds 06-05 and 06-20: 2 periods, mean 50; it lasts 26 days.
    split = run_summary(make_workspace, unit="days", calibration_end=date(2024, 6, 4))
    assert split["daily"] == {
        "customer_id": "daily",
        "frequency": 0,
        "recency": 0.0,
        "T": 3.0,
        "monetary_value": 0.0,
        "frequency_holdout": 2,
        "monetary_value_holdout": 50.0,
        "duration_holdout": 26.0,
    }
    # one bought first on 06-03: it is a calibration customer with nothing after.
    assert split["one"]["frequency_holdout"] == 0
    assert split["one"]["T"] == 1.0


@pytest.mark.parametrize(
    ("backend", "unit", "period", "freq", "multiplier"),
    [
        ("duckdb", "days", "day", "D", 1),
        ("duckdb", "weeks", "day", "D", 7),
        ("duckdb", "weeks", "week", "W", 1),
        # One Spark run is enough for the summary: the engines' parity is tested elsewhere.
        pytest.param("pyspark", "weeks", "day", "D", 7, marks=pytest.mark.spark),
    ],
    indirect=["backend"],
)
def test_summary_matches_lifetimes(make_workspace, backend, unit, period, freq, multiplier):
    utils = pytest.importorskip("lifetimes.utils", reason="lifetimes is the reference")
    source = cdnow_transactions().filter(pl.col("created_at") < datetime(1997, 4, 1))
    ws = make_workspace()
    ws.warehouse.write_tables({"src_transactions": source})
    ours = ws.warehouse.to_polars(
        summary(ws.warehouse.table("src_transactions"), date(1997, 3, 30), unit=unit, period=period)  # type: ignore[arg-type]
    ).sort("customer_id")
    reference = utils.summary_data_from_transaction_data(
        source.to_pandas(),
        "customer_id",
        "created_at",
        "amount",
        observation_period_end="1997-03-30",
        freq=freq,
        freq_multiplier=multiplier,
    ).sort_index()
    assert ours["customer_id"].to_list() == reference.index.to_list()
    for column in ("frequency", "recency", "T", "monetary_value"):
        assert ours[column].to_list() == pytest.approx(reference[column].to_list()), column


@pytest.fixture(scope="module")
def cdnow_source() -> pl.DataFrame:
    return cdnow_transactions().filter(pl.col("created_at") <= datetime(1997, 9, 30))


def test_clv_predictions_on_cdnow(make_workspace, backend, cdnow_source):
    # As-of month September 1997: the 39-week calibration period of the published fits.
    ws = make_workspace(analytics="{clv: {horizon_months: 3}}")
    ws.warehouse.write_tables({"src_transactions": cdnow_source})
    result = ws.run(as_of=date(1997, 9, 1), only=["clv_predictions"])
    frame = ws.table("clv_predictions").drop("_run_id")
    assert frame.columns == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases",
        "expected_avg_value",
        "clv",
    ]
    assert frame.height == 2357
    notes = json.loads(ws.runs()["notes"][0])["clv_predictions"]
    assert notes == json.loads(json.dumps(result.notes["clv_predictions"]))
    assert notes["unit"] == "weeks" and notes["horizon_months"] == 3
    purchases, spend = notes["purchases"], notes["spend"]
    assert purchases["model"] == "bgnbd"
    published = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}
    assert {k: round(v, 2) for k, v in purchases["params"].items()} == published
    assert purchases["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert {k: round(v, 2) for k, v in spend["params"].items()} == {
        "p": 6.25,
        "q": 3.74,
        "v": 15.44,
    }
    row = rows_by_customer(frame)["00004"]
    # Customer 00004 (x 2, t_x 30.43, T 38.86) at the fitted parameters, as in the
    # module tests: p_alive from FHL eq. 12 with r, α, a, b read back from the run record.
    r, alpha, a, b = (purchases["params"][k] for k in ("r", "alpha", "a", "b"))
    t_x, age = 213 / 7, 272 / 7
    alive = 1 / (1 + a / (b + 1) * ((alpha + age) / (alpha + t_x)) ** (r + 2))
    assert row["p_alive"] == pytest.approx(alive, rel=1e-9)
    p, q, v = (spend["params"][k] for k in ("p", "q", "v"))
    assert row["expected_avg_value"] == pytest.approx(p * (v + 2 * 22.345) / (p * 2 + q - 1))
    if backend == "duckdb":
        _agrees_with_lifetimes(frame, purchases["params"], months=3)


def _agrees_with_lifetimes(frame: pl.DataFrame, params: dict[str, float], months: int) -> None:
    """lifetimes' BG/NBD predictions at custlens's parameters equal the fact's."""
    lifetimes = pytest.importorskip("lifetimes")
    model = lifetimes.BetaGeoFitter()
    import pandas as pd

    model.params_ = pd.Series(params)
    x, t_x, age = (frame[c].to_numpy() for c in ("frequency", "recency", "T"))
    alive = model.conditional_probability_alive(x, t_x, age)
    assert frame["p_alive"].to_list() == pytest.approx(list(alive), rel=1e-9)
    horizon = months * 365.25 / 12 / 7
    expected = model.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, age)
    assert frame["expected_purchases"].to_list() == pytest.approx(list(expected), rel=1e-9)


# The failure path is the pipeline's, not the engine's: DuckDB only.
@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_a_fit_that_fails_fails_the_run_and_says_why(make_workspace, backend):
    # Three customers, one purchase each: nothing to learn a repeat rate from.
    ws = make_workspace()
    ws.warehouse.write_tables(
        {
            "src_transactions": transactions(
                ("a", T(2024, 6, 1), 10), ("b", T(2024, 6, 2), 10), ("c", T(2024, 6, 3), 10)
            )
        }
    )
    from custlens.errors import ModelFitError

    with pytest.raises(ModelFitError, match="none with a purchase after their first period"):
        ws.run(as_of=date(2024, 6, 1), only=["clv_predictions"])
    assert ws.runs()["status"][0] == "failed"
    assert not ws.warehouse.has("clv_predictions")
    # A full run skips the fact with the reason and writes the rest.
    result = ws.run(as_of=date(2024, 6, 1))
    assert result.skipped["clv_predictions"].startswith("model not fitted: the BG/NBD fit needs")
    assert "customer_value" in result.written


# The run log is written the same way on every backend: DuckDB only.
@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_a_run_log_from_before_the_notes_column_is_kept(make_workspace, backend):
    ws = make_workspace()
    ws.warehouse.write_tables({"src_transactions": SOURCE})
    old = pl.DataFrame(
        {"run_id": ["old"], "status": ["succeeded"], "version": ["0.0.1"]},
        schema={"run_id": pl.String, "status": pl.String, "version": pl.String},
    )
    ws.warehouse.write_tables({"_custlens_runs": old})
    ws.run(as_of=date(2024, 6, 1), only=["customer_value"])
    runs = ws.runs()
    assert runs.height == 2
    before = runs.filter(pl.col("run_id") == "old").row(0, named=True)
    assert before["notes"] is None and before["version"] == "0.0.1"
    assert json.loads(runs.filter(pl.col("run_id") != "old")["notes"][0]) == {}
