"""Role row filters and PII masking at the Python level (run_query(spec, role=...)).

Customers (data.py): c1 enterprise EMEA a@a.example, c2 smb EMEA b@b.example, c3 smb NA c@c.example,
c4 enterprise NA (no email), c5 (no segment) APAC e@e.example. Revenue: c1 150, c2 40,
c3 30, c4 200. Tickets: c1 3, c3 1.
"""

from __future__ import annotations

import hashlib

import pytest

from custlens.errors import AccessError
from custlens.semantic.access import Role, make_role
from custlens.semantic.query import Condition

SALT = "s"


def sha(value: str) -> str:
    return hashlib.sha256((SALT + value).encode("utf-8")).hexdigest()


def region(name: str) -> Condition:
    return Condition.model_validate(
        {"member": "customers.region", "operator": "equals", "value": name}
    )


EMEA = Role("emea", privileged=False, filters=(region("EMEA"),), salt=SALT)
ADMIN = Role("admin", privileged=True, salt=SALT)
ANYONE = Role("anyone", privileged=False, salt=SALT)


def test_pii_is_a_salted_hash_for_unprivileged_roles(sem):
    spec = {
        "metrics": ["customers.count"],
        "dimensions": ["customers.customer_id", "customers.email"],
    }
    got = sem.run_query(spec, role=EMEA).data
    assert got == [
        {
            "customers.customer_id": "c1",
            "customers.email": sha("a@a.example"),
            "customers.count": 1,
        },
        {
            "customers.customer_id": "c2",
            "customers.email": sha("b@b.example"),
            "customers.count": 1,
        },
    ]
    # sha256("s" + "a@a.example"), written out once by hand as a check of sha() itself:
    assert sha("a@a.example") == hashlib.sha256(b"sa@a.example").hexdigest()


def test_null_pii_stays_null_and_privileged_sees_clear(duck):
    spec = {
        "metrics": ["customers.count"],
        "dimensions": ["customers.customer_id", "customers.email"],
        "filters": [{"member": "customers.region", "operator": "equals", "value": "NA"}],
    }
    masked = duck.run_query(spec, role=ANYONE).data
    assert [(r["customers.customer_id"], r["customers.email"]) for r in masked] == [
        ("c3", sha("c@c.example")),
        ("c4", None),
    ]
    clear = duck.run_query(spec, role=ADMIN).data
    assert [r["customers.email"] for r in clear] == ["c@c.example", None]
    # no role at all (the Python API, the workspace owner): clear too
    assert [r["customers.email"] for r in duck.run_query(spec).data] == ["c@c.example", None]


def test_role_filter_reaches_other_cubes_through_joins(sem):
    # EMEA = c1, c2: revenue 150 + 40 = 190, transactions 3 + 2 = 5, tickets 3 (c1).
    spec = {"metrics": ["transactions.revenue", "transactions.count", "tickets.count"]}
    assert sem.run_query(spec, role=EMEA).data == [
        {"transactions.revenue": 190.0, "transactions.count": 5, "tickets.count": 3}
    ]


def test_role_filter_by_segment(duck):
    # EMEA by segment: enterprise c1 (150, 1 customer), smb c2 (40, 1).
    spec = {
        "metrics": ["transactions.revenue", "customers.count"],
        "dimensions": ["customers.segment"],
    }
    assert duck.run_query(spec, role=EMEA).data == [
        {"customers.segment": "enterprise", "transactions.revenue": 150.0, "customers.count": 1},
        {"customers.segment": "smb", "transactions.revenue": 40.0, "customers.count": 1},
    ]


def test_query_filters_cannot_widen_the_role(duck):
    # The role's filter is AND-ed: asking for NA (or NA-or-EMEA) under EMEA gives EMEA at most.
    spec = {
        "metrics": ["customers.count"],
        "dimensions": ["customers.region"],
        "filters": [
            {
                "or": [
                    {"member": "customers.region", "operator": "equals", "value": "NA"},
                    {"member": "customers.region", "operator": "notEquals", "value": "NA"},
                ]
            }
        ],
    }
    assert duck.run_query(spec, role=EMEA).data == [
        {"customers.region": "EMEA", "customers.count": 2}
    ]


def test_unprivileged_may_not_filter_on_pii(duck):
    spec = {
        "metrics": ["customers.count"],
        "filters": [{"member": "customers.email", "operator": "startsWith", "value": "a"}],
    }
    with pytest.raises(AccessError, match=r"customers\.email"):
        duck.run_query(spec, role=ANYONE)
    assert duck.run_query(spec, role=ADMIN).data == [{"customers.count": 1}]


def test_cube_out_of_the_role_filter_reach_is_refused(duck):
    # growth (company-wide) cannot be filtered to a region: an EMEA role may not read it.
    with pytest.raises(AccessError, match="growth"):
        duck.run_query({"metrics": ["mrr"]}, role=EMEA)


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_make_role_from_config(make_workspace):
    ws = make_workspace(
        roles="{emea: {filters: [{member: customers.region, operator: equals, value: EMEA}]}, "
        "boss: {privileged: true}}"
    )
    role = make_role(ws.config, "emea", "pepper")
    assert role == Role("emea", False, (region("EMEA"),), "pepper")
    assert make_role(ws.config, "boss").privileged


def test_role_applies_to_dimension_only_and_time_queries(duck):
    # Dimension-only: EMEA's emails, hashed; transaction statuses of c1 and c2 only
    # (c2's failed payment, everyone's processed ones).
    # (Masked values never order rows for the role: compare without order.)
    emails = duck.run_query({"dimensions": ["customers.email"]}, role=EMEA).data
    assert sorted(r["customers.email"] for r in emails) == sorted(
        [sha("a@a.example"), sha("b@b.example")]
    )
    # EMEA revenue by quarter of 2024: Q1 c1 100 + 100 − 50 + c2 40 = 190; Q2: c2's April
    # payment failed → 0.
    spec = {
        "metrics": ["transactions.revenue"],
        "time_dimensions": [
            {
                "dimension": "transactions.created_at",
                "granularity": "quarter",
                "date_range": "this year",
            }
        ],
    }
    assert [r["transactions.revenue"] for r in duck.run_query(spec, role=EMEA).data] == [190.0, 0.0]
