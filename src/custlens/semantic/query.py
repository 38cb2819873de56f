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
            # Cube's `equals` with several values matches any of them.
            values, operator = data.get("values"), data.get("operator")
            if isinstance(values, list | tuple) and len(values) > 1 and isinstance(operator, str):
                data["operator"] = {"equals": "in", "notEquals": "notIn"}.get(operator, operator)
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
    date_range: str | tuple[str, str] | None = Field(default=None, alias="dateRange")


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
    def _cube_shape(cls, data: Any) -> Any:
        # Cube's /load query is accepted as it is: measures, timeDimensions (with
        # dateRange), order as {member: direction} or [[member, direction], …], and a
        # timezone that can only be UTC (custlens's times are UTC).
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for cube_name, name in (("measures", "metrics"), ("timeDimensions", "time_dimensions")):
            if cube_name in data:
                data[name] = _joined(data.get(name), data.pop(cube_name), cube_name)
        if "order" in data:
            order = data.pop("order")
            pairs = order.items() if isinstance(order, dict) else order
            try:
                given = [{"id": member, "direction": direction} for member, direction in pairs]
            except (TypeError, ValueError):
                raise ValueError(
                    "order: give {member: 'asc' | 'desc', …} or [[member, direction], …]"
                ) from None
            data["order_by"] = _joined(data.get("order_by"), given, "order")
        timezone = data.pop("timezone", "UTC")
        if str(timezone).upper() not in ("UTC", "ETC/UTC"):
            raise ValueError(f"timezone: only UTC is supported, got {timezone!r}")
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


def _joined(ours: Any, cubes: Any, field: str) -> list[Any]:
    """A list given both ways (``metrics`` and Cube's ``measures``), as one list."""
    if not isinstance(ours, list | tuple | type(None)) or not isinstance(cubes, list | tuple):
        raise ValueError(f"{field}: expected a list")
    return [*(ours or []), *cubes]


def canonical(query: Query) -> Query:
    """The query with its metrics in one order: [a, b] and [b, a] share a plan and an
    answer (the columns come back in the order asked, see ``plan.reordered``)."""
    return query.model_copy(update={"metrics": tuple(sorted(query.metrics))})


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
