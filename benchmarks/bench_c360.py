"""Benchmark Customer 360 (issue 5): identity resolution, the C360 facts, the profile.

Usage: ``python benchmarks/bench_c360.py [--records 1000000] [--customers 100000]
[--repeat N] [--settle LOAD]``.

Three parts, each timed step in a fresh child process so that its peak resident set
size is its own (``child.run_child``); times exclude interpreter start and imports:

1. **Identity resolution** on ``--records`` customer records from three source systems
   (:func:`generate_records`, cached as Parquet under ``benchmarks/data/``): about 90 %
   billing records, copies of some of them in ``crm`` and ``support`` linked to their
   original by email, phone or company domain with formatting noise, support copies
   chained to a crm copy by phone (a–b by email, b–c by phone), and unlinked records
   with free-mail addresses (and ``gmail.com`` in the domain column) that must not
   link. Steps: *load* (``Workspace.load`` of the ``customers`` source into a fresh
   DuckDB workspace), *run* (``ws.run(only=["dim_customers"])``: ``customer_identity``
   and ``dim_customers``, and the pipeline's input fingerprint), *check* (untimed): the
   mapping record → resolved id must equal, for every record, both the generator's
   truth and an independent computation — the keys normalised in Polars and the
   components found by ``scipy.sparse.csgraph.connected_components``.
2. **The Customer-360 facts** on the ``--customers`` × 36-month demo workspace that
   ``bench_report.prepare`` builds and caches (generated only when missing). The child
   copies it (untimed) and times ``ws.run(only=C360_FACTS)``. ``only`` also computes
   every fact they read (``customer_mrr``, ``customer_value``, ``mrr_movements``), so
   the clock includes their inputs; each fact's own seconds (compute + write + row
   count, from the run's progress events) are reported beside it.
3. **The profile** on that workspace: in process, the workspace opened once, then
   ``ws.profile(id)`` for :data:`PROFILE_SAMPLES` random ids of every source system
   (p50, p95, max; the first call, which opens the tables, reported apart); and through
   HTTP (``custlens serve`` + ``custlens.Client.customer``) p50/p95 of
   :data:`HTTP_CALLS` calls for one id after one warm-up call, then of each sampled id
   once. ``--profile-only`` runs this part alone.

Goals (issue 5): identity resolution under 60 s and 6 GB; the facts under 30 s; the
profile under 200 ms. Exits 1 when the identity check disagrees.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

# Run as a script, this folder is first on sys.path.
from bench_report import DATA_DIR, prepare
from bench_run import add_timing_options, settle
from child import run_child

SEED = 20261124
AS_OF = date(2024, 12, 1)
MONTHS = 36
CHILD_TIMEOUT_SECONDS = 1800
C360_FACTS = (
    "customer_identity",
    "dim_customers",
    "churn_features",
    "health_scores",
    "journey_funnel",
    "segment_summary",
)
"""``segment_summary`` reads ``customer_identity`` and ``dim_customers``: it is one of them."""
PROFILE_SAMPLES = 50
HTTP_CALLS = 20
GOAL_IDENTITY_SECONDS = 60.0
GOAL_IDENTITY_MB = 6 * 1024
GOAL_FACTS_SECONDS = 30.0
GOAL_PROFILE_MS = 200.0

FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
BILLING_SHARE, CRM_SHARE = 0.90, 0.06
"""Of the records; support gets the rest."""
CORPORATE_SHARE = 0.7
"""Billing customers with a company domain; the others have a free-mail address only."""
ORPHAN_SHARE = 0.05
"""Crm and support records that copy nobody (their own customer)."""
CHAIN_SHARE = 0.25
"""Support copies that copy a crm copy (linked to it by phone) instead of a billing record."""
BILLING_PHONE, COPY_PHONE = 2_000_000_000, 3_000_000_000
"""Every record's own phone number is ``base + index``: no two records share one by chance."""


# -- the records -------------------------------------------------------------------


def records_path(records: int, seed: int = SEED) -> Path:
    return DATA_DIR / f"c360_customers_{records}_seed{seed}.parquet"


def _phone(numbers: Any, style: Any) -> list[str]:
    """10-digit numbers written four ways; each normalises back to the number."""
    out = []
    for n, s in zip(numbers.tolist(), style.tolist(), strict=True):
        d = f"{n:010d}"
        if s == 0:
            out.append(f"+1 ({d[:3]}) {d[3:6]}-{d[6:]}")
        elif s == 1:
            out.append(f"{d[:3]}.{d[3:6]}.{d[6:]}")
        elif s == 2:
            out.append(f"001 {d[:3]} {d[3:6]} {d[6:]}")
        else:
            out.append(d)
    return out


