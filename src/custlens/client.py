"""A Python client of the custlens HTTP API (``custlens serve``).

Example::

    from custlens import Client

    client = Client("http://localhost:8000", api_key="…")
    rows = client.query(
        metrics=["customers.count"],
        dimensions=["customers.customer_id", "customers.segment"],
        filters=[{"member": "customers.region", "operator": "equals", "value": "EMEA"}],
    ).data
    rows[0]["customers.segment"]

Errors the server reports come back as the same custlens errors a local call
raises (:class:`~custlens.errors.QueryError`, :class:`~custlens.errors.AccessError`, …),
with the server's message; a server that cannot be reached is a
:class:`~custlens.errors.ServerUnreachable` (a ``ConnectionError``) naming the URL.
Requests use only the standard library; ``to_polars`` and ``to_pandas`` import
Polars (and pandas) when called.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custlens.errors import (
    AccessError,
    CustlensError,
    NotFoundError,
    QueryError,
    QueryTimeout,
    ServerUnreachable,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import polars as pl


@dataclass
class ClientResult:
    """A query's answer: ``data`` (rows keyed by member), ``columns``, ``sql``; the
    rollup tables it read and whether the server answered from its result cache."""

    data: list[dict[str, Any]]
    columns: list[dict[str, Any]] = field(default_factory=list)
    sql: str = ""
    as_of: str | None = None
    currency: str | None = None
    """ISO 4217 code of the columns formatted as currency."""
    truncated: bool = False
    rollups: list[str] = field(default_factory=list)
    cached: bool = False
    next_cursor: str | None = None
    """Pass it as ``cursor`` with the same query for the next page (None: the last)."""

    def to_polars(self) -> pl.DataFrame:
        """The rows as a Polars DataFrame, columns in the answer's order (dates and
        times as the JSON's ISO strings, parsed to their types)."""
        import polars as pl

        names = [c["name"] for c in self.columns] or list(self.data[0] if self.data else [])
        frame = pl.DataFrame(self.data, schema=names, orient="row") if self.data else None
        if frame is None:
            return pl.DataFrame(schema={n: pl.Null for n in names})
        casts = []
        for column in self.columns:
            name = column["name"]
            if column.get("type") == "time" and frame.schema[name] == pl.String:
                # JSON carries dates as 2024-01-01 and times as 2024-01-01T10:00:00.
                dates_only = bool(frame[name].str.len_chars().max() == 10)
                text = pl.col(name).str
                casts.append(text.to_date() if dates_only else text.to_datetime())
        return frame.with_columns(casts) if casts else frame

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        return self.to_polars().to_pandas()


class Client:
    """Talks to a custlens server."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def query(
        self,
        metrics: list[str] | None = None,
        dimensions: list[str] | None = None,
        *,
        time_dimensions: list[dict[str, Any]] | None = None,
        filters: list[dict[str, Any]] | None = None,
        order_by: list[Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        compare: str | None = None,
        cursor: str | None = None,
    ) -> ClientResult:
        """POST /v1/query (the arguments are the JSON query of DESIGN.md §6).

        With a ``limit``, the answer is a page: its ``next_cursor``, passed as
        ``cursor`` with the same arguments, gets the next one (:meth:`pages`)."""
        spec: dict[str, Any] = {
            "metrics": metrics or [],
            "dimensions": dimensions or [],
            "time_dimensions": time_dimensions or [],
            "filters": filters or [],
            "order_by": order_by or [],
            "offset": offset,
        }
        if limit is not None:
            spec["limit"] = limit
        if compare is not None:
            spec["compare"] = compare
        if cursor is not None:
            spec["cursor"] = cursor
        body = self._call("POST", "/v1/query", spec)
        return ClientResult(
            data=body["data"],
            columns=body.get("columns", []),
            sql=body.get("sql", ""),
            as_of=body.get("as_of"),
            currency=body.get("currency"),
            truncated=body.get("truncated", False),
            rollups=body.get("rollups", []),
            cached=body.get("cached", False),
            next_cursor=body.get("next_cursor"),
        )

    def pages(self, *args: Any, limit: int, **kwargs: Any) -> Iterator[ClientResult]:
        """Every page of a query of ``limit`` rows a page, first to last (the arguments
        are :meth:`query`'s). A run in between makes the next page a ``QueryError``
        (HTTP 409): its rows would skip or repeat."""
        page = self.query(*args, limit=limit, **kwargs)
        yield page
        while page.next_cursor is not None:
            page = self.query(*args, limit=limit, cursor=page.next_cursor, **kwargs)
            yield page

    def meta(self) -> dict[str, Any]:
        """GET /v1/meta: cubes, measures, dimensions and metrics."""
        return self._call("GET", "/v1/meta")  # type: ignore[no-any-return]

    def catalog(self) -> list[dict[str, Any]]:
        """GET /v1/catalog: the metrics catalog."""
        return self._call("GET", "/v1/catalog")["metrics"]  # type: ignore[no-any-return]

    def profile(self, customer_id: str) -> dict[str, Any]:
        """GET /v1/customers/{id}: the Customer 360 profile (as
        :meth:`custlens.Workspace.profile` and ``custlens profile``)."""
        from urllib.parse import quote

        return self._call("GET", f"/v1/customers/{quote(customer_id, safe='')}")  # type: ignore[no-any-return]

    def dimension_values(
        self, member: str, *, contains: str | None = None, limit: int | None = None
    ) -> list[Any]:
        """GET /v1/dimensions/{member}/values: the dimension's distinct values in order,
        as this key's role sees them (for a filter picker); ``contains`` narrows them."""
        from urllib.parse import quote, urlencode

        params = {k: v for k, v in (("contains", contains), ("limit", limit)) if v is not None}
        route = f"/v1/dimensions/{quote(member, safe='')}/values"
        if params:
            route += "?" + urlencode(params)
        return self._call("GET", route)["values"]  # type: ignore[no-any-return]

    def _call(self, method: str, route: str, payload: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload, default=str).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        request = urllib.request.Request(self.url + route, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise _error(exc.code, str(message)) from None
        except TimeoutError:
            raise ServerUnreachable(
                f"the custlens server at {self.url} did not answer within {self.timeout:g} s"
            ) from None
        except urllib.error.URLError as exc:
            raise ServerUnreachable(
                f"cannot reach the custlens server at {self.url}: {exc.reason} "
                "(is `custlens serve` running there?)"
            ) from None


def _error(status: int, message: str) -> CustlensError:
    if status in (401, 403):
        return AccessError(message, status=status)
    if status == 404:
        return NotFoundError(message)
    if status == 504:
        return QueryTimeout(message)
    if status in (400, 409):  # 409: a cursor from before the latest run
        return QueryError(message)
    error = CustlensError(f"server error {status}: {message}")
    error.status = status
    return error
