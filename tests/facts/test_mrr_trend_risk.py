"""mrr_trend_risk by hand and against numpy.polyfit, on DuckDB and Spark.

Hand-worked fits use x̄ and ȳ: slope = Σ(x−x̄)(y−ȳ) / Σ(x−x̄)², r² = (Σ(x−x̄)(y−ȳ))² /
(Σ(x−x̄)² Σ(y−ȳ)²). Over 4 months Σ(x−x̄)² = 2.25 + 0.25 + 0.25 + 2.25 = 5; over 3, 2.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

D = date
AS_OF = D(2024, 6, 1)
MONTHS = [D(2024, m, 1) for m in range(1, 7)]  # Jan … Jun 2024

# MRR per customer, Jan … Jun 2024; None = no source row (the spine fills 0 once paid).
HISTORIES: dict[str, list[float | None]] = {
    # Window Mar–Jun 400, 300, 200, 100: a perfect line, slope −100, r² 1, mean 250,
    # relative −0.4. What came before the window (999) does not count.
    "lin": [999, 999, 400, 300, 200, 100],
    # 400, 250, 300, 100: ȳ = 262.5, Σdxdy = −1.5·137.5 − 0.5·(−12.5) + 0.5·37.5
    # + 1.5·(−162.5) = −425 → slope −85; Σdy² = 46875 → r² = 425² / (5 · 46875) = 0.770667.
    "noisy": [None, None, 400, 250, 300, 100],
    # 400, 310, 190, 100: dy = 150, 60, −60, −150; Σdxdy = −510 → slope −102;
    # Σdy² = 52200 → r² = 510² / (5 · 52200) = 0.996552; relative −102 / 250 = −0.408.
    "steep": [None, None, 400, 310, 190, 100],
    # 4000 … 3400: slope −200, r² 1, mean 3700, relative −0.054054: the largest fall
    # in money, the smallest relative to its MRR.
    "big": [None, None, 4000, 3800, 3600, 3400],
    # Started in April, 3 months (fewer than N): 300, 240, 150; ȳ = 230; dy = 70, 10, −80;
    # Σdxdy = −150 → slope −75; Σdy² = 11400 → r² = 150² / (2 · 11400) = 0.986842.
    "mid": [None, None, None, 300, 240, 150],
    # Started in May: 2 months, 50 → 40, a line through two points: slope −10, r² 1.
    "short": [None, None, None, None, 50, 40],
    # Started in June: 1 month, no slope.
    "one": [None, None, None, None, None, 70],
    # Flat 33.33 (a mean that is not exact in binary): slope 0, r² null.
    "flat": [33.33] * 6,
    # Churned inside the window: 100, 70, 40, 0; ȳ = 52.5; Σdxdy = −165 → slope −33;
    # Σdy² = 5475 → r² = 165² / (5 · 5475) = 0.994521. In the table, not at risk (lost).
    "churned": [None, None, 100, 70, 40, None],
    # Paid in Jan and Feb only: 0 throughout the window → not in the table.
    "gone": [10, 10, None, None, None, None],
    # Rising: slope +10, r² 1, not at risk.
    "grow": [None, None, 100, 110, 120, 130],
}


def source(histories: dict[str, list[float | None]]) -> pl.DataFrame:
    rows = [
        (customer, month, float(value))
        for customer, values in histories.items()
        for month, value in zip(MONTHS, values, strict=True)
        if value is not None
    ]
    return pl.DataFrame(
        rows, schema={"customer_id": pl.String, "month": pl.Date, "mrr": pl.Float64}, orient="row"
    )


def random_histories(count: int, seed: int = 11) -> dict[str, list[float | None]]:
    """Customers with random MRR in every month, some months unpaid (None)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[float | None]] = {}
    for i in range(count):
        values = np.round(rng.uniform(10, 2000, 6), 2)
        unpaid = rng.random(6) < 0.2
        out[f"r{i:03d}"] = [
            None if skip else float(v) for v, skip in zip(values, unpaid, strict=True)
        ]
    return out


