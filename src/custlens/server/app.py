"""The FastAPI application: one app factory that every route of the server hangs off.

``create_app(path)`` serves the workspace at ``path``:

- ``GET /`` — the dashboard (:func:`custlens.report.build_report`), built from the
  latest facts at request time, so a new ``custlens run`` shows on the next reload,
  and drawn as the caller's role sees the facts (its customers only, PII masked);
  with ``api_keys`` configured it asks for a key first (``POST /login`` or ``/?key=``,
  kept in an HttpOnly cookie for the page only; ``/v1`` takes the key in a header);
- ``POST /v1/query`` — a semantic-layer query (DESIGN.md §6) → rows, columns, SQL;
- ``GET /v1/meta`` — the cubes, their measures and dimensions, and the metrics;
- ``GET /v1/catalog`` — the metrics catalog;
- ``GET /v1/customers/{id}`` — the Customer 360 profile (PII hashed unless privileged);
- ``GET /health`` — ``{"status": "ok"}`` for load balancers and tests;
- ``/docs`` and ``/redoc`` — the OpenAPI documentation (Swagger UI and ReDoc, their
  scripts served from the ``fastapi-offline`` package: they work with no internet).

``/v1`` routes take an API key (``X-API-Key: …`` or ``Authorization: Bearer …``)
when ``api_keys`` are configured; errors are JSON ``{"status": …, "error": …}``
and never a stack trace. Each request is logged in one line on the
``custlens.server`` logger: method, path, status, milliseconds and role (never the
key, never the query string).

Run it with ``custlens -w WS serve`` (uvicorn), or in-process with
``fastapi.testclient.TestClient(create_app(path))``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time as clock
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio.to_thread
from fastapi import FastAPI, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi_offline import FastAPIOffline

from custlens.errors import AccessError, CustlensError, QueryError, QueryTimeout

if TYPE_CHECKING:
    from custlens.semantic.access import Role
    from custlens.warehouse import ServingCopies
    from custlens.workspace import Workspace

# FastAPI reads the routes' annotations (`request: Request`) at run time, so what they
# name is imported at module level, not inside create_app.


KEY_COOKIE = "custlens_key"
"""The cookie that keeps a browser's API key for the dashboard page."""

log = logging.getLogger("custlens.server")

# The two ways to send a key, declared so the OpenAPI schema has its security schemes
# (Swagger's Authorize button); `role_of` reads the headers itself.
API_KEY = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key from `api_keys` in custlens.yml; it selects the caller's role.",
)
BEARER = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")
KEYED = [Security(API_KEY), Security(BEARER)]

QUERY_EXAMPLES = {
    "mrr_by_segment": {
        "summary": "MRR and paying customers by segment, quarterly, one region",
        "value": {
            "metrics": ["subscriptions.mrr", "subscriptions.paying_customers"],
            "dimensions": ["customers.segment"],
            "time_dimensions": [
                {
                    "dimension": "subscriptions.month",
                    "granularity": "quarter",
                    "date_range": "last 12 months",
                }
            ],
            "filters": [{"member": "customers.region", "operator": "equals", "value": "EMEA"}],
            "limit": 100,
        },
    },
    "revenue_by_region": {
        "summary": "Net payments by region, largest first",
        "value": {
            "metrics": ["transactions.revenue"],
            "dimensions": ["customers.region"],
            "order_by": [{"id": "transactions.revenue", "direction": "desc"}],
        },
    },
    "growth_kpis": {
        "summary": "Monthly MRR bridge metrics over the last 6 months",
        "value": {
            "metrics": ["mrr", "new_mrr", "churn_mrr", "net_revenue_retention"],
            "time_dimensions": [
                {"dimension": "growth.month", "granularity": "month", "date_range": "last 6 months"}
            ],
        },
    },
}
"""Named examples of the query body, shown by /docs and executed by the tests."""


