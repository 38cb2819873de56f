"""Answers kept until the next run: in memory, shared between the compilers of a
server's threads (:class:`ResultCache`), and on disk, between the processes of
the command line (:class:`StoredAnswers`)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from custlens.semantic.plan import Column, QueryResult


class ResultCache:
    """Answers kept per (query, role, as-of date, row limit, run, model), shared between threads.

    Facts change only with a run, so an answer is reused until the next run; an
    answer that read a loaded source is not kept (a load changes it without a run).
    Least recently used answers go first; answers of many rows are not kept.
    """

    def __init__(self, size: int = 512, max_rows: int = 2_000) -> None:
        self.size = size
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[Any, ...], QueryResult] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> QueryResult | None:
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None:
                self._answers.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], result: QueryResult) -> None:
        if len(result.data) > self.max_rows:
            return
        with self._lock:
            self._answers[key] = result
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


class StoredAnswers:
    """Answers kept on disk for the latest successful run, between processes.

    Each ``custlens query`` is a new process, so the server's cache cannot help it.
    An answer asked again after the same run is read back from here instead of being
    planned, compiled and run: the command then needs no query compiler (importing
    Ibis alone takes 0.4 s). The key holds everything the answer depends on besides
    the run: the query (metrics in one order), the role, the as-of date, the row
    limit, the reporting currency, and a digest of the model files, ``custlens.yml``
    and the custlens version (:func:`workspace_digest`). Like :class:`ResultCache`,
    an answer that read a loaded source is not kept: a load changes it without a run.

    Each run's answers are a folder of files (``<run id>/<key>.answer``: a line of
    JSON describing the answer, then its rows in Arrow IPC, written and read by
    Polars); keeping an answer removes the folders of other runs. A file that cannot
    be read is a miss, and is removed.
    """

    MAGIC = b"custlens-answer 1\n"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(*parts: Any) -> str:
        text = json.dumps([repr(p) for p in parts])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _path(self, run_id: str, key: str) -> Path:
        if not run_id.isalnum():  # a folder name: run ids are hex
            raise ValueError(f"not a run id: {run_id!r}")
        return self.folder / run_id / f"{key}.answer"

    def get(self, run_id: str, key: str) -> QueryResult | None:
        path = self._path(run_id, key)
        try:
            content = path.read_bytes()
            if not content.startswith(self.MAGIC):
                raise ValueError("not an answer file")
            about_line, _, rows = content[len(self.MAGIC) :].partition(b"\n")
            about = json.loads(about_line)
            frame = pl.read_ipc(io.BytesIO(rows))
            return QueryResult(
                data=frame.to_dicts(),
                columns=[Column(**c) for c in about["columns"]],
                sql=about["sql"],
                as_of=date.fromisoformat(about["as_of"]),
                truncated=about["truncated"],
                currency=about["currency"],
                frame=frame,
                rollups=about["rollups"],
                metric_of=about["metric_of"],
                cached=True,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
            path.unlink(missing_ok=True)  # written by another version, or cut short
            return None

    def put(self, run_id: str, key: str, result: QueryResult) -> None:
        """Keep ``result`` (unless it read a source); a folder that cannot be written
        keeps nothing: the answer itself stands."""
        if result.reads_sources:
            return
        path = self._path(run_id, key)
        about = {
            "columns": [dataclasses.asdict(c) for c in result.columns],
            "sql": result.sql,
            "as_of": result.as_of.isoformat(),
            "truncated": result.truncated,
            "currency": result.currency,
            "rollups": result.rollups,
            "metric_of": result.metric_of,
        }
        rows = io.BytesIO()
        result.frame.write_ipc(rows)
        try:
            for other in self.folder.glob("*"):
                if other.name != run_id:
                    shutil.rmtree(other, ignore_errors=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            staged = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
            staged.write_bytes(self.MAGIC + json.dumps(about).encode() + b"\n" + rows.getvalue())
            os.replace(staged, path)  # a reader sees the whole file or none
        except OSError:
            return


def workspace_digest(folder: Path, config_file: Path) -> str:
    """A digest of what answers depend on besides the run and the query: the shipped
    and the workspace's model files, the workspace's config and custlens's version."""
    from custlens.semantic.loader import default_files
    from custlens.version import __version__

    digest = hashlib.sha256(__version__.encode())
    files = [text for _, text in default_files()]
    if folder.is_dir():
        files += [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.y*ml"))]
    if config_file.exists():
        files.append(config_file.read_text(encoding="utf-8"))
    for text in files:
        digest.update(hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()[:16]
