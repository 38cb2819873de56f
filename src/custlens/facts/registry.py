"""The fact registry: each fact table, the tables it reads, and their order.

A fact is a pure function from a :class:`FactContext` (Ibis tables, the
as-of date, the config) to an Ibis table. It does no I/O and knows no
backend. Inputs are named as they are in the warehouse: sources as
``src_<table>`` (see ``custlens.sources.contract``), facts by their name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from custlens.config import Config
from custlens.currency import DEFAULT
from custlens.errors import NotFoundError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import polars as pl


@dataclass(frozen=True)
class FactContext:
    """What a fact may read: the available tables, the as-of date and the config."""

    tables: Mapping[str, ir.Table]
    as_of: date
    """The last day of the as-of month; nothing dated after it counts."""
    config: Config = field(default_factory=Config)
    collect: Callable[[ir.Table], pl.DataFrame] | None = None
    """Executes a small table on the warehouse (set by the pipeline). Only for a fact
    that fits a model in NumPy on a per-customer table aggregated in the engine
    (DESIGN.md §1); every other fact stays a pure expression."""
    notes: dict[str, Any] = field(default_factory=dict)
    """What a fact reports about itself (fitted parameters); the run record keeps it."""
    currency: str = DEFAULT
    """The reporting currency (ISO 4217) the source amounts are in
    (:mod:`custlens.facts.exchange` converted the others)."""

    def materialise(self, table: ir.Table) -> pl.DataFrame:
        """The rows of ``table``, through the pipeline's :attr:`collect` when it is set."""
        if self.collect is not None:
            return self.collect(table)
        return table.to_polars()

    def has(self, name: str) -> bool:
        return name in self.tables

    def __getitem__(self, name: str) -> ir.Table:
        try:
            return self.tables[name]
        except KeyError:
            raise NotFoundError(f"fact input {name!r} is not available") from None


Build = Callable[[FactContext], "ir.Table"]


@dataclass(frozen=True)
class Fact:
    """A fact table and the inputs it needs."""

    name: str
    build: Build
    requires: tuple[str, ...] = ()
    """Every one of these must be present."""
    any_of: tuple[str, ...] = ()
    """At least one of these must be present (when not empty)."""
    optional: tuple[str, ...] = ()
    """Read when present."""
    description: str = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.requires + self.any_of + self.optional

    def missing(self, available: Iterable[str]) -> list[str]:
        """What keeps this fact from running, as readable phrases; empty when it can run."""
        have = set(available)
        gaps = [name for name in self.requires if name not in have]
        if self.any_of and not have.intersection(self.any_of):
            gaps.append(" or ".join(self.any_of))
        return gaps


REGISTRY: dict[str, Fact] = {}


def fact(
    name: str,
    *,
    requires: tuple[str, ...] = (),
    any_of: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> Callable[[Build], Build]:
    """Register a function as the builder of fact ``name``."""

    def register(build: Build) -> Build:
        doc = (build.__doc__ or "").strip().splitlines()
        REGISTRY[name] = Fact(name, build, requires, any_of, optional, doc[0] if doc else "")
        return build

    return register


def ordered(facts: Mapping[str, Fact] | None = None) -> list[Fact]:
    """Facts in dependency order: every fact after the facts it reads."""
    facts = REGISTRY if facts is None else facts
    done: dict[str, Fact] = {}

    def visit(f: Fact, path: tuple[str, ...]) -> None:
        if f.name in done:
            return
        if f.name in path:
            raise ValueError(f"fact cycle: {' -> '.join((*path, f.name))}")
        for dep in f.inputs:
            if dep in facts:
                visit(facts[dep], (*path, f.name))
        done[f.name] = f

    for f in facts.values():
        visit(f, ())
    return list(done.values())
