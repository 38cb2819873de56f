"""The JSON query of the semantic layer, and the date ranges it may name.

The shape is DESIGN.md §6::

    {"metrics": ["mrr", "customers.count"],
     "dimensions": ["customers.segment"],
     "time_dimensions": [{"dimension": "subscriptions.month", "granularity": "quarter",
                          "date_range": "last 12 months"}],
     "filters": [{"member": "customers.region", "operator": "equals", "value": "EMEA"},
                 {"or": [{...}, {...}]}],
     "order_by": [{"field": "mrr", "direction": "desc"}],
     "limit": 100, "offset": 0, "compare": "previous_period"}

Values stay values: they are checked against the member's type and become
Ibis literals, never SQL text.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from custlens.calendar import period_start, shift
from custlens.errors import QueryError
from custlens.semantic.model import Granularity

Operator = Literal[
    "equals",
    "notEquals",
    "in",
    "notIn",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "notContains",
    "startsWith",
    "endsWith",
    "set",
    "notSet",
    "inDateRange",
    "beforeDate",
    "afterDate",
]
OPERATORS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]
NEGATIVE = ("notEquals", "notIn", "notContains")
"""Negative operators keep rows whose value is null (null is "not equal" to any value),
as Cube does; positive operators never match null. ``notSet`` / ``set`` test null itself."""


MAX_GROUP_TERMS = 100
"""Filters of one ``and`` / ``or`` group (and of a query's top level) at most."""
MAX_VALUES = 1000
"""Values of one condition (``in``, ``notIn``) at most."""
MAX_DEPTH = 5
"""Groups nested in groups at most."""
MAX_RANGE_YEARS = 100
"""A relative date range (``last N months``) spans at most this many years."""


def _at_most(items: Any, limit: int, what: str) -> Any:
    if isinstance(items, list | tuple) and len(items) > limit:
        raise ValueError(f"at most {limit} {what}, got {len(items)}")
    return items


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    member: str = Field(alias="dimension")
    operator: Operator
    values: tuple[Any, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _value_or_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "member" in data and "dimension" not in data:
                data["dimension"] = data.pop("member")
            if "value" in data:
                value = data.pop("value")
                if "values" in data:
                    raise ValueError("give `value` or `values`, not both")
                data["values"] = value if isinstance(value, list | tuple) else [value]
        return data

    @field_validator("values", mode="before")
    @classmethod
    def _few_values(cls, values: Any) -> Any:
        return _at_most(values, MAX_VALUES, "values")

    @model_validator(mode="after")
    def _arity(self) -> Condition:
        count = len(self.values)
        if self.operator in ("set", "notSet"):
            if count:
                raise ValueError(f"{self.operator} takes no value")
        elif self.operator in ("between", "inDateRange"):
            if count not in (1, 2) or (count == 1 and not isinstance(self.values[0], str)):
                raise ValueError(f"{self.operator} takes two values [from, to] (or a range name)")
        elif self.operator in ("in", "notIn"):
            if not count:
                raise ValueError(f"{self.operator} takes at least one value")
        elif count != 1:
            raise ValueError(f"{self.operator} takes exactly one value, got {count}")
        if any(v is None for v in self.values):
            raise ValueError("a value may not be null; use set / notSet")
        return self


class Group(_Strict):
    and_: tuple[Filter, ...] | None = Field(default=None, alias="and")
    or_: tuple[Filter, ...] | None = Field(default=None, alias="or")

    @field_validator("and_", "or_", mode="before")
    @classmethod
    def _few_terms(cls, items: Any) -> Any:
        return _at_most(items, MAX_GROUP_TERMS, "terms in a group")

    @property
    def depth(self) -> int:
        """1 for a group of conditions, one more for each group inside."""
        return 1 + max((f.depth for f in self.items if isinstance(f, Group)), default=0)

    @model_validator(mode="after")
    def _one(self) -> Group:
        if (self.and_ is None) == (self.or_ is None):
            raise ValueError("a filter group has exactly one of `and` or `or`")
        return self

    @property
    def kind(self) -> str:
        return "and" if self.and_ is not None else "or"

    @property
    def items(self) -> tuple[Filter, ...]:
        return self.and_ if self.and_ is not None else (self.or_ or ())


def _filter_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "group" if ("and" in value or "or" in value) else "condition"
    return "group" if isinstance(value, Group) else "condition"


# A tagged union: a bad condition reports the condition's error only, not also why
# it is not a group.
Filter = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated[Group, Tag("group")],
    Discriminator(_filter_kind),
]
Group.model_rebuild()


class TimeDimension(_Strict):
    dimension: str
    granularity: Granularity | None = None
    date_range: str | tuple[str, str] | None = None


class Order(_Strict):
    field: str = Field(alias="id")
    direction: Literal["asc", "desc"] = "asc"

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: Any) -> Any:
        if isinstance(data, str):
            name, _, direction = data.strip().partition(" ")
            return {"id": name, "direction": direction.strip().lower() or "asc"}
        if isinstance(data, dict) and "field" in data:
            data = dict(data)
            data["id"] = data.pop("field")
        return data


