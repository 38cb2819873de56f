"""Read source tables, check them against the data contract, load them into the warehouse.

Three steps, each usable on its own::

    frame, origin = read_source("data/customers.csv", "customers")  # raw: CSV cells are text
    typed = validate("customers", frame, origin)                      # typed, or ContractError
    load_sources(warehouse, {"customers": "data/customers.csv"})      # all tables or none

The steps live in their own modules: :mod:`~custlens.sources.read` (CSV, Parquet,
Postgres, frames), :mod:`~custlens.sources.convert` (each column to its contract
type), :mod:`~custlens.sources.validate` (the contract's rules, one function per
kind) and :mod:`~custlens.sources.problems` (naming the row and reporting); this
module finds a folder's files and loads them.

Every check is a Polars expression over a whole column; only the first failing
row of each check is then looked up to name it. A source with problems is
rejected whole with one :class:`~custlens.errors.ContractError`. Its message
names the source, the row (for CSV also the file line), the column, the
offending value and what was expected::

    lines.csv, row 2 (line 3), column 'discount': negative value -10.0; expected >= 0

When several checks fail, one error lists each on its own line::

    lines.csv: 2 problems
      row 2 (line 3), column 'kind': 'monthly' is not one of 'recurring', 'one_time', 'usage'
      row 1 (line 2), column 'discount': negative value -5.0; expected >= 0

Lines and transactions must name customers that ``customers`` holds, when
customers are loaded (:mod:`custlens.sources.references`).

CSV cells are read as text and stripped of surrounding whitespace; an empty
cell is null, and a row whose cells are all empty (a blank line) is skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from custlens.errors import ContractError, ContractWarning
from custlens.sources import contract
from custlens.sources.checksums import CHECKSUMS_TABLE, merged

if TYPE_CHECKING:
    import pandas
    import pyarrow as pa
from custlens.sources.convert import PLAIN, POLARS_TYPES, Reading
from custlens.sources.problems import known_tables
from custlens.sources.read import FILE_SUFFIXES, read_source
from custlens.sources.references import check_customers
from custlens.sources.validate import validate

__all__ = ["POLARS_TYPES", "find_sources", "load_sources", "read_source", "validate"]


def renamed(frame: Any, mapping: Mapping[str, str], origin: str, table: str) -> Any:
    """``frame`` with its columns renamed as ``mapping`` says (source name → contract
    name); a name the frame lacks, or a contract name it already has, is an error."""
    columns = list(frame.columns)
    absent = [source for source in mapping if source not in columns]
    if absent:
        raise ContractError(
            f"the mapping names column{'s' if len(absent) > 1 else ''} "
            f"{', '.join(map(repr, absent))}, which the {table} source does not have "
            f"(its columns: {', '.join(map(repr, columns))})",
            origin=origin,
        )
    taken = [t for s, t in mapping.items() if t in columns and t != s]
    if taken:
        raise ContractError(
            f"the mapping renames a column to {', '.join(map(repr, taken))}, which the source "
            "already has",
            origin=origin,
        )
    if isinstance(frame, pl.DataFrame):
        return frame.rename(dict(mapping))
    import pyarrow as pa  # only for a frame that is not Polars (0.15 s to import)

    if isinstance(frame, pa.Table):
        return frame.rename_columns([mapping.get(c, c) for c in columns])
    return frame.rename(columns=dict(mapping))  # pandas


class TableWriter(Protocol):
    """What :func:`load_sources` needs of a warehouse (``custlens.warehouse.Warehouse``)."""

    def write_tables(self, tables: dict[str, pl.DataFrame], /) -> None: ...


def find_sources(directory: Path) -> dict[str, Path]:
    """Every ``<table>.csv`` or ``<table>.parquet`` in a folder, by contract table name.

    Other files (a README, hidden files) are ignored.

    Raises:
        ContractError: the folder does not exist, a CSV/Parquet file's name is
            not a contract table (the error lists the known tables), or two
            files are for one table.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ContractError("source folder not found", origin=str(directory))
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in FILE_SUFFIXES:
            continue
        if not path.is_file():
            continue
        table = path.stem
        if table not in contract.TABLES:
            raise ContractError(
                f"{path.name!r} is not a source table; name a file after its table "
                f"(<table>.csv or <table>.parquet), known tables: {known_tables()}",
                origin=str(path),
            )
        if table in found:
            raise ContractError(
                f"two files for table {table!r}: {found[table].name} and {path.name}; keep one",
                origin=str(directory),
            )
        found[table] = path
    return dict(sorted(found.items()))


