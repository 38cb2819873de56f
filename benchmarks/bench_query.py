"""Benchmark the query API: latency of mixed semantic-layer queries through HTTP.

Usage: ``python benchmarks/bench_query.py [--customers 250000] [--months 36]
[--queries 200] [--clients 8] [--settle LOAD]`` or ``… --profile`` (in process, no
server: where the time of one query goes).

The workspace is the synthetic demo data, generated and run once and cached under
``benchmarks/data/report_<customers>x<months>_seed<seed>/`` (the same folder
``bench_report`` uses for the same sizes). A real server is started on a free
loopback port (``custlens -w WS serve --port N``, a subprocess) and, once
``/health`` answers, ``--queries`` queries of five families go through
``custlens.Client``, drawn in a fixed order from a seeded generator:

- ``segment_mrr``: ``subscriptions.mrr`` and ``subscriptions.paying_customers`` by
  ``customers.segment`` and ``subscriptions.month`` (month) over the last 12 months;
- ``growth_kpis``: MRR, net new MRR, customers and ARPA by quarter, ``compare:
  previous_year``;
- ``cohorts``: cohort size, active customers and logo retention by cohort month and
  months since, filtered to one ``cohort_kind``;
- ``customer_list``: ``customers.customer_id`` and ``customer_value.total_spend``
  filtered by region and tier, largest spend first, with a limit;
- ``payments``: ``transactions.revenue`` by ``transactions.payment_method`` and
  month (a source table, not a fact: outside the goal).

There are two runs: one client sending its queries one after the other, then
``--clients`` clients (threads, one ``Client`` each) sending theirs concurrently;
each run draws its own queries (another seed), since the server keeps answers
until the next ``custlens run`` and the second run must not find the first's.
Before each run every family is sent once (per client) and not counted: the server
opens one workspace per thread and builds its cube tables on the first query. The
figures are the client-side latencies (HTTP and JSON included): p50, p95 and max
per family and overall, how many answers came from the server's result cache (a
query repeated within the run) and how many read a rollup, and the p50 of the
answers that were not cached. Goals (issue 3): no errors; p50 < 50 ms and p95 <
250 ms for the queries on fact tables. Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this folder is first on sys.path.
from bench_report import prepare
from bench_run import settle

GOAL_P50_MS = 50.0
GOAL_P95_MS = 250.0
HEALTH_TIMEOUT_SECONDS = 120.0
QUERY_SEED = 20261124

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
TIERS = ("Platinum", "Gold", "Silver", "Bronze")
COHORT_KINDS = ("subscription", "transaction")


# -- the queries ---------------------------------------------------------------


def segment_mrr(rng: random.Random) -> dict[str, Any]:
    """MRR and paying customers by segment and month, last 12 months (maybe one region)."""
    spec: dict[str, Any] = {
        "metrics": ["subscriptions.mrr", "subscriptions.paying_customers"],
        "dimensions": ["customers.segment"],
        "time_dimensions": [
            {
                "dimension": "subscriptions.month",
                "granularity": "month",
                "date_range": "last 12 months",
            }
        ],
    }
    if rng.random() < 0.5:
        region = rng.choice(REGIONS)
        spec["filters"] = [{"member": "customers.region", "operator": "equals", "value": region}]
    return spec


def growth_kpis(rng: random.Random) -> dict[str, Any]:
    """Growth KPIs by quarter against the same quarter a year before."""
    metrics = ["mrr", "net_new_mrr", "customers", "arpa"]
    return {
        "metrics": rng.sample(metrics, rng.randint(2, len(metrics))),
        "time_dimensions": [
            {"dimension": "growth.month", "granularity": "quarter", "date_range": "last 2 years"}
        ],
        "compare": "previous_year",
    }


def cohorts(rng: random.Random) -> dict[str, Any]:
    """A retention triangle of one cohort kind (maybe the first 12 months only)."""
    filters: list[dict[str, Any]] = [
        {"member": "cohorts.cohort_kind", "operator": "equals", "value": rng.choice(COHORT_KINDS)}
    ]
    if rng.random() < 0.5:
        filters.append({"member": "cohorts.months_since", "operator": "lte", "value": 12})
    return {
        "metrics": [
            "cohorts.cohort_customers",
            "cohorts.active_customers",
            "cohorts.logo_retention",
        ],
        "dimensions": ["cohorts.months_since"],
        "time_dimensions": [{"dimension": "cohorts.cohort_month", "granularity": "month"}],
        "filters": filters,
    }


def customer_list(rng: random.Random) -> dict[str, Any]:
    """The top customers of one region and tier by total spend."""
    return {
        "metrics": ["customer_value.total_spend"],
        "dimensions": ["customers.customer_id"],
        "filters": [
            {"member": "customers.region", "operator": "equals", "value": rng.choice(REGIONS)},
            {"member": "customer_value.tier", "operator": "equals", "value": rng.choice(TIERS)},
        ],
        "order_by": [{"id": "customer_value.total_spend", "direction": "desc"}],
        "limit": rng.choice((20, 50, 100)),
    }


def payments(rng: random.Random) -> dict[str, Any]:
    """Transaction revenue by payment method and month (maybe one segment)."""
    spec: dict[str, Any] = {
        "metrics": ["transactions.revenue"],
        "dimensions": ["transactions.payment_method"],
        "time_dimensions": [
            {
                "dimension": "transactions.created_at",
                "granularity": "month",
                "date_range": "last 12 months",
            }
        ],
    }
    if rng.random() < 0.5:
        segment = rng.choice(SEGMENTS)
        spec["filters"] = [{"member": "customers.segment", "operator": "equals", "value": segment}]
    return spec


FAMILIES: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "segment_mrr": segment_mrr,
    "growth_kpis": growth_kpis,
    "cohorts": cohorts,
    "customer_list": customer_list,
    "payments": payments,
}
ON_FACTS = ("segment_mrr", "growth_kpis", "cohorts", "customer_list")
"""The families whose cubes read fact tables: the latency goals are theirs."""


def workload(count: int, seed: int = QUERY_SEED) -> list[tuple[str, dict[str, Any]]]:
    """``count`` queries, the families in turn, their parameters drawn from ``seed``."""
    rng = random.Random(seed)
    names = list(FAMILIES)
    return [(names[i % len(names)], FAMILIES[names[i % len(names)]](rng)) for i in range(count)]


# -- the server ----------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def custlens_command() -> list[str]:
    """The ``custlens`` command of this interpreter (its venv's script, else ``-c``)."""
    script = Path(sys.executable).with_name("custlens")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from custlens.cli import main; main()"]


@dataclass
class Server:
    """A ``custlens serve`` subprocess on a loopback port."""

    workspace: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Any = None
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start the server and wait for ``/health``; return the seconds that took."""
        began = time.perf_counter()
        self.log = tempfile.TemporaryFile()
        argv = [*custlens_command(), "-w", str(self.workspace), "serve"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = began + HEALTH_TIMEOUT_SECONDS
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if json.loads(response.read()).get("status") == "ok":
                        return time.perf_counter() - began
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"no /health within {HEALTH_TIMEOUT_SECONDS:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and keep its peak memory."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        deadline = time.monotonic() + 10
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.proc.kill()
                _, status, usage = os.wait4(self.proc.pid, 0)
                break
            time.sleep(0.05)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        scale = 2**20 if sys.platform == "darwin" else 2**10
        self.peak_rss_mb = usage.ru_maxrss / scale
        self.cpu_seconds = usage.ru_utime + usage.ru_stime

    def output(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return str(self.log.read().decode(errors="replace"))[-3000:]


# -- the runs ------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    family: str
    ms: float
    error: str | None
    rows: int
    cached: bool = False
    """Answered from the server's result cache (the same query earlier since the run)."""
    rollup: bool = False
    """Read a rollup instead of the cube's rows."""


@dataclass
class RunResult:
    clients: int
    samples: list[Sample]
    wall_seconds: float
    load_before: float
    load_after: float

    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.error is not None]

    def latencies(self, families: tuple[str, ...] | None = None) -> list[float]:
        return [
            s.ms
            for s in self.samples
            if s.error is None and (families is None or s.family in families)
        ]


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100), linear between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def send(url: str, family: str, spec: dict[str, Any]) -> Sample:
    """Send one query through a fresh ``custlens.Client`` and time it."""
    from custlens import Client

    client = Client(url, timeout=120)
    began = time.perf_counter()
    try:
        result = client.query(**spec)
    except Exception as exc:  # counted, not raised: errors are a figure of the run
        return Sample(
            family, (time.perf_counter() - began) * 1000, f"{type(exc).__name__}: {exc}", 0
        )
    ms = (time.perf_counter() - began) * 1000
    # A family that answers no rows measures nothing: count it as an error.
    error = None if result.data else "no rows"
    return Sample(family, ms, error, len(result.data), result.cached, bool(result.rollups))


