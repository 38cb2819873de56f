"""Every rule of DESIGN.md §3 as a hand-computed case, on DuckDB and on Spark.

Expected values are worked out by hand in the comments; none comes from the
code under test.
"""

from __future__ import annotations

import functools
from datetime import date

import polars as pl
import pytest

from tests.frames import lines

REVENUE_FACTS = ["growth_summary", "customer_count", "metrics_catalog"]


@pytest.fixture
def run_facts(run_facts):
    """Only the revenue facts: the others would cost Spark time and test nothing here."""
    return functools.partial(run_facts, only=REVENUE_FACTS)


D = date


def mrr_of(facts: dict[str, pl.DataFrame], customer: str) -> dict[str, float]:
    frame = facts["customer_mrr"].filter(pl.col("customer_id") == customer).sort("month")
    return {m.strftime("%Y-%m"): v for m, v in zip(frame["month"], frame["mrr"], strict=True)}


def moves_of(facts: dict[str, pl.DataFrame], customer: str) -> list[tuple[str, str, float]]:
    frame = facts["mrr_movements"].filter(pl.col("customer_id") == customer).sort("month")
    return [
        (m.strftime("%Y-%m"), kind, round(amount, 2))
        for m, kind, amount in zip(frame["month"], frame["movement"], frame["amount"], strict=True)
    ]


def test_annual_line_is_twelve_months_of_mrr(run_facts):
    # 1200 for 2024-01-01 → 2025-01-01 is 12 calendar months: 100 a month.
    facts = run_facts(
        {"subscription_lines": lines(("a", D(2024, 1, 1), D(2025, 1, 1), 1200))}, D(2025, 2, 1)
    )
    assert mrr_of(facts, "a") == {
        **{f"2024-{m:02d}": 100.0 for m in range(1, 13)},
        "2025-01": 0.0,
        "2025-02": 0.0,
    }
    assert moves_of(facts, "a") == [("2024-01", "new", 100.0), ("2025-01", "churn", 100.0)]


def test_quarterly_mid_month_line_covers_the_month_ends_inside_it(run_facts):
    # 300 for Jan 15 → Apr 15 is 3 months (same day of month): 100 a month. Its
    # period holds the month ends Jan 31, Feb 29 and Mar 31, not Apr 30.
    facts = run_facts(
        {"subscription_lines": lines(("q", D(2024, 1, 15), D(2024, 4, 15), 300))}, D(2024, 4, 1)
    )
    assert mrr_of(facts, "q") == {
        "2024-01": 100.0,
        "2024-02": 100.0,
        "2024-03": 100.0,
        "2024-04": 0.0,
    }


def test_month_length_rules_weeks_days_and_clamped_month_ends(run_facts):
    facts = run_facts(
        {
            "subscription_lines": lines(
                # Jan 22 → Feb 19 is 28 days = 4 weeks = 4 × 12/52 months; 120 / (48/52) = 130.
                ("w", D(2024, 1, 22), D(2024, 2, 19), 120),
                # Jan 10 → Feb 20 is 41 days, neither months nor weeks:
                # 400 × 30.4375 / 41 = 296.951… → 296.95.
                ("d", D(2024, 1, 10), D(2024, 2, 20), 400),
                # Jan 31 → Feb 29 (2024) is one month, clamped at February's end: 100.
                ("c", D(2024, 1, 31), D(2024, 2, 29), 100),
                # Feb 29 → Mar 31 is not a whole month (Feb 29 + 1 month = Mar 29): 31 days,
                # 100 × 30.4375 / 31 = 98.185… → 98.19, in February (Feb 29 is inside it).
                ("e", D(2024, 2, 29), D(2024, 3, 31), 100),
                # Jan 5 → Jan 25 holds no month end: never MRR, never a customer.
                ("short", D(2024, 1, 5), D(2024, 1, 25), 50),
            )
        },
        D(2024, 3, 1),
    )
    assert mrr_of(facts, "w") == {"2024-01": 130.0, "2024-02": 0.0, "2024-03": 0.0}
    assert mrr_of(facts, "d") == {"2024-01": 296.95, "2024-02": 0.0, "2024-03": 0.0}
    assert mrr_of(facts, "c") == {"2024-01": 100.0, "2024-02": 0.0, "2024-03": 0.0}
    assert mrr_of(facts, "e") == {"2024-02": 98.19, "2024-03": 0.0}
    assert mrr_of(facts, "short") == {}


