"""custlens.yml: validated, and a bad key is named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from custlens.config import CONFIG_FILE, Config, load_config, parse_month
from custlens.errors import ConfigError
from custlens.workspace import Workspace


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / CONFIG_FILE
    path.write_text(text)
    return path


def test_init_writes_a_config_that_loads_with_the_defaults(tmp_path):
    ws = Workspace.init(tmp_path / "acme")
    assert (tmp_path / "acme" / CONFIG_FILE).exists()
    assert ws.config == Config()
    assert ws.config.warehouse == "duckdb:///custlens.duckdb"


def test_misspelt_key_is_named_with_its_line(tmp_path):
    path = write(tmp_path, "warehouse: duckdb:///x.duckdb\n\ngross_margn: 0.8\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:3" in str(err.value)
    assert "unknown key 'gross_margn'" in str(err.value)


def test_bad_values_are_named(tmp_path):
    path = write(tmp_path, "as_of: 2024-13\nopening_balance: sometimes\ngross_margin: 1.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}:1: as_of" in message
    assert f"{path}:2: opening_balance" in message
    assert f"{path}:3: gross_margin" in message


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="custlens init"):
        load_config(tmp_path / CONFIG_FILE)
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [\n"))


def test_parse_month():
    assert parse_month("2024-02").isoformat() == "2024-02-01"
    with pytest.raises(ConfigError, match="YYYY-MM"):
        parse_month("2024-2")


def test_memory_limit_and_threads_reach_duckdb(tmp_path):
    folder = tmp_path / "ws"
    folder.mkdir()
    write(folder, "memory_limit: 512MB\nthreads: 1\n")
    with Workspace(folder) as ws:
        raw = ws.warehouse.con.con
        # DuckDB reports 512 MiB as "512.0 MiB" (or "488.2 MiB" would mean MB of 1000).
        assert raw.sql("SELECT current_setting('memory_limit')").fetchone()[0] == "512.0 MiB"
        assert raw.sql("SELECT current_setting('threads')").fetchone()[0] == 1


@pytest.mark.parametrize("text", ["4 apples", "lots", "0MB", "-1GB"])
def test_a_bad_memory_limit_is_named_with_its_line(tmp_path, text):
    path = write(tmp_path, f"threads: 2\nmemory_limit: {text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:2: memory_limit" in str(err.value)
    assert "4GB or 512MB" in str(err.value) or "at least 1MB" in str(err.value)


def test_memory_sizes_are_read_in_units_of_1024():
    from custlens.config import memory_mb

    assert memory_mb("4GB") == 4096
    assert memory_mb("1.5 GiB") == 1536
    assert memory_mb("512mb") == 512
    assert memory_mb("2048KB") == 2


def test_the_reporting_currency_is_an_iso_code_in_capitals(tmp_path):
    path = tmp_path / CONFIG_FILE
    path.write_text("reporting_currency: eur\n")
    assert load_config(path).reporting_currency == "EUR"
    path.write_text("gross_margin: 0.8\nreporting_currency: Euro\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:2: reporting_currency" in str(err.value)
    assert "must be an ISO 4217 currency code such as USD or EUR, got 'Euro'" in str(err.value)
