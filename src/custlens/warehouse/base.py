"""The protocol every engine keeps, and what they share: reading tables, running
expressions and prepared queries, staging and publishing writes.

An engine module subclasses :class:`Warehouse` and overrides where its engine
does better (DuckDB runs kept SQL and binds parameters itself) or differently
(Spark writes folders of Parquet); everything here goes through Ibis alone.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from custlens.errors import NotFoundError, WarehouseError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

STAGE_PREFIX = "_stage_"

Build = Callable[[], "tuple[ir.Table, Sequence[ir.Scalar]]"]
"""What :meth:`Warehouse.run_prepared` calls once per key: an expression and its parameters."""


@dataclass(frozen=True)
class Prepared:
    """A query kept by :meth:`Warehouse.run_prepared`."""

    expr: ir.Table
    params: tuple[ir.Scalar, ...]
    sql: str | None
    """The engine's own SQL with a placeholder per parameter, when it binds them itself."""


class Warehouse:
    """A connection to the warehouse, with atomic multi-table writes."""

    kind: ClassVar[str] = ""
    """The engine's name: ``duckdb``, ``postgres`` or ``pyspark``."""

    def __init__(
        self,
        con: Any,
        url: str,
        location: Path | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.con = con
        self.url = url
        self.read_only = read_only
        self._location = location
        self._database: str | None = None
        self._opened: dict[str, ir.Table] = {}
        self._prepared: dict[Hashable, Prepared] = {}

    def close(self) -> None:
        """Release the connection."""
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

    def read(self, name: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The live table ``name`` as a Polars frame: every row, and every column or
        those of ``columns`` it has.

        Raises:
            NotFoundError: there is no such table.
        """
        table = self.table(name)
        if columns is not None:
            table = table.select(*[c for c in table.columns if c in columns])
        return self.to_polars(table)

    def _raw_table(self, name: str) -> ir.Table:
        if self._database:
            return self.con.table(name, database=self._database)
        return self.con.table(name)

    def sql_name(self, name: str) -> str:
        """The table ``name`` as a quoted identifier in DuckDB's dialect (cube SQL's dialect)."""
        quoted = quoted_name(name)
        return f'"{self._database}".{quoted}' if self._database else quoted

    def sql(self, text: str) -> ir.Table:
        """A query written in DuckDB's dialect, transpiled by SQLGlot to this engine's."""
        return self.con.sql(text, dialect="duckdb")

    def compile(self, expr: ir.Expr) -> str:
        """The SQL this engine runs for ``expr`` (remembered: see :mod:`.compiled`)."""
        from custlens.warehouse.compiled import cache_for

        return cache_for(self.kind).compile(expr, lambda e: str(self.con.compile(e)))

    def compile_with_constant(self, expr: ir.Table, column: str, value: str) -> str:
        """The SQL of ``expr.mutate(column=value)``, around the remembered SQL of ``expr``.

        A fact's rows carry the run's id: were it compiled into the fact's
        expression, no two runs would share SQL.
        """
        import sqlglot.expressions as sge

        if not value.isalnum():  # pasted as a literal: run ids are hex
            raise ValueError(f"not a plain constant: {value!r}")
        dialect = self.con.compiler.dialect
        name = sge.to_identifier(column, quoted=True).sql(dialect)
        inner = sge.to_identifier("_inner", quoted=True).sql(dialect)
        return f"SELECT {inner}.*, '{value}' AS {name} FROM ({self.compile(expr)}) AS {inner}"

    def interrupt(self) -> None:
        """Stop the query running on this connection, where the engine can (else nothing)."""

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
        """Execute an expression on this engine and return a Polars frame.

        Args:
            params: values of the expression's parameters (``ibis.param``), if any.
            sql: what :meth:`compile` gave for ``expr`` (without parameters) earlier:
                an engine that can runs it as it is instead of compiling the
                expression again (tens of milliseconds for a large query; callers
                that keep plans pass it).
        """
        return self.con.to_polars(expr, params=params)  # type: ignore[no-any-return]

    def run_prepared(self, key: Hashable, build: Build, values: Sequence[str]) -> pl.DataFrame:
        """Execute a query with string parameters, compiled once per ``key``.

        A query asked again and again with other values (a profile's per-customer reads)
        pays Ibis's compilation once: ``build()`` returns the expression and its
        parameters (``ibis.param("string")``, in the order of ``values``) and is called
        the first time ``key`` is seen, then again only after this connection writes
        (:meth:`stage`, :meth:`publish`, :meth:`discard`, :meth:`write_tables`). The key
        must name everything the expression depends on besides the parameters (table,
        columns, how many parameters, any constant).

        An engine that binds parameters itself (DuckDB) compiles the SQL once with a
        placeholder per parameter and runs it with ``values`` bound: they never become
        SQL text. Other engines keep the expression and bind the values through Ibis on
        each call. The frame is the one :meth:`to_polars` returns for the same
        expression and values.

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
            for param in params:
                if not param.type().is_string():
                    raise TypeError(f"run_prepared takes string parameters, not {param.type()}")
            prepared = self._prepared[key] = self._prepare(expr.as_table(), tuple(params))
        if len(values) != len(prepared.params):
            raise ValueError(
                f"prepared query {key!r} takes {len(prepared.params)} values, got {len(values)}"
            )
        if prepared.sql is None:
            return self.to_polars(prepared.expr, dict(zip(prepared.params, values, strict=True)))
        return self._run_bound(prepared, values)

    def rows_where(self, name: str, column: str, values: Sequence[str]) -> pl.DataFrame:
        """The rows of the live table ``name`` whose ``column`` equals one of ``values``
        (each value once; none gives no rows).

        For reading one customer's rows from a large table (a profile): a prepared query
        per (table, column, number of values), the values bound as parameters. Several
        values are read as a ``UNION ALL`` of one equality each, which DuckDB answers
        from the matching row groups (an ``IN`` list scans them all).

        Raises:
            NotFoundError: there is no such table.
        """
        values = list(dict.fromkeys(values))

        def build() -> tuple[ir.Table, list[ir.Scalar]]:
            import ibis

            t = self.table(name)
            params = [ibis.param("string") for _ in values]
            parts = [t.filter(t[column] == p) for p in params]
            return (parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)), params

        if not values:
            return self.to_polars(self.table(name).limit(0))
        return self.run_prepared(("rows_where", name, column, len(values)), build, values)

    def _prepare(self, expr: ir.Table, params: tuple[ir.Scalar, ...]) -> Prepared:
        """The query to keep; with ``sql`` when the engine binds the parameters itself."""
        return Prepared(expr, params, None)

    def _run_bound(self, prepared: Prepared, values: Sequence[str]) -> pl.DataFrame:
        raise NotImplementedError(f"{self.kind} keeps no SQL of its own")

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
        if isinstance(obj, pl.DataFrame):
            obj = obj.to_arrow()
        self.con.create_table(staged, obj, overwrite=True)
        return self._raw_table(staged)

    def _put(self, name: str, obj: Any) -> None:
        """Stage ``obj`` as :meth:`stage` does, for a writer with no use for the table."""
        self.stage(name, obj)

    def publish(self, names: Iterable[str]) -> None:
        """Replace each live table by its staging table, all at once where the engine allows."""
        raise NotImplementedError

    def discard(self, names: Iterable[str]) -> None:
        """Drop staging tables left by an interrupted write."""
        self._forget()
        for name in names:
            self.con.drop_table(STAGE_PREFIX + name, force=True)

    def write_tables(self, tables: Mapping[str, Any]) -> None:
        """Replace every given table atomically: all are written, or none is.

        Args:
            tables: name → Ibis table, Polars frame or Arrow table.
        """
        self._forget()
        staged: list[str] = []
        try:
            for name, obj in tables.items():
                self._put(name, obj)
                staged.append(name)
            self.publish(staged)
        except Exception as exc:
            self.discard(staged)
            if isinstance(exc, WarehouseError):
                raise
            raise WarehouseError(f"writing {', '.join(tables)} failed: {exc}") from exc


def quoted_name(name: str) -> str:
    """A table or column name as a quoted identifier in DuckDB's dialect."""
    return '"' + name.replace('"', '""') + '"'


def swap_statements(names: Iterable[str]) -> list[str]:
    """The SQL that replaces each live table by its staging table (run in one transaction)."""
    statements = []
    for name in names:
        statements.append(f'DROP TABLE IF EXISTS "{name}"')
        statements.append(f'ALTER TABLE "{STAGE_PREFIX}{name}" RENAME TO "{name}"')
    return statements


def to_arrow(obj: Any) -> pa.Table:
    """An Arrow table of a Polars, pandas or Arrow frame."""
    import pyarrow as pa

    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pl.DataFrame):
        return obj.to_arrow()
    return pa.Table.from_pandas(obj, preserve_index=False)
