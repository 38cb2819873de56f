"""Apache Spark, driven from this process (``pyspark`` for local[*], ``spark://host:port``
for a standalone master) or through Spark Connect (``sc://host:port``).

In this process, each table is a folder of Parquet under the workspace's
``spark-warehouse/``, registered as an external table of a per-workspace database.
A write goes to a staging folder; a swap renames folders, so a reader sees the old or
the new table, never half of one.

Through Spark Connect the files are the server's, out of this process's reach: each
write is a new managed table ``<name>__v<id>`` and the live name is a view over the
latest one (``CREATE OR REPLACE VIEW``, atomic for readers: a reader sees the old
version or the new, never a mix); a replaced version stays for a grace period
(``spark.old_versions_grace_minutes``) for readers still on it, then is dropped.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import polars as pl

from custlens.errors import WarehouseError, first_line
from custlens.warehouse.base import STAGE_PREFIX, Warehouse, to_arrow

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.config import Spark


def open_warehouse(
    url: str,
    root: Path,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    settings: Spark | None = None,
    **_: Any,
) -> SparkWarehouse:
    """Open ``pyspark`` (a local session, ``local[threads or *]``), ``spark://host:port``
    (a standalone master; ``pyspark://host:port`` says the same) or ``sc://host:port``
    (Spark Connect).

    A standalone cluster's executors write the workspace's tables where the driver
    names them (``spark-warehouse/`` in the workspace), so that folder must be one
    path for all of them: a machine of its own, or a shared file system.
    """
    import sys

    from custlens.config import Spark, memory_mb

    settings = settings or Spark()
    if url.lower().startswith("sc://"):
        return _open_connect(url, root, settings)
    driver_memory = f"{memory_mb(memory_limit)}m" if memory_limit is not None else None
    parsed = urlparse(url)
    master = f"spark://{parsed.netloc}" if parsed.netloc else f"local[{threads or '*'}]"
    if parsed.netloc:
        _check_reachable(url, MASTER_PORT, "the Spark master")
    # Executors that start Python (a Python UDF) run this interpreter, as the driver.
    conf = {"spark.pyspark.python": sys.executable} if parsed.netloc else None
    location = _folder(settings.warehouse_dir, root)
    session = spark_session(master, driver_memory, conf)
    location.mkdir(parents=True, exist_ok=True)
    import ibis

    warehouse = SparkWarehouse(ibis.pyspark.connect(session), url, location)
    warehouse._database = _workspace_database(session, location, settings.database)
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
        import ibis

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

    def _functions(self) -> Any:
        """pyspark's column functions for this session's kind."""
        from pyspark.sql import functions

        return functions

    def _path(self, name: str) -> Path:
        assert self._location is not None
        return self._location / name

    def _frame(self, expr: ir.Table, sql: str | None = None) -> Any:
        """The Spark DataFrame of an expression, with the column types Ibis promised.

        Ibis compiles an int64 literal to a bare ``1``, which Spark types as
        INT; casting to the expression's schema keeps both engines' tables alike.
        """
        F = self._functions()
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


VERSION = re.compile(r"__v[0-9a-f]{12}$")
"""The suffix of a table's versions on Spark Connect (``growth_summary__v1a2b…``)."""


def _folder(warehouse_dir: str | None, root: Path) -> Path:
    """The folder of a local or standalone workspace's tables: ``warehouse_dir`` (a path
    or ``file://`` URI), else the workspace's ``spark-warehouse/``."""
    if warehouse_dir is None:
        return (root / "spark-warehouse").resolve()
    parsed = urlparse(warehouse_dir)
    if parsed.scheme not in ("", "file"):
        raise WarehouseError(
            f"spark.warehouse_dir {warehouse_dir!r}: pyspark and spark:// write the tables' "
            "folders from this process, so they need a folder it reaches (a path or "
            "file:///…); a Hadoop URI is for Spark Connect (sc://)"
        )
    folder = Path(parsed.path if parsed.scheme else warehouse_dir)
    return (folder if folder.is_absolute() else root / folder).resolve()


_CONNECT_SESSIONS: dict[str, Any] = {}
"""The process's Spark Connect session of each URL (see :func:`_open_connect`)."""
_CONNECT_LOCK = threading.Lock()


def _open_connect(url: str, root: Path, settings: Spark) -> SparkConnectWarehouse:
    """A Spark Connect session to ``url`` (``sc://host:port``, with Spark's own
    ``;token=…;use_ssl=true`` parameters) and the workspace's database on it."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    _check_reachable(url)
    with _CONNECT_LOCK:
        session = _CONNECT_SESSIONS.get(url)
        if session is None or session.client.is_closed:
            # A session per URL (getOrCreate would hand back the process's first one,
            # whatever its URL), kept for the process: pyspark's client, when a session
            # is garbage-collected, shuts down the thread pool all its sessions share,
            # failing another's query in flight ("cannot schedule new futures after
            # shutdown").
            session = ConnectSession.builder.remote(url).create()
            try:
                session.conf.set("spark.sql.session.timeZone", "UTC")
            except Exception as exc:  # the first call that reaches the server
                raise _connect_error(url, exc) from None
            _CONNECT_SESSIONS[url] = session
    warehouse = SparkConnectWarehouse(
        _connect_backend().connect(session),
        url,
        grace_seconds=settings.old_versions_grace_minutes * 60,
    )
    warehouse._database = _workspace_database(
        session, root.resolve(), settings.database, settings.warehouse_dir
    )
    return warehouse


def redacted(url: str) -> str:
    """``url`` fit for a message: the value of its ``;token=`` hidden."""
    return re.sub(r"(;token=)[^;]*", r"\1***", url)


def _connect_error(url: str, exc: Exception) -> WarehouseError:
    """One line for a Spark Connect server that answered with an error: a refused token
    said as such, anything else by gRPC's own details, never the token."""
    text = str(exc)
    status = re.search(r"status = StatusCode\.(\w+)", text)
    details = re.search(r'details = "([^"]*)"', text)
    reason = details.group(1) if details else first_line(exc)
    if status is not None and status.group(1) == "UNAUTHENTICATED":
        hint = (
            "the URL's ;token=… must be the server's spark.connect.authenticate.token"
            if ";token=" in url
            else "the server asks for a token: add ;token=… to the URL"
        )
        return WarehouseError(
            f"Spark Connect at {redacted(url)} refused the connection: {reason} ({hint})"
        )
    return WarehouseError(f"cannot reach Spark Connect at {redacted(url)}: {reason}")


def _workspace_database(
    session: Any, folder: Path, name: str | None = None, location: str | None = None
) -> str:
    """The Spark database of the workspace at ``folder`` — ``name``, else one of its own,
    so two workspaces on one session or server (the test suite) never see each other's
    tables — created if need be, its tables' files under ``location`` when given."""
    database = name or f"custlens_{hashlib.sha1(str(folder).encode()).hexdigest()[:10]}"
    where = ""
    if location is not None:
        where = " LOCATION '" + location.replace("\\", "\\\\").replace("'", "\\'") + "'"
    session.sql(f"CREATE DATABASE IF NOT EXISTS {database}{where}")
    return database


CONNECT_PORT = 15002
"""Spark Connect's port when the URL names none."""
MASTER_PORT = 7077
"""A standalone master's port when the URL names none."""
REACH_SECONDS = 10.0


def _check_reachable(
    url: str, default_port: int = CONNECT_PORT, what: str = "Spark Connect"
) -> None:
    """Refuse at once a server that does not listen: the Connect client retries a
    refused connection with backoff for minutes before it gives up, a standalone
    master's client for a minute."""
    parsed = urlparse(url.split(";", 1)[0])
    host, port = parsed.hostname or "localhost", parsed.port or default_port
    try:
        socket.create_connection((host, port), timeout=REACH_SECONDS).close()
    except OSError as exc:
        raise WarehouseError(
            f"cannot reach {what} at {redacted(url)}: {exc.strerror or exc} "
            f"(is it listening on {host}:{port}?)"
        ) from None


def _connect_backend() -> Any:
    """Ibis's pyspark backend, caching tables as a Spark Connect session can: Ibis asks
    the DataFrame whether it is cached right after ``cache()``, which a Connect
    DataFrame cannot tell without a round trip and answers False."""
    import ibis
    from ibis.backends.pyspark import Backend

    ibis.pyspark  # noqa: B018 - loading the backend registers its options (ibis.options.pyspark)

    class ConnectBackend(Backend):  # type: ignore[misc]
        def _create_cached_table(self, name: str, expr: Any) -> Any:
            frame = self._session.sql(self.compile(expr)).cache()
            frame.createTempView(name)
            self._cached_dataframes[name] = frame
            return self.table(name)

    return ConnectBackend()


def _written_ms(version: str) -> int:
    """When the version (``name__v<id>``) was written, in milliseconds since 1970."""
    return int(VERSION.search(version).group()[3:14], 16)  # type: ignore[union-attr]


def _version_id() -> str:
    """Twelve hex digits that sort in the order they were made: milliseconds since 1970
    (eleven digits until the year 2527), then one random digit."""
    return f"{time.time_ns() // 1_000_000:011x}{uuid.uuid4().hex[0]}"


class SparkConnectWarehouse(SparkWarehouse):
    """Spark through Spark Connect: versioned managed tables behind views (see the module)."""

    def __init__(self, con: Any, url: str, *, grace_seconds: float) -> None:
        super().__init__(con, url, None)
        self._staged: dict[str, str] = {}
        """Live name → the version staged for it and not yet published."""
        self.grace_seconds = grace_seconds
        """How long a replaced version is kept after its successor was written."""

    def list_tables(self) -> list[str]:
        return [n for n in super().list_tables() if not VERSION.search(n)]

    def stage(self, name: str, obj: Any, *, sql: str | None = None) -> ir.Table:
        import ibis

        self._forget()
        version = f"{name}__v{_version_id()}"
        if isinstance(obj, ibis.Table):
            frame = self._frame(obj, sql)
        else:
            frame = self.con._session.createDataFrame(to_arrow(obj))
        frame.write.mode("overwrite").saveAsTable(f"{self._database}.{version}")
        self._staged[name] = version
        return self._raw_table(version)

    def publish(self, names: Iterable[str]) -> None:
        self._forget()
        names = list(names)
        for name in names:
            version = self._staged.pop(name)
            self.con.raw_sql(
                f"CREATE OR REPLACE VIEW {self._database}.{name} AS "
                f"SELECT * FROM {self._database}.{version}"
            )
        self._drop_old_versions(names)

    def discard(self, names: Iterable[str]) -> None:
        self._forget()
        for name in names:
            version = self._staged.pop(name, None)
            if version is not None:
                self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{version}")

    def _drop_old_versions(self, names: list[str]) -> None:
        """Drop each name's replaced versions whose successor was written more than
        :attr:`grace_seconds` ago (one listing of the database for them all): a reader
        that resolved the view to a version just before it was replaced has that long
        to finish reading it."""
        rows = self.con._session.sql(f"SHOW TABLES IN {self._database}").collect()
        versions: dict[str, list[str]] = {name: [] for name in names}
        for table in (r.tableName for r in rows):
            found = VERSION.search(table)
            if found and table[: found.start()] in versions:
                versions[table[: found.start()]].append(table)
        now_ms = time.time_ns() // 1_000_000
        for kept in versions.values():
            # Version ids begin with the time they were written: their order is the names'.
            ordered = sorted(kept)
            for version, successor in itertools.pairwise(ordered):
                if now_ms - _written_ms(successor) > self.grace_seconds * 1000:
                    self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{version}")

    def _functions(self) -> Any:
        from pyspark.sql.connect import functions

        return functions


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