class Query(_Strict):
    metrics: tuple[str, ...] = ()
    """Metric names or ``cube.measure`` members."""
    dimensions: tuple[str, ...] = ()
    time_dimensions: tuple[TimeDimension, ...] = ()
    filters: tuple[Filter, ...] = ()
    order_by: tuple[Order, ...] = ()
    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0)
    compare: Literal["previous_period", "previous_year"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _measures_alias(cls, data: Any) -> Any:
        # Cube calls them measures; both are accepted.
        if isinstance(data, dict) and "measures" in data:
            data = dict(data)
            data["metrics"] = [*data.get("metrics", []), *data.pop("measures")]
        return data

    @field_validator("filters", mode="before")
    @classmethod
    def _few_filters(cls, items: Any) -> Any:
        return _at_most(items, MAX_GROUP_TERMS, "filters")

    @model_validator(mode="after")
    def _something(self) -> Query:
        if not (self.metrics or self.dimensions or self.time_dimensions):
            raise ValueError("a query needs at least one metric or dimension")
        for i, item in enumerate(self.filters):
            if isinstance(item, Group) and item.depth > MAX_DEPTH:
                raise ValueError(f"filters.{i}: filters nest at most {MAX_DEPTH} groups deep")
        return self


def parse_query(data: Any) -> Query:
    """Validate a query given as a mapping (JSON) or a :class:`Query`.

    Raises:
        QueryError: the message names the bad field, e.g.
            ``filters.0.operator: 'equal' is not one of equals, notEquals, …``.
    """
    if isinstance(data, Query):
        return data
    try:
        return Query.model_validate(data)
    except ValidationError as exc:
        raise QueryError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"] if p not in ("condition", "group"))
        loc = loc.replace("and_", "and").replace("or_", "or")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "literal_error" and loc.endswith("operator"):
            lines.append(
                f"{loc}: {error['input']!r} is not an operator; use one of {', '.join(OPERATORS)}"
            )
        elif error["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown field")
        else:
            lines.append(f"{loc}: {message}" if loc else message)
    return "; ".join(dict.fromkeys(lines))


# -- date ranges -------------------------------------------------------------------

_UNITS = ("day", "week", "month", "quarter", "year")


def parse_date(text: Any, field: str) -> date:
    """A ``YYYY-MM-DD`` (or ``YYYY-MM``, the first day) value."""
    if isinstance(text, date):
        return text
    value = str(text).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}", value):
            return date.fromisoformat(value + "-01")
        return date.fromisoformat(value[:10])
    except ValueError:
        raise QueryError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def resolve_range(
    value: str | tuple[str, str] | list[str], as_of: date, field: str
) -> tuple[date, date]:
    """An inclusive (first, last) day range from a pair of dates or a relative name.

    Relative names count against the as-of date (the last day of the data), never
    the wall clock:

    - ``last N days|weeks|months|quarters|years``: the N periods ending with the
      as-of date's period, which is included (``last 12 months`` at as-of
      2025-06-30 is 2024-07-01 … 2025-06-30);
    - ``this month|quarter|year`` (and ``month|quarter|year to date``): the as-of
      date's period up to the as-of date;
    - ``last month|quarter|year``: the whole period before the as-of date's;
    - ``today`` / ``yesterday``: the as-of date / the day before.
    """
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise QueryError(f"{field}: a date range is [from, to], got {list(value)!r}")
        first, last = parse_date(value[0], field), parse_date(value[1], field)
        if re.fullmatch(r"\d{4}-\d{2}", str(value[1]).strip()):
            last = shift(last, "month", 1) - timedelta(days=1)  # a month means all of it
        if last < first:
            raise QueryError(f"{field}: the range ends ({last}) before it starts ({first})")
        return first, last
    text = " ".join(str(value).lower().split())
    if text == "today":
        return as_of, as_of
    if text == "yesterday":
        return as_of - timedelta(days=1), as_of - timedelta(days=1)
    match = re.fullmatch(r"last (\d+) (day|week|month|quarter|year)s?", text)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if count < 1:
            raise QueryError(f"{field}: {value!r} needs a count of at least 1")
        per_year = {"day": 366, "week": 53, "month": 12, "quarter": 4, "year": 1}[unit]
        if count > MAX_RANGE_YEARS * per_year:
            raise QueryError(f"{field}: {value!r} spans more than {MAX_RANGE_YEARS} years")
        return shift(period_start(as_of, unit), unit, 1 - count), as_of
    match = re.fullmatch(r"(?:this (month|quarter|year)|(month|quarter|year) to date)", text)
    if match:
        unit = match.group(1) or match.group(2)
        return period_start(as_of, unit), as_of
    match = re.fullmatch(r"last (week|month|quarter|year)", text)
    if match:
        unit = match.group(1)
        start = shift(period_start(as_of, unit), unit, -1)
        return start, shift(start, unit, 1) - timedelta(days=1)
    raise QueryError(
        f"{field}: {value!r} is not a date range; use [from, to] or a name such as "
        "'last 12 months', 'this year', 'last quarter'"
    )
