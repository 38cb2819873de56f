"""The warehouse: the one module that knows which backend custlens talks to.

Everything else hands Ibis expressions (or Polars/Arrow frames) to a
:class:`Warehouse` and gets Ibis tables back. Three backends:

- ``duckdb:///path/file.duckdb`` (the default, embedded): atomic swaps in a
  DuckDB transaction.
- ``postgres://user@host:port/db``: atomic swaps in a Postgres transaction.
- ``pyspark`` (local[*]) or ``pyspark://host:7077``: each table is a folder
  of Parquet under the workspace's ``spark-warehouse/``, registered as an
  external table of a per-workspace database; a swap renames folders, so a
  reader sees the old or the new table, never half of one.

Writes go to a staging table first (:meth:`Warehouse.stage`) and replace the
live tables only in :meth:`Warehouse.publish`; a failure in between leaves
the live tables as they were.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import ibis
import polars as pl

from custlens.errors import NotFoundError, WarehouseError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

STAGE_PREFIX = "_stage_"

Build = Callable[[], "tuple[ir.Table, Sequence[ir.Scalar]]"]
"""What :meth:`Warehouse.run_prepared` calls once per key: an expression and its parameters."""


@dataclass(frozen=True)
class _Prepared:
    """A query kept by :meth:`Warehouse.run_prepared`."""

    expr: ir.Table
    params: tuple[ir.Scalar, ...]
    sql: str | None
    """DuckDB: the SQL with a ``$n`` placeholder per parameter; None elsewhere."""


class Warehouse:
    """A connection to the warehouse, with atomic multi-table writes."""

    def __init__(
        self,
        con: Any,
        kind: str,
        url: str,
        location: Path | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.con = con
        self.kind = kind
        self.url = url
        self.read_only = read_only
        self._file: Path | None = None
        """A DuckDB warehouse's file, when this connection writes it."""
        self._location = location
        self._database: str | None = None
        self._opened: dict[str, ir.Table] = {}
        self._prepared: dict[Hashable, _Prepared] = {}
        self._registered: set[str] = set()
        """SQL texts whose in-memory tables are registered on this connection."""

    # -- connecting -------------------------------------------------------

    @classmethod
    def connect(
        cls,
        url: str,
        root: Path | None = None,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        serving: bool = False,
    ) -> Warehouse:
        """Open the warehouse named by ``url``.

        Args:
            url: ``duckdb:///file.duckdb``, ``duckdb://`` (in memory),
                ``postgres://…``/``postgresql://…``, ``pyspark`` or ``pyspark://master:port``.
            root: the workspace folder; relative DuckDB paths and the Spark
                table folder are taken from it.
            memory_limit: a size such as ``4GB``: DuckDB's ``memory_limit``, local
                Spark's driver memory (when this process starts the JVM).
            threads: DuckDB's ``threads``; local Spark's ``local[N]``.
            serving: open for a server that only reads: a DuckDB file is read from
                its latest serving copy (:class:`ServingCopies`), read-only, so that a
                run can write the file meanwhile. Other backends serve from the live
                tables.
        """
        from custlens.config import memory_mb

        root = Path(root) if root is not None else Path.cwd()
        scheme = url.split(":", 1)[0].lower()
        try:
            if scheme == "duckdb":
                path = _duckdb_path(url, root)
                settings: dict[str, Any] = {}
                if memory_limit is not None:
                    settings["memory_limit"] = f"{memory_mb(memory_limit)}MiB"
                if threads is not None:
                    settings["threads"] = threads
                if serving and path:
                    copy = ServingCopies(Path(path)).current_or_new()
                    con = ibis.duckdb.connect(str(copy), read_only=True, **settings)
                    return cls(con, "duckdb", url, read_only=True)
                con = _duckdb_connect(path or ":memory:", settings)
                warehouse = cls(con, "duckdb", url)
                warehouse._file = Path(path) if path else None
                return warehouse
            if scheme in ("postgres", "postgresql"):
                con = ibis.connect(url.replace("postgresql://", "postgres://", 1))
                return cls(con, "postgres", url)
            if scheme == "pyspark":
                memory = f"{memory_mb(memory_limit)}m" if memory_limit is not None else None
                return cls._connect_spark(url, root, memory, threads)
        except ImportError as exc:
            extra = {"postgres": "postgres", "postgresql": "postgres"}.get(scheme, "spark")
            raise WarehouseError(
                f"the {scheme} warehouse needs an extra: pip install 'custlens[{extra}]' ({exc})"
            ) from None
        except Exception as exc:
            raise WarehouseError(f"cannot open warehouse {url!r}: {exc}") from None
        raise WarehouseError(
            f"unknown warehouse URL {url!r}; expected duckdb:///file.duckdb, "
            "postgres://user@host/db or pyspark"
        )

    @classmethod
    def _connect_spark(
        cls, url: str, root: Path, driver_memory: str | None, threads: int | None
    ) -> Warehouse:
        parsed = urlparse(url)
        master = f"spark://{parsed.netloc}" if parsed.netloc else f"local[{threads or '*'}]"
        session = spark_session(master, driver_memory)
        location = (root / "spark-warehouse").resolve()
        location.mkdir(parents=True, exist_ok=True)
        warehouse = cls(ibis.pyspark.connect(session), "pyspark", url, location)
        # One Spark database per workspace, so two workspaces in one session
        # (the test suite) never see each other's tables.
        digest = hashlib.sha1(str(location).encode()).hexdigest()[:10]
        warehouse._database = f"custlens_{digest}"
        session.sql(f"CREATE DATABASE IF NOT EXISTS {warehouse._database}")
        for child in sorted(location.iterdir()):
            if child.is_dir() and not child.name.startswith((STAGE_PREFIX, "_trash_", ".")):
                warehouse._spark_register(child.name, child)
        return warehouse

    def close(self) -> None:
        """Release the connection (a Spark session is shared and stays up)."""
        if self.kind != "pyspark":
            self.con.disconnect()

    # -- reading ----------------------------------------------------------

    def list_tables(self) -> list[str]:
        """Names of the live tables (staging tables excluded)."""
        names = (
            self.con.list_tables(database=self._database)
            if self._database
            else (self.con.list_tables())
        )
        # Spark lists session temp views (Ibis memtables) with a database's tables.
        return sorted(n for n in names if not n.startswith((STAGE_PREFIX, "ibis_")))

    def has(self, name: str) -> bool:
        """Whether a live table of that name exists."""
        return name in self.list_tables()

    def table(self, name: str) -> ir.Table:
        """The live table ``name`` as an Ibis table.

        Raises:
            NotFoundError: there is no such table.
        """
        # Opened tables are kept (opening one asks the engine for its schema; a profile
        # reads a dozen) until this connection writes. Opening first and listing only on
        # failure saves a catalog listing on every read.
        if name in self._opened:
            return self._opened[name]
        if not name.startswith(STAGE_PREFIX):
            try:
                table = self._opened[name] = self._raw_table(name)
                return table
            except Exception:
                if self.has(name):
                    raise
        raise NotFoundError(f"no table {name!r} in the warehouse")

    def _raw_table(self, name: str) -> ir.Table:
        if self._database:
            return self.con.table(name, database=self._database)
        return self.con.table(name)

    def sql_name(self, name: str) -> str:
        """The table ``name`` as a quoted identifier in DuckDB's dialect (cube SQL's dialect)."""
        quoted = '"' + name.replace('"', '""') + '"'
        return f'"{self._database}".{quoted}' if self._database else quoted

    def sql(self, text: str) -> ir.Table:
        """A query written in DuckDB's dialect, transpiled by SQLGlot to this backend's."""
        return self.con.sql(text, dialect="duckdb")

    def compile(self, expr: ir.Expr) -> str:
        """The SQL this backend runs for ``expr``."""
        return str(self.con.compile(expr))

    def interrupt(self) -> None:
        """Stop the query running on this connection (DuckDB; elsewhere a no-op)."""
        if self.kind == "duckdb":
            self.con.con.interrupt()

    def scalar(self, expr: ir.Scalar) -> Any:
        """Execute a scalar expression and return its Python value."""
        return self.con.execute(expr)

    def to_polars(
        self,
        expr: ir.Table,
        params: Mapping[ir.Scalar, Any] | None = None,
        *,
        sql: str | None = None,
    ) -> pl.DataFrame:
        """Execute an expression on this backend and return a Polars frame.

        Args:
            params: values of the expression's parameters (``ibis.param``), if any.
            sql: what :meth:`compile` gave for ``expr`` (without parameters) earlier:
                on DuckDB it runs as it is instead of compiling the expression again
                (tens of milliseconds for a large query; callers that keep plans pass it).
        """
        if sql is not None and params is None and self.kind == "duckdb":
            from ibis.backends.duckdb.converter import DuckDBPyArrowData

            # What Ibis's own execution does around the SQL: register the in-memory
            # tables the expression names (once: the expression keeps them alive),
            # then type the result as it promises.
            if sql not in self._registered:
                self.con._run_pre_execute_hooks(expr)
                if len(self._registered) > 4096:  # plans come and go: keep it bounded
                    self._registered.clear()
                self._registered.add(sql)
            arrow = self.con.con.sql(sql).to_arrow_table()
            arrow = expr.__pyarrow_result__(arrow, data_mapper=DuckDBPyArrowData)
            return expr.__polars_result__(pl.from_arrow(arrow))  # type: ignore[no-any-return]
        frame = self.con.to_polars(expr, params=params)
        if self.kind == "pyspark":
            # Spark stores microseconds but hands them over as nanoseconds;
            # the same table must read the same on every backend.
            frame = frame.with_columns(pl.col(pl.Datetime("ns")).cast(pl.Datetime("us")))
        return frame

    def run_prepared(self, key: Hashable, build: Build, values: Sequence[str]) -> pl.DataFrame:
        """Execute a query with string parameters, compiled once per ``key``.

        A query asked again and again with other values (a profile's per-customer reads)
        pays Ibis's compilation once: ``build()`` returns the expression and its
        parameters (``ibis.param("string")``, in the order of ``values``) and is called
        the first time ``key`` is seen, then again only after this connection writes
        (:meth:`stage`, :meth:`publish`, :meth:`discard`, :meth:`write_tables`). The key
        must name everything the expression depends on besides the parameters (table,
        columns, how many parameters, any constant).

        On DuckDB the SQL is compiled once with a placeholder per parameter (``$1``…,
        put in by SQLGlot) and run with ``values`` bound: they never become SQL text.
        Other backends keep the expression and bind the values through Ibis on each call.
        The frame is the one :meth:`to_polars` returns for the same expression and values.

        Like the opened tables, a prepared query does not notice another connection's
        write (a replaced table is read by name; a changed schema is not seen).

        Example::

            def build():
                t = warehouse.table("health_scores")
                p = ibis.param("string")
                return t.filter(t.customer_id == p), [p]

            warehouse.run_prepared(("health", "customer_id"), build, ["C1"])
        """
        prepared = self._prepared.get(key)
        if prepared is None:
            expr, params = build()
            prepared = self._prepared[key] = self._prepare(expr, tuple(params))
        if len(values) != len(prepared.params):
            raise ValueError(
                f"prepared query {key!r} takes {len(prepared.params)} values, got {len(values)}"
            )
        if prepared.sql is None:
            return self.to_polars(prepared.expr, dict(zip(prepared.params, values, strict=True)))
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        table = self.con.con.execute(prepared.sql, list(values)).to_arrow_table()
        expr = prepared.expr
        table = expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)
        return expr.__polars_result__(pl.from_arrow(table))  # type: ignore[no-any-return]

    def _prepare(self, expr: ir.Table, params: tuple[ir.Scalar, ...]) -> _Prepared:
        for param in params:
            if not param.type().is_string():
                raise TypeError(f"run_prepared takes string parameters, not {param.type()}")
        expr = expr.as_table()
        if self.kind != "duckdb":
            return _Prepared(expr, params, None)
        import sqlglot.expressions as sge

        # Each parameter is compiled as a unique string literal, which SQLGlot's tree then
        # swaps for a typed placeholder: no value is ever pasted into the text.
        tokens = {f"custlens-param-{i}-{uuid.uuid4().hex}": i for i in range(len(params))}
        self.con._run_pre_execute_hooks(expr)
        tree = self.con.compiler.to_sqlglot(expr, params=dict(zip(params, tokens, strict=True)))
        seen: set[int] = set()

        def swap(node: sge.Expression) -> sge.Expression:
            if isinstance(node, sge.Literal) and node.is_string and node.this in tokens:
                number = tokens[node.this]
                seen.add(number)
                placeholder = sge.Placeholder(this=str(number + 1))
                return sge.Cast(this=placeholder, to=sge.DataType.build("VARCHAR"))
            return node

        # copy=True: Ibis shares one node between the places a parameter is used.
        sql = tree.transform(swap, copy=True).sql(dialect=self.con.dialect)
        if len(seen) != len(params) or any(token in sql for token in tokens):
            # A parameter Ibis did not compile to a plain literal: bind it through Ibis.
            return _Prepared(expr, params, None)
        return _Prepared(expr, params, sql)

    def _forget(self) -> None:
        """Drop the opened tables and prepared queries: a write may replace a table or
        change its schema."""
        self._opened.clear()
        self._prepared.clear()

    # -- writing ----------------------------------------------------------

    def stage(self, name: str, obj: Any, *, sql: str | None = None) -> ir.Table:
        """Materialise ``obj`` as the staging table of ``name`` and return it.

        The live table ``name`` is untouched until :meth:`publish`.

        Args:
            sql: what :meth:`compile` gave for the expression ``obj``: DuckDB and
                Spark run it as it is instead of compiling the expression again
                (the pipeline compiles each fact once, and times that apart).
        """
        self._forget()
        staged = STAGE_PREFIX + name
        if isinstance(obj, pl.DataFrame) and self.kind != "duckdb":
            obj = obj.to_arrow()
        if self.kind == "duckdb" and sql is not None and isinstance(obj, ibis.Table):
            self._duckdb_create(staged, obj, sql)
        elif self.kind == "pyspark":
            path = self._spark_path(staged)
            shutil.rmtree(path, ignore_errors=True)
            if isinstance(obj, ibis.Table):
                self._spark_frame(obj, sql).write.parquet(str(path))
            else:
                # Straight from Arrow: going through pandas would turn a null
                # string into the text "NaN".
                self.con._session.createDataFrame(_to_arrow(obj)).write.parquet(str(path))
            self._spark_register(staged, path)
        else:
            self.con.create_table(staged, obj, overwrite=True)
        return self._raw_table(staged)

    def publish(self, names: Iterable[str]) -> None:
        """Replace each live table by its staging table, all at once where the backend allows."""
        self._forget()
        names = list(names)
        if not names:
            return
        if self.kind == "pyspark":
            for name in names:
                self._spark_swap(name)
            return
        statements = []
        for name in names:
            statements.append(f'DROP TABLE IF EXISTS "{name}"')
            statements.append(f'ALTER TABLE "{STAGE_PREFIX}{name}" RENAME TO "{name}"')
        if self.kind == "duckdb":
            raw = self.con.con
            raw.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    raw.execute(statement)
                raw.execute("COMMIT")
            except Exception:
                raw.execute("ROLLBACK")
                raise
            if self._file is not None:
                copies = ServingCopies(self._file)
                if copies.wanted():
                    copies.write(raw)
        else:  # postgres: DDL is transactional
            with self.con.begin() as cursor:
                for statement in statements:
                    cursor.execute(statement)

    def discard(self, names: Iterable[str]) -> None:
        """Drop staging tables left by an interrupted write."""
        self._forget()
        for name in names:
            staged = STAGE_PREFIX + name
            if self.kind == "pyspark":
                self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{staged}")
                shutil.rmtree(self._spark_path(staged), ignore_errors=True)
            else:
                self.con.drop_table(staged, force=True)

    def write_tables(self, tables: Mapping[str, Any]) -> None:
        """Replace every given table atomically: all are written, or none is.

        Args:
            tables: name → Ibis table, Polars frame or Arrow table.
        """
        self._forget()
        staged: list[str] = []
        try:
            for name, obj in tables.items():
                self.stage(name, obj)
                staged.append(name)
            self.publish(staged)
        except Exception as exc:
            self.discard(staged)
            if isinstance(exc, WarehouseError):
                raise
            raise WarehouseError(f"writing {', '.join(tables)} failed: {exc}") from exc

    # -- DuckDB internals -------------------------------------------------

    def _duckdb_create(self, staged: str, expr: ir.Table, sql: str) -> None:
        """``CREATE TABLE`` with the column types of ``expr``'s schema, filled from ``sql``.

        What Ibis's ``create_table`` does, minus compiling the expression again:
        declaring the columns first keeps each table's types exactly as Ibis
        promised them (an all-null column, a decimal), whatever the query infers.
        """
        import sqlglot as sg
        import sqlglot.expressions as sge

        schema = expr.schema()
        if schema.null_fields:  # Ibis's own error names them
            self.con.create_table(staged, expr, overwrite=True)
            return
        self.con._run_pre_execute_hooks(expr)
        table = sg.table(staged, quoted=True)
        create = sge.Create(
            kind="TABLE",
            this=sge.Schema(this=table, expressions=schema.to_sqlglot_column_defs("duckdb")),
            replace=True,
        )
        columns = ", ".join(sge.to_identifier(c, quoted=True).sql("duckdb") for c in schema)
        raw = self.con.con
        raw.execute(create.sql("duckdb"))
        raw.execute(f"INSERT INTO {table.sql('duckdb')} ({columns}) {sql}")

    # -- Spark internals --------------------------------------------------

    def _spark_path(self, name: str) -> Path:
        assert self._location is not None
        return self._location / name

    def _spark_frame(self, expr: ir.Table, sql: str | None = None) -> Any:
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

    def _spark_register(self, name: str, path: Path) -> None:
        self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{name}")
        self.con.raw_sql(
            f"CREATE TABLE {self._database}.{name} USING parquet LOCATION '{path.as_posix()}'"
        )

    def _spark_swap(self, name: str) -> None:
        live, staged = self._spark_path(name), self._spark_path(STAGE_PREFIX + name)
        trash = self._spark_path(f"_trash_{name}_{uuid.uuid4().hex[:8]}")
        self.con.raw_sql(f"DROP TABLE IF EXISTS {self._database}.{STAGE_PREFIX}{name}")
        if live.exists():
            live.rename(trash)
        staged.rename(live)
        self._spark_register(name, live)
        shutil.rmtree(trash, ignore_errors=True)


