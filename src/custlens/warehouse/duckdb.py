"""DuckDB, the embedded default: one file, atomic swaps in a transaction, kept SQL run
as it is, parameters bound by DuckDB, and serving copies so a server reads while a
run writes."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from custlens.errors import NotFoundError, WarehouseError
from custlens.warehouse.base import (
    STAGE_PREFIX,
    Prepared,
    Warehouse,
    quoted_name,
    swap_statements,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir


def open_warehouse(
    url: str,
    root: Path,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    serving: bool = False,
) -> DuckDBWarehouse:
    """Open ``duckdb:///file.duckdb`` (relative to ``root``) or ``duckdb://`` (in memory)."""
    from custlens.config import memory_mb

    path = _duckdb_path(url, root)
    settings: dict[str, Any] = {}
    if memory_limit is not None:
        settings["memory_limit"] = f"{memory_mb(memory_limit)}MiB"
    if threads is not None:
        settings["threads"] = threads
    if serving and path:
        copy = ServingCopies(Path(path)).current_or_new()
        return DuckDBWarehouse(_open(str(copy), settings, read_only=True), url, read_only=True)
    warehouse = DuckDBWarehouse(_connect(path or ":memory:", settings), url)
    warehouse.file = Path(path) if path else None
    return warehouse


class DuckDBWarehouse(Warehouse):
    """A DuckDB database (file or memory) through Ibis, with DuckDB's fast paths.

    The connection is DuckDB's own; the Ibis backend over it is made when something
    first asks for an expression. A command that only reads tables, lists them or
    runs kept SQL never imports Ibis (0.4 s of every such command: Ibis brings a
    compiler for each of its SQL dialects).
    """

    kind = "duckdb"

    def __init__(self, raw: Any, url: str, *, read_only: bool = False) -> None:
        self._ibis: Any = None
        super().__init__(None, url, read_only=read_only)
        self.raw = raw
        """The DuckDB connection (``duckdb.DuckDBPyConnection``)."""
        self.file: Path | None = None
        """The database file, when this connection writes one (serving copies need it)."""
        self._registered: set[str] = set()
        """SQL texts whose in-memory tables are registered on this connection."""

    @property
    def con(self) -> Any:
        """The Ibis backend over :attr:`raw`, made on first use."""
        if self._ibis is None:
            self._ibis = _backend().from_connection(self.raw)
        return self._ibis

    @con.setter
    def con(self, value: Any) -> None:
        self._ibis = value

    def close(self) -> None:
        self.raw.close()

    def list_tables(self) -> list[str]:
        names = self.raw.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name = current_schema() UNION ALL "
            "SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
            " AND schema_name = current_schema() AND NOT internal"
        ).fetchall()
        return sorted(n for (n,) in names if not n.startswith((STAGE_PREFIX, "ibis_")))

    def read(self, name: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        import duckdb

        if name.startswith(STAGE_PREFIX):
            raise NotFoundError(f"no table {name!r} in the warehouse")
        wanted = "*"
        if columns is not None:  # those it has: DuckDB's COLUMNS with a lambda
            names = ", ".join(_string_literal(c) for c in columns)
            wanted = f"COLUMNS(c -> c IN ({names}))"
        try:
            return _frame(self.raw.sql(f"SELECT {wanted} FROM {quoted_name(name)}"))
        except duckdb.CatalogException:
            raise NotFoundError(f"no table {name!r} in the warehouse") from None

    def interrupt(self) -> None:
        self.raw.interrupt()

    def rows_where(self, name: str, column: str, values: Sequence[str]) -> pl.DataFrame:
        # The same UNION ALL of equalities in DuckDB's own SQL, so a profile needs no
        # query compiler. The values are quoted string literals, not bound parameters:
        # binding any Python value makes DuckDB's client import pandas (0.3 s).
        import duckdb

        values = list(dict.fromkeys(values))
        if name.startswith(STAGE_PREFIX):
            raise NotFoundError(f"no table {name!r} in the warehouse")
        rows = f"SELECT * FROM {quoted_name(name)} WHERE {quoted_name(column)} = "
        sql = " UNION ALL ".join(rows + _string_literal(v) for v in values) or f"{rows}NULL"
        try:
            return _frame(self.raw.sql(sql))
        except duckdb.CatalogException:
            raise NotFoundError(f"no table {name!r} in the warehouse") from None

    def scalar(self, expr: ir.Scalar) -> Any:
        # Through the Arrow path of to_polars: Ibis's own scalar execution imports
        # pandas (0.3 s of every run) to convert one value.
        return self.to_polars(expr.as_table()).item()

    def to_polars(
        self,
        expr: ir.Table,
        params: Mapping[ir.Scalar, Any] | None = None,
        *,
        sql: str | None = None,
    ) -> pl.DataFrame:
        if params is not None:
            return super().to_polars(expr, params)
        if sql is None:
            sql = self.compile(expr)
        # What Ibis's own execution does around the SQL: register the in-memory
        # tables the expression names (once: the expression keeps them alive),
        # then type the result as it promises.
        if sql not in self._registered:
            self.con._run_pre_execute_hooks(expr)
            if len(self._registered) > 4096:  # plans come and go: keep it bounded
                self._registered.clear()
            self._registered.add(sql)
        return _typed_rows(expr, self.raw.sql(sql))

    def _prepare(self, expr: ir.Table, params: tuple[ir.Scalar, ...]) -> Prepared:
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
            return Prepared(expr, params, None)
        return Prepared(expr, params, sql)

    def _run_bound(self, prepared: Prepared, values: Sequence[str]) -> pl.DataFrame:
        assert prepared.sql is not None
        if not values:
            return _typed_rows(prepared.expr, self.raw.sql(prepared.sql))
        result = self.raw.execute(prepared.sql, list(values)).to_arrow_table()
        return _typed(prepared.expr, result)

    def stage(self, name: str, obj: Any, *, sql: str | None = None) -> ir.Table:
        self._forget()
        staged = STAGE_PREFIX + name
        if sql is None:
            import ibis

            # A frame becomes an in-memory table (see _backend), an expression stays one.
            obj = obj if isinstance(obj, ibis.Table) else ibis.memtable(obj)
            sql = str(self.con.compile(obj))
        self._create(staged, obj, sql)
        return self._raw_table(staged)

    def _put(self, name: str, obj: Any) -> None:
        if not _plain(obj):
            super()._put(name, obj)
            return
        # A frame of plain column types (the sources a load writes) goes to DuckDB as
        # Parquet written by Polars, whose types DuckDB reads as Ibis would declare them:
        # a load needs no Ibis (0.3 s to import and compile), and the rows are copied
        # once, not into an in-memory table first.
        self._forget()
        staged = quoted_name(STAGE_PREFIX + name)
        with _parquet_rows(obj) as rows:
            self.raw.execute(f"CREATE OR REPLACE TABLE {staged} AS {rows}")

    def discard(self, names: Iterable[str]) -> None:
        self._forget()
        for name in names:
            self.raw.execute(f"DROP TABLE IF EXISTS {quoted_name(STAGE_PREFIX + name)}")

    def _create(self, staged: str, expr: ir.Table, sql: str) -> None:
        """``CREATE TABLE`` with the column types of ``expr``'s schema, filled from ``sql``.

        What Ibis's ``create_table`` does, minus compiling the expression again:
        declaring the columns first keeps each table's types exactly as Ibis
        promised them (an all-null column, a decimal), whatever the query infers.
        """
        schema = expr.schema()
        if schema.null_fields:  # Ibis's own error names them
            self.con.create_table(staged, expr, overwrite=True)
            return
        self.con._run_pre_execute_hooks(expr)
        _create_filled(self.raw, staged, schema, sql)

    def publish(self, names: Iterable[str]) -> None:
        self._forget()
        names = list(names)
        if not names:
            return
        raw = self.raw
        raw.execute("BEGIN TRANSACTION")
        try:
            for statement in swap_statements(names):
                raw.execute(statement)
            raw.execute("COMMIT")
        except Exception:
            raw.execute("ROLLBACK")
            raise
        if self.file is not None:
            copies = ServingCopies(self.file)
            if copies.wanted():
                copies.write(raw)


@functools.cache
def _backend() -> Any:
    """Ibis's DuckDB backend, handing in-memory tables (a model's predictions, a query's
    spine of periods) to DuckDB as Parquet.

    Ibis registers an in-memory table as a PyArrow dataset, and DuckDB's client imports
    pandas to read any Python object: 0.3 s of every run and of every query with a
    spine. Written by Polars to a file and read back by DuckDB, the table arrives
    without either. It is a temporary table of the connection, which lives as long as
    the connection, as Ibis's registered tables do (Ibis releases them only at exit).
    """
    import ibis
    from ibis.backends.duckdb import Backend

    class ParquetMemtables(Backend):  # type: ignore[misc]
        def _register_in_memory_table(self, op: Any) -> None:
            schema = op.schema
            frame = op.data.to_polars(schema)
            if schema.null_fields or not isinstance(frame, pl.DataFrame):
                super()._register_in_memory_table(op)  # a column of nulls: Ibis's way
                return
            with _parquet_rows(frame) as rows:
                _create_filled(self.con, op.name, schema, rows, temporary=True)

        # Ibis reads DESCRIBE's rows through PyArrow: importing it costs a query 0.15 s.
        def get_schema(
            self, table_name: str, *, catalog: str | None = None, database: str | None = None
        ) -> Any:
            import duckdb
            import ibis.common.exceptions as exc
            import sqlglot as sg

            table = sg.table(table_name, db=database, catalog=catalog, quoted=True)
            try:
                return self._described(table.sql("duckdb"))
            except duckdb.CatalogException:
                raise exc.TableNotFound(table_name) from None

        def _get_schema_using_query(self, query: str) -> Any:
            return self._described(f"({query})")

        def _described(self, relation: str) -> Any:
            rows = self.con.sql(f"DESCRIBE {relation}").fetchall()
            to_type = self.compiler.type_mapper.from_string
            return ibis.schema({r[0]: to_type(r[1], nullable=r[2] == "YES") for r in rows})

        def _make_memtable_finalizer(self, name: str) -> Any:
            return None  # Ibis would drop it at exit, from a cursor that cannot see it

    return ParquetMemtables


@contextlib.contextmanager
def _parquet_rows(frame: pl.DataFrame) -> Iterator[str]:
    """A query of ``frame``'s rows for DuckDB: the frame written by Polars to a Parquet
    file, which lives as long as the context (DuckDB copies the rows out of it)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="custlens-") as folder:
        path = Path(folder) / "frame.parquet"
        frame.write_parquet(path)
        yield f"SELECT * FROM read_parquet({_string_literal(str(path))})"


def _create_filled(raw: Any, name: str, schema: Any, rows: str, *, temporary: bool = False) -> None:
    """Create (or replace) the table ``name`` with the column types of the Ibis
    ``schema`` and fill it from the query ``rows``: declaring the columns first keeps
    the types exactly as Ibis promised them (a decimal, a date), whatever the query
    infers."""
    import sqlglot as sg
    import sqlglot.expressions as sge

    table = sg.table(name, quoted=True)
    create = sge.Create(
        kind="TABLE",
        this=sge.Schema(this=table, expressions=schema.to_sqlglot_column_defs("duckdb")),
        properties=sge.Properties(expressions=[sge.TemporaryProperty()]) if temporary else None,
        replace=True,
    )
    columns = ", ".join(sge.to_identifier(c, quoted=True).sql("duckdb") for c in schema)
    raw.execute(create.sql("duckdb"))
    raw.execute(f"INSERT INTO {table.sql('duckdb')} ({columns}) {rows}")


def _typed_rows(expr: ir.Table, relation: Any) -> pl.DataFrame:
    """A DuckDB relation's rows typed as the expression promises, by Ibis's Polars rules
    (the Arrow C stream interface: no PyArrow)."""
    return expr.__polars_result__(_frame(relation))  # type: ignore[no-any-return]


def _typed(expr: ir.Table, arrow: Any) -> pl.DataFrame:
    """DuckDB's Arrow result typed as the expression promises (what Ibis does).

    Only for a query with bound values: DuckDB's client imports PyArrow and pandas
    for those anyway. Every other result comes to Polars by the Arrow C stream
    interface, typed by Ibis's Polars rules, without importing PyArrow (0.15 s)."""
    arrow = expr.__pyarrow_result__(arrow, data_mapper=_arrow_types())
    return expr.__polars_result__(pl.from_arrow(arrow))  # type: ignore[no-any-return]


@functools.cache
def _arrow_types() -> Any:
    """Ibis's ``DuckDBPyArrowData``, defined here: importing Ibis's module imports
    pandas (0.3 s of every `custlens query`) for a class that needs only PyArrow."""
    import pyarrow as pa
    from ibis.formats.pyarrow import PyArrowData

    class DuckDBArrowData(PyArrowData):  # type: ignore[misc]
        @classmethod
        def convert_scalar(cls, scalar: Any, dtype: Any) -> Any:
            if dtype.is_null():
                return pa.scalar(None)
            return super().convert_scalar(scalar, dtype)

        @classmethod
        def convert_column(cls, column: Any, dtype: Any) -> Any:
            if dtype.is_null():
                return pa.nulls(len(column))
            return super().convert_column(column, dtype)

    return DuckDBArrowData


_PLAIN_TYPES = (
    pl.String,
    pl.Date,
    pl.Boolean,
    pl.Float64,
    pl.Float32,
    pl.Int64,
    pl.Int32,
    pl.Int16,
    pl.Int8,
    pl.Decimal,
)


def _plain(obj: Any) -> bool:
    """Whether ``obj`` is a Polars frame whose every column DuckDB reads back from
    Parquet with the type Ibis gives it (a timestamp in microseconds without a zone
    included; a column of nulls, a nested or a categorical column not)."""
    if not isinstance(obj, pl.DataFrame):
        return False
    return all(
        isinstance(dtype, _PLAIN_TYPES)
        or (isinstance(dtype, pl.Datetime) and dtype.time_unit == "us" and not dtype.time_zone)
        for dtype in obj.schema.values()
    )


def _frame(relation: Any) -> pl.DataFrame:
    """A DuckDB relation's rows as a Polars frame, through the Arrow C stream
    interface: the same frame as through PyArrow, without importing it (0.13 s)."""
    return pl.DataFrame(relation)


def _string_literal(value: str) -> str:
    """``value`` as a DuckDB string expression: in standard SQL strings only the quote
    is special (doubled); a NUL, which a literal cannot hold, is spliced in as chr(0)."""
    quoted = "'" + value.replace("'", "''") + "'"
    return quoted.replace("\x00", "' || chr(0) || '")


def _duckdb_path(url: str, root: Path) -> str:
    """The file of a ``duckdb://`` URL, relative paths taken from ``root``; "" in memory."""
    path = url[len("duckdb://") :].lstrip("/") if url.startswith("duckdb://") else ""
    if url.startswith("duckdb:////"):
        path = "/" + path
    if path and not os.path.isabs(path):
        path = str(root / path)
    return path


def _open(path: str, settings: dict[str, Any], *, read_only: bool = False) -> Any:
    """A DuckDB connection set up as Ibis sets up its own (``ibis.duckdb.connect``): the
    session in UTC, and no Python variables read as tables."""
    import duckdb

    if path != ":memory:":
        path = str(Path(path).absolute())
    raw = duckdb.connect(path, config=settings, read_only=read_only)
    raw.execute("SET TimeZone = 'UTC'")
    raw.execute("SET python_enable_replacements = false")
    return raw


def _connect(path: str, settings: dict[str, Any], wait: float = 10.0) -> Any:
    """:func:`_open`, waiting up to ``wait`` seconds while another process holds the
    file (a server taking its first serving copy, another run)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return _open(path, settings)
        except Exception as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                raise WarehouseError(_locked(path, str(exc), wait)) from None
            time.sleep(0.2)


def _locked(path: str, message: str, wait: float) -> str:
    """What to tell a person whose command found the warehouse file held by another
    process (DuckDB's own message names a lock and a PID)."""
    pid = re.search(r"PID (\d+)", message)
    holder = f"process {pid.group(1)}" if pid else "another process"
    return (
        f"{path} is in use by {holder} (another `custlens run` or `load`, or a program "
        f"with the file open); waited {wait:g} s. Let it finish, or stop it, and try "
        "again — a `custlens serve` never holds it: it reads a serving copy"
    )


# -- serving a DuckDB file while a run writes it ---------------------------


def serving_copies(url: str, root: Path) -> ServingCopies | None:
    """The serving copies of the warehouse at ``url``: None unless it is a DuckDB file
    (Postgres and Spark let a server read while a run writes)."""
    if url.split(":", 1)[0].lower() != "duckdb":
        return None
    path = _duckdb_path(url, root)
    return ServingCopies(Path(path)) if path else None


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
            if not self.file.exists():
                # Nothing loaded yet: serve an empty database until a load or run writes one.
                return self.write(reader, source="memory")
            for attempt in range(150):
                try:
                    reader.execute(
                        f"ATTACH {_string_literal(str(self.file))} AS custlens_live (READ_ONLY)"
                    )
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
        raw.execute(f"ATTACH {_string_literal(str(target))} AS custlens_copy")
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
