"""``rfm`` (seed 004, DESIGN.md §4): worked examples checked by hand, on DuckDB and Spark.

Every expected score, code, segment and quadrant is worked out in the
comments from the rules, not from the code under test.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tests.frames import rows_by_customer, transactions

COLUMNS = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
    "segment",
    "quadrant",
]


def purchases(as_of: date, spec: dict[str, tuple[int, float, int]]) -> list[tuple]:
    """Transactions giving each customer (frequency, monetary, recency_days) at ``as_of``.

    The last payment is ``recency`` days before the as-of date and carries what
    the earlier ones (10 each, on the days before it) leave of ``monetary``.
    """
    rows: list[tuple] = []
    for customer, (frequency, monetary, recency) in spec.items():
        last = datetime.combine(as_of - timedelta(days=recency), datetime.min.time()).replace(
            hour=12
        )
        for k in range(1, frequency):
            rows.append((customer, last - timedelta(days=k), 10))
        rows.append((customer, last, monetary - 10 * (frequency - 1)))
    return rows


def test_quintile_scores_give_ties_one_score_even_across_an_edge(run_facts):
    # 11 customers, so n − 1 = 10 and score = min(1 + ⌊5 r / 10⌋, 5) = min(1 + ⌊r / 2⌋, 5),
    # r = number of customers strictly worse (0-based RANK in worst-first order).
    as_of = date(2024, 6, 30)
    spec = {  # frequency, monetary, recency_days
        "a": (1, 100, 0),
        "b": (1, 100, 0),
        "c": (1, 200, 5),
        "d": (2, 300, 5),
        "e": (3, 300, 10),
        "f": (3, 400, 20),
        "g": (4, 500, 30),
        "h": (5, 600, 30),
        "i": (6, 700, 40),
        "j": (6, 700, 50),
        "k": (7, 800, 60),
    }
    # frequency, ascending: 1 (a b c) r=0 → 1; 2 (d) r=3 → 2; 3 (e f) r=4, exactly on the
    # 0.4 edge → 3; 4 (g) r=6, on the 0.6 edge → 4; 5 (h) r=7 → 4; 6 (i j) r=8, on the 0.8
    # edge → 5; 7 (k) r=10 → 5 (capped). NTILE(5) would put i in bucket 4 and j in 5.
    # monetary: 100 (a b) r=0 → 1; 200 (c) r=2 → 2; 300 (d e) r=3 → 2; 400 (f) r=5 → 3;
    # 500 (g) r=6 → 4; 600 (h) r=7 → 4; 700 (i j) r=8 → 5; 800 (k) r=10 → 5.
    # recency, worst (oldest) first: 60 (k) r=0 → 1; 50 (j) r=1 → 1; 40 (i) r=2 → 2;
    # 30 (g h) r=3 → 2; 20 (f) r=5 → 3; 10 (e) r=6 → 4; 5 (c d) r=7 → 4; 0 (a b) r=9 → 5.
    # Segments, first rule that holds: e (4,3,2) r≥4 & f≥3 → Loyal Customers; a b c d f have
    # r ≥ 3 → Promising; g h i j k have r < 3 and f ≥ 3 → Need Attention.
    # Quadrants: nobody reaches 5000; recent is recency < 60, so k (exactly 60) hibernates.
    expected = {
        "a": ("511", "Promising", "promising"),
        "b": ("511", "Promising", "promising"),
        "c": ("412", "Promising", "promising"),
        "d": ("422", "Promising", "promising"),
        "e": ("432", "Loyal Customers", "promising"),
        "f": ("333", "Promising", "promising"),
        "g": ("244", "Need Attention", "promising"),
        "h": ("244", "Need Attention", "promising"),
        "i": ("255", "Need Attention", "promising"),
        "j": ("155", "Need Attention", "promising"),
        "k": ("155", "Need Attention", "hibernating"),
    }
    facts = run_facts({"transactions": transactions(*purchases(as_of, spec))}, as_of, only=["rfm"])
    rfm = facts["rfm"]
    assert rfm.columns[: len(COLUMNS)] == COLUMNS
    got = rows_by_customer(rfm)
    assert {
        c: (row["frequency"], row["monetary"], row["recency_days"]) for c, row in got.items()
    } == {c: (f, float(m), r) for c, (f, m, r) in spec.items()}
    assert {c: (row["rfm_code"], row["segment"], row["quadrant"]) for c, row in got.items()} == (
        expected
    )
    for row in got.values():
        assert row["rfm_code"] == f"{row['r_score']}{row['f_score']}{row['m_score']}"
    assert got["a"]["suggested_action"] == "Upsell campaign"
    assert got["k"]["suggested_action"] == "Win-back offer"


def test_threshold_scores_segments_and_quadrants_at_seed_004_edges(run_facts):
    as_of = date(2024, 12, 31)
    # Seed 004's edges: recency < 30/90/180/365 → 5/4/3/2, else 1; frequency ≥ 20/10/5/2 and
    # monetary ≥ 10000/5000/1000/500 → 5/4/3/2, else 1. One customer per segment, each on
    # or next to an edge.
    spec = {  # frequency, monetary, recency_days
        # r 29 → 5, f 10 → 4, m 5000 → 4: "544" Champions; 5000 ≥ high value, recent → champions.
        "champion": (10, 5000, 29),
        # r 30 → 4 (not < 30), f 5 → 3, m 999.99 → 2: "432" Loyal Customers; promising.
        "loyal": (5, 999.99, 30),
        # r 89 → 4, f 2 → 2, m 10000 → 5: "425" Big Spenders; high value, 89 ≥ 60 → at_risk.
        "big": (2, 10000, 89),
        # r 179 → 3, f 1 → 1, m 500 → 2: "312" Promising; hibernating.
        "promising": (1, 500, 179),
        # r 180 → 2, f 20 → 5, m 400 → 1: "251" Need Attention; hibernating.
        "attention": (20, 400, 180),
        # r 364 → 2, f 1 → 1, m 1000 → 3: "213" At Risk; hibernating.
        "risk": (1, 1000, 364),
        # r 365 → 1, f 1 → 1, m 499.99 → 1: "111" Lost; hibernating.
        "lost": (1, 499.99, 365),
        # r 60 → 4, f 1 → 1, m 6000 → 4: "414" r ≥ 4 & m ≥ 4 → Big Spenders; recency exactly
        # 60 is not recent → at_risk.
        "edge60": (1, 6000, 60),
        # r 59 → 4 and recent; f 9 → 3, m 4999.99 → 3: "433" Loyal; just under high → promising.
        "edge59": (9, 4999.99, 59),
    }
    expected = {
        "champion": ("544", "Champions", "champions", "Reward with VIP benefits"),
        "loyal": ("432", "Loyal Customers", "promising", "Upsell campaign"),
        "big": ("425", "Big Spenders", "at_risk", "Re-engagement campaign"),
        "promising": ("312", "Promising", "hibernating", "Win-back offer"),
        "attention": ("251", "Need Attention", "hibernating", "Win-back offer"),
        "risk": ("213", "At Risk", "hibernating", "Win-back offer"),
        "lost": ("111", "Lost", "hibernating", "Win-back offer"),
        "edge60": ("414", "Big Spenders", "at_risk", "Re-engagement campaign"),
        "edge59": ("433", "Loyal Customers", "promising", "Upsell campaign"),
    }
    facts = run_facts(
        {"transactions": transactions(*purchases(as_of, spec))},
        as_of,
        only=["rfm"],
        analytics="{rfm: {method: thresholds}}",
    )
    got = rows_by_customer(facts["rfm"])
    assert {c: row["recency_days"] for c, row in got.items()} == {
        c: r for c, (_, _, r) in spec.items()
    }
    assert {
        c: (row["rfm_code"], row["segment"], row["quadrant"], row["suggested_action"])
        for c, row in got.items()
    } == expected


def test_rfm_of_a_refund_larger_than_its_payment_and_of_a_lone_customer(run_facts):
    # One customer only: n = 1, so every quintile score is 1 (percent_rank is 0). Pays 100 on
    # 2024-06-20, 120 is refunded: monetary −20, frequency 1, recency 10 → "111", Lost;
    # −20 < 5000 and 10 < 60 → promising.
    as_of = date(2024, 6, 30)
    tx = transactions(
        ("solo", datetime(2024, 6, 20, 9), 100),
        ("solo", datetime(2024, 6, 25, 9), 120, "refund"),
        ("solo", datetime(2024, 6, 26, 9), 5000, "payment", "pending"),
    )
    facts = run_facts({"transactions": tx}, as_of, only=["rfm"])
    (row,) = facts["rfm"].iter_rows(named=True)
    assert (row["recency_days"], row["frequency"], row["monetary"]) == (10, 1, -20.0)
    assert (row["rfm_code"], row["segment"], row["quadrant"]) == ("111", "Lost", "promising")
