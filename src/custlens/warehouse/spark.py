"""Apache Spark: each table is a folder of Parquet under the workspace's
``spark-warehouse/``, registered as an external table of a per-workspace database.
A write goes to a staging folder; a swap renames folders, so a reader sees the old or
the new table, never half of one."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import ibis
import polars as pl

from custlens.warehouse.base import STAGE_PREFIX, Warehouse, to_arrow

if TYPE_CHECKING:
    import ibis.expr.types as ir


def open_warehouse(
    url: str,
    root: Path,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    **_: Any,
) -> SparkWarehouse:
    """Open ``pyspark`` (a local session, ``local[threads or *]``) or
    ``pyspark://host:port`` (a standalone master)."""
    from custlens.config import memory_mb

    driver_memory = f"{memory_mb(memory_limit)}m" if memory_limit is not None else None
    parsed = urlparse(url)
    master = f"spark://{parsed.netloc}" if parsed.netloc else f"local[{threads or '*'}]"
    session = spark_session(master, driver_memory)
    location = (root / "spark-warehouse").resolve()
    location.mkdir(parents=True, exist_ok=True)
    warehouse = SparkWarehouse(ibis.pyspark.connect(session), url, location)
    # One Spark database per workspace, so two workspaces in one session
    # (the test suite) never see each other's tables.
    digest = hashlib.sha1(str(location).encode()).hexdigest()[:10]
    warehouse._database = f"custlens_{digest}"
    session.sql(f"CREATE DATABASE IF NOT EXISTS {warehouse._database}")
    for child in sorted(location.iterdir()):
        if child.is_dir() and not child.name.startswith((STAGE_PREFIX, "_trash_", ".")):
            warehouse._register(child.name, child)
    return warehouse


class SparkWarehouse(Warehouse):
    kind = "pyspark"

    def close(self) -> None:
        """Nothing to release: the Spark session is the process's, shared, and stays up."""

    def to_polars(
        self,
        expr: ir.Table,
        params: Mapping[ir.Scalar, Any] | None = None,
        *,
        sql: str | None = None,
    ) -> pl.DataFrame:
        frame = super().to_polars(expr, params)
        # Spark stores microseconds but hands them over as nanoseconds;
        # the same table must read the same on every engine.
        return frame.with_columns(pl.col(pl.Datetime("ns")).cast(pl.Datetime("us")))

    def stage(self, name: str, obj: Any, *, sql: str | None = None) -> ir.Table:
        self._forget()
        staged = STAGE_PREFIX + name
        path = self._path(staged)
        shutil.rmtree(path, ignore_errors=True)
        if isinstance(obj, ibis.Table):
            self._frame(obj, sql).write.parquet(str(path))
        else:
            # Straight from Arrow: going through pandas would turn a null
            # string into the text "NaN".
            self.con._session.createDataFrame(to_arrow(obj)).write.parquet(str(path))
        self._register(staged, path)
        return self._raw_table(staged)

    def publish(self, names: Iterable[str]) -> None:
        self._forget()
        for name in names:
            self._swap(name)

    def discard(self, names: Iterable[str]) -> None:
        self._forget()
        for name in names:
            staged = STAGE_PREFIX + name
            self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{staged}")
            shutil.rmtree(self._path(staged), ignore_errors=True)

    def _path(self, name: str) -> Path:
        assert self._location is not None
        return self._location / name

    def _frame(self, expr: ir.Table, sql: str | None = None) -> Any:
        """The Spark DataFrame of an expression, with the column types Ibis promised.

        Ibis compiles an int64 literal to a bare ``1``, which Spark types as
        INT; casting to the expression's schema keeps both engines' tables alike.
        """
        from pyspark.sql import functions as F

        self.con._run_pre_execute_hooks(expr)
        frame = self.con._session.sql(sql if sql is not None else self.con.compile(expr))
        casts = {"int64": "bigint", "int32": "int", "float64": "double", "int16": "smallint"}
        columns = []
        for name, dtype in expr.schema().items():
            target = casts.get(str(dtype).lstrip("!"))
            columns.append(
                F.col(f"`{name}`").cast(target).alias(name) if target else F.col(f"`{name}`")
            )
        return frame.select(*columns)

    def _register(self, name: str, path: Path) -> None:
        self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{name}")
        self.con.raw_sql(
            f"CREATE TABLE {self._database}.{name} USING parquet LOCATION '{path.as_posix()}'"
        )

    def _swap(self, name: str) -> None:
        live, staged = self._path(name), self._path(STAGE_PREFIX + name)
        trash = self._path(f"_trash_{name}_{uuid.uuid4().hex[:8]}")
        self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{STAGE_PREFIX}{name}")
        if live.exists():
            live.rename(trash)
        staged.rename(live)
        self._register(name, live)
        shutil.rmtree(trash, ignore_errors=True)


def spark_session(
    master: str = "local[*]",
    driver_memory: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> Any:
    """The process's Spark session, created once with settings for small local work.

    UTC everywhere so timestamps mean the same on DuckDB and Spark.

    Args:
        driver_memory: e.g. ``2048m``; only heeded when this call starts the JVM.
        conf: more Spark settings, e.g. the test suite's for tiny tables.
    """
    from pyspark.sql import SparkSession

    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.legacy.createHiveTableByDefault": "false",
    }
    if driver_memory is not None:
        settings["spark.driver.memory"] = driver_memory
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName("custlens")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
