"""Benchmark the revenue facts on every engine: DuckDB, local Spark, Spark Connect and a
standalone Spark master, in one script run (issue "Outgrow one machine").

Usage: ``python benchmarks/bench_engines.py [--customers 100000] [--months 36]
[--engines duckdb,pyspark,connect,standalone]``

The input is ``bench_run``'s synthetic ``customer_mrr`` source (cached Parquet under
``benchmarks/data/``). For each engine a child process makes a fresh workspace on it,
loads the source (timed) and runs ``custlens run --only growth_summary`` (timed: the
spine, ``mrr_movements`` and ``growth_summary`` written), then reads the monthly
summary back; every engine's summary must equal DuckDB's (amounts to 1e-6 relative,
counts exactly).

The parent starts a Spark Connect server (``local[2]``, 2 GB driver) and,
separately, a standalone master with one worker (2 cores, 2 GB) from the pyspark
package's jars on loopback ports — the test suite's ``tests/spark_servers.py`` —
and stops them at the end. Each child runs under ``child.py``'s memory cap, which
watches the child and every process it started; the peak memory reported is the
client process's own (``ru_maxrss``): for local Spark the JVM is a process of its
own beside it, for Connect and the standalone master the work is in the servers.
One round per engine: local Spark takes about a minute at the default size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, this folder is first on sys.path; the repository's root holds the
# test suite's Spark server helpers.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from bench_run import _custlens_run, compare, generate_source
from child import run_child

ENGINES = ("duckdb", "pyspark", "connect", "standalone")
CHILD_TIMEOUT_SECONDS = 900
SERVER_CONF = {
    # What custlens's own local session sets (warehouse.spark.spark_session).
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
}
SPARK_MEMORY = "2g"


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Load the source into a fresh workspace on ``args.url`` and run the revenue facts."""
    import custlens.pipeline  # imported here, not in the timing
    import custlens.sources.load  # noqa: F401
    from custlens import Workspace

    folder = Path(args.workspace)
    warehouse = None if args.url == "duckdb" else args.url
    Workspace.init(folder, warehouse=warehouse).close()
    config = folder / "custlens.yml"
    # DuckDB and local Spark stay well under the benchmark's cap (child.py).
    config.write_text(config.read_text() + "\nmemory_limit: 2GB\n")
    ws = Workspace(folder)
    began = time.perf_counter()
    ws.load({"customer_mrr": args.path})
    load_seconds = time.perf_counter() - began
    ws.close()
    measured = _custlens_run(
        argparse.Namespace(workspace=folder, months=args.months), ["growth_summary"]
    )
    return {"load_seconds": load_seconds, **measured}


def spawn(engine: str, url: str, path: Path, months: int, root: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", "--url", url, "--path", str(path)]
    argv += ["--months", str(months), "--workspace", str(root / engine)]
    child = run_child(argv, f"engines {engine}", CHILD_TIMEOUT_SECONDS)
    return {
        **child.report,
        "wall_seconds": child.wall_seconds,
        "cpu_seconds": child.cpu_seconds,
        "peak_rss_mb": child.peak_rss_mb,
        "load_at_start": child.load_at_start,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return 0

    from tests.spark_servers import spark_connect_server, spark_standalone

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {', '.join(ENGINES)}")
    path = generate_source(args.customers, args.months)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="custlens-engines-") as folder:
        root = Path(folder)
        for engine in engines:
            began = time.perf_counter()
            if engine in ("duckdb", "pyspark"):
                results[engine] = spawn(engine, engine, path, args.months, root)
            elif engine == "connect":
                servers = root / "connect-server"
                servers.mkdir()
                with spark_connect_server(servers, SERVER_CONF, memory=SPARK_MEMORY) as url:
                    started = time.perf_counter() - began
                    results[engine] = spawn(engine, url, path, args.months, root)
                    results[engine]["server_start_seconds"] = started
            else:
                servers = root / "standalone-servers"
                servers.mkdir()
                with spark_standalone(servers, cores=2, memory=SPARK_MEMORY) as url:
                    started = time.perf_counter() - began
                    results[engine] = spawn(engine, url, path, args.months, root)
                    results[engine]["server_start_seconds"] = started
            print(f"  {engine}: done in {time.perf_counter() - began:.1f} s", flush=True)
    reference = results.get("duckdb")
    print(
        f"\nRevenue facts (customer_mrr source, {args.customers:,} customers x {args.months} "
        f"months) on each engine; one round each; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  {'engine':<11} {'load':>8} {'revenue':>8} {'vs duckdb':>9} {'client peak':>12} "
        f"{'server start':>12}  agrees"
    )
    failed = False
    for engine, r in results.items():
        ratio = r["seconds"] / reference["seconds"] if reference else float("nan")
        problems = compare(reference["summary"], r["summary"]) if reference else []
        failed |= bool(problems)
        start = r.get("server_start_seconds")
        print(
            f"  {engine:<11} {r['load_seconds']:7.2f}s {r['seconds']:7.2f}s {ratio:8.2f}x "
            f"{r['peak_rss_mb']:9,.0f} MB {'' if start is None else f'{start:10.1f} s':>12}  "
            f"{'yes' if not problems else 'NO: ' + '; '.join(problems[:3])}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
