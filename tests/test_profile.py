"""The Customer 360 profile of one customer of a small fixture, field by field.

The fixture is test_churn_features' (whose features and health scores are worked
out by hand there and in test_health_scores), with customer attributes,
contacts, journey events and two years of contracts for u. As-of date 2024-06-30.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.errors import NotFoundError
from custlens.profile import PII_FIELDS, mask_pii
from tests.c360_frames import as_loaded
from tests.facts.test_churn_features import AS_OF, SOURCES
from tests.frames import lines

T, D = datetime, date

CUSTOMERS = as_loaded(
    "customers",
    [
        {"customer_id": "u", "source_system": "billing", "email": "ops@umbrella.com",
         "name": "Umbrella Corp", "segment": "Enterprise", "industry": "Manufacturing",
         "region": "NA", "plan": "Scale", "signup_date": D(2022, 5, 20),
         "phone": "+1 (555) 200-3000", "domain": "umbrella.com"},
        # The CRM's record is later: its name and email win; its empty fields do not.
        {"customer_id": "u2", "source_system": "crm", "email": "OPS@umbrella.com",
         "name": "Umbrella", "signup_date": D(2023, 3, 1)},
        {"customer_id": "v", "source_system": "billing"},
        {"customer_id": "w", "source_system": "billing"},
        {"customer_id": "z", "source_system": "billing"},
    ],
)  # fmt: skip

LINES = lines(
    # u: two annual contracts of 1200 (the second a renewal on 2023-06-15), then a
    # monthly line of 100: MRR 100 every month from 2022-06 to 2024-06 (25 months).
    ("u", D(2022, 6, 15), D(2023, 6, 15), 1200.0),
    ("u", D(2023, 6, 15), D(2024, 6, 15), 1200.0),
    ("u", D(2024, 6, 15), D(2024, 7, 15), 100.0),
    ("w", D(2024, 1, 1), D(2025, 1, 1), 1200.0),
    ("v", D(2024, 5, 30), D(2024, 6, 30), 50.0),
)

CONTACTS = as_loaded(
    "contacts",
    [
        {"customer_id": "u2", "name": "Sam Poe", "title": "CEO", "role": "executive_sponsor"},
        {"customer_id": "u2", "name": "Lee Roe", "title": "Data Lead", "role": "champion",
         "email": "lee@umbrella.com"},
        {"customer_id": "u", "name": "Pat Doe", "title": "COO", "role": "primary",
         "email": "pat@umbrella.com", "phone": "555-1000"},
    ],
)  # fmt: skip

JOURNEY = as_loaded(
    "journey_events",
    [
        {"customer_id": "u", "occurred_at": T(2022, 5, 20, 9), "stage": "signup"},
        {"customer_id": "u", "occurred_at": T(2022, 6, 15, 10), "stage": "paid"},
    ],
)

FIXTURE = {
    **SOURCES,
    "customers": CUSTOMERS,
    "subscription_lines": LINES,
    "contacts": CONTACTS,
    "journey_events": JOURNEY,
}

EXPECTED = {
    "customer_id": "u",
    "as_of": "2024-06-30",
    "overview": {
        "name": "Umbrella",
        "source_ids": [{"id": "u", "system": "billing"}, {"id": "u2", "system": "crm"}],
        "customer_since": "2022-05-20",
        "segment": "Enterprise",
        "industry": "Manufacturing",
        "region": "NA",
        "plan": "Scale",
        "acquisition_channel": None,
        "email": "OPS@umbrella.com",
        "phone": "+1 (555) 200-3000",
        "domain": "umbrella.com",
        # test_health_scores: 55.5, At Risk, at-risk (paying, a failed payment).
        "health_score": 55.5,
        "band": "At Risk",
        "lifecycle_stage": "at-risk",
        "components": {
            "usage": 65.6,
            "support": 30.0,
            "payment": 66.7,
            "engagement": 60.0,
            "nps": 60.0,
        },
        "churn_probability": None,  # churn_propensity is not run here
    },
    "financial": {
        "revenue_basis": "mrr",
        "lifetime_revenue": 2500.0,  # 25 months × 100
        "current_mrr": 100.0,
        "current_arr": 1200.0,
        "last_12_months": 1200.0,  # 2023-07 … 2024-06
        "previous_12_months": 1200.0,  # 2022-07 … 2023-06
        "change_12_months": 0.0,
        "payment_status": "issues",
        "failed_payments_90d": 1,
    },
    "engagement": {
        "nps_score": 6,
        "nps_category": "detractor",
        "last_activity_at": "2024-06-28T10:00:00",
        "days_since_last_activity": 2,
        "days_since_last_login": 2,
        "login_trend": "stable",
        "product_adoption": 0.5,
        "tickets_90d": 4,
        "avg_resolution_hours": 15.0,
    },
    "contacts": [
        {"role": "primary", "name": "Pat Doe", "title": "COO", "email": "pat@umbrella.com",
         "phone": "555-1000"},
        {"role": "champion", "name": "Lee Roe", "title": "Data Lead",
         "email": "lee@umbrella.com", "phone": None},
        {"role": "executive_sponsor", "name": "Sam Poe", "title": "CEO", "email": None,
         "phone": None},
    ],
    # Newest first, ten of them; the signup of 2022-05-20 is the eleventh.
    "recent_events": [
        {"date": "2024-06-29", "kind": "ticket", "description": "Support ticket T5 (open)"},
        {"date": "2024-06-25", "kind": "ticket", "description": "Support ticket T4 (open)"},
        {"date": "2024-06-20", "kind": "ticket",
         "description": "Support ticket T1 (resolved in 4 h)"},
        {"date": "2024-06-02", "kind": "nps", "description": "NPS answer 6 (detractor)"},
        {"date": "2024-05-01", "kind": "ticket",
         "description": "Support ticket T2 (resolved in 26 h)"},
        {"date": "2024-03-01", "kind": "ticket",
         "description": "Support ticket T3 (resolved in 1 h)"},
        {"date": "2024-02-01", "kind": "nps", "description": "NPS answer 9 (promoter)"},
        {"date": "2023-06-15", "kind": "renewal",
         "description": "Renewed a 12-month contract (1,200)"},
        {"date": "2022-06-15", "kind": "journey", "description": "Reached journey stage: paid"},
        {"date": "2022-06-01", "kind": "new",
         "description": "New subscription: MRR 0 → 100 (+100)"},
    ],
}  # fmt: skip

PROFILE_FACTS = ["health_scores", "mrr_movements"]


def build(ws):
    ws.warehouse.write_tables({f"src_{name}": frame for name, frame in FIXTURE.items()})
    ws.run(as_of=AS_OF, only=PROFILE_FACTS)
    return ws


def test_the_profile_field_by_field(make_workspace):
    ws = build(make_workspace())
    for any_id in ("u", "u2"):  # any source-system id finds the customer
        got = ws.profile(any_id)
        assert list(got) == list(EXPECTED)
        for section, expected in EXPECTED.items():
            assert got[section] == expected, section


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_an_unknown_id_is_not_found(make_workspace):
    ws = build(make_workspace())
    with pytest.raises(NotFoundError, match="'nobody'"):
        ws.profile("nobody")


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_pii_fields_are_marked_and_maskable(make_workspace):
    ws = build(make_workspace())
    masked = mask_pii(ws.profile("u"), lambda v: "***")
    # What names the customer or a person is PII (README, "Who sees what").
    assert PII_FIELDS == {
        "overview": ("name", "email", "phone", "domain"),
        "contacts": ("name", "email", "phone"),
    }
    overview = masked["overview"]
    assert (overview["name"], overview["email"], overview["phone"]) == ("***", "***", "***")
    assert overview["domain"] == "***"
    assert overview["segment"] == "Enterprise"
    assert [(c["name"], c["email"], c["phone"], c["title"]) for c in masked["contacts"]] == [
        ("***", "***", "***", "COO"),
        ("***", "***", None, "Data Lead"),
        ("***", None, None, "CEO"),
    ]
    assert masked["financial"] == EXPECTED["financial"]


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_the_cli_prints_the_profile_in_seed_002s_shape(make_workspace):
    ws = build(make_workspace())
    result = CliRunner().invoke(app, ["-w", str(ws.path), "profile", "u2"])
    assert result.exit_code == 0, result.output
    out = result.output
    for line in (
        "Customer Profile: Umbrella",
        "Customer Since: May 2022",
        "Health Score:   56/100 ⚠ (At Risk)",
        "Lifetime Revenue: $2,500",
        "Current ARR:      $1,200",
        "Last 12 Months:   $1,200 (↑ 0 % YoY)",
        "Payment Status:   Issues (1 failed payment in 90 days)",
        "NPS Score:        6 (Detractor)",
        "Last Activity:    2 days ago",
        "Product Adoption: 50 %",
        "Support Tickets:  4 (last 90 days)",
        "Avg Resolution:   15 hours",
        "Primary:           Pat Doe (COO)",
        "Executive Sponsor: Sam Poe (CEO)",
        "Jun 29 2024  Support ticket T5 (open)",
    ):
        assert line in out, line
    as_json = CliRunner().invoke(app, ["-w", str(ws.path), "profile", "u", "--format", "json"])
    assert as_json.exit_code == 0 and '"customer_id": "u"' in as_json.output
    missing = CliRunner().invoke(app, ["-w", str(ws.path), "profile", "nobody"])
    assert missing.exit_code == 1 and "error: no customer 'nobody'" in missing.output