def generate_records(records: int, seed: int = SEED) -> Path:
    """Write (once) ``records`` customer records of three systems and return the path.

    Columns: the ``customers`` contract plus ``truth`` (the id the record must resolve
    to; dropped before loading). Billing record ``i`` (``B0000000``…) has its own
    phone ``2000000000 + i`` and, for 70 % of them, its own company domain
    ``firm<i>.com`` with an address there, else a free-mail address only. A crm or
    support copy shares exactly one key with its original — the email (upper-cased,
    padded), the phone (another format) or the domain (``WWW.FIRM<i>.COM`` and a
    different address there) — and otherwise has keys of its own (phone
    ``3000000000 + index``, a free-mail address): copies never share a key with
    anybody else's record. A quarter of the support copies copy a crm copy by its phone
    (support–crm by phone, crm–billing by email or domain). Orphans (5 % of crm and
    support) copy nobody and carry ``gmail.com`` (noised) in the domain column.
    Deterministic for a seed.
    """
    import numpy as np
    import polars as pl

    path = records_path(records, seed)
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    n_billing = int(records * BILLING_SHARE)
    n_crm = int(records * CRM_SHARE)
    n_support = records - n_billing - n_crm
    corporate = rng.random(n_billing) < CORPORATE_SHARE
    b = np.arange(n_billing)
    b_ids = [f"B{i:07d}" for i in b.tolist()]
    free = np.array(FREE_MAIL)
    b_email = [
        f"ops.{i}@firm{i}.com" if c else f"user.{i}@{free[i % len(free)]}"
        for i, c in zip(b.tolist(), corporate.tolist(), strict=True)
    ]
    b_domain: list[str | None] = [
        f"firm{i}.com" if c else None for i, c in zip(b.tolist(), corporate.tolist(), strict=True)
    ]
    b_phone: list[str | None] = _phone(BILLING_PHONE + b, rng.integers(0, 4, n_billing))
    no_phone = rng.random(n_billing) < 0.02
    for i in np.flatnonzero(no_phone).tolist():
        b_phone[i] = "n/a" if i % 2 else None  # no digits: no phone key
    order = rng.permutation(n_billing)

    def copies(
        system: str, count: int, originals: Any, phone_base: int
    ) -> tuple[dict[str, list[Any]], list[str]]:
        """``count`` copies of the billing records ``originals`` (-1: an orphan).

        ``cols["own_phone"]`` says whether the copy's phone is its own (not its original's).
        """
        cols: dict[str, list[Any]] = {
            "customer_id": [],
            "email": [],
            "phone": [],
            "domain": [],
            "own_phone": [],
        }
        truth: list[str] = []
        kinds = rng.integers(0, 3, count)  # 0 email, 1 phone, 2 domain
        styles = rng.integers(0, 4, count)
        prefix = system[0].upper()
        for j in range(count):
            cid = f"{prefix}{j:07d}"
            own_phone = _phone(np.array([phone_base + j]), styles[j : j + 1])[0]
            own_email = f"{system}.{j}@{FREE_MAIL[j % len(FREE_MAIL)]}"
            o = int(originals[j])
            email, phone, domain = own_email, own_phone, None
            if o < 0:
                domain = ("gmail.com", " WWW.Gmail.com", "GMAIL.COM ")[j % 3]
                truth.append(cid)
            else:
                kind = int(kinds[j])
                if kind == 2 and not corporate[o]:
                    kind = 0
                if kind == 0:
                    email = f"  {b_email[o].upper()} "
                elif kind == 1 and b_phone[o] not in (None, "n/a"):
                    d = f"{BILLING_PHONE + o:010d}"
                    phone = f"({d[:3]}) {d[3:6]} {d[6:]}"
                elif kind == 1:
                    email = b_email[o].title()
                else:
                    domain = f"WWW.FIRM{o}.COM"
                    email = f"contact.{system}.{j}@Firm{o}.com"
                truth.append(b_ids[o])
            cols["customer_id"].append(cid)
            cols["email"].append(email)
            cols["phone"].append(phone)
            cols["domain"].append(domain)
            cols["own_phone"].append(phone == own_phone)
        return cols, truth

    orphan_crm = rng.random(n_crm) < ORPHAN_SHARE
    crm_orig = np.where(orphan_crm, -1, order[:n_crm])
    crm, crm_truth = copies("crm", n_crm, crm_orig, COPY_PHONE)
    # Support: some chain to a crm copy (by its own phone), the others copy billing
    # records (overlapping crm's originals by half, so some customers have three records).
    orphan_sup = rng.random(n_support) < ORPHAN_SHARE
    start = n_crm // 2
    sup_orig = np.where(orphan_sup, -1, order[start : start + n_support])
    support, sup_truth = copies("support", n_support, sup_orig, COPY_PHONE + n_crm)
    # A chain's middle record: a linked crm copy whose phone is its own.
    linked_crm = np.flatnonzero(~orphan_crm & np.array(crm["own_phone"]))
    chained = np.flatnonzero(~orphan_sup & (rng.random(n_support) < CHAIN_SHARE))
    parents = rng.choice(linked_crm, size=min(chained.size, linked_crm.size), replace=False)
    for j, c in zip(chained.tolist(), parents.tolist(), strict=False):
        # Keys of its own but the crm copy's phone (another format): b–c by phone only.
        d = f"{COPY_PHONE + c:010d}"
        support["phone"][j] = f"+1-{d[:3]}-{d[3:6]}-{d[6:]}"
        support["email"][j] = f"support.{j}@{FREE_MAIL[j % len(FREE_MAIL)]}"
        support["domain"][j] = None
        sup_truth[j] = crm_truth[c]
    n = records
    systems = ["billing"] * n_billing + ["crm"] * n_crm + ["support"] * n_support
    signup = np.datetime64("2020-01-01") + rng.integers(0, 5 * 365, n).astype("timedelta64[D]")
    frame = pl.DataFrame(
        {
            "customer_id": b_ids + crm["customer_id"] + support["customer_id"],
            "name": [f"{s} record {k}" for k, s in enumerate(systems)],
            "segment": np.array(SEGMENTS)[rng.integers(0, len(SEGMENTS), n)],
            "industry": pl.repeat("Software", n, eager=True),
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), n)],
            "plan": pl.repeat("pro", n, eager=True),
            "acquisition_channel": pl.repeat("organic", n, eager=True),
            "signup_date": pl.Series(signup).cast(pl.Date),
            "email": b_email + crm["email"] + support["email"],
            "phone": pl.Series(b_phone + crm["phone"] + support["phone"], dtype=pl.String),
            "domain": pl.Series(b_domain + crm["domain"] + support["domain"], dtype=pl.String),
            "source_system": systems,
            "truth": b_ids + crm_truth + sup_truth,
        }
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.write_parquet(temporary)
    temporary.rename(path)
    return path


