"""Run one benchmark step in a fresh interpreter, measure it, and cap its memory.

Polars, DuckDB and NumPy allocate outside Python's heap, so peak memory is the
child's maximum resident set size, read with ``wait4`` when it exits, and each
step gets an interpreter of its own so its peak is its own.

Memory is capped, never trusted: while a child runs, the resident memory of it
and every process it started (a Spark JVM) is read every 20 ms; past the cap
(default 6 GB; ``--memory-cap`` of ``run.py`` or ``CUSTLENS_BENCH_MEMORY_CAP``,
e.g. ``8GB``) the whole process group is killed and the step fails with a
message naming it, leaving the machine usable. An address-space limit
(``RLIMIT_AS``) would be simpler but fails DuckDB, Polars and the JVM long
before they use that much memory: they reserve address space they never touch.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 900.0
DEFAULT_MEMORY_CAP = "6GB"
MEMORY_CAP_VARIABLE = "CUSTLENS_BENCH_MEMORY_CAP"
_UNITS_MB = {"MB": 1, "GB": 1024, "TB": 1024**2}


class MemoryCapExceeded(RuntimeError):
    """A child passed the memory cap and was killed."""


def memory_cap_mb() -> int:
    """The cap in MB (MiB): ``CUSTLENS_BENCH_MEMORY_CAP`` (e.g. ``8GB``), else 6 GB."""
    text = os.environ.get(MEMORY_CAP_VARIABLE, DEFAULT_MEMORY_CAP).strip().upper()
    for unit, mb in _UNITS_MB.items():
        if text.endswith(unit) and text[: -len(unit)].strip().replace(".", "", 1).isdigit():
            return int(float(text[: -len(unit)]) * mb)
    raise SystemExit(f"{MEMORY_CAP_VARIABLE}={text!r}: expected a size such as 6GB or 512MB")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (0 once it is gone)."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # exited between the reads
    return total_kb / 1024


@dataclass(frozen=True)
class Child:
    """What one child step reported, and what it cost."""

    report: dict[str, Any]
    """The JSON object the child printed on its last line of output."""
    wall_seconds: float
    """The whole child, interpreter start and imports included."""
    cpu_seconds: float
    """User + system time of the child, all threads."""
    peak_rss_mb: float
    load_at_start: float
    """The machine's 1-minute load average when the child started."""


@dataclass(frozen=True)
class Finished:
    """A process run to its end under the cap."""

    code: int
    stdout: str
    stderr: str
    wall_seconds: float
    usage: Any
    """Its ``resource.struct_rusage`` (from ``wait4``)."""


def run_capped(argv: list[str], label: str, timeout: float = TIMEOUT_SECONDS) -> Finished:
    """Run ``argv`` to its end, killing it (and all it started) after ``timeout`` s or past
    the memory cap.

    Raises:
        MemoryCapExceeded: it and its processes passed the memory cap; the message names
            ``label``, the cap and how to raise it.
    """
    cap_mb = memory_cap_mb()
    began = time.perf_counter()
    over: float | None = None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # A session of its own: the cap kills the child's whole process group.
        proc = subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=True)
        deadline = began + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = tree_rss_mb(proc.pid)
            if rss > cap_mb or time.perf_counter() > deadline:
                over = rss if rss > cap_mb else None
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if over is not None:
        raise MemoryCapExceeded(
            f"benchmark step {label!r} passed the memory cap of {cap_mb:,} MB (its processes "
            f"held {over:,.0f} MB after {wall:.1f} s) and was stopped; give it more with "
            f"--memory-cap or {MEMORY_CAP_VARIABLE}=8GB, or run a smaller size"
        )
    return Finished(os.waitstatus_to_exitcode(status), stdout, stderr, wall, usage)


def run_child(argv: list[str], label: str, timeout: float = TIMEOUT_SECONDS) -> Child:
    """Run ``argv`` under the cap (see :func:`run_capped`) and measure it.

    Raises:
        MemoryCapExceeded: the child and its processes passed the memory cap.
        RuntimeError: the child failed; the message carries the end of its stderr.
    """
    load_at_start = os.getloadavg()[0]
    done = run_capped(argv, label, timeout)
    if done.code != 0:
        tail = done.stderr[-3000:]
        raise RuntimeError(f"benchmark child {label!r} failed ({done.code}):\n{tail}")
    scale = 2**20 if sys.platform == "darwin" else 2**10  # macOS reports bytes, Linux KiB
    return Child(
        report=json.loads(done.stdout.strip().splitlines()[-1]),
        wall_seconds=done.wall_seconds,
        cpu_seconds=done.usage.ru_utime + done.usage.ru_stime,
        peak_rss_mb=done.usage.ru_maxrss / scale,
        load_at_start=load_at_start,
    )
