"""How a source's problems are named and reported: where a value came from (a file
and its lines, a query's rows) and the one ContractError that lists every problem."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from custlens.errors import ContractError
from custlens.sources import contract
from custlens.sources.contract import ColumnType, Table

if TYPE_CHECKING:
    pass


def expected_of(type_: ColumnType) -> str:
    noun, spelling = EXPECTED[type_]
    return f"{noun}; expected {spelling}" if spelling else noun


class Origin(str):
    """An origin label (a plain ``str`` to callers) that knows how to name a row."""

    def row_label(self, row: int) -> str:
        return f"row {row}"


class CsvOrigin(Origin):
    """A CSV file: rows are also named by their line in the file."""

    lines: pl.Series

    def __new__(cls, path: str, lines: pl.Series) -> CsvOrigin:
        origin = super().__new__(cls, path)
        origin.lines = lines
        return origin

    def row_label(self, row: int) -> str:
        if 1 <= row <= len(self.lines):
            return f"row {row} (line {self.lines[row - 1]})"
        return f"row {row}"


class QueryOrigin(Origin):
    """A database table: rows are numbered in the order the query returned them."""

    def row_label(self, row: int) -> str:
        return f"row {row} of the query result"


def row_label(origin: str, row: int) -> str:
    return origin.row_label(row) if isinstance(origin, Origin) else f"row {row}"


@dataclass(frozen=True)
class Problem:
    message: str
    row: int | None = None
    column: str | None = None
    value: object = None
    more: int = 0
    """Further rows broken by the same rule and not listed (past :data:`LISTED`)."""


LISTED = 20
"""Problems an error lists; the rest are counted ("and 12 more")."""


def _where(origin: str, problem: Problem) -> str:
    parts = []
    if problem.row is not None:
        parts.append(row_label(origin, problem.row))
    if problem.column is not None:
        parts.append(f"column {problem.column!r}")
    return ", ".join(parts)


def contract_error(origin: str, problems: list[Problem]) -> ContractError:
    """One ContractError for all problems; its row/column/value are the first problem's."""
    first = problems[0]
    total = sum(1 + p.more for p in problems)
    if total == 1:
        where = ", ".join(p for p in (str(origin), _where(origin, first)) if p)
        message = f"{where}: {first.message}"
    else:
        # Every rule's rows in order, rule after rule: the first LISTED are shown.
        lines = [f"{origin}: {total:,} problems"]
        for problem in problems[:LISTED]:
            where = _where(origin, problem)
            lines.append(f"  {where}: {problem.message}" if where else f"  {problem.message}")
        shown_count = min(len(problems), LISTED)
        if total > shown_count:
            lines.append(f"  and {total - shown_count:,} more")
        message = "\n".join(lines)
    # The message is composed here because a CSV row is named with its line too,
    # which ContractError's own "row N" prefix cannot say.
    error = ContractError(message)
    error.origin = str(origin)
    error.row = first.row
    error.column = first.column
    error.value = first.value
    return error


def shown(value: object) -> str:
    """A value as a person would recognise it in their data."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def shown_bound(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def known_tables() -> str:
    return ", ".join(sorted(contract.TABLES))


def contract_table(name: str, origin: str | None = None) -> Table:
    spec = contract.TABLES.get(name)
    if spec is None:
        raise ContractError(
            f"unknown table {name!r}; known tables: {known_tables()}", origin=origin
        )
    return spec


EXPECTED: dict[ColumnType, tuple[str, str]] = {
    # type: (what a value must be, the accepted spellings)
    "string": ("text", ""),
    "int": ("a whole number", ""),
    "float": ("a number", ""),
    "date": ("a date", "YYYY-MM-DD"),
    "month": ("a month", "YYYY-MM or a date YYYY-MM-DD"),
    "timestamp": ("a timestamp", "YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][+HH:MM] or a date"),
    "bool": ("a boolean", "true/false, yes/no or 1/0"),
}


# An internal column name; the prefix keeps it clear of any user column.
LINE = "__custlens_line"