class RequestLog:
    """One line per request on the ``custlens.server`` logger: method, path, status,
    milliseconds and the caller's role (set by the route on ``request.state``).

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware
    streams every response through an extra task and queue, which cost about a tenth
    of the throughput of eight concurrent clients.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = clock.perf_counter()
        status = 500  # unless the app answers

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The path alone: `/?key=…` must never reach a log.
            log.info(
                "%s %s %d %.0f ms role=%s",
                scope["method"],
                scope["path"],
                status,
                (clock.perf_counter() - started) * 1000,
                scope.get("state", {}).get("role") or "-",
            )


def login_page(message: str) -> str:
    """The page that asks for an API key (``message`` says why)."""
    import html

    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>custlens · sign in</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:28rem;margin:10vh auto;'
        'padding:0 1rem">'
        "<h1>custlens</h1>"
        f'<p role="alert">{html.escape(message)}</p>'
        '<form method="post" action="/login">'
        '<label>API key <input type="password" name="key" autocomplete="current-password" '
        "required autofocus></label> <button>Sign in</button></form></body></html>\n"
    )


def json_bytes(body: Any) -> bytes:
    """``body`` as JSON the way FastAPI encodes it: dates and times in ISO 8601,
    decimals as numbers; NaN is refused (it is not JSON)."""
    return json.dumps(
        body, default=_json_value, allow_nan=False, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: {value!r}")


class _PerThread:
    """One open workspace per server thread: its connection and compiled cube tables
    are reused across requests, and no connection is shared between threads. Query
    answers are shared by all of them (until the next run).

    A DuckDB workspace is read from its serving copy (:class:`ServingCopies`): a
    thread reopens when a run has published a new one, so a request reads the
    tables of one run, the old or the new."""

    def __init__(self, path: Path, copies: ServingCopies | None, cache_answers: bool) -> None:
        from custlens.workspace import Workspace

        self.path = path
        self.copies = copies
        self._local = threading.local()
        self.results = Workspace.answer_cache() if cache_answers else None

    def get(self) -> Workspace:
        from custlens.workspace import Workspace

        ws = getattr(self._local, "ws", None)
        token = self.copies.token() if self.copies is not None else None
        if ws is not None and self._local.token != token:
            ws.close()
            ws = None
        if ws is None:
            ws = self._local.ws = Workspace(self.path, serving=True, results=self.results)
            self._local.token = token
        return ws


def create_app(workspace_path: str | Path) -> FastAPI:
    """Build the FastAPI app serving the workspace at ``workspace_path``.

    Raises:
        ConfigError: the folder has no valid ``custlens.yml`` or semantic model (checked
            once, at start-up, so a typo fails the server's start, not its first request).
    """
    from custlens.version import __version__
    from custlens.workspace import Workspace

    path = Path(workspace_path).resolve()
    with Workspace(path) as ws:
        config = ws.config
        model = ws.semantic_model
        catalog_rows = ws.catalog().to_dicts()
        copies = ws.serving_copies()
        keys = ws  # resolves API keys to roles; reads only the config

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The worker threads of every blocking route (queries, profiles, the page).
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.server.threads
        if copies is not None:
            # Registered first, so a run that publishes from now on writes a copy;
            # then a copy of what is there now (a run may have finished unwatched).
            copies.register()
            await run_in_threadpool(copies.refresh)
        try:
            yield
        finally:
            if copies is not None:
                copies.unregister()

    app = FastAPIOffline(
        title="custlens",
        version=__version__,
        docs_url="/docs",
        redoc_url="/redoc",
        static_url="/docs-assets",
        lifespan=lifespan,
    )
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]
    app.state.workspace_path = path
    workspaces = _PerThread(path, copies, config.server.cache_answers)

    @app.exception_handler(CustlensError)
    async def custlens_error(request: Request, exc: CustlensError) -> JSONResponse:
        return JSONResponse({"status": exc.status, "error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "bad request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body")
        return JSONResponse({"status": 400, "error": f"{where}: {first['msg']}"}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not a user's mistake: say so without leaking the stack.
        return JSONResponse(
            {"status": 500, "error": f"internal error ({type(exc).__name__})"}, status_code=500
        )

    app.add_middleware(RequestLog)

    def role_of(request: Request, cookie: bool = False) -> Role:
        key = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key and cookie:
            # Only the page reads the cookie: /v1 wants a header, so another site's form
            # can never spend a browser's key on an API call (no CSRF to defend).
            key = request.cookies.get(KEY_COOKIE)
        role = keys.role_for_key(key)
        request.state.role = role.name
        return role

    def signed_in(request: Request, key: str) -> Response:
        """Back to the page with the key in an HttpOnly cookie (and out of the URL)."""
        try:
            keys.role_for_key(key)
        except AccessError as exc:
            return HTMLResponse(login_page(str(exc)), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            KEY_COOKIE,
            key,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    # A plain `def`: FastAPI runs it in its thread pool, so building the page (DuckDB
    # reads, Plotly) never blocks the event loop.
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, key: str | None = None) -> Response:
        from custlens.report import build_report

        if key is not None:
            return signed_in(request, key)
        try:
            role = role_of(request, cookie=True)
        except AccessError as exc:
            asked = KEY_COOKIE in request.cookies or "x-api-key" in request.headers
            message = str(exc) if asked else "Sign in with an API key to see this dashboard."
            return HTMLResponse(login_page(message), status_code=401)
        # A fresh connection per request: the page shows the latest run, and no DuckDB
        # handle is shared between threads.
        with Workspace(path, serving=True) as ws:
            return HTMLResponse(build_report(ws, role=role))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        # The form's body read by hand: FastAPI's Form() would need python-multipart.
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        return signed_in(request, (form.get("key") or [""])[0].strip())

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/v1/query",
        dependencies=KEYED,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/Query"},
                        "examples": QUERY_EXAMPLES,
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The answer: JSON, or its rows as CSV or an Arrow IPC "
                    "stream when the Accept header asks for one.",
                    "content": {
                        "application/json": {},
                        "text/csv": {},
                        "application/vnd.apache.arrow.stream": {},
                    },
                }
            },
        },
    )
    async def query(request: Request) -> Response:
        """Answer a semantic-layer query: rows keyed by member, column types and formats,
        the SQL that ran, the rollups it read and whether it came from the result cache.
        A query in Cube's /load shape (``measures``, ``timeDimensions``) is answered in
        Cube's shape (``query``, ``data``, ``annotation``).

        With ``Accept: text/csv`` the rows come as CSV, with ``Accept:
        application/vnd.apache.arrow.stream`` as an Arrow IPC stream (columns typed);
        the as-of month, currency and truncation then travel in ``X-Custlens-*``
        headers."""
        role = role_of(request)  # before the body: no key, no parsing
        accept = request.headers.get("accept", "")
        return await answer_query(role, await json_body(request), accept=accept)

    @app.post("/cubejs-api/v1/load", dependencies=KEYED, include_in_schema=False)
    async def cube_load(request: Request) -> Response:
        # Cube's own endpoint and envelope ({"query": {...}}), for Cube's clients.
        role = role_of(request)
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("query"), dict):
            raise QueryError('the body is {"query": {…}}, as Cube\'s /load takes it')
        return await answer_query(role, body["query"], cube_shape=True)

    async def json_body(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError as exc:
            raise QueryError(f"the body is not valid JSON: {exc}") from None

    async def answer_query(
        role: Role, spec: Any, cube_shape: bool = False, accept: str = ""
    ) -> Response:
        cube_shape = cube_shape or (
            isinstance(spec, dict) and ("measures" in spec or "timeDimensions" in spec)
        )
        holder: dict[str, Workspace] = {}

        def answer() -> Response:
            ws = holder["ws"] = workspaces.get()
            if cube_shape or not isinstance(spec, dict):
                result, next_cursor = ws.run_query(spec, role=role), None
            else:
                result, next_cursor = paged(ws, spec, role)
            if not cube_shape and (as_data := rows_as_data(result, accept)) is not None:
                if next_cursor is not None:
                    as_data.headers["X-Custlens-Next-Cursor"] = next_cursor
                return as_data
            body = (
                cube_answer(spec, result)
                if cube_shape
                else {
                    "data": result.data,
                    "columns": [c.__dict__ for c in result.columns],
                    "sql": result.sql,
                    "as_of": result.as_of.isoformat(),
                    "currency": result.currency,
                    "truncated": result.truncated,
                    "rollups": result.rollups,
                    "cached": result.cached,
                    "next_cursor": next_cursor,
                }
            )
            # Encoded here rather than by FastAPI's generic encoder: six times faster
            # on a thousand rows, and the same JSON.
            return Response(json_bytes(body), media_type="application/json")

        timeout = config.server.query_timeout_seconds
        try:
            return await asyncio.wait_for(run_in_threadpool(answer), timeout)
        except TimeoutError:
            if "ws" in holder:
                holder["ws"].interrupt()
            raise QueryTimeout(
                f"the query ran longer than {timeout:g} s (server.query_timeout_seconds)"
            ) from None

    def paged(ws: Workspace, spec: dict[str, Any], role: Role) -> tuple[Any, str | None]:
        """The page of ``spec`` its ``cursor`` points at (the first without one), and
        the cursor of the next page when more rows follow (custlens.server.cursor).

        A page of ``limit`` rows is asked as ``limit + 1``: the extra row, dropped,
        says whether another page follows."""
        from dataclasses import replace

        from custlens.server import cursor as cursors

        spec = dict(spec)
        sent = spec.pop("cursor", None)
        previous = cursors.decode(sent, spec) if sent is not None else None
        if previous is not None:
            spec["offset"] = previous.offset
        limit = spec.get("limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            # No page (a cursor is only made for a limit, which its digest holds).
            return ws.run_query(spec, role=role), None
        result = ws.run_query({**spec, "limit": limit + 1}, role=role)
        if previous is not None and previous.run_id != result.run_id:
            raise cursors.StaleCursor(
                f"cursor: the facts changed since it was made (run {previous.run_id}, now "
                f"{result.run_id}); ask again from the first page"
            )
        more = len(result.data) > limit or result.truncated
        if not more:
            return result, None
        # The server's max_rows may cut the page short: the next one starts after it.
        taken = min(limit, len(result.data))
        offset = int(spec.get("offset") or 0) + taken
        page = replace(result, data=result.data[:taken], frame=result.frame.head(taken))
        token = cursors.Cursor(cursors.digest(spec), offset, result.run_id or "")
        return replace(page, truncated=False), token.encode()

    @app.get("/v1/dimensions/{member}/values", dependencies=KEYED)
    def dimension_values(
        member: str, request: Request, contains: str | None = None, limit: int | None = None
    ) -> Response:
        """The distinct values of a dimension in order, as the caller's role sees them (its
        row filter applied, PII hashed unless privileged), for a filter picker:
        ``contains`` keeps the values holding that text; at most ``limit`` (and
        ``server.max_rows``), ``truncated`` when there are more."""
        role = role_of(request)
        most = min(limit or config.server.max_rows, config.server.max_rows)
        if most < 1:
            raise QueryError(f"limit: {limit} is not a number of values (1 or more)")
        spec: dict[str, Any] = {"dimensions": [member], "order_by": [member], "limit": most}
        if contains:
            spec["filters"] = [{"member": member, "operator": "contains", "value": contains}]
        # The first page of the values: a next page means there are more.
        result, more = paged(workspaces.get(), spec, role)
        body = {
            "member": member,
            "values": [row[member] for row in result.data],
            "truncated": more is not None,
            "as_of": result.as_of,
        }
        return Response(json_bytes(body), media_type="application/json")

    @app.get("/v1/customers/{customer_id}", dependencies=KEYED)
    def customer(customer_id: str, request: Request) -> dict[str, Any]:
        """The Customer 360 profile of any source-system id, as the caller's role sees it:
        found only inside its row filter; names, emails and phones hashed unless privileged."""
        role = role_of(request)
        return workspaces.get().profile(customer_id, role=role)

    @app.get("/v1/meta", dependencies=KEYED)
    def meta(request: Request) -> dict[str, Any]:
        """The cubes (measures, dimensions, joins) and metrics a query may name."""
        role_of(request)
        return describe_model(model)

    @app.get("/v1/catalog", dependencies=KEYED)
    def metrics_catalog(request: Request) -> dict[str, Any]:
        """Every metric's definition, formula, table, field, owner, cadence and certification."""
        role_of(request)
        return {"metrics": catalog_rows}

    return app