def run(url: str, queries: list[tuple[str, dict[str, Any]]], clients: int) -> RunResult:
    """Send ``queries`` with ``clients`` concurrent clients (query i goes to client i mod n)."""
    warm = workload(len(FAMILIES), seed=QUERY_SEED + 1)
    with ThreadPoolExecutor(clients) as pool:
        # Unmeasured: every server thread that will answer opens its workspace first.
        list(pool.map(lambda q: send(url, *q), warm * clients))
    shares = [queries[i::clients] for i in range(clients)]
    start = threading.Barrier(clients)

    def client(share: list[tuple[str, dict[str, Any]]]) -> list[Sample]:
        start.wait()
        return [send(url, family, spec) for family, spec in share]

    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        samples = [s for done in pool.map(client, shares) for s in done]
    wall = time.perf_counter() - began
    return RunResult(clients, samples, wall, load_before, os.getloadavg()[0])


def report(result: RunResult) -> list[str]:
    """The run's latency table as text lines."""
    lines = [
        f"{result.clients} client{'s' if result.clients > 1 else ''}: "
        f"{len(result.samples)} queries in {result.wall_seconds:.1f} s "
        f"({len(result.samples) / result.wall_seconds:.1f} queries/s), "
        f"{len(result.errors())} errors, 1-minute load average "
        f"{result.load_before:.1f} before, {result.load_after:.1f} after",
        f"  {'family':<16}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'rows':>8}"
        f"{'cached':>8}{'rollup':>8}{'p50 not cached':>16}",
    ]
    groups: list[tuple[str, tuple[str, ...] | None]] = [(f, (f,)) for f in FAMILIES]
    groups += [("on fact tables", ON_FACTS), ("all", None)]
    for label, families in groups:
        values = result.latencies(families)
        answered = [
            s
            for s in result.samples
            if s.error is None and (families is None or s.family in families)
        ]
        rows = [s.rows for s in answered]
        fresh = [s.ms for s in answered if not s.cached]
        mark = "" if families is None or set(families) <= set(ON_FACTS) else " *"
        lines.append(
            f"  {label + mark:<16}{len(values):>5}{percentile(values, 50):>10.1f}"
            f"{percentile(values, 95):>10.1f}{max(values, default=float('nan')):>10.1f}"
            f"{statistics.median(rows) if rows else 0:>8.0f}"
            f"{sum(s.cached for s in answered):>8}{sum(s.rollup for s in answered):>8}"
            f"{percentile(fresh, 50):>16.1f}"
        )
    for sample in result.errors()[:5]:
        lines.append(f"  error ({sample.family}): {sample.error}")
    return lines