# -- serving a DuckDB file while a run writes it ---------------------------


def _duckdb_path(url: str, root: Path) -> str:
    """The file of a ``duckdb://`` URL, relative paths taken from ``root``; "" in memory."""
    path = url[len("duckdb://") :].lstrip("/") if url.startswith("duckdb://") else ""
    if url.startswith("duckdb:////"):
        path = "/" + path
    if path and not os.path.isabs(path):
        path = str(root / path)
    return path


def serving_copies(url: str, root: Path) -> ServingCopies | None:
    """The serving copies of the warehouse at ``url``: None unless it is a DuckDB file
    (Postgres and Spark let a server read while a run writes)."""
    if url.split(":", 1)[0].lower() != "duckdb":
        return None
    path = _duckdb_path(url, root)
    return ServingCopies(Path(path)) if path else None


def _duckdb_connect(path: str, settings: dict[str, Any], wait: float = 10.0) -> Any:
    """``ibis.duckdb.connect``, waiting up to ``wait`` seconds while another process
    holds the file (a server taking its first serving copy, another run)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return ibis.duckdb.connect(path, **settings)
        except Exception as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class ServingCopies:
    """Read-only copies of a DuckDB warehouse file, for servers.

    DuckDB lets one process write a file or several read it, never both at once.
    So a server never opens the file a run writes: it reads the latest *serving
    copy*, which every publish writes — once the live tables have changed, in
    the writer's process — while a server is registered. Copies live in
    ``.custlens-serving/`` beside the file; ``current`` names the latest, and is
    replaced atomically, so a reader opens the old copy or the new one, never
    half of one. A server's threads reopen when ``current`` changes.
    """

    KEEP = 2
    """Copies kept: the current one and the one before (a request may still read it)."""

    def __init__(self, file: Path) -> None:
        self.file = Path(file)
        self.folder = self.file.parent / ".custlens-serving"
        self.pointer = self.folder / f"{self.file.name}.current"

    # -- servers --------------------------------------------------------------

    def register(self) -> None:
        """Say that a server of this process reads the file: from now on every publish
        writes a copy (until :meth:`unregister`, or this process ends)."""
        self.folder.mkdir(exist_ok=True)
        self._marker = self.folder / f"server-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._marker.touch()

    def unregister(self) -> None:
        marker = getattr(self, "_marker", None)
        if marker is not None:
            marker.unlink(missing_ok=True)

    def wanted(self) -> bool:
        """Whether a live server is registered (markers of dead processes are removed)."""
        if not self.folder.is_dir():
            return False
        live = False
        for marker in self.folder.glob("server-*"):
            try:
                os.kill(int(marker.name.split("-")[1]), 0)
                live = True
            except (IndexError, ValueError, ProcessLookupError):
                marker.unlink(missing_ok=True)
            except PermissionError:  # another user's live process
                live = True
        return live

    def token(self) -> str | None:
        """The current copy's name: it changes with every copy written."""
        try:
            return self.pointer.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def current_or_new(self) -> Path:
        """The current copy; a new one from the file when there is none yet."""
        name = self.token()
        if name is not None and (self.folder / name).exists():
            return self.folder / name
        return self.refresh()

    def refresh(self) -> Path:
        """A new copy taken from the file, opened read-only (waits while a writer holds it).

        Raises:
            WarehouseError: the file stayed locked by another process.
        """
        import duckdb

        reader = duckdb.connect()
        try:
            for attempt in range(150):
                try:
                    reader.execute(f"ATTACH '{_quoted(self.file)}' AS custlens_live (READ_ONLY)")
                    break
                except duckdb.Error as exc:
                    if "lock" not in str(exc).lower() or attempt == 149:
                        raise WarehouseError(
                            f"cannot read {self.file} to serve it: {exc}"
                        ) from None
                    time.sleep(0.2)
            return self.write(reader, source="custlens_live")
        finally:
            reader.close()

    # -- writers --------------------------------------------------------------

    def write(self, raw: Any, source: str | None = None) -> Path:
        """Copy the database ``source`` of the DuckDB connection ``raw`` (its own, by
        default) into a new copy, make it current and drop copies older than :data:`KEEP`."""
        self.folder.mkdir(exist_ok=True)
        if source is None:
            source = raw.execute("SELECT current_database()").fetchone()[0]
        name = f"{self.file.stem}-{uuid.uuid4().hex[:12]}.duckdb"
        target = self.folder / name
        raw.execute(f"ATTACH '{_quoted(target)}' AS custlens_copy")
        try:
            raw.execute(f'COPY FROM DATABASE "{source}" TO custlens_copy')
        finally:
            raw.execute("DETACH custlens_copy")
        staged = self.pointer.with_suffix(f".{uuid.uuid4().hex[:8]}")
        staged.write_text(name, encoding="utf-8")
        os.replace(staged, self.pointer)
        copies = sorted(
            self.folder.glob(f"{self.file.stem}-*.duckdb"), key=lambda p: p.stat().st_mtime_ns
        )
        for old in copies[: -self.KEEP]:
            if old.name != name:
                old.unlink(missing_ok=True)
        return target


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _to_arrow(obj: Any) -> pa.Table:
    import pyarrow as pa

    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pl.DataFrame):
        return obj.to_arrow()
    return pa.Table.from_pandas(obj, preserve_index=False)


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