def independent_identity(frame: Any) -> Any:
    """(source_customer_id, expected) by Polars normalisation + scipy connected components.

    Written apart from ``custlens.facts.identity``: email lower-cased and trimmed
    (with an ``@``), phone = last 10 of the digits (7 or more), domain and the email's
    domain lower-cased, trimmed, ``www.`` dropped, free-mail domains left out. Resolved id:
    the smallest billing id of the component, else its smallest id.
    """
    import numpy as np
    import polars as pl
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from custlens.config import FREE_MAIL_DOMAINS

    def dom(e: pl.Expr) -> pl.Expr:
        e = e.str.strip_chars(" ").str.to_lowercase()
        return pl.when(e.str.starts_with("www.")).then(e.str.slice(4)).otherwise(e)

    n = frame.height
    email = pl.col("email").str.strip_chars(" ").str.to_lowercase()
    digits = pl.col("phone").str.replace_all(r"[^0-9]", "")
    keys = frame.with_row_index("row").select(
        "row",
        e=pl.when(email.str.contains("@", literal=True)).then(email),
        p=pl.when(digits.str.len_chars() >= 7).then(digits.str.slice(-10)),
        d=dom(pl.col("domain")),
        m=dom(email.str.split("@").list.get(1, null_on_oob=True)),
    )
    keys = keys.with_columns(
        pl.when(pl.col(c).is_in(list(FREE_MAIL_DOMAINS))).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("d", "m")
    ).with_columns(pl.when(pl.col("d") != "").then(pl.col("d")).alias("d"))
    edges = pl.concat(
        [
            keys.select("row", key=pl.lit(kind) + pl.col(c))
            for kind, c in (("e:", "e"), ("p:", "p"), ("d:", "d"), ("d:", "m"))
        ]
    ).drop_nulls()
    edges = edges.with_columns(k=pl.col("key").rank("dense").cast(pl.Int64) - 1 + n)
    size = n + int(edges["k"].max() or n - 1) + 1
    rows, cols = edges["row"].to_numpy(), edges["k"].to_numpy()
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    out = frame.select("customer_id", "source_system").with_columns(component=pl.Series(labels[:n]))
    rank = pl.when(pl.col("source_system") == "billing").then(0).otherwise(1)
    out = out.with_columns(rank=rank).with_columns(
        expected=pl.col("customer_id").sort_by(["rank", "customer_id"]).first().over("component")
    )
    return out.select(source_customer_id="customer_id", expected="expected")


