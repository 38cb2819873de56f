"""The workspace configuration, ``custlens.yml``, as pydantic models.

Unknown keys are errors (``extra="forbid"``): a misspelt ``gross_margn`` must
not fall back silently to the default. Errors name the file, the line and the
key.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from custlens.errors import ConfigError

CONFIG_FILE = "custlens.yml"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Config(_Strict):
    """Settings of one workspace."""

    warehouse: str = Field(
        default="duckdb:///custlens.duckdb",
        description="Ibis URL of the warehouse; a relative DuckDB path is taken from "
        "the workspace.",
    )
    as_of: str | None = Field(
        default=None,
        description="YYYY-MM. Facts are computed to the end of this month; default: the "
        "last month with MRR or a transaction, never later than today.",
    )
    opening_balance: Literal["none", "first_month"] = Field(
        default="none",
        description="first_month: customers paying in the first month of the data are "
        "starting customers of that month, not new ones (for data that begins mid-history).",
    )
    gross_margin: float = Field(default=1.0, gt=0, le=1, description="Used by LTV and CAC payback.")
    cac_source: Literal["auto", "acquisition_costs", "marketing_spend"] = Field(
        default="auto",
        description="Where CAC spend comes from. auto: the sum of acquisition_costs.cac of "
        "the month's new customers when that table is loaded, else marketing_spend.",
    )

    @field_validator("as_of")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH.match(str(value)):
            raise ValueError(f"must be a month as YYYY-MM, got {value!r}")
        return value

    def as_of_month(self) -> date | None:
        """The configured as-of month as its first day, or None."""
        return parse_month(self.as_of) if self.as_of else None


def parse_month(text: str) -> date:
    """Parse ``YYYY-MM`` into the first day of that month."""
    if not _MONTH.match(text):
        raise ConfigError(f"expected a month as YYYY-MM, got {text!r}")
    year, month = text.split("-")
    return date(int(year), int(month), 1)


DEFAULT_CONFIG_TEXT = """\
# custlens workspace configuration. Every key is optional; a misspelt key is an error.

# Where facts live. DuckDB file in this folder by default; also postgres://user@host/db
# or pyspark (local[*]) / pyspark://spark-master:7077.
warehouse: duckdb:///custlens.duckdb

# Compute facts to the end of this month (YYYY-MM). Default: the last month with
# MRR or a transaction, never later than today.
# as_of: 2025-12

# first_month: the first month of the data is an opening balance, not new business.
opening_balance: none

# Gross margin used by LTV and CAC payback (0 < margin <= 1).
gross_margin: 1.0

# auto | acquisition_costs | marketing_spend
cac_source: auto
"""


def load_config(path: Path) -> Config:
    """Read and validate a ``custlens.yml``.

    Raises:
        ConfigError: the file is missing, is not YAML, or has a bad key or value;
            the message names the file, the line and the key.
    """
    if not path.exists():
        raise ConfigError(f"{path}: no such file; run `custlens init {path.parent}` first")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, path, node)) from None


def describe_validation_error(exc: ValidationError, path: Path, node: Any) -> str:
    """Turn a pydantic error into lines naming file, line, key and problem."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key {key!r}")
        else:
            lines.append(f"{where}: {key}: {error['msg']}")
    return "\n".join(lines)


def _line_of(node: Any, loc: list[str]) -> int | None:
    """1-based line of the key at ``loc`` in a composed YAML node tree."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == part:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            return line
    return line