def test_gap_then_return_is_reactivation_and_zero_amount_is_churn(run_facts):
    monthly = [(D(2024, m, 1), D(2024, m + 1, 1)) for m in range(1, 9)]
    facts = run_facts(
        {
            "subscription_lines": lines(
                # r pays Jan, Feb, nothing in Mar–Apr, pays again May.
                *[("r", s, e, 100) for s, e in monthly if s.month in (1, 2, 5)],
                # z pays 80 in Jan–Feb, then a line of 0 (a downgrade to free) from March.
                *[("z", s, e, 80 if s.month < 3 else 0) for s, e in monthly if s.month <= 4],
            )
        },
        D(2024, 5, 1),
    )
    assert moves_of(facts, "r") == [
        ("2024-01", "new", 100.0),
        ("2024-03", "churn", 100.0),
        ("2024-05", "reactivation", 100.0),
    ]
    assert moves_of(facts, "z") == [("2024-01", "new", 80.0), ("2024-03", "churn", 80.0)]
    growth = facts["growth_summary"].sort("month")
    assert growth["reactivated_customers"].to_list() == [0, 0, 0, 0, 1]
    assert growth["churned_customers"].to_list() == [0, 0, 2, 0, 0]


def test_several_subscriptions_sum_and_one_time_and_usage_lines_are_not_mrr(run_facts):
    facts = run_facts(
        {
            "subscription_lines": lines(
                ("s", D(2024, 1, 1), D(2024, 4, 1), 300),  # base: 100 a month, Jan–Mar
                ("s", D(2024, 2, 1), D(2024, 3, 1), 50),  # add-on in Feb only
                ("s", D(2024, 1, 1), D(2024, 2, 1), 500, "one_time"),
                ("s", D(2024, 3, 1), D(2024, 4, 1), 70, "usage"),
            )
        },
        D(2024, 3, 1),
    )
    assert mrr_of(facts, "s") == {"2024-01": 100.0, "2024-02": 150.0, "2024-03": 100.0}
    assert moves_of(facts, "s") == [
        ("2024-01", "new", 100.0),
        ("2024-02", "expansion", 50.0),
        ("2024-03", "contraction", 50.0),
    ]
    row = facts["mrr_movements"].filter(pl.col("movement") == "expansion").row(0, named=True)
    assert (row["mrr_before"], row["mrr_after"]) == (100.0, 150.0)


def test_lines_after_the_as_of_date_are_ignored_and_no_future_churn(run_facts):
    facts = run_facts(
        {
            "subscription_lines": lines(
                ("a", D(2024, 5, 15), D(2024, 6, 15), 90),  # covers May 31
                ("a", D(2024, 6, 15), D(2024, 7, 15), 90),  # covers Jun 30
                ("a", D(2024, 7, 15), D(2024, 8, 15), 500),  # starts after the as-of date
                ("b", D(2024, 7, 1), D(2024, 8, 1), 40),  # only after the as-of date
                ("c", D(2024, 6, 1), D(2025, 6, 1), 1200),  # runs past it: no churn in view
            )
        },
        D(2024, 6, 1),
    )
    assert mrr_of(facts, "a") == {"2024-05": 90.0, "2024-06": 90.0}
    assert mrr_of(facts, "b") == {}
    assert mrr_of(facts, "c") == {"2024-06": 100.0}
    growth = facts["growth_summary"].sort("month")
    assert growth["month"].to_list() == [D(2024, 5, 1), D(2024, 6, 1)]
    assert growth["churn_mrr"].to_list() == [0.0, 0.0]
    assert growth["ending_mrr"].to_list() == [90.0, 190.0]


def test_given_customer_mrr_is_taken_as_is_and_spined(run_facts):
    given = pl.DataFrame(
        {
            "customer_id": ["x", "x", "y"],
            "month": [D(2024, 1, 1), D(2024, 3, 1), D(2024, 2, 1)],
            "mrr": [10.25, 12.5, 7.0],
        }
    )
    facts = run_facts({"customer_mrr": given}, D(2024, 3, 1))
    assert mrr_of(facts, "x") == {"2024-01": 10.25, "2024-02": 0.0, "2024-03": 12.5}
    assert moves_of(facts, "x") == [
        ("2024-01", "new", 10.25),
        ("2024-02", "churn", 10.25),
        ("2024-03", "reactivation", 12.5),
    ]


SCENARIO = lines(
    # a: 100 from Jan, 150 from Mar (expansion 50).
    ("a", D(2024, 1, 1), D(2024, 3, 1), 200),
    ("a", D(2024, 3, 1), D(2024, 5, 1), 300),
    # b: 200 in Jan–Feb, 120 in Mar (contraction 80), gone in Apr (churn 120).
    ("b", D(2024, 1, 1), D(2024, 3, 1), 400),
    ("b", D(2024, 3, 1), D(2024, 4, 1), 120),
    # c: new in Feb at 50.
    ("c", D(2024, 2, 1), D(2024, 5, 1), 150),
)