def load_sources(
    warehouse: TableWriter,
    items: Mapping[str, str | Path | pl.DataFrame | pa.Table | pandas.DataFrame],
    *,
    allow_empty: bool = False,
    existing_customers: Callable[[], pl.DataFrame | None] = lambda: None,
    create_missing_customers: bool = False,
    checksums: Callable[[], pl.DataFrame | None] | None = None,
    mappings: Mapping[str, Mapping[str, str]] | None = None,
    delimiter: str | None = None,
    reading: Reading = PLAIN,
    encoding: str | None = None,
) -> dict[str, int]:
    """Read and validate every source, then write them all in one atomic call.

    Nothing is written unless every item is valid: ``warehouse.write_tables``
    is called once with ``{"src_<table>": typed frame, ...}``.

    Args:
        warehouse: a ``custlens.warehouse.Warehouse`` (anything with ``write_tables``).
        items: contract table name → path or URL (see :func:`read_source`) or a frame.
        allow_empty: load a file that has a header and no rows (it empties the table);
            without it, such a file is an error.
        existing_customers: the customers loaded before, for the referential check
            of lines and transactions (:mod:`custlens.sources.references`).
        create_missing_customers: add the customers that lines or transactions name
            and customers lacks, instead of refusing them.
        checksums: the checksums stored by earlier loads (or None): when given, the
            sources' checksums (:mod:`custlens.sources.checksums`) are written with them.
        mappings: per table, the source's column names and the contract names they
            mean (``{"subscription_lines": {"Customer ID": "customer_id"}}``).
        delimiter: CSV files' field separator (default: sniffed, see :func:`read_source`).
        reading: how the sources write dates and amounts (``--date-format``, ``--decimal``).
        encoding: CSV files' text encoding (default: UTF-8, or UTF-16 by its mark).

    Returns:
        Rows loaded per table.

    Raises:
        ContractError: an unknown table name (listing the known ones) or any
            invalid source; when several sources are invalid, one error
            reports each of them.
    """
    unknown = [name for name in items if name not in contract.TABLES]
    if unknown:
        raise ContractError(
            f"unknown table{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known tables: {known_tables()}"
        )
    typed: dict[str, pl.DataFrame] = {}
    origins: dict[str, str] = {}
    errors: list[ContractError] = []
    for table, item in items.items():
        try:
            if isinstance(item, (str, Path)):
                frame, origin = read_source(item, table, delimiter, encoding)
                if frame.height == 0 and not allow_empty:
                    raise ContractError(
                        "the file has a header and no rows; loading it would empty "
                        f"{contract.TABLES[table].warehouse_name} (--allow-empty to mean that)",
                        origin=origin,
                    )
            else:
                frame, origin = item, f"<{table} frame>"
            if mappings and mappings.get(table):
                frame = renamed(frame, mappings[table], origin, table)
            typed[table] = validate(table, frame, origin, reading)
            origins[table] = origin
            extras = [c for c in typed[table].columns if contract.TABLES[table].column(c) is None]
            for name in extras:
                warnings.warn(
                    f"{origin}: extra column {name!r} is kept as it is (not part of the "
                    f"{table} contract; a misspelt column name?)",
                    ContractWarning,
                    stacklevel=2,
                )
        except ContractError as exc:
            errors.append(exc)
    if not errors:
        errors = check_customers(
            typed, origins, existing_customers, create_missing=create_missing_customers
        )
    if len(errors) == 1:
        raise errors[0]
    if errors:
        combined = ContractError(
            f"{len(errors)} sources are invalid; nothing was loaded:\n"
            + "\n".join(str(e) for e in errors)
        )
        combined.origin, combined.row = errors[0].origin, errors[0].row
        combined.column, combined.value = errors[0].column, errors[0].value
        raise combined
    tables = {contract.TABLES[t].warehouse_name: f for t, f in typed.items()}
    if checksums is not None:
        tables[CHECKSUMS_TABLE] = merged(checksums(), typed)
    warehouse.write_tables(tables)
    return {table: frame.height for table, frame in typed.items()}