def by_customer(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["customer_id"]: row for row in frame.iter_rows(named=True)}


def test_trend_by_hand_and_ranks(run_facts):
    randoms = random_histories(40)
    facts = run_facts(
        {"customer_mrr": source({**HISTORIES, **randoms})}, AS_OF, only=["mrr_trend_risk"]
    )
    table = facts["mrr_trend_risk"]
    assert table.columns[:8] == [
        "customer_id",
        "months_used",
        "slope",
        "r_squared",
        "mean_mrr",
        "relative_slope",
        "at_risk",
        "risk_rank",
    ]
    got = by_customer(table)
    assert "gone" not in got
    # (months_used, slope, r², mean, relative, at_risk, risk_rank, slope_rank, current)
    expected = {
        "lin": (4, -100.0, 1.0, 250.0, -0.4, True, 2, 3, 100.0),
        "noisy": (4, -85.0, 0.770667, 262.5, -85 / 262.5, False, None, None, 100.0),
        "steep": (4, -102.0, 0.996552, 250.0, -0.408, True, 1, 2, 100.0),
        "big": (4, -200.0, 1.0, 3700.0, -200 / 3700, True, 5, 1, 3400.0),
        "mid": (3, -75.0, 0.986842, 230.0, -75 / 230, True, 3, 4, 150.0),
        "short": (2, -10.0, 1.0, 45.0, -10 / 45, True, 4, 5, 40.0),
        "one": (1, None, None, 70.0, None, False, None, None, 70.0),
        "flat": (4, 0.0, None, 33.33, 0.0, False, None, None, 33.33),
        "churned": (4, -33.0, 0.994521, 52.5, -33 / 52.5, False, None, None, 0.0),
        "grow": (4, 10.0, 1.0, 115.0, 10 / 115, False, None, None, 130.0),
    }
    columns = (
        "months_used",
        "slope",
        "r_squared",
        "mean_mrr",
        "relative_slope",
        "at_risk",
        "risk_rank",
        "slope_rank",
        "current_mrr",
    )
    for customer, values in expected.items():
        row = got[customer]
        assert tuple(row[c] for c in columns) == tuple(
            pytest.approx(v, rel=1e-6, abs=1e-9) if isinstance(v, float) else v for v in values
        ), customer

    # Every customer against numpy's least squares on the same window (Mar–Jun, the
    # spine's zeros in unpaid months after the first paid one), computed independently.
    everyone = {**HISTORIES, **randoms}
    checked = 0
    for customer, values in everyone.items():
        window = values[2:]
        paid = [i for i, v in enumerate(values) if v]
        if not paid or not any(window):
            assert customer not in got, customer
            continue
        start = max(paid[0], 2)  # the spine begins at the first paid month
        y = np.array([v or 0.0 for v in values[start:]])
        x = np.arange(start, 6, dtype=float)
        row = got[customer]
        assert row["months_used"] == len(y), customer
        if len(y) < 2 or np.ptp(y) == 0:
            continue
        slope = np.polyfit(x, y, 1)[0]
        r_squared = np.corrcoef(x, y)[0, 1] ** 2
        assert row["slope"] == pytest.approx(slope, rel=1e-9, abs=1e-9), customer
        assert row["r_squared"] == pytest.approx(r_squared, rel=1e-9, abs=1e-12), customer
        assert row["mean_mrr"] == pytest.approx(y.mean(), rel=1e-12), customer
        checked += 1
    assert checked >= 45

    # Ranks are 1…k over exactly the at-risk customers, steepest relative decline first.
    risky = table.filter(pl.col("at_risk")).sort("relative_slope")
    assert risky["risk_rank"].to_list() == list(range(1, risky.height + 1))
    assert (
        table.filter(~pl.col("at_risk"))["risk_rank"].null_count()
        == table.filter(~pl.col("at_risk")).height
    )


