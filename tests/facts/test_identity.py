"""Identity resolution (``customer_identity``, ``dim_customers``) on a hand-made set, both engines.

Every expected component below is worked out from the keys written beside each record.
"""

from __future__ import annotations

from datetime import date

import pytest

from custlens.errors import PipelineError
from tests.c360_frames import as_loaded

AS_OF = date(2024, 6, 1)
D = date


def rec(cid: str, system: str, signup: date, **attrs: str | None) -> dict:
    return {"customer_id": cid, "source_system": system, "signup_date": signup, **attrs}


CUSTOMERS = as_loaded(
    "customers",
    [
        # Chain: a–b share an email (case and spaces differ), b–c a phone (formats
        # differ): one customer. c is the billing record, so its id is kept although
        # "a" is smaller. All three on gmail.com, which links nothing by itself.
        rec("a", "crm", D(2023, 2, 1), email=" Ann.Lee@GMAIL.com", name="Ann's shop"),
        rec("b", "support", D(2023, 3, 1), email="ann.lee@gmail.com", phone="555-010-0001"),
        rec(
            "c",
            "billing",
            D(2023, 1, 1),
            email="carl@gmail.com",
            phone="+1 (555) 010-0001",
            name="Lee Trading LLC",
            plan="Growth",
        ),
        # d shares only gmail.com (as email domain and domain column) with a, b, c and e.
        rec("d", "billing", D(2023, 1, 1), email="dora@gmail.com", domain="gmail.com"),
        rec("e", "billing", D(2023, 1, 1), domain="GMAIL.com"),
        # f–g: a company domain (email domain of f, domain column of g with www.).
        # Both billing: the smaller id, f, is kept.
        rec("g", "billing", D(2023, 1, 1), domain="www.Initech.io"),
        rec("f", "billing", D(2023, 1, 1), email="billing@initech.io"),
        # h–i: same email; i is more recent: its name and segment win, its empty plan
        # does not erase h's; signup_date is the earliest.
        rec(
            "h",
            "billing",
            D(2023, 1, 1),
            email="x@hooli.com",
            name="Old Name",
            segment="SMB",
            plan="Starter",
            region="NA",
        ),
        rec("i", "crm", D(2023, 6, 1), email="X@Hooli.com", name="New Name", segment="Mid-Market"),
        # Too short to be a phone: no key, no merge.
        rec("j", "crm", D(2023, 1, 1), phone="12-34"),
        rec("k", "crm", D(2023, 1, 1), phone="1234"),
        # A path p5–p4–p3–p2–p1 through email, phone, domain, email: the smallest label
        # (p1, all crm) needs four rounds to reach p5.
        rec("p5", "crm", D(2023, 1, 1), email="five@ex1.org"),
        rec("p4", "crm", D(2023, 1, 1), email="five@ex1.org", phone="2025550104"),
        rec("p3", "crm", D(2023, 1, 1), phone="(202) 555-0104", domain="ex3.org"),
        rec("p2", "crm", D(2023, 1, 1), domain="EX3.org", email="two@yahoo.com"),
        rec("p1", "crm", D(2023, 1, 1), email="TWO@yahoo.com"),
    ],
)

EXPECTED = {
    "a": "c", "b": "c", "c": "c",
    "d": "d", "e": "e",
    "f": "f", "g": "f",
    "h": "h", "i": "h",
    "j": "j", "k": "k",
    "p1": "p1", "p2": "p1", "p3": "p1", "p4": "p1", "p5": "p1",
}  # fmt: skip