def test_growth_summary_by_hand(run_facts):
    facts = run_facts({"subscription_lines": SCENARIO}, D(2024, 4, 1), gross_margin=0.8)
    g = facts["growth_summary"].sort("month").to_dicts()
    # month:   Jan     Feb     Mar     Apr
    # a        100     100     150     150
    # b        200     200     120       0
    # c          -      50      50      50
    # ending   300     350     320     200
    assert [r["ending_mrr"] for r in g] == [300.0, 350.0, 320.0, 200.0]
    assert [r["starting_mrr"] for r in g] == [0.0, 300.0, 350.0, 320.0]
    assert [r["new_mrr"] for r in g] == [300.0, 50.0, 0.0, 0.0]
    assert [r["expansion_mrr"] for r in g] == [0.0, 0.0, 50.0, 0.0]
    assert [r["contraction_mrr"] for r in g] == [0.0, 0.0, 80.0, 0.0]
    assert [r["churn_mrr"] for r in g] == [0.0, 0.0, 0.0, 120.0]
    assert [r["arr"] for r in g] == [3600.0, 4200.0, 3840.0, 2400.0]
    assert [r["ending_customers"] for r in g] == [2, 3, 3, 2]
    assert [r["starting_customers"] for r in g] == [0, 2, 3, 3]
    assert [r["new_customers"] for r in g] == [2, 1, 0, 0]
    assert [r["churned_customers"] for r in g] == [0, 0, 0, 1]
    jan, feb, mar, apr = g
    # January starts from nothing: every ratio over S or S_c is null, not 0 or ∞.
    for kpi in ("mrr_growth_rate", "net_revenue_retention", "gross_revenue_retention",
                "customer_churn_rate", "quick_ratio", "ltv"):  # fmt: skip
        assert jan[kpi] is None, kpi
    assert feb["mrr_growth_rate"] == pytest.approx(50 / 300)
    assert feb["net_revenue_retention"] == pytest.approx(1.0)  # (300 + 0 − 0 − 0) / 300
    assert feb["quick_ratio"] is None  # 50 gained, nothing lost: 50 / 0 is null
    # March: S = 350, E = 50, C = 80 → NRR (350 + 50 − 80) / 350, GRR (350 − 80) / 350.
    assert mar["net_revenue_retention"] == pytest.approx(320 / 350)
    assert mar["gross_revenue_retention"] == pytest.approx(270 / 350)
    assert mar["quick_ratio"] == pytest.approx(50 / 80)
    # April: S = 320, X = 120 → NRR = GRR = 200 / 320; churn rate 1 of 3 customers.
    assert apr["net_revenue_retention"] == pytest.approx(200 / 320)
    assert apr["gross_revenue_retention"] == pytest.approx(200 / 320)
    assert apr["customer_churn_rate"] == pytest.approx(1 / 3)
    assert apr["arpa"] == pytest.approx(100.0)  # 200 / 2
    # LTV = ARPA × margin / churn rate = 100 × 0.8 / (1/3) = 240.
    assert apr["ltv"] == pytest.approx(240.0)
    assert mar["ltv"] is None  # no churn in March
    # Trailing churn: 1 churned over 0 + 2 + 3 + 3 starting customers = 1/8.
    assert apr["customer_churn_rate_12m"] == pytest.approx(1 / 8)
    assert apr["ltv_12m"] == pytest.approx(100 * 0.8 * 8)
    # No acquisition source loaded: CAC and its ratios are null.
    assert apr["cac_spend"] is None and apr["cac"] is None and apr["ltv_to_cac"] is None


def test_cac_from_acquisition_costs_and_from_marketing_spend(run_facts):
    costs = pl.DataFrame({"customer_id": ["a", "b", "c"], "cac": [1000.0, 3000.0, 600.0]})
    facts = run_facts({"subscription_lines": SCENARIO, "acquisition_costs": costs}, D(2024, 4, 1))
    g = facts["growth_summary"].sort("month").to_dicts()
    # Jan: a and b are new → spend 4000, CAC 2000; ARPA 150 → payback 2000 / 150.
    assert [r["cac_spend"] for r in g] == [4000.0, 600.0, 0.0, 0.0]
    assert g[0]["cac"] == pytest.approx(2000.0)
    assert g[0]["cac_payback_months"] == pytest.approx(2000 / 150)
    assert g[2]["cac"] is None  # no new customers in March
    # April: LTV 100 / (1/3) = 300, but no CAC that month → LTV/CAC null.
    assert g[3]["ltv_to_cac"] is None

    spend = pl.DataFrame({"month": [D(2024, 1, 1), D(2024, 2, 1)], "amount": [900.0, 500.0]})
    facts = run_facts({"subscription_lines": SCENARIO, "marketing_spend": spend}, D(2024, 4, 1))
    g = facts["growth_summary"].sort("month").to_dicts()
    # Months absent from marketing_spend are unknown (null), not free.
    assert [r["cac_spend"] for r in g] == [900.0, 500.0, None, None]
    assert g[1]["cac"] == pytest.approx(500.0)  # 500 / 1 new customer
    # Feb: ARPA 350/3, churn rate 0 → LTV null → LTV/CAC null.
    assert g[1]["ltv_to_cac"] is None


