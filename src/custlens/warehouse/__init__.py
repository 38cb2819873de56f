"""The warehouse: the one package that knows which engine custlens talks to.

Everything else hands Ibis expressions (or Polars/Arrow frames) to a
:class:`Warehouse` and gets Ibis tables back. :func:`connect` picks the engine
from the URL's scheme; each engine is one module behind the protocol of
:mod:`custlens.warehouse.base`, the way Ibis keeps one module per backend:

- :mod:`~custlens.warehouse.duckdb` — ``duckdb:///path/file.duckdb`` (the
  default, embedded): atomic swaps in a DuckDB transaction; servers read
  serving copies of the file while a run writes it.
- :mod:`~custlens.warehouse.postgres` — ``postgres://user@host:port/db``:
  atomic swaps in a Postgres transaction.
- :mod:`~custlens.warehouse.spark` — ``pyspark`` (local[*]) or ``spark://host:7077``
  (a standalone master): each table is a folder of Parquet under the workspace's
  ``spark-warehouse/``, registered as an external table of a per-workspace
  database; a swap renames folders, so a reader sees the old or the new table,
  never half of one. ``sc://host:15002`` (Spark Connect): each version of a table
  is a table of the server's catalog, published by replacing a view.

Writes go to a staging table first (:meth:`Warehouse.stage`) and replace the
live tables only in :meth:`Warehouse.publish`; a failure in between leaves
the live tables as they were. Nothing outside this package imports an engine
library or asks which engine it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from custlens.errors import WarehouseError
from custlens.warehouse.base import STAGE_PREFIX, Warehouse
from custlens.warehouse.duckdb import ServingCopies, serving_copies
from custlens.warehouse.spark import spark_session

if TYPE_CHECKING:
    from custlens.config import Spark

__all__ = [
    "STAGE_PREFIX",
    "ServingCopies",
    "Warehouse",
    "connect",
    "serving_copies",
    "spark_session",
]

SCHEMES = {
    "duckdb": "duckdb",
    "postgres": "postgres",
    "postgresql": "postgres",
    "pyspark": "spark",
    "spark": "spark",
    "sc": "spark",
}
"""URL scheme → the engine module that opens it."""


def connect(
    url: str,
    root: Path | None = None,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    serving: bool = False,
    spark: Spark | None = None,
) -> Warehouse:
    """Open the warehouse named by ``url``.

    Args:
        url: ``duckdb:///file.duckdb``, ``duckdb://`` (in memory),
            ``postgres://…``/``postgresql://…``, ``pyspark``, ``spark://master:port`` or
            ``sc://host:port``.
        root: the workspace folder; relative DuckDB paths and the Spark
            table folder are taken from it.
        memory_limit: a size such as ``4GB``: DuckDB's ``memory_limit``, local
            Spark's driver memory (when this process starts the JVM).
        threads: DuckDB's ``threads``; local Spark's ``local[N]``.
        serving: open for a server that only reads: a DuckDB file is read from
            its latest serving copy (:class:`ServingCopies`), read-only, so that a
            run can write the file meanwhile. Other engines serve from the live
            tables.
        spark: where a Spark warehouse keeps the tables (``spark:`` of custlens.yml).

    Raises:
        WarehouseError: an unknown scheme, a missing extra, or the engine refused.
    """
    import importlib

    root = Path(root) if root is not None else Path.cwd()
    scheme = url.split(":", 1)[0].lower()
    engine = SCHEMES.get(scheme)
    if engine is None:
        raise WarehouseError(
            f"unknown warehouse URL {url!r}; expected duckdb:///file.duckdb, "
            "postgres://user@host/db, pyspark, spark://master:7077 or sc://host:15002"
        )
    try:
        module = importlib.import_module(f"custlens.warehouse.{engine}")
        where = {"settings": spark} if engine == "spark" and spark is not None else {}
        return module.open_warehouse(  # type: ignore[no-any-return]
            url, root, memory_limit=memory_limit, threads=threads, serving=serving, **where
        )
    except ImportError as exc:
        extra = "postgres" if engine == "postgres" else "spark"
        raise WarehouseError(
            f"the {scheme} warehouse needs an extra: pip install 'custlens[{extra}]' ({exc})"
        ) from None
    except WarehouseError:
        raise
    except Exception as exc:
        raise WarehouseError(f"cannot open warehouse {url!r}: {exc}") from None