def test_window_length_and_fit_threshold_come_from_config(run_facts):
    facts = run_facts(
        {"customer_mrr": source(HISTORIES)},
        AS_OF,
        only=["mrr_trend_risk"],
        analytics="{mrr_trend: {months: 3, min_r_squared: 0.99}}",
    )
    got = by_customer(facts["mrr_trend_risk"])
    # Window Apr–Jun. "churned" still has 70, 40, 0 in it; "gone" and nothing else drops out.
    assert set(got) == set(HISTORIES) - {"gone"}
    expected = {
        # 300, 200, 100: slope −100, r² 1, mean 200, relative −0.5.
        "lin": (3, -100.0, 1.0, -0.5, True, 2),
        # 310, 190, 100: ȳ = 200, dy = 110, −10, −100; Σdxdy = −210 → slope −105;
        # Σdy² = 22200 → r² = 210² / (2 · 22200) = 0.993243; relative −0.525.
        "steep": (3, -105.0, 0.993243, -0.525, True, 1),
        # 3800, 3600, 3400: relative −200 / 3600.
        "big": (3, -200.0, 1.0, -200 / 3600, True, 4),
        # r² 0.986842 is below 0.99 now: not at risk.
        "mid": (3, -75.0, 0.986842, -75 / 230, False, None),
        "short": (2, -10.0, 1.0, -10 / 45, True, 3),
        # 250, 300, 100: ȳ = 216.67, Σdxdy = −150 → slope −75; Σdy² = 21666.67
        # → r² = 150² / (2 · 21666.67) = 0.519231.
        "noisy": (3, -75.0, 0.519231, -75 / (650 / 3), False, None),
    }
    for customer, (used, slope, r2, relative, at_risk, rank) in expected.items():
        row = got[customer]
        assert row["months_used"] == used, customer
        assert row["slope"] == pytest.approx(slope), customer
        assert row["r_squared"] == pytest.approx(r2, rel=1e-6), customer
        assert row["relative_slope"] == pytest.approx(relative), customer
        assert (row["at_risk"], row["risk_rank"]) == (at_risk, rank), customer


def test_large_mrr_is_fitted_exactly(run_facts):
    # Window Mar–Jun. MRR in the tens of millions: 5e9 cents, whose square (2.5e19)
    # overflows a 64-bit integer and is far past 2**53, where a float sum of
    # squares keeps nothing of a one-cent wiggle.
    histories: dict[str, list[float | None]] = {
        # 50,000,000.00 twice, then 49,999,999.99 twice: in cents c − c̄ = +½, +½, −½, −½;
        # Σdxdy = −1.5·½ − 0.5·½ + 0.5·(−½) + 1.5·(−½) = −2 → slope −2 / 5 = −0.4 cents
        # = −0.004 a month; Σdy² = 1 → r² = 2² / (5 · 1) = 0.8, exactly: at risk at 0.8.
        "wiggle": [None, None, 50_000_000.00, 50_000_000.00, 49_999_999.99, 49_999_999.99],
        # 40M, 39M, 38M, 37M: a perfect line, slope −1,000,000, r² exactly 1, mean 38.5M.
        "line": [None, None, 40_000_000.0, 39_000_000.0, 38_000_000.0, 37_000_000.0],
        # Flat at 90,000,000.01: slope 0, r² null, never at risk.
        "flat": [None, None, *[90_000_000.01] * 4],
    }
    got = by_customer(
        run_facts(
            {"customer_mrr": source(histories)},
            AS_OF,
            only=["mrr_trend_risk"],
            analytics="{mrr_trend: {months: 4, min_r_squared: 0.8}}",
        )["mrr_trend_risk"]
    )
    wiggle = got["wiggle"]
    assert wiggle["slope"] == pytest.approx(-0.004, rel=1e-12)
    assert wiggle["r_squared"] == 0.8
    assert wiggle["mean_mrr"] == pytest.approx(49_999_999.995, rel=1e-15)
    assert wiggle["relative_slope"] == pytest.approx(-0.004 / 49_999_999.995, rel=1e-12)
    # The line falls faster, in money and relative to its MRR: it ranks first on both.
    assert (wiggle["at_risk"], wiggle["risk_rank"], wiggle["slope_rank"]) == (True, 2, 2)
    line = got["line"]
    assert line["slope"] == pytest.approx(-1_000_000.0, rel=1e-12)
    assert line["r_squared"] == 1.0
    assert line["relative_slope"] == pytest.approx(-1 / 38.5, rel=1e-12)
    assert (line["at_risk"], line["risk_rank"], line["slope_rank"]) == (True, 1, 1)
    flat = got["flat"]
    assert (flat["slope"], flat["r_squared"], flat["at_risk"]) == (0.0, None, False)


