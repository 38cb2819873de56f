"""Loading exports as they come (issue 27, part 3): column mappings, the closest
header named when a column is missing, choices in any capitals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.errors import ContractError
from custlens.workspace import Workspace
from tests.sources import write

EXPORT = (
    "Customer ID,Period Start,period_end,Amount,kind\n"
    "a,2024-01-01,2024-02-01,10,Recurring\n"
    "b,2024-01-01,2024-02-01,25.5,ONE_TIME\n"
)
MAP = {"Customer ID": "customer_id", "Period Start": "period_start", "Amount": "amount"}


def export(folder: Path, name: str = "lines.csv") -> Path:
    return write(folder, name, EXPORT)


def test_the_cli_maps_an_exports_headers_and_reads_choices_in_any_capitals(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "ws"
    Workspace.init(folder).close()
    argv = ["-w", str(folder), "load", "subscription_lines", str(export(tmp_path))]
    for source, column in MAP.items():
        argv += ["--map", f"{source}={column}"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    with Workspace(folder) as ws:
        lines = ws.table("subscription_lines").sort("customer_id")
    assert lines["customer_id"].to_list() == ["a", "b"]
    assert lines["amount"].to_list() == [10.0, 25.5]
    assert lines["kind"].to_list() == ["recurring", "one_time"]


def test_the_configs_mappings_apply_to_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    Workspace.init(folder).close()
    config = folder / "custlens.yml"
    config.write_text(
        config.read_text()
        + "mappings:\n  subscription_lines:\n"
        + "".join(f"    {s}: {c}\n" for s, c in MAP.items()),
        encoding="utf-8",
    )
    exports = tmp_path / "exports"
    exports.mkdir()
    export(exports, "subscription_lines.csv")
    with Workspace(folder) as ws:
        assert ws.load_dir(exports) == {"subscription_lines": 2}


def test_a_missing_column_names_the_closest_header_and_the_map_that_fixes_it(
    tmp_path: Path,
) -> None:
    path = export(tmp_path)
    with Workspace.init(tmp_path / "ws") as ws, pytest.raises(ContractError) as refused:
        ws.load({"subscription_lines": path})
    assert str(refused.value) == (
        f"{path}: missing required columns 'customer_id', 'period_start', 'amount'; found "
        "columns: 'Customer ID', 'Period Start', 'period_end', 'Amount', 'kind' (column "
        "names are case-sensitive: found 'Amount' for 'amount'; rename, or load with "
        "--map 'Customer ID=customer_id' --map 'Period Start=period_start' --map "
        "'Amount=amount')"
    )
    misspelt = tmp_path / "misspelt.csv"
    misspelt.write_text("customer_id,period_start,period_end,ammount\na,2024-01-01,2024-02-01,1\n")
    with Workspace(tmp_path / "ws") as ws, pytest.raises(ContractError) as refused:
        ws.load({"subscription_lines": misspelt})
    assert str(refused.value).endswith(
        "(did you mean 'ammount' for 'amount'? load with --map 'ammount=amount', or rename it)"
    )


def test_a_mapping_must_name_columns_the_file_has(tmp_path: Path) -> None:
    path = export(tmp_path)
    with Workspace.init(tmp_path / "ws") as ws, pytest.raises(ContractError) as refused:
        ws.load({"subscription_lines": path}, mappings={"subscription_lines": {"Nope": "amount"}})
    assert str(refused.value) == (
        f"{path}: the mapping names column 'Nope', which the subscription_lines source does "
        "not have (its columns: 'Customer ID', 'Period Start', 'period_end', 'Amount', 'kind')"
    )
    with Workspace(tmp_path / "ws") as ws, pytest.raises(ContractError, match="already has"):
        ws.load(
            {"subscription_lines": path}, mappings={"subscription_lines": {"kind": "period_end"}}
        )


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_file_separated_otherwise_is_read_by_its_header(tmp_path: Path, sep: str) -> None:
    # Excel writes ';' where the decimal mark is a comma; exports use tabs and pipes.
    path = tmp_path / "customers.csv"
    path.write_text(
        sep.join(["customer_id", "name", "region"])
        + "\n"
        + sep.join(["c1", "Acme, Inc.", "EMEA"])
        + "\n"
    )
    with Workspace.init(tmp_path / "ws") as ws:
        assert ws.load({"customers": path}) == {"customers": 1}
        assert ws.table("customers").row(0, named=True)["name"] == "Acme, Inc."


def test_an_ambiguous_header_asks_for_the_delimiter_and_the_cli_takes_it(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id;name|note\nc1;Acme|x\n")
    folder = tmp_path / "ws"
    Workspace.init(folder).close()
    runner = CliRunner()
    refused = runner.invoke(app, ["-w", str(folder), "load", "customers", str(path)])
    assert refused.exit_code == 1
    assert "cannot tell the delimiter: the header holds ';' and '|'" in refused.output
    done = runner.invoke(
        app, ["-w", str(folder), "load", "customers", str(path), "--delimiter", ";"]
    )
    assert done.exit_code == 0, done.output
    with Workspace(folder) as ws:
        assert ws.table("customers")["name|note"].to_list() == ["Acme|x"]


def test_dates_and_amounts_written_for_a_person_load_when_told_how(tmp_path: Path) -> None:
    us = tmp_path / "us.csv"
    us.write_text(
        "customer_id,period_start,period_end,amount\n"
        'a,01/02/2024,01/03/2024,"$1,200.50"\n'
        "b,2024-03-01,2024-04-01,$300\n"
    )
    europe = tmp_path / "europe.csv"
    europe.write_text(
        "customer_id;period_start;period_end;amount\nc;01/02/2024;01/03/2024;1.200,50 €\n"
    )
    with Workspace.init(tmp_path / "ws") as ws:
        with pytest.raises(ContractError) as refused:
            ws.load({"subscription_lines": us})
        assert str(refused.value).splitlines()[1:] == [
            "  row 1 (line 2), column 'period_start': '01/02/2024' is not a date; expected "
            "YYYY-MM-DD (day or month first? load with --date-format '%d/%m/%Y' or '%m/%d/%Y')",
            "  row 1 (line 2), column 'period_end': '01/03/2024' is not a date; expected "
            "YYYY-MM-DD (day or month first? load with --date-format '%d/%m/%Y' or '%m/%d/%Y')",
            "  row 1 (line 2), column 'amount': '$1,200.50' is not a number (an amount written "
            "for a person: load with --decimal . or --decimal ,)",
            "  row 2 (line 3), column 'amount': '$300' is not a number (an amount written for "
            "a person: load with --decimal . or --decimal ,)",
        ]
        # Day first: 1 February to 1 March; ISO dates are still read.
        ws.load({"subscription_lines": us}, date_format="%d/%m/%Y", decimal=".")
        got = ws.table("subscription_lines").sort("customer_id")
        assert got["period_start"].to_list() == [date(2024, 2, 1), date(2024, 3, 1)]
        assert got["period_end"].to_list() == [date(2024, 3, 1), date(2024, 4, 1)]
        assert got["amount"].to_list() == [1200.5, 300.0]
        ws.load({"subscription_lines": europe}, date_format="%d/%m/%Y", decimal=",")
        assert ws.table("subscription_lines")["amount"].to_list() == [1200.5]


def test_a_file_in_another_encoding_loads_when_told_and_utf16_by_its_mark(
    tmp_path: Path,
) -> None:
    text = "customer_id,name\nc1,Société Générale\n"
    windows = tmp_path / "windows.csv"
    windows.write_bytes(text.encode("cp1252"))
    unicode_text = tmp_path / "unicode.csv"
    unicode_text.write_bytes(text.encode("utf-16"))  # with its byte-order mark
    with Workspace.init(tmp_path / "ws") as ws:
        with pytest.raises(ContractError, match=r"or say its encoding with --encoding"):
            ws.load({"customers": windows})
        ws.load({"customers": windows}, encoding="cp1252")
        assert ws.table("customers")["name"].to_list() == ["Société Générale"]
        ws.load({"customers": unicode_text})
        assert ws.table("customers")["name"].to_list() == ["Société Générale"]
        with pytest.raises(ContractError, match="unknown encoding 'klingon'"):
            ws.load({"customers": windows}, encoding="klingon")


def test_the_cli_reads_amounts_as_a_locale_writes_them(tmp_path: Path) -> None:
    # German: '.' groups thousands and ',' marks decimals: 1.200,50 € is 1200.50.
    path = tmp_path / "lines.csv"
    path.write_text(
        "customer_id;period_start;period_end;amount;currency\n"
        'a;2024-01-01;2024-02-01;"1.200,50 €";EUR\n'
        "b;2024-01-01;2024-02-01;99,9;eur\n"
    )
    folder = tmp_path / "ws"
    Workspace.init(folder).close()
    runner = CliRunner()
    argv = ["-w", str(folder), "load", "subscription_lines", str(path)]
    unknown = runner.invoke(app, [*argv, "--locale", "xx_YY"])
    assert unknown.exit_code == 2
    assert "'xx_YY' is not a locale" in unknown.output
    clash = runner.invoke(app, [*argv, "--locale", "de_DE", "--decimal", "."])
    assert clash.exit_code == 2
    assert "de_DE writes decimals with ',', not '.'" in clash.output
    done = runner.invoke(app, [*argv, "--locale", "de-DE", "--create-missing-customers"])
    assert done.exit_code == 0, done.output
    with Workspace(folder) as ws:
        lines = ws.table("subscription_lines")
    assert lines["amount"].to_list() == [1200.50, 99.9]
    assert lines["currency"].to_list() == ["EUR", "EUR"]
