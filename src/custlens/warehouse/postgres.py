"""PostgreSQL: tables in a database (and schema), atomic swaps in one transaction —
Postgres's DDL is transactional, so a reader sees the old tables or the new ones."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ibis

from custlens.warehouse.base import Warehouse, swap_statements


def open_warehouse(url: str, root: Path, **_: Any) -> PostgresWarehouse:
    """Open ``postgres://user@host:port/db`` (``postgresql://`` too). Memory, threads and
    serving are the server's business."""
    return PostgresWarehouse(ibis.connect(url.replace("postgresql://", "postgres://", 1)), url)


def connect_database(**params: Any) -> Any:
    """An Ibis connection to a Postgres database, for reading a source table from it
    (``host``, ``port``, ``user``, ``password``, ``database``, as Ibis takes them)."""
    return ibis.postgres.connect(**params)


class PostgresWarehouse(Warehouse):
    kind = "postgres"

    def publish(self, names: Iterable[str]) -> None:
        self._forget()
        names = list(names)
        if not names:
            return
        with self.con.begin() as cursor:
            for statement in swap_statements(names):
                cursor.execute(statement)