def test_opening_balance_first_month(run_facts):
    facts = run_facts(
        {"subscription_lines": SCENARIO}, D(2024, 4, 1), opening_balance="first_month"
    )
    g = facts["growth_summary"].sort("month").to_dicts()
    # January's payers (a, b) are the opening balance: starting, not new.
    assert (g[0]["starting_mrr"], g[0]["new_mrr"], g[0]["ending_mrr"]) == (300.0, 0.0, 300.0)
    assert (g[0]["starting_customers"], g[0]["new_customers"]) == (2, 0)
    assert g[0]["net_revenue_retention"] == pytest.approx(1.0)
    # c, new in February, is still new.
    assert g[1]["new_mrr"] == 50.0 and g[1]["new_customers"] == 1
    assert not facts["mrr_movements"].filter(pl.col("month") == D(2024, 1, 1)).height
    counts = facts["customer_count"].sort("month")
    assert counts["ending_balance"].to_list() == [2, 3, 3, 2]
    assert counts["current_base"].to_list() == [2, 2, 3, 3]


def test_annual_retention_over_twelve_months(run_facts):
    facts = run_facts(
        {
            "subscription_lines": lines(
                ("a", D(2023, 1, 1), D(2024, 1, 1), 1200),  # 100 through 2023
                ("a", D(2024, 1, 1), D(2024, 2, 1), 130),  # 130 in Jan 2024
                ("b", D(2023, 1, 1), D(2023, 7, 1), 300),  # 50 a month, churns in July 2023
                ("c", D(2023, 6, 1), D(2024, 2, 1), 80),  # joins later: not in the Jan 2023 base
            )
        },
        D(2024, 1, 1),
    )
    jan24 = facts["growth_summary"].filter(pl.col("month") == D(2024, 1, 1)).row(0, named=True)
    # Base of Jan 2023: a (100) and b (50) = 150. Now: a 130, b 0 → NRR 130/150;
    # GRR caps a at 100 → 100/150.
    assert jan24["net_revenue_retention_12m"] == pytest.approx(130 / 150)
    assert jan24["gross_revenue_retention_12m"] == pytest.approx(100 / 150)
    dec23 = facts["growth_summary"].filter(pl.col("month") == D(2023, 12, 1)).row(0, named=True)
    assert dec23["net_revenue_retention_12m"] is None  # no month 12 before it


def open_ended(*rows: tuple) -> pl.DataFrame:
    """subscription_lines from (customer, start, end or None, amount, billing_interval)."""
    return pl.DataFrame(
        [(*r, "recurring") for r in rows],
        schema={
            "customer_id": pl.String,
            "period_start": pl.Date,
            "period_end": pl.Date,
            "amount": pl.Float64,
            "billing_interval": pl.String,
            "kind": pl.String,
        },
        orient="row",
    )


def test_an_open_ended_line_recurs_to_the_as_of_month_at_its_interval(run_facts):
    # No period_end: each line recurs every billing_interval until the as-of month (April).
    facts = run_facts(
        {
            "subscription_lines": open_ended(
                ("m", D(2024, 1, 15), None, 100.0, "1 month"),  # 100 a month from January
                ("q", D(2024, 2, 1), None, 300.0, "1 quarter"),  # 300 / 3 = 100 from February
                ("y", D(2024, 3, 10), None, 1200.0, "1 year"),  # 1200 / 12 = 100 from March
                ("w", D(2024, 1, 1), None, 60.0, "2 week"),  # 60 / (2 x 12/52) = 130
                ("s", D(2024, 1, 1), None, 600.0, "6 month"),  # 600 / 6 = 100
                # A period_end wins over the interval: 100 a month, January and February.
                ("e", D(2024, 1, 1), D(2024, 3, 1), 200.0, "1 month"),
            )
        },
        D(2024, 4, 1),
    )
    months = ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert mrr_of(facts, "m") == dict.fromkeys(months, 100.0)
    assert mrr_of(facts, "q") == dict.fromkeys(months[1:], 100.0)
    assert mrr_of(facts, "y") == dict.fromkeys(months[2:], 100.0)
    assert mrr_of(facts, "w") == dict.fromkeys(months, 130.0)
    assert mrr_of(facts, "s") == dict.fromkeys(months, 100.0)
    assert mrr_of(facts, "e") == {
        "2024-01": 100.0,
        "2024-02": 100.0,
        "2024-03": 0.0,
        "2024-04": 0.0,
    }
    # No future churn for an open end: the only movement of m is its start.
    assert moves_of(facts, "m") == [("2024-01", "new", 100.0)]