def test_records_sharing_a_key_are_one_customer(run_facts):
    facts = run_facts({"customers": CUSTOMERS}, AS_OF, only=["dim_customers"])
    identity = facts["customer_identity"]
    assert identity.columns == [
        "source_customer_id",
        "source_system",
        "customer_id",
        "is_primary",
        "records",
    ]
    got = {r["source_customer_id"]: r["customer_id"] for r in identity.iter_rows(named=True)}
    assert got == EXPECTED
    records = {r["source_customer_id"]: r["records"] for r in identity.iter_rows(named=True)}
    assert records["a"] == 3 and records["p5"] == 5 and records["d"] == 1
    primary = {r["source_customer_id"] for r in identity.iter_rows(named=True) if r["is_primary"]}
    assert primary == set(EXPECTED.values())

    dim = {r["customer_id"]: r for r in facts["dim_customers"].iter_rows(named=True)}
    # 16 records, 7 customers: {a,b,c}, d, e, {f,g}, {h,i}, j, k, {p1..p5} → 8.
    assert len(dim) == 8
    hooli = dim["h"]
    assert (hooli["name"], hooli["segment"], hooli["plan"], hooli["region"]) == (
        "New Name",
        "Mid-Market",
        "Starter",
        "NA",
    )
    assert hooli["signup_date"] == D(2023, 1, 1)
    assert hooli["email"] == "X@Hooli.com"  # as written in the latest record
    assert (hooli["source_systems"], hooli["source_records"]) == ("billing, crm", 2)
    # {a, b, c}: latest record with a name is a (Feb) → "Ann's shop"; the phone only b
    # and c have: b (Mar) is the latest; plan only c has.
    lee = dim["c"]
    assert (lee["name"], lee["phone"], lee["plan"]) == ("Ann's shop", "555-010-0001", "Growth")
    assert lee["source_systems"] == "billing, crm, support"


def test_a_chain_longer_than_the_cap_is_an_error(make_workspace):
    ws = make_workspace(analytics="{identity: {max_iterations: 2}}")
    ws.warehouse.write_tables({"src_customers": CUSTOMERS})
    with pytest.raises(PipelineError, match=r"analytics\.identity\.max_iterations"):
        ws.run(as_of=AS_OF, only=["customer_identity"])


def test_free_mail_domains_are_configurable(run_facts):
    # With gmail.com no longer free, a–e and d all share the domain gmail.com.
    facts = run_facts(
        {"customers": CUSTOMERS},
        AS_OF,
        only=["customer_identity"],
        analytics="{identity: {free_mail_domains: [yahoo.com]}}",
    )
    got = {
        r["source_customer_id"]: r["customer_id"]
        for r in facts["customer_identity"].iter_rows(named=True)
    }
    assert {got[c] for c in "abcde"} == {"c"}


def test_segment_summary_counts_a_merged_customer_once(run_facts):
    customers = CUSTOMERS.filter(CUSTOMERS["customer_id"].is_in(["h", "i", "d"]))
    mrr = as_loaded(
        "customer_mrr",
        [
            {"customer_id": "h", "month": D(2024, 6, 1), "mrr": 100.0},
            # revenue recorded under the CRM id still belongs to h's customer
            {"customer_id": "i", "month": D(2024, 6, 1), "mrr": 50.0},
        ],
    )
    sources = {"customers": customers, "customer_mrr": mrr}
    facts = run_facts(sources, AS_OF, only=["segment_summary"])
    rows = {r["segment"]: r for r in facts["segment_summary"].iter_rows(named=True)}
    # h+i → one Mid-Market customer (i's segment is the latest), paying 100 + 50;
    # d has no segment → Unknown.
    assert rows["Mid-Market"]["customers"] == 1
    assert rows["Mid-Market"]["paying_customers"] == 1
    assert rows["Mid-Market"]["current_mrr"] == pytest.approx(150.0)
    assert rows["Unknown"]["customers"] == 1
    assert "SMB" not in rows


def test_the_generators_duplicates_resolve_to_their_billing_record(tmp_path):
    from custlens.synth import generate
    from custlens.workspace import Workspace

    frames = generate(customers=1500, months=12, seed=5)
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load(frames)
        ws.run(only=["customer_identity"])
        identity = ws.table("customer_identity")
    customers = frames["customers"]
    # 1500 billing records and 15 duplicates from crm / support, each linked to one
    # billing record by one key: 1500 customers, every duplicate under a billing id.
    assert identity.height == 1515
    assert identity["customer_id"].n_unique() == 1500
    billing = set(customers.filter(customers["source_system"] == "billing")["customer_id"])
    assert set(identity["customer_id"]) == billing
    dups = identity.filter(identity["source_system"] != "billing")
    assert dups.height == 15 and (dups["records"] == 2).all()
