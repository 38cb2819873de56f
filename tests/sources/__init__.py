"""Tests of loading sources; :func:`write` puts a test's file text on disk."""

from __future__ import annotations

from pathlib import Path


def write(folder: Path, name: str, text: str) -> Path:
    """``text`` as the file ``folder/name`` (UTF-8), and its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
