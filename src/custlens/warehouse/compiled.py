"""Compiled SQL, remembered by what the expression is.

Ibis takes 10–60 ms to compile one fact — more than DuckDB takes to run it on a
small workspace — and a run builds the same expressions as the run before it
whenever the sources' schemas, the settings and the as-of date are the same.
:func:`fingerprint` digests an expression's whole operation tree (every node's
class and arguments, tables by name, namespace and schema), so two expressions
with one fingerprint compile to the same SQL; :class:`CompiledSql` keeps that SQL,
for the process and, saved in the workspace after each run
(``.custlens/compiled-sql.json``, the SQL that run used), for the next process.

An expression holding in-memory data (a memtable: a model's predictions, a
spine of dates) or an argument of a type this module does not know is never
fingerprinted: it is compiled every time.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import sqlglot
from ibis.backends import BaseBackend
from ibis.common.grounds import Concrete

MAX_ENTRIES = 2048
"""Entries kept per cache; past that it starts again (a run needs about fifty)."""
MAX_SAVED = 256
"""Entries saved: what was used since loading, then what the file held before."""


class _Unknown(Exception):
    """An argument this module cannot digest."""


_SCALARS = (
    str,
    bytes,
    bool,
    int,
    float,
    type(None),
    decimal.Decimal,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    enum.Enum,
)


def fingerprint(expr: Any) -> str | None:
    """A digest of ``expr``'s operation tree, or None when it cannot be digested."""
    memo: dict[int, str] = {}
    try:
        return _digest(expr.op(), memo)
    except _Unknown:
        return None


def _digest(value: Any, memo: dict[int, str]) -> str:
    if isinstance(value, Concrete):
        known = memo.get(id(value))
        if known is not None:
            return known
        if isinstance(value, ops.InMemoryTable):
            raise _Unknown  # its rows are data, and its name changes per process
        parts = [type(value).__module__, type(value).__qualname__]
        for name, arg in zip(value.__argnames__, value.__args__, strict=True):
            if name == "source" and isinstance(arg, BaseBackend):
                # A table's or a SQL text's connection: the SQL names the table or
                # holds the text, the same on any connection of this engine.
                continue
            parts.append(name)
            parts.append(_digest(arg, memo))
        out = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        memo[id(value)] = out
        return out
    if isinstance(value, _SCALARS):
        # repr tells 1 from 1.0 from True from "1"; the type name tells date from datetime.
        return f"{type(value).__qualname__}:{value!r}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_digest(v, memo) for v in value) + ")"
    if isinstance(value, frozenset):
        return "{" + ",".join(sorted(_digest(v, memo) for v in value)) + "}"
    if isinstance(value, Mapping):
        items = (f"{_digest(k, memo)}={_digest(v, memo)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    raise _Unknown


class CompiledSql:
    """SQL by fingerprint for one engine, shared by the connections of a process."""

    def __init__(self, engine: str) -> None:
        # Another Ibis or SQLGlot may compile differently: the versions are in the key.
        self._prefix = f"{engine}|{ibis.__version__}|{sqlglot.__version__}|"
        self._sql: dict[str, str] = {}
        self._used: set[str] = set()
        """Keys compiled or looked up since the last :meth:`load`."""
        self._loaded: list[str] = []
        """Keys the last :meth:`load` read."""
        self.hits = 0
        self.misses = 0

    def load(self, path: Path) -> None:
        """Add the SQL saved at ``path`` by an earlier process (nothing if there is none
        or it cannot be read: it is only ever a shortcut)."""
        self._used.clear()
        self._loaded = []
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(saved, dict):
            for key, sql in saved.items():
                if isinstance(key, str) and isinstance(sql, str) and key.startswith(self._prefix):
                    self._sql.setdefault(key, sql)
                    self._loaded.append(key)

    def save(self, path: Path) -> None:
        """Write the SQL used since :meth:`load` to ``path`` (atomically: a reader sees
        the old file or the new one), so the next process starts with it."""
        # A run of some facts (--only) keeps the SQL of the others.
        keys = [*sorted(self._used), *(k for k in self._loaded if k not in self._used)]
        used = {key: self._sql[key] for key in keys if key in self._sql}
        used = dict(list(used.items())[:MAX_SAVED])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps(used), encoding="utf-8")
            os.replace(partial, path)
        except OSError:
            pass  # a read-only workspace compiles again next time

    def compile(self, expr: Any, compile: Callable[[Any], str]) -> str:
        """The SQL of ``expr``: remembered, or ``compile(expr)`` (and then remembered)."""
        digest = fingerprint(expr)
        if digest is None:
            return compile(expr)
        key = self._prefix + digest
        self._used.add(key)
        sql = self._sql.get(key)
        if sql is not None:
            self.hits += 1
            return sql
        self.misses += 1
        sql = compile(expr)
        if len(self._sql) >= MAX_ENTRIES:
            self._sql.clear()
        self._sql[key] = sql
        return sql


_CACHES: dict[str, CompiledSql] = {}


def cache_for(engine: str) -> CompiledSql:
    """The process's compiled SQL for ``engine`` (duckdb, pyspark, postgres)."""
    if engine not in _CACHES:
        _CACHES[engine] = CompiledSql(engine)
    return _CACHES[engine]