# -- the children ------------------------------------------------------------------


def _timed_run(ws: Any, **options: Any) -> dict[str, Any]:
    """``ws.run(**options)`` with each fact's own seconds, from the progress events."""
    own: dict[str, float] = {}
    began_fact: dict[str, float] = {}

    def progress(name: str, event: str) -> None:
        if event == "start":
            began_fact[name] = time.perf_counter()
        elif event == "done":
            own[name] = round(time.perf_counter() - began_fact[name], 3)

    began = time.perf_counter()
    result = ws.run(progress=progress, **options)
    seconds = time.perf_counter() - began
    return {"seconds": round(seconds, 3), "facts": own, "written": result.written}


def _child_identity_load(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    import custlens.sources.load  # noqa: F401  (imported here, not in the timing)
    from custlens import Workspace

    frame = pl.read_parquet(args.path).drop("truth")
    ws = Workspace.init(args.workspace)
    began = time.perf_counter()
    loaded = ws.load({"customers": frame})
    seconds = time.perf_counter() - began
    ws.close()
    return {"seconds": round(seconds, 3), "rows": loaded["customers"]}


def _child_identity_run(args: argparse.Namespace) -> dict[str, Any]:
    import custlens.pipeline  # noqa: F401  (imported here, not in the timing)
    from custlens import Workspace

    with Workspace(args.workspace) as ws:
        return _timed_run(ws, as_of=AS_OF, only=["dim_customers"])


def _child_identity_check(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    from custlens import Workspace

    frame = pl.read_parquet(args.path)
    with Workspace(args.workspace) as ws:
        got = ws.table("customer_identity").select("source_customer_id", "customer_id")
        dim = ws.table("dim_customers").height
    began = time.perf_counter()
    expected = independent_identity(frame.drop("truth"))
    independent_seconds = time.perf_counter() - began
    truth = frame.select(source_customer_id="customer_id", truth="truth")
    joined = truth.join(expected, on="source_customer_id", how="full", coalesce=True).join(
        got, on="source_customer_id", how="full", coalesce=True
    )
    vs_truth = joined.filter(pl.col("customer_id").ne_missing(pl.col("truth")))
    vs_scipy = joined.filter(pl.col("customer_id").ne_missing(pl.col("expected")))
    return {
        "records": frame.height,
        "identity_rows": got.height,
        "resolved": got["customer_id"].n_unique(),
        "dim_customers_rows": dim,
        "truth_resolved": frame["truth"].n_unique(),
        "scipy_resolved": expected["expected"].n_unique(),
        "by_system": dict(frame.group_by("source_system").len().sort("source_system").iter_rows()),
        "records_per_customer": dict(
            got.group_by("customer_id")
            .len("records")
            .group_by("records")
            .len("customers")
            .sort("records")
            .iter_rows()
        ),
        "mismatches_vs_truth": vs_truth.height,
        "mismatches_vs_scipy": vs_scipy.height,
        "examples": vs_scipy.head(5).to_dicts() + vs_truth.head(5).to_dicts(),
        "independent_seconds": round(independent_seconds, 2),
    }


def _child_facts(args: argparse.Namespace) -> dict[str, Any]:
    import custlens.pipeline  # noqa: F401  (imported here, not in the timing)
    from custlens import Workspace

    with tempfile.TemporaryDirectory(prefix="custlens-c360-") as folder:
        copy = Path(folder) / "ws"
        shutil.copytree(args.workspace, copy)  # the cached workspace stays as it was
        with Workspace(copy) as ws:
            return _timed_run(ws, only=list(C360_FACTS))


def _sample_ids(ws: Any, count: int, seed: int) -> list[str]:
    """``count`` random source ids: a tenth from each system other than billing, else billing."""
    import polars as pl

    identity = ws.table("customer_identity").sort("source_customer_id")
    parts = []
    for system in sorted(set(identity["source_system"].drop_nulls()) - {"billing"}):
        some = identity.filter(pl.col("source_system") == system)
        parts.append(some.sample(min(some.height, count // 10), seed=seed))
    rest = count - sum(p.height for p in parts)
    billing = identity.filter(pl.col("source_system") == "billing")
    picked = pl.concat([*parts, billing.sample(rest, seed=seed)])
    shuffled = picked.sample(fraction=1.0, shuffle=True, seed=seed)
    return [str(x) for x in shuffled["source_customer_id"]]


def _child_profile(args: argparse.Namespace) -> dict[str, Any]:
    import custlens.profile  # noqa: F401  (imported here, not in the timing)
    from custlens import Workspace

    with Workspace(args.workspace) as ws:
        ids = _sample_ids(ws, PROFILE_SAMPLES, SEED)
        began = time.perf_counter()
        ws.profile(ids[0])
        first_ms = (time.perf_counter() - began) * 1000
        times, cpu = [], []
        systems: dict[str, int] = {}
        for cid in ids:
            began, began_cpu = time.perf_counter(), time.process_time()
            p = ws.profile(cid)
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            system = next(s["system"] for s in p["overview"]["source_ids"] if s["id"] == cid)
            systems[system] = systems.get(system, 0) + 1
    ordered = sorted(times)
    return {
        "seconds": round(sum(times) / 1000, 3),
        "first_ms": round(first_ms, 1),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": _p95(times),
        "max_ms": round(ordered[-1], 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "cpu_p95_ms": _p95(cpu),
        "calls": len(times),
        "systems": systems,
    }


def _child_http(args: argparse.Namespace) -> dict[str, Any]:
    from bench_query import Server

    from custlens import Client, Workspace

    with Workspace(args.workspace) as ws:
        ids = _sample_ids(ws, PROFILE_SAMPLES, SEED)
    cid = ids[1]
    server = Server(Path(args.workspace))
    server.start()
    try:
        client = Client(server.url, timeout=120)
        began = time.perf_counter()
        client.profile(cid)
        first_ms = (time.perf_counter() - began) * 1000
        times = []
        for _ in range(HTTP_CALLS):
            began = time.perf_counter()
            client.profile(cid)
            times.append((time.perf_counter() - began) * 1000)
        # Then every sampled id once, as the in-process step asks them.
        each = []
        for other in ids:
            began = time.perf_counter()
            client.profile(other)
            each.append((time.perf_counter() - began) * 1000)
    finally:
        server.stop()
    return {
        "seconds": round(sum(times) / 1000, 3),
        "customer_id": cid,
        "first_ms": round(first_ms, 1),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": _p95(times),
        "max_ms": round(max(times), 1),
        "calls": len(times),
        "each_p50_ms": round(statistics.median(each), 1),
        "each_p95_ms": _p95(each),
        "each_max_ms": round(max(each), 1),
        "each_calls": len(each),
        "server_cpu_seconds": round(server.cpu_seconds, 2),
        "server_peak_rss_mb": round(server.peak_rss_mb, 1),
    }


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return round(ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)], 1)


def _child_generate(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    path = generate_records(args.records)
    return {"seconds": round(time.perf_counter() - began, 2), "path": str(path)}


def _child_prepare(args: argparse.Namespace) -> dict[str, Any]:
    path, seconds = prepare(args.customers, MONTHS)
    return {"seconds": round(seconds, 2), "path": str(path)}


CHILDREN: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "generate": _child_generate,
    "prepare": _child_prepare,
    "identity-load": _child_identity_load,
    "identity-run": _child_identity_run,
    "identity-check": _child_identity_check,
    "facts": _child_facts,
    "profile": _child_profile,
    "http": _child_http,
}


# -- the parent --------------------------------------------------------------------


def spawn(step: str, settle_below: float = 0.0, **options: object) -> dict[str, Any]:
    """Run one child step in a fresh interpreter; its report plus wall, cpu, peak, load."""
    if settle_below:
        settle(settle_below)
    argv = [sys.executable, __file__, "--child", step]
    for name, value in options.items():
        argv += [f"--{name}", str(value)]
    child = run_child(argv, step, CHILD_TIMEOUT_SECONDS)
    return {
        **child.report,
        "cpu_seconds": round(child.cpu_seconds, 2),
        "peak_rss_mb": round(child.peak_rss_mb, 1),
        "load_at_start": round(child.load_at_start, 2),
    }


def best(step: str, repeat: int, settle_below: float, **options: object) -> dict[str, Any]:
    """The fastest of ``repeat`` runs of a step (by its ``seconds``); peak is the largest."""
    runs = [spawn(step, settle_below, **options) for _ in range(max(1, repeat))]
    fastest = min(runs, key=lambda r: float(r["seconds"]))
    fastest["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    fastest["rounds_seconds"] = [r["seconds"] for r in runs]
    fastest["loads_at_start"] = [r["load_at_start"] for r in runs]
    return fastest


def profile_part(workspace: Path, repeat: int, settle_below: float) -> dict[str, Any]:
    """Part 3, the profile in process and over HTTP: print the figures, return them."""
    prof = best("profile", repeat, settle_below, workspace=workspace)
    http = best("http", repeat, settle_below, workspace=workspace)
    print(
        f"profile, in process: {prof['calls']} ids {prof['systems']}: p50 {prof['p50_ms']:.0f} "
        f"ms, p95 {prof['p95_ms']:.0f} ms, max {prof['max_ms']:.0f} ms (cpu per call p50 "
        f"{prof['cpu_p50_ms']:.0f} ms, p95 {prof['cpu_p95_ms']:.0f} ms; first call "
        f"{prof['first_ms']:.0f} ms; peak {prof['peak_rss_mb']:,.0f} MB, load avg "
        f"{prof['loads_at_start']})",
        flush=True,
    )
    print(
        f"profile, HTTP: GET /v1/customers/{http['customer_id']} x {http['calls']}: p50 "
        f"{http['p50_ms']:.0f} ms, p95 {http['p95_ms']:.0f} ms, max {http['max_ms']:.0f} ms "
        f"(first {http['first_ms']:.0f} ms); each of the {http['each_calls']} ids once: p50 "
        f"{http['each_p50_ms']:.0f} ms, p95 {http['each_p95_ms']:.0f} ms, max "
        f"{http['each_max_ms']:.0f} ms (server cpu {http['server_cpu_seconds']:.1f} s; "
        f"load avg {http['loads_at_start']})",
        flush=True,
    )
    return {"profile": prof, "http": http}


def profile_only(customers: int, repeat: int, settle_below: float) -> dict[str, Any]:
    """Part 3 alone (``--profile-only``), on the cached workspace; returns the report."""
    import os

    prepared = spawn("prepare", customers=customers)
    report = profile_part(Path(prepared["path"]), repeat, settle_below)
    for name, measured in (
        ("profile p95, in process", report["profile"]["p95_ms"]),
        ("profile p95, HTTP (each id once)", report["http"]["each_p95_ms"]),
    ):
        verdict = "met" if measured < GOAL_PROFILE_MS else "MISSED"
        print(f"  goal: {name} < {GOAL_PROFILE_MS:.0f} ms: {measured:,.2f}: {verdict}")
    print(f"  load average now {os.getloadavg()[0]:.1f}")
    return report


def main(
    records: int = 1_000_000,
    customers: int = 100_000,
    repeat: int = 1,
    settle_below: float = 0.0,
) -> dict[str, Any]:
    """Run the three parts and print the figures; returns the report."""
    import os

    # Inputs are built in children too: a child started by Popen inherits the parent's
    # peak RSS in its ru_maxrss (the exec keeps the high-water mark), so the parent
    # must stay small for the children's peaks to be their own.
    generated = spawn("generate", records=records)
    path = Path(generated["path"])
    report: dict[str, Any] = {"records": records, "customers": customers}
    print(f"records: {path.name} ({generated['seconds']:.1f} s to generate or find)", flush=True)
    with tempfile.TemporaryDirectory(prefix="custlens-identity-") as folder:
        ws = Path(folder) / "ws"
        load = spawn("identity-load", settle_below, workspace=ws, path=path)
        run = best("identity-run", repeat, settle_below, workspace=ws)
        check = spawn("identity-check", workspace=ws, path=path)
    agree = check["mismatches_vs_truth"] == 0 and check["mismatches_vs_scipy"] == 0
    agree = agree and check["identity_rows"] == records
    report["identity"] = {"load": load, "run": run, "check": check, "agree": agree}
    print(
        f"identity: {records:,} records {check['by_system']} → {check['resolved']:,} customers "
        f"(truth {check['truth_resolved']:,}, scipy {check['scipy_resolved']:,}; "
        f"records per customer {check['records_per_customer']}); "
        f"mismatches vs truth {check['mismatches_vs_truth']}, vs scipy "
        f"{check['mismatches_vs_scipy']}: {'AGREE' if agree else 'DISAGREE'}",
        flush=True,
    )
    print(
        f"  load {load['seconds']:.2f} s (peak {load['peak_rss_mb']:,.0f} MB); run "
        f"{run['seconds']:.2f} s (rounds {run['rounds_seconds']}, cpu {run['cpu_seconds']:.1f} s, "
        f"peak {run['peak_rss_mb']:,.0f} MB, load avg {run['loads_at_start']}); "
        f"facts {run['facts']}",
        flush=True,
    )

    prepared = spawn("prepare", customers=customers)
    workspace = Path(prepared["path"])
    if prepared["seconds"]:
        print(
            f"workspace generated and run in {prepared['seconds']:.1f} s: {workspace}", flush=True
        )
    facts = best("facts", repeat, settle_below, workspace=workspace)
    own = {k: v for k, v in facts["facts"].items() if k in C360_FACTS}
    inputs = {k: v for k, v in facts["facts"].items() if k not in C360_FACTS}
    facts["c360_own_seconds"] = round(sum(own.values()), 3)
    facts["inputs_seconds"] = round(sum(inputs.values()), 3)
    report["facts"] = facts
    print(
        f"C360 facts, {customers:,} customers: run {facts['seconds']:.2f} s (rounds "
        f"{facts['rounds_seconds']}, cpu {facts['cpu_seconds']:.1f} s, peak "
        f"{facts['peak_rss_mb']:,.0f} MB, load avg {facts['loads_at_start']}); the C360 facts "
        f"themselves {facts['c360_own_seconds']:.2f} s {own}; their inputs "
        f"{facts['inputs_seconds']:.2f} s {inputs}; the rest (fingerprints, run record, "
        "publish) "
        f"{facts['seconds'] - facts['c360_own_seconds'] - facts['inputs_seconds']:.2f} s",
        flush=True,
    )

    report.update(profile_part(workspace, repeat, settle_below))
    prof, http = report["profile"], report["http"]
    goals = [
        (
            "identity resolution",
            f"< {GOAL_IDENTITY_SECONDS:.0f} s",
            run["seconds"],
            run["seconds"] < GOAL_IDENTITY_SECONDS,
        ),
        (
            "identity resolution peak",
            "< 6 GB",
            run["peak_rss_mb"],
            run["peak_rss_mb"] < GOAL_IDENTITY_MB,
        ),
        (
            "C360 facts (run, inputs included)",
            f"< {GOAL_FACTS_SECONDS:.0f} s",
            facts["seconds"],
            facts["seconds"] < GOAL_FACTS_SECONDS,
        ),
        (
            "profile p95, in process",
            f"< {GOAL_PROFILE_MS:.0f} ms",
            prof["p95_ms"],
            prof["p95_ms"] < GOAL_PROFILE_MS,
        ),
        (
            "profile p95, HTTP (each id once)",
            f"< {GOAL_PROFILE_MS:.0f} ms",
            http["each_p95_ms"],
            http["each_p95_ms"] < GOAL_PROFILE_MS,
        ),
    ]
    for name, target, measured, met in goals:
        print(f"  goal: {name} {target}: {measured:,.2f}: {'met' if met else 'MISSED'}")
    report["goals_met"] = {name: met for name, _, _, met in goals}
    print(f"  load average now {os.getloadavg()[0]:.1f}")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="identity records")
    parser.add_argument("--customers", type=int, default=100_000, help="demo workspace size")
    add_timing_options(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    parser.add_argument(
        "--profile-only", action="store_true", help="only part 3 (the profile), no identity/facts"
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args), default=str))
    elif args.profile_only:
        outcome = profile_only(args.customers, args.repeat, args.settle)
        if args.json:
            print(json.dumps(outcome, indent=2, default=str))
    else:
        outcome = main(args.records, args.customers, args.repeat, args.settle)
        if args.json:
            print(json.dumps(outcome, indent=2, default=str))
        sys.exit(0 if outcome["identity"]["agree"] else 1)
