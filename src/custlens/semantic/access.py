"""Who may ask what: API keys → roles, a role's row filters, PII masking.

A role is resolved from ``custlens.yml`` (``roles:``, ``api_keys:``). Its row
filters are parsed like query filters and AND-ed into every query it sends, on
every cube the query aggregates (so a join cannot escape them). A dimension
with ``meta.pii: true`` is returned to an unprivileged role as a salted
SHA-256 hex digest: stable (the same email always gives the same digest, so
rows still group and join), but not readable. Unprivileged roles may not filter
on a PII dimension, which would let them test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from custlens.config import Config
from custlens.errors import AccessError, QueryError
from custlens.semantic.query import Filter, describe

SALT_FILE = ".custlens-salt"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Role:
    name: str
    privileged: bool = False
    filters: tuple[Filter, ...] = ()
    salt: str = ""


def role_for_key(config: Config, api_key: str | None, workspace: Path) -> Role:
    """The role of ``api_key``.

    With no keys configured the API is open and every caller is the unprivileged
    ``anonymous`` role.

    Raises:
        AccessError: (401) keys are configured and this one is missing or unknown.
    """
    salt = pii_salt(config, workspace)
    if not config.api_keys:
        return Role(ANONYMOUS, salt=salt)
    if not api_key:
        raise AccessError(
            "an API key is required (header X-API-Key or Authorization: Bearer)", status=401
        )
    for key, role_name in config.api_keys.items():
        if hmac.compare_digest(key.encode(), api_key.encode()):
            return make_role(config, role_name, salt)
    raise AccessError("invalid API key", status=401)


def named_role(config: Config, name: str, workspace: Path) -> Role:
    """The configured role ``name``, with the workspace's PII salt.

    Raises:
        AccessError: no such role in ``custlens.yml`` (the message lists the roles).
    """
    if name not in config.roles:
        known = ", ".join(sorted(config.roles)) or "none configured"
        raise AccessError(f"no role {name!r} in custlens.yml (roles: {known})", status=400)
    return make_role(config, name, pii_salt(config, workspace))


def make_role(config: Config, name: str, salt: str = "") -> Role:
    """The configured role ``name`` with its filters parsed."""
    from pydantic import TypeAdapter, ValidationError

    spec = config.roles[name]
    try:
        filters = tuple(TypeAdapter(Filter).validate_python(f) for f in spec.filters)
    except ValidationError as exc:
        raise QueryError(f"custlens.yml: roles.{name}.filters: {describe(exc)}") from None
    return Role(name, spec.privileged, filters, salt)


def pii_salt(config: Config, workspace: Path) -> str:
    """The configured salt, else one generated once and kept in the workspace."""
    if config.server.pii_salt:
        return config.server.pii_salt
    path = workspace / SALT_FILE
    if not path.exists():
        path.write_text(secrets.token_hex(16), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def mask(value: object, salt: str) -> str | None:
    """The salted SHA-256 hex digest of a value (null stays null)."""
    if value is None:
        return None
    return hashlib.sha256((salt + str(value)).encode("utf-8")).hexdigest()


def mask_frame(frame: pl.DataFrame, columns: list[str], salt: str) -> pl.DataFrame:
    """``frame`` with ``columns`` replaced by their masked values."""
    return frame.with_columns(
        pl.col(c).map_elements(lambda v: mask(v, salt), return_dtype=pl.String) for c in columns
    )
