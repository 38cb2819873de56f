"""The FastAPI application: one app factory that every route of the server hangs off.

``create_app(path)`` serves the workspace at ``path``:

- ``GET /`` — the dashboard (:func:`custlens.report.build_report`), built from the
  latest facts at request time, so a new ``custlens run`` shows on the next reload;
- ``GET /health`` — ``{"status": "ok"}`` for load balancers and tests.

Run it with ``custlens -w WS serve`` (uvicorn), or in-process with
``fastapi.testclient.TestClient(create_app(path))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(workspace_path: str | Path) -> FastAPI:
    """Build the FastAPI app serving the workspace at ``workspace_path``.

    Raises:
        ConfigError: the folder has no valid ``custlens.yml`` (checked once, at start-up,
            so a typo fails the server's start, not its first request).
    """
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from custlens import __version__
    from custlens.workspace import Workspace

    path = Path(workspace_path).resolve()
    Workspace(path).close()
    app = FastAPI(title="custlens", version=__version__, docs_url="/docs", redoc_url=None)
    app.state.workspace_path = path

    # A plain `def`: FastAPI runs it in its thread pool, so building the page (DuckDB
    # reads, Plotly) never blocks the event loop.
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        from custlens.report import build_report

        # A fresh connection per request: the page shows the latest run, and no DuckDB
        # handle is shared between threads.
        with Workspace(path) as ws:
            return HTMLResponse(build_report(ws))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
