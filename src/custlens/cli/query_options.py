"""Reading ``custlens query`` options into the JSON query of the semantic layer."""

from __future__ import annotations

from typing import Any

from custlens.errors import QueryError
from custlens.semantic.query import OPERATORS

_NO_VALUE = ("set", "notSet")
_LISTS = ("in", "notIn", "between", "inDateRange")


def parse_filter(text: str) -> dict[str, Any]:
    """``'customers.region equals EMEA'`` → a filter; list operators split values on commas.

    ``'customers.plan in Pro,Team'``, ``'subscriptions.month inDateRange 2024-01-01,2024-06-30'``,
    ``'customers.email set'``; a value may contain spaces: ``'customers.name equals Acme Inc'``.
    """
    parts = text.strip().split(None, 2)
    if len(parts) < 2:
        raise QueryError(f"--filter {text!r}: expected 'member operator value'")
    member, operator = parts[0], parts[1]
    if operator not in OPERATORS:
        raise QueryError(
            f"--filter {text!r}: {operator!r} is not an operator; use one of {', '.join(OPERATORS)}"
        )
    rest = parts[2] if len(parts) == 3 else ""
    if operator in _NO_VALUE:
        return {"member": member, "operator": operator}
    if not rest:
        raise QueryError(f"--filter {text!r}: {operator} needs a value")
    if operator in _LISTS and not (operator == "inDateRange" and "," not in rest):
        return {
            "member": member,
            "operator": operator,
            "values": [v.strip() for v in rest.split(",")],
        }
    return {"member": member, "operator": operator, "value": rest}


def parse_time(text: str) -> dict[str, Any]:
    """``member[:granularity[:range]]``; a range is a name or ``from..to``."""
    member, _, rest = text.partition(":")
    granularity, _, date_range = rest.partition(":")
    spec: dict[str, Any] = {"dimension": member}
    if granularity:
        spec["granularity"] = granularity
    if date_range:
        spec["date_range"] = date_range.split("..") if ".." in date_range else date_range
    return spec
