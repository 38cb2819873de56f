"""The HTTP server: the dashboard at ``/`` and, later, the semantic layer's ``/v1`` routes."""

from __future__ import annotations

from custlens.server.app import create_app

__all__ = ["create_app"]
