"""``health_scores`` by hand from the features of test_churn_features, on DuckDB and Spark.

Default scaling: inactive_days 60, target_logins_30d 4, max_tickets_90d 5,
max_failed_payments 3, neutral 50, trend points 100 / 60 / 20; weights .30 usage,
.25 support, .20 payment, .15 engagement, .10 NPS.
"""

from __future__ import annotations

import pytest

from custlens.config import load_config
from custlens.errors import ConfigError
from tests.facts.test_churn_features import AS_OF, SOURCES
from tests.frames import rows_by_customer

EXPECTED = {
    # u: usage (1 − 2/60 + 2/4 + 0.5) × 100 / 3 = 65.5556; support (50 × (1 − 0.2)
    # + 100 × (1 − 4/5)) / 2 = (40 + 20) / 2 = 30; payment 100 × (1 − 1/3) = 66.6667;
    # stable 60; NPS 6 → 60. Health .3 × 65.5556 + .25 × 30 + .2 × 66.6667 + .15 × 60
    # + .1 × 60 = 19.6667 + 7.5 + 13.3333 + 9 + 6 = 55.5: At Risk. Paying in June with a
    # failed payment in 90 days: at-risk.
    "u": (65.5556, 30.0, 66.6667, 60.0, 60.0, 55.5, "At Risk", "at-risk"),
    # v: usage (1 − 10/60 + 1/4 + 0) × 100 / 3 = 36.1111; support (50 + 100) / 2 = 75;
    # payment 100; declining 20; NPS neutral 50. 10.8333 + 18.75 + 20 + 3 + 5 = 57.5833.
    # Paid in May (line to Jun 30, exclusive), not in June: churned.
    "v": (36.1111, 75.0, 100.0, 20.0, 50.0, 57.5833, "At Risk", "churned"),
    # w: usage (1 − 1/60 + 3/4 + 0.25) × 100 / 3 = 66.1111; support: no ticket in 90
    # days, latest sentiment 0.4 → 70, load 100 → 85; payment 100; increasing 100;
    # NPS 50. 19.8333 + 21.25 + 20 + 15 + 5 = 81.0833: Excellent; paying, no signal.
    "w": (66.1111, 85.0, 100.0, 100.0, 50.0, 81.0833, "Excellent", "active"),
    # z: never logged in → usage 0; support 75; payment 100; stable 60; NPS 50.
    # 0 + 18.75 + 20 + 9 + 5 = 52.75. Never paid: prospect.
    "z": (0.0, 75.0, 100.0, 60.0, 50.0, 52.75, "At Risk", "prospect"),
}


def test_components_score_band_and_lifecycle_by_hand(run_facts):
    facts = run_facts(SOURCES, AS_OF, only=["health_scores"])
    health = facts["health_scores"]
    assert health.columns[:9] == [
        "customer_id",
        "usage_score",
        "support_score",
        "payment_score",
        "engagement_score",
        "nps_score",
        "health_score",
        "band",
        "lifecycle_stage",
    ]
    got = rows_by_customer(health)
    assert sorted(got) == sorted(EXPECTED)
    for customer, expected in EXPECTED.items():
        row = got[customer]
        numbers = [row[c] for c in health.columns[1:7]]
        assert numbers == pytest.approx(list(expected[:6]), abs=1e-4), customer
        assert (row["band"], row["lifecycle_stage"]) == expected[6:], customer


def test_weights_and_bands_follow_the_config(run_facts):
    facts = run_facts(
        SOURCES,
        AS_OF,
        only=["health_scores"],
        analytics="{health: {weights: {usage: 0, support: 0, payment: 0, engagement: 0.5,"
        " nps: 0.5}, bands: {excellent: 90, good: 70, at_risk: 55}}}",
    )
    got = rows_by_customer(facts["health_scores"])
    # u: (60 + 60) / 2 = 60 → At Risk (55 ≤ 60 < 70); w: (100 + 50) / 2 = 75 → Good;
    # v: (20 + 50) / 2 = 35 → Critical.
    assert got["u"]["health_score"] == pytest.approx(60.0)
    assert [got[c]["band"] for c in ("u", "w", "v")] == ["At Risk", "Good", "Critical"]


def test_weights_that_do_not_sum_to_one_are_rejected(tmp_path):
    path = tmp_path / "custlens.yml"
    path.write_text("analytics:\n  health:\n    weights: {usage: 0.5}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "analytics.health.weights" in message and "sum to 1" in message
    assert "custlens.yml:3" in message  # the line of the weights key