def goals(result: RunResult) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for one run."""
    facts = result.latencies(ON_FACTS)
    p50, p95 = percentile(facts, 50), percentile(facts, 95)
    errors = len(result.errors())
    return [
        (f"p50 < {GOAL_P50_MS:.0f} ms (fact tables)", f"{p50:.1f} ms", p50 < GOAL_P50_MS),
        (f"p95 < {GOAL_P95_MS:.0f} ms (fact tables)", f"{p95:.1f} ms", p95 < GOAL_P95_MS),
        ("no errors", str(errors), errors == 0),
    ]


# -- profile (in process) ------------------------------------------------------


def profile(path: Path, count: int) -> None:
    """Where one query's time goes, in process: as_of, plan, compile, execute; then cProfile."""
    import cProfile
    import pstats

    from custlens.workspace import Workspace

    queries = workload(count)
    with Workspace(path) as ws:
        for _, spec in workload(len(FAMILIES), seed=QUERY_SEED + 1):
            ws.run_query(spec)  # warm: the cube tables
        compiler = ws._compiler
        assert compiler is not None
        parts: dict[str, dict[str, list[float]]] = {f: {} for f in FAMILIES}
        for family, spec in queries:
            timings = parts[family]
            t0 = time.perf_counter()
            as_of = ws.as_of()
            t1 = time.perf_counter()
            plan = compiler.plan(spec, as_of=as_of)
            t2 = time.perf_counter()
            expr = plan.expr.limit(10_001)
            sql = ws.warehouse.compile(expr)
            t3 = time.perf_counter()
            ws.warehouse.to_polars(expr)
            t4 = time.perf_counter()
            # The SQL text alone on DuckDB (the memtables it names are registered now).
            ws.warehouse.con.raw_sql(sql).pl()
            t5 = time.perf_counter()
            ws.run_query(spec)
            t6 = time.perf_counter()
            for name, seconds in (
                ("as_of", t1 - t0),
                ("plan (ibis)", t2 - t1),
                ("compile (SQL)", t3 - t2),
                ("to_polars", t4 - t3),
                ("DuckDB alone", t5 - t4),
                ("run_query", t6 - t5),
            ):
                timings.setdefault(name, []).append(seconds * 1000)
        print(f"in process, {count} queries, median ms per part (run_query is the whole call):")
        names = list(next(iter(parts.values())))
        print(f"  {'family':<16}" + "".join(f"{n:>18}" for n in names))
        for family, timings in parts.items():
            print(
                f"  {family:<16}"
                + "".join(f"{statistics.median(timings[n]):>18.1f}" for n in names)
            )
        profiler = cProfile.Profile()
        profiler.enable()
        for _, spec in queries:
            ws.run_query(spec)
        profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(40)


