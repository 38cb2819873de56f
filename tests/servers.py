"""A real uvicorn server on a loopback port, for tests that speak HTTP, and the in-process
TestClient for tests that only need the app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def serving(workspace: Path) -> Iterator[str]:
    """Serve ``workspace`` with uvicorn in a thread; yields the base URL (ends with /)."""
    import uvicorn

    from custlens.server import create_app

    # Binding the socket here (port 0) avoids racing another process for a "free" port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(workspace), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def in_process(workspace: Path) -> Iterator[Any]:
    """FastAPI's TestClient on the app serving ``workspace`` (start-up and shutdown run)."""
    import warnings

    with warnings.catch_warnings():
        # Starlette's TestClient warns about its own httpx dependency.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from custlens.server import create_app

    with TestClient(create_app(workspace)) as client:
        yield client
