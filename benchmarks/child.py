"""Run one benchmark step in a fresh interpreter and measure it.

Polars, DuckDB and NumPy allocate outside Python's heap, so peak memory is the
child's maximum resident set size, read with ``wait4`` when it exits, and each
step gets an interpreter of its own so its peak is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 900.0


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


def run_child(argv: list[str], label: str, timeout: float = TIMEOUT_SECONDS) -> Child:
    """Run ``argv``, wait for it (killing it after ``timeout`` s), and measure it.

    Raises:
        RuntimeError: the child failed; the message carries the end of its stderr.
    """
    load_at_start = os.getloadavg()[0]
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        deadline = began + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - began
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if code != 0:
        raise RuntimeError(f"benchmark child {label!r} failed ({code}):\n{stderr[-3000:]}")
    scale = 2**20 if sys.platform == "darwin" else 2**10  # macOS reports bytes, Linux KiB
    return Child(
        report=json.loads(stdout.strip().splitlines()[-1]),
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / scale,
        load_at_start=load_at_start,
    )