# -- main ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    # 250,000 by default: building the 1,000,000-customer workspace takes about 8 GB
    # (generating it 7.9 GB, loading it 7.2 GB, each alone), over make bench's 6 GB cap.
    parser.add_argument("--customers", type=int, default=250_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients, second run")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="LOAD",
        help="before each run, wait for the 1-minute load average to drop under LOAD",
    )
    parser.add_argument("--profile", action="store_true", help="in process: where the time goes")
    args = parser.parse_args(argv)

    path, prepared = prepare(args.customers, args.months)
    if prepared:
        print(f"workspace generated and run in {prepared:.1f} s: {path}")
    else:
        print(f"workspace (cached): {path}")
    if args.profile:
        profile(path, args.queries)
        return 0

    server = Server(path)
    try:
        started = server.start()
        print(f"server up in {started:.1f} s at {server.url}", flush=True)
        print(
            f"{args.queries} queries ({', '.join(FAMILIES)}), {args.customers:,} customers x "
            f"{args.months} months; * = a source table, outside the goal"
        )
        results = []
        for i, clients in enumerate((1, args.clients)):
            # Each run its own queries: the server keeps answers until the next
            # `custlens run`, and the second run must not find the first's.
            queries = workload(args.queries, seed=QUERY_SEED + 100 * i)
            settle(args.settle)
            results.append(run(server.url, queries, clients))
            print("\n".join(report(results[-1])), flush=True)
    finally:
        server.stop()
    print(f"server: peak RSS {server.peak_rss_mb:,.0f} MB, cpu {server.cpu_seconds:.1f} s")
    met = True
    for result in results:
        for goal, measured, ok in goals(result):
            met &= ok
            print(f"{result.clients} client(s): {goal}: {measured} — {'met' if ok else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