ARROW_STREAM = "application/vnd.apache.arrow.stream"


def rows_as_data(result: Any, accept: str) -> Response | None:
    """The answer's rows as CSV or an Arrow IPC stream when ``accept`` asks for one
    (None: JSON). What JSON carries beside the rows goes in ``X-Custlens-*`` headers."""
    import io

    wanted = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    headers = {
        "X-Custlens-As-Of": result.as_of.isoformat(),
        "X-Custlens-Currency": result.currency,
        "X-Custlens-Truncated": str(result.truncated).lower(),
        "X-Custlens-Cached": str(result.cached).lower(),
    }
    if "text/csv" in wanted:
        text = result.frame.write_csv()
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
    if ARROW_STREAM in wanted:
        sink = io.BytesIO()
        result.frame.write_ipc_stream(sink)
        return Response(sink.getvalue(), media_type=ARROW_STREAM, headers=headers)
    return None


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the query body's own (the route reads the JSON itself, so
    a bad query gets custlens's field-by-field message rather than FastAPI's)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        from custlens.semantic.query import Query

        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        query = Query.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(query.pop("$defs", {}))
        # Read by the route, not the query (custlens.server.cursor).
        query["properties"]["cursor"] = {
            "type": "string",
            "description": "An answer's next_cursor, sent with the same query: the next "
            "page of limit rows.",
        }
        components["Query"] = query
        app.openapi_schema = schema
    return app.openapi_schema


