"""Arithmetic over named values: derived metrics and ``number`` measures.

An expression such as ``(revenue - cost) / customers.count`` is parsed by SQLGlot
and evaluated into an Ibis expression over columns the caller supplies, so it
never becomes SQL text. Only + - * /, unary minus, parentheses, numbers and
names are allowed; division by zero (or null) gives null, as every ratio in
custlens does (DESIGN.md §3).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from custlens.errors import ConfigError
from custlens.numeric import ratio

if TYPE_CHECKING:
    import ibis.expr.types as ir


@lru_cache(maxsize=512)
def _parse(text: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text, dialect="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"cannot read expression {text!r}: {str(exc).splitlines()[0]}") from None
    for node in tree.walk():
        if not isinstance(
            node,
            exp.Add
            | exp.Sub
            | exp.Mul
            | exp.Div
            | exp.Neg
            | exp.Paren
            | exp.Literal
            | exp.Column
            | exp.Identifier,
        ):
            raise ConfigError(
                f"expression {text!r}: only + - * / ( ) numbers and names are allowed, "
                f"not {node.sql(dialect='duckdb')!r}"
            )
    return tree


def _name(column: exp.Column) -> str:
    return ".".join(part.name for part in column.parts)


def names_in(text: str) -> list[str]:
    """The names an expression uses, in order of first use (``cube.measure`` kept dotted)."""
    if not text.strip():
        return []
    try:
        tree = _parse(text)
    except ConfigError:
        return []
    seen: dict[str, None] = {}
    for column in tree.find_all(exp.Column):
        seen[_name(column)] = None
    return list(seen)


def evaluate(text: str, value_of: Callable[[str], ir.NumericValue]) -> ir.NumericValue:
    """The expression as an Ibis value; ``value_of(name)`` gives each name's column."""
    import ibis  # here: reading the model (names_in) needs no Ibis

    def walk(node: exp.Expression) -> ir.NumericValue:
        if isinstance(node, exp.Paren):
            return walk(node.this)
        if isinstance(node, exp.Neg):
            return -walk(node.this)
        if isinstance(node, exp.Literal):
            return ibis.literal(float(node.this), "float64")
        if isinstance(node, exp.Column):
            return value_of(_name(node))
        left, right = walk(node.args["this"]), walk(node.args["expression"])
        if isinstance(node, exp.Add):
            return left + right
        if isinstance(node, exp.Sub):
            return left - right
        if isinstance(node, exp.Mul):
            return left * right
        return ratio(left, right)

    return walk(_parse(text))