def test_equal_relative_slopes_rank_by_slope(run_facts):
    # Pairs whose relative slopes are equal exactly but whose means are not exact in
    # binary: a float mean summed in any order could put either first. Window Mar–Jun.
    histories: dict[str, list[float | None]] = {
        # 63.20, 58.71, 56.32, 49.69: ȳ = 56.98, dy = 6.22, 1.73, −0.66, −7.29;
        # Σdxdy = −9.33 − 0.865 − 0.33 − 10.935 = −21.46 → slope −4.292;
        # Σdy² = 95.261 → r² = 21.46² / (5 · 95.261) = 0.966884. Relative −4.292 / 56.98.
        "t2_big": [None, None, 63.20, 58.71, 56.32, 49.69],
        # 5.19, 4.77, 4.35, 4.17: ȳ = 4.62, dy = 0.57, 0.15, −0.27, −0.45;
        # Σdxdy = −0.855 − 0.075 − 0.135 − 0.675 = −1.74 → slope −0.348;
        # Σdy² = 0.6228 → r² = 1.74² / (5 · 0.6228) = 0.972254. Relative −0.348 / 4.62,
        # the same as t2_big's: 4.292 · 4.62 = 0.348 · 56.98 = 19.82904.
        "t1_small": [None, None, 5.19, 4.77, 4.35, 4.17],
        # 28.35, 26.90 (started in May): slope −1.45, mean 27.625, r² 1.
        "t4_short": [None, None, None, None, 28.35, 26.90],
        # 15.51, 14.65, 14.13, 13.17: ȳ = 14.365, dy = 1.145, 0.285, −0.235, −1.195;
        # Σdxdy = −1.7175 − 0.1425 − 0.1175 − 1.7925 = −3.77 → slope −0.754;
        # Σdy² = 2.8755 → r² = 3.77² / (5 · 2.8755) = 0.988552. Relative −0.754 / 14.365,
        # the same as t4_short's: 1.45 · 14.365 = 0.754 · 27.625 = 20.82925.
        "t3_small": [None, None, 15.51, 14.65, 14.13, 13.17],
    }
    got = by_customer(
        run_facts(
            {"customer_mrr": source(histories)},
            AS_OF,
            only=["mrr_trend_risk"],
            analytics="{mrr_trend: {months: 4, min_r_squared: 0.8}}",
        )["mrr_trend_risk"]
    )
    expected = {  # (slope, r², relative, risk_rank, slope_rank)
        "t2_big": (-4.292, 0.966884, -4.292 / 56.98, 1, 1),
        "t1_small": (-0.348, 0.972254, -0.348 / 4.62, 2, 4),
        "t4_short": (-1.45, 1.0, -1.45 / 27.625, 3, 2),
        "t3_small": (-0.754, 0.988552, -0.754 / 14.365, 4, 3),
    }
    for customer, (slope, r2, relative, rank, slope_rank) in expected.items():
        row = got[customer]
        assert row["slope"] == pytest.approx(slope, rel=1e-9), customer
        assert row["r_squared"] == pytest.approx(r2, rel=1e-6), customer
        assert row["relative_slope"] == pytest.approx(relative, rel=1e-12), customer
        assert (row["at_risk"], row["risk_rank"], row["slope_rank"]) == (True, rank, slope_rank)
    # Equal, not merely close: the tie is broken by slope, then customer_id.
    assert got["t2_big"]["relative_slope"] == got["t1_small"]["relative_slope"]
    assert got["t4_short"]["relative_slope"] == got["t3_small"]["relative_slope"]