def sub_lines(*rows: tuple) -> pl.DataFrame:
    """subscription_lines from (customer, subscription, start, end, amount)."""
    return lines(*rows, extra=("subscription_id",))


def test_a_mid_month_upgrade_with_proration_is_the_new_price_at_month_end(run_facts):
    # 100 a month; on 15 March an upgrade to 200: Stripe credits the unused 17 of
    # March's 31 days (−100 × 17/31 = −54.84) and charges them at the new price
    # (200 × 17/31 = 109.68), both for 15 March – 1 April, inside March's billing
    # period 1 March – 1 April. Each counts as 17/31 of that one-month period:
    # −54.84 / (17/31) = −100.0047, 109.68 / (17/31) = 200.0094, so the end of
    # March has 100 − 100.0047 + 200.0094 = 200.0047 → 200.00 (days / 30.4375 would
    # give 100 − 98.19 + 196.38 = 198.19). April is billed at 200.
    facts = run_facts(
        {
            "subscription_lines": sub_lines(
                ("u", "s1", D(2024, 2, 1), D(2024, 3, 1), 100),
                ("u", "s1", D(2024, 3, 1), D(2024, 4, 1), 100),
                ("u", "s1", D(2024, 3, 15), D(2024, 4, 1), -54.84),
                ("u", "s1", D(2024, 3, 15), D(2024, 4, 1), 109.68),
                ("u", "s1", D(2024, 4, 1), D(2024, 5, 1), 200),
            )
        },
        D(2024, 4, 1),
    )
    assert mrr_of(facts, "u") == {"2024-02": 100.0, "2024-03": 200.0, "2024-04": 200.0}
    assert moves_of(facts, "u") == [("2024-02", "new", 100.0), ("2024-03", "expansion", 100.0)]


def test_a_discount_for_three_months_then_full_price(run_facts):
    # 100 a month January to June; a −20 line (20 %) on January to March's periods:
    # 80, 80, 80, then 100 — the discount ending is an expansion of 20.
    base = [("d", "s2", D(2024, m, 1), D(2024, m + 1, 1), 100) for m in range(1, 7)]
    off = [("d", "s2", D(2024, m, 1), D(2024, m + 1, 1), -20) for m in range(1, 4)]
    facts = run_facts({"subscription_lines": sub_lines(*base, *off)}, D(2024, 6, 1))
    assert mrr_of(facts, "d") == {
        "2024-01": 80.0,
        "2024-02": 80.0,
        "2024-03": 80.0,
        "2024-04": 100.0,
        "2024-05": 100.0,
        "2024-06": 100.0,
    }
    assert moves_of(facts, "d") == [("2024-01", "new", 80.0), ("2024-04", "expansion", 20.0)]


def test_a_credit_note_for_a_whole_period_and_more_is_zero_mrr_not_negative(run_facts):
    # 300 a month; March credited in full (−300) for c, and more than in full
    # (−450) for o: both months are 0 — never −150 — so March is a churn of 300
    # and April, billed again, a reactivation.
    rows = []
    for customer, credit in (("c", -300), ("o", -450)):
        rows += [
            (customer, "s3" + customer, D(2024, m, 1), D(2024, m + 1, 1), 300) for m in (2, 3, 4)
        ]
        rows.append((customer, "s3" + customer, D(2024, 3, 1), D(2024, 4, 1), credit))
    facts = run_facts({"subscription_lines": sub_lines(*rows)}, D(2024, 4, 1))
    for customer in ("c", "o"):
        assert mrr_of(facts, customer) == {"2024-02": 300.0, "2024-03": 0.0, "2024-04": 300.0}
        assert moves_of(facts, customer) == [
            ("2024-02", "new", 300.0),
            ("2024-03", "churn", 300.0),
            ("2024-04", "reactivation", 300.0),
        ]