def cube_answer(spec: dict[str, Any], result: Any) -> dict[str, Any]:
    """A query's answer in the shape of Cube's /load: the query, the rows (a time
    column under ``cube.dim.grain`` and, as Cube adds it, ``cube.dim``) and an
    annotation of each member's title, type and format."""
    annotation: dict[str, dict[str, Any]] = {"measures": {}, "dimensions": {}, "timeDimensions": {}}
    renamed: dict[str, str] = {}
    for column in result.columns:
        kind = {"metric": "measures", "time": "timeDimensions"}.get(column.kind, "dimensions")
        annotation[kind][column.name] = {
            "title": column.title or column.name,
            "shortTitle": column.title or column.name.rsplit(".", 1)[-1],
            "type": column.type,
            "format": column.format,
        }
        if column.format == "currency":
            annotation[kind][column.name]["currency"] = result.currency
        if column.kind == "time":
            renamed[column.name] = column.name.rsplit(".", 1)[0]
    data = [
        {**row, **{bare: row[name] for name, bare in renamed.items() if bare not in row}}
        for row in result.data
    ]
    return {
        "query": spec,
        "data": data,
        "annotation": annotation,
        "lastRefreshTime": result.as_of.isoformat(),
    }


def describe_model(model: Any) -> dict[str, Any]:
    """The model as JSON: what ``GET /v1/meta`` returns."""
    cubes = []
    for cube in model.cubes.values():
        cubes.append(
            {
                "name": cube.name,
                "description": cube.description,
                "measures": [
                    {
                        "name": f"{cube.name}.{m.name}",
                        "type": m.type,
                        "format": m.format,
                        "description": m.description,
                        "semi_additive": m.semi_additive,
                    }
                    for m in cube.measures
                ],
                "dimensions": [
                    {
                        "name": f"{cube.name}.{d.name}",
                        "type": d.type,
                        "description": d.description,
                        "primary_key": d.primary_key,
                        "pii": d.meta.pii,
                        **({"granularities": list(d.granularities)} if d.type == "time" else {}),
                    }
                    for d in cube.dimensions
                ],
                "joins": [{"cube": j.cube, "relationship": j.relationship} for j in cube.joins],
            }
        )
    metrics = [
        {
            "name": m.name,
            "type": m.type,
            "title": m.title,
            "description": " ".join(m.description.split()),
            "format": m.format,
            "time_grain": m.time_grain,
            "owner": m.meta.owner,
            "certified": m.meta.certified,
        }
        for m in model.metrics.values()
    ]
    return {"cubes": cubes, "metrics": metrics}
