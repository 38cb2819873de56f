"""The ``custlens`` command line through Typer's CliRunner, on DuckDB.

Each command is checked by what it leaves behind (files, warehouse tables) and
by what it tells a person (the run table, ``error: …`` with exit code 1, no
traceback unless ``--debug``).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner, Result

from custlens.cli import app
from custlens.config import CONFIG_FILE
from custlens.errors import ConfigError
from custlens.facts import REGISTRY
from custlens.sources.contract import TABLES
from custlens.synth import TABLE_NAMES
from custlens.workspace import Workspace

runner = CliRunner()
REVENUE_FACTS = {"customer_mrr", "mrr_movements", "growth_summary", "customer_count"}


def cli(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone (Rich keeps the space at a wrap point)."""
    return text.replace("\n", "")


def assert_user_error(result: Result) -> str:
    """Exit code 1, ``error: …`` and no traceback; returns the unwrapped output."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.output.lstrip().startswith("error:"), result.output
    return flat(result.output)


def init(folder: Path) -> Path:
    result = cli("init", folder)
    assert result.exit_code == 0, result.output
    return folder


def table_or_none(folder: Path, name: str) -> pl.DataFrame | None:
    with Workspace(folder) as ws:
        return ws.table(name) if f"src_{name}" in ws.tables() else None


# -- init and config ----------------------------------------------------------


def test_init_writes_a_config_that_opens(tmp_path: Path) -> None:
    result = cli("init", tmp_path / "acme")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "acme" / CONFIG_FILE).is_file()
    with Workspace(tmp_path / "acme") as ws:
        assert ws.config.warehouse == "duckdb:///custlens.duckdb"
        assert ws.config.gross_margin == 1.0


def test_init_keeps_an_existing_config(tmp_path: Path) -> None:
    folder = init(tmp_path / "acme")
    (folder / CONFIG_FILE).write_text("gross_margin: 0.5\n")
    assert cli("init", folder).exit_code == 0
    assert (folder / CONFIG_FILE).read_text() == "gross_margin: 0.5\n"


MISSPELT = "# settings\nwarehouse: duckdb:///custlens.duckdb\ngross_margn: 0.8\n"


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["run", "--as-of", "2024-06"],
        ["load", "customers", "customers.csv"],
        ["export", "growth_summary", "--out", "g.csv"],
        ["generate", "--customers", "5", "--months", "2"],
    ],
    ids=lambda c: " ".join(c),
)
def test_a_misspelt_config_key_is_an_error_naming_key_and_line(
    tmp_path: Path, command: list[str]
) -> None:
    folder = init(tmp_path / "ws")
    (folder / CONFIG_FILE).write_text(MISSPELT)
    out = assert_user_error(cli("-w", folder, *command))
    assert "gross_margn" in out
    assert f"{CONFIG_FILE}:3" in out


def test_error_messages_are_printed_on_one_line_however_long(tmp_path: Path) -> None:
    # A person copies the path out of the message: Rich must not fold it at
    # 80 columns (stdout is widened when piped; stderr must be too).
    folder = init(tmp_path / "a-workspace-folder-with-a-rather-long-name-as-real-ones-have")
    (folder / CONFIG_FILE).write_text(MISSPELT)
    result = cli("-w", folder, "run")
    assert result.exit_code == 1
    expected = f"error: {folder.resolve() / CONFIG_FILE}:3: unknown key 'gross_margn'"
    assert expected in result.output.splitlines(), result.output


# -- generate and load -----------------------------------------------------------


def test_generate_with_out_writes_the_csv_files(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    out = tmp_path / "data"
    result = cli(
        "-w", folder, "generate", "--customers", 60, "--months", 6, "--seed", 1,
        "--out", out, "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.csv" for t in TABLE_NAMES)
    lines = pl.read_csv(out / "subscription_lines.csv")
    assert {"customer_id", "period_start", "period_end", "amount"} <= set(lines.columns)
    # 60 billing customers, plus 60 // 100 = 0 duplicate CRM records.
    assert pl.read_csv(out / "customers.csv")["customer_id"].n_unique() == 60
    # --out writes files only: nothing is loaded into the workspace.
    with Workspace(folder) as ws:
        assert ws.tables() == []


def test_generate_with_out_needs_no_workspace(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = cli("-w", tmp_path / "nowhere", "generate", "--customers", 5, "--months", 2,
                 "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "customers.parquet").exists()
    assert not (tmp_path / "nowhere").exists()


def test_load_dir_loads_every_file(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    out = tmp_path / "data"
    cli("-w", folder, "generate", "--customers", 60, "--months", 6, "--seed", 1,
        "--out", out, "--format", "csv")  # fmt: skip
    result = cli("-w", folder, "load", out)
    assert result.exit_code == 0, result.output
    with Workspace(folder) as ws:
        loaded = [f"src_{t}" for t in TABLE_NAMES]
        assert sorted(ws.tables()) == sorted(["_custlens_source_checksums", *loaded])
        for name in TABLE_NAMES:
            rows = pl.read_csv(out / f"{name}.csv").height
            assert ws.table(name).height == rows, name
            assert f"{name} " in result.output
        assert ws.table("customers")["customer_id"].n_unique() == 60


DUPLICATE = "customer_id,name\nC1,Acme\nC2,Globex\nC1,Initech\n"


def test_a_duplicate_key_is_rejected_and_nothing_is_loaded(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    bad = tmp_path / "bad.csv"
    bad.write_text(DUPLICATE)
    out = assert_user_error(cli("-w", folder, "load", "customers", bad))
    # The third data row (line 4 of the file) repeats customer_id 'C1'.
    assert str(bad) in out
    assert "row 3" in out and "line 4" in out
    assert "'customer_id'" in out and "'C1'" in out
    assert table_or_none(folder, "customers") is None


def test_a_bad_file_leaves_loaded_tables_as_they_were(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    good = tmp_path / "good.csv"
    good.write_text("customer_id,name\nC1,Acme\nC2,Globex\n")
    assert cli("-w", folder, "load", "customers", good).exit_code == 0
    before = table_or_none(folder, "customers")
    assert before is not None and before["customer_id"].to_list() == ["C1", "C2"]

    bad = tmp_path / "bad.csv"
    bad.write_text(DUPLICATE)
    assert_user_error(cli("-w", folder, "load", "customers", bad))
    after = table_or_none(folder, "customers")
    assert after is not None
    assert_frame_equal(after, before)


def test_a_bad_file_in_a_folder_loads_none_of_the_folder(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    data = tmp_path / "data"
    data.mkdir()
    (data / "subscription_lines.csv").write_text(
        "customer_id,period_start,period_end,amount\nC1,2024-01-01,2024-02-01,100\n"
    )
    (data / "customers.csv").write_text(DUPLICATE)
    out = assert_user_error(cli("-w", folder, "load", data))
    assert "customers.csv" in out and "'C1'" in out
    with Workspace(folder) as ws:
        assert ws.tables() == []


def test_loading_an_unknown_table_lists_the_known_ones(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    (tmp_path / "x.csv").write_text("a\n1\n")
    out = assert_user_error(cli("-w", folder, "load", "nosuchtable", tmp_path / "x.csv"))
    assert "'nosuchtable'" in out
    for name in TABLES:
        assert name in out, name


# -- run and export -------------------------------------------------------------


def generated(folder: Path, customers: int, months: int, seed: int) -> Path:
    """A new workspace at ``folder`` with generated data from 2024-01, loaded by the CLI."""
    init(folder)
    loaded = cli(
        "-w", folder, "generate", "--customers", customers, "--months", months,
        "--seed", seed, "--start", "2024-01",
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    return folder


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """A workspace with six months of generated data (2024-01 … 2024-06), run to 2024-06."""
    folder = generated(tmp_path_factory.mktemp("cli") / "ws", customers=60, months=6, seed=1)
    return folder, cli("-w", folder, "run", "--as-of", "2024-06")


def test_run_prints_the_run_table(ran: tuple[Path, Result]) -> None:
    folder, result = ran
    assert result.exit_code == 0, result.output
    with Workspace(folder) as ws:
        runs = ws.runs()
        assert runs.height == 1
        run = runs.row(0, named=True)
        written = {name: ws.table(name).height for name in json.loads(run["facts"])}
    assert run["status"] == "succeeded"
    assert REVENUE_FACTS <= set(written)
    assert run["as_of"] == date(2024, 6, 30)
    assert f"Run {run['run_id']}" in result.output
    assert "as of 2024-06" in result.output
    lines = result.output.splitlines()
    for name, rows in written.items():
        row = next((line for line in lines if f" {name} " in line), None)
        assert row is not None, f"{name} missing from:\n{result.output}"
        assert f" {rows:,} " in row and "written" in row, row
    # The rollups are internal: counted in the summary line, not listed.
    assert "_rollup_" not in result.output
    total = sum(written.values())
    assert f"{len(written)} facts written ({total:,} rows)" in result.output
    assert "rollups built · as of 2024-06 · " in result.output


def test_run_verbose_lists_the_rollup_tables(tmp_path: Path) -> None:
    folder = generated(tmp_path / "ws", customers=20, months=3, seed=2)
    result = cli("-w", folder, "run", "--verbose")
    assert result.exit_code == 0, result.output
    with Workspace(folder) as ws:
        rollups = [t for t in ws.tables() if t.startswith("_rollup_")]
    assert rollups
    for name in rollups:
        assert name in result.output, name


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_writes_the_table(ran: tuple[Path, Result], tmp_path: Path, suffix: str) -> None:
    folder, _ = ran
    target = tmp_path / "out" / f"growth{suffix}"
    result = cli("-w", folder, "export", "growth_summary", "--out", target)
    assert result.exit_code == 0, result.output
    with Workspace(folder) as ws:
        expected = ws.table("growth_summary").drop("_run_id")
    assert expected.height == 6  # 2024-01 … 2024-06
    if suffix == ".csv":
        written = pl.read_csv(target, schema=expected.schema)
    else:
        written = pl.read_parquet(target)
    assert_frame_equal(written, expected)


def test_export_to_another_format_is_an_error(ran: tuple[Path, Result], tmp_path: Path) -> None:
    folder, _ = ran
    out = assert_user_error(cli("-w", folder, "export", "x", "--out", tmp_path / "y.txt"))
    assert ".txt" in out and ".csv" in out and ".parquet" in out
    assert not (tmp_path / "y.txt").exists()


def test_export_of_an_unknown_table_names_the_facts(
    ran: tuple[Path, Result], tmp_path: Path
) -> None:
    folder, _ = ran
    out = assert_user_error(cli("-w", folder, "export", "nosuch", "--out", tmp_path / "y.csv"))
    assert "'nosuch'" in out and "growth_summary" in out


def test_run_with_nothing_loaded_skips_every_fact_and_says_why(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    result = cli("-w", folder, "run")
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    row = next(line for line in result.output.splitlines() if " customer_mrr " in line)
    assert "skipped" in row
    assert "needs src_subscription_lines or src_customer_mrr" in out
    for name in REGISTRY:
        assert name in out, name
    assert "written" not in out


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace of its own (``ran``'s must keep one run), with four months loaded."""
    return generated(tmp_path_factory.mktemp("cli-profile") / "ws", customers=30, months=4, seed=2)


def test_run_profile_json_times_every_fact_and_rollup_that_ran(profiled: Path) -> None:
    result = cli("-w", profiled, "run", "--as-of", "2024-04", "--profile", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)  # nothing but the JSON on stdout
    with Workspace(profiled) as ws:
        run = ws.runs().row(-1, named=True)
        written = json.loads(run["facts"])
        rollups = {table: ws.table(table).height for table in ws.tables() if "_rollup_" in table}
    assert report["run_id"] == run["run_id"] and report["as_of"] == "2024-04"
    steps = report["steps"]
    facts = {s["name"]: s for s in steps if s["kind"] == "fact"}
    assert REVENUE_FACTS <= set(facts)
    assert {name: s["rows"] for name, s in facts.items()} == written
    built = [s for s in steps if s["kind"] == "rollup"]
    assert sorted(s["rows"] for s in built) == sorted(rollups.values()) and built
    assert steps[0]["kind"] == "inputs"
    assert "publish" in [s["kind"] for s in steps]
    for step in steps:
        parts = step["build_seconds"] + step["compile_seconds"] + step["execute_seconds"]
        assert min(parts, step["seconds"]) >= 0
        assert abs(parts - step["seconds"]) < 1e-3, step
    for step in facts.values():  # each fact is compiled and executed, so each takes time
        assert step["compile_seconds"] > 0 or step["execute_seconds"] > 0, step


def test_run_profile_prints_a_table_with_every_fact(profiled: Path) -> None:
    # A bare --profile (here before another option) means the table.
    result = cli("-w", profiled, "run", "--profile", "--as-of", "2024-04")
    assert result.exit_code == 0, result.output
    assert "as of 2024-04" in result.output
    with Workspace(profiled) as ws:
        written = json.loads(ws.runs().row(-1, named=True)["facts"])
    table = result.output.split("Where the run's time went", 1)[1]
    lines = table.splitlines()
    for name, rows in written.items():
        row = next((line for line in lines if f" {name} " in line), None)
        assert row is not None, f"{name} missing from:\n{table}"
        assert " fact " in row and f" {rows:,} " in row, row
    assert " input checksums and changes " in table and " publish " in table


# -- demo and --debug -------------------------------------------------------------


def test_demo_generates_runs_and_prints_the_kpis(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = cli("demo", "--customers", 50, "--months", 6, "--dir", folder)
    assert result.exit_code == 0, result.output
    for heading in ("Growth summary", "Month", "MRR", "ARR", "NRR", "GRR", "Customers"):
        assert heading in result.output, heading
    # The demo data ends last month, so last month is the table's last row.
    today = date.today()
    last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    assert f"{last:%Y-%m}" in result.output
    with Workspace(folder) as ws:
        assert ws.table("growth_summary")["month"].max() == last
        assert ws.runs()["status"].to_list() == ["succeeded"]


def test_debug_reraises_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = cli("--debug", "-w", missing, "run")
    assert isinstance(result.exception, ConfigError)
    assert "no such file" in str(result.exception)
    # Without --debug (the flag does not stick between invocations): error: and exit 1.
    out = assert_user_error(cli("-w", missing, "run"))
    assert "custlens init" in out


# -- the semantic layer ----------------------------------------------------------


def _quarter(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def test_query_gives_each_quarter_its_last_months_mrr(ran: tuple[Path, Result]) -> None:
    folder, _ = ran
    result = cli(
        "-w", folder, "query", "-m", "mrr", "-m", "customers", "-m", "new_mrr",
        "-t", "growth.month:quarter", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    with Workspace(folder) as ws:
        growth = ws.table("growth_summary")
    # Independently: balances from the last month of each quarter, flows summed.
    expected = []
    for quarter, months in growth.group_by(
        pl.col("month").map_elements(_quarter, return_dtype=pl.Date).alias("q"),
        maintain_order=True,
    ):
        last = months.sort("month").row(-1, named=True)
        expected.append(
            {
                "growth.month.quarter": quarter[0].isoformat(),
                "mrr": last["ending_mrr"],
                "customers": last["ending_customers"],
                "new_mrr": months["new_mrr"].sum(),
            }
        )
    assert len(rows) == 2  # 2024-01 … 2024-06
    for row, want in zip(rows, expected, strict=True):
        assert row["growth.month.quarter"] == want["growth.month.quarter"]
        assert row["mrr"] == pytest.approx(want["mrr"])
        assert row["customers"] == want["customers"]
        assert row["new_mrr"] == pytest.approx(want["new_mrr"])


def test_query_filters_and_groups_like_a_naive_join(ran: tuple[Path, Result]) -> None:
    folder, _ = ran
    result = cli(
        "-w", folder, "query", "-m", "transactions.revenue", "-d", "customers.segment",
        "-f", "customers.region in EMEA,NA", "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = pl.read_csv(result.stdout.encode())
    with Workspace(folder) as ws:
        tx = ws.table("src_transactions")
        customers = ws.table("src_customers")
    naive = (
        tx.filter(pl.col("status") == "processed")
        .join(customers, on="customer_id", how="left")
        .filter(pl.col("region").is_in(["EMEA", "NA"]))
        .with_columns(
            signed=pl.when(pl.col("type") == "refund")
            .then(-pl.col("amount"))
            .otherwise(pl.col("amount"))
        )
        .group_by("segment")
        .agg(pl.col("signed").sum())
        .sort("segment")
    )
    assert got["customers.segment"].to_list() == naive["segment"].to_list()
    assert got["transactions.revenue"].to_list() == pytest.approx(naive["signed"].to_list())


def test_query_prints_currency_for_a_person(ran: tuple[Path, Result]) -> None:
    folder, _ = ran
    result = cli("-w", folder, "query", "-m", "mrr", "-t", "growth.month:month:last 2 months")
    assert result.exit_code == 0, result.output
    assert "$" in result.output
    assert "2024-05" in result.output and "2024-06" in result.output  # months as months
    assert "2024-04-01" not in result.output


def test_query_with_a_bad_operator_names_it(ran: tuple[Path, Result]) -> None:
    folder, _ = ran
    out = assert_user_error(
        cli("-w", folder, "query", "-m", "mrr", "-f", "customers.region equal EMEA")
    )
    assert "'equal' is not an operator" in out


def test_catalog_lists_every_metric_with_its_owner(ran: tuple[Path, Result]) -> None:
    folder, _ = ran
    result = cli("-w", folder, "catalog", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["mrr"]["owner"] == "Finance"
    assert rows["quick_ratio"]["formula"] == "mrr_gained / mrr_lost"
    assert all(r["definition"] for r in rows.values())


def test_load_warns_of_an_extra_column_and_refuses_a_header_only_file(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    extra = tmp_path / "customers.csv"
    extra.write_text("customer_id,colour\nc1,red\n")
    result = cli("-w", folder, "load", "customers", extra)
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "extra column 'colour'" in flat(result.output)
    empty = tmp_path / "empty" / "customers.csv"
    empty.parent.mkdir()
    empty.write_text("customer_id\n")
    out = assert_user_error(cli("-w", folder, "load", "customers", empty))
    assert "header and no rows" in out and "--allow-empty" in out
    with Workspace(folder) as ws:
        assert ws.table("src_customers").height == 1  # as it was
    assert cli("-w", folder, "load", "customers", empty, "--allow-empty").exit_code == 0
    with Workspace(folder) as ws:
        assert ws.table("src_customers").height == 0


def test_query_help_keeps_the_order_syntax() -> None:
    # Rich reads "[asc|desc]" as markup unless it is escaped: the help showed 'member '.
    result = CliRunner().invoke(app, ["query", "--help"], terminal_width=160)
    assert result.exit_code == 0
    assert "'member [asc|desc]'" in result.stdout


@pytest.mark.parametrize("argv", [["--help"], ["query", "--help"], ["run", "--help"]])
def test_help_shows_what_to_type_not_python_types(argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv, terminal_width=160)
    assert result.exit_code == 0
    for python_type in ("<bool>", "<list[str]>", "<int range>", "<str>", "<path>", "<int>"):
        assert python_type not in result.stdout, (python_type, result.stdout)
    if argv[0] == "query":
        assert re.search(r"--metric\s+-m\s+TEXT", result.stdout)
        assert re.search(r"--limit\s+INTEGER", result.stdout)


def test_generate_says_why_customers_has_more_rows(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    result = cli("-w", folder, "generate", "--customers", 200, "--months", 2)
    assert result.exit_code == 0, result.output
    with Workspace(folder) as ws:
        rows = ws.table("src_customers").height
    assert rows == 202  # 1 % duplicates from CRM and support
    assert "customers has 2 more rows than --customers 200" in flat(result.output)
    assert "identity resolution" in flat(result.output)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "--bogus"], "error: No such option: --bogus"),
        (["query", "-m", "mrr", "--limit", "0"], "error: Invalid value for '--limit'"),
    ],
)
def test_click_usage_errors_read_like_every_other_error(argv: list[str], message: str) -> None:
    # One shape for every error: `error: …` and how to get help, never a boxed panel.
    result = CliRunner().invoke(app, argv, prog_name="custlens")
    assert result.exit_code == 2
    assert result.output.startswith(message), result.output
    assert "Try 'custlens query --help' for help." in result.output
    assert "╭" not in result.output


def test_run_says_what_changed_in_the_sources_since_the_last_full_run(tmp_path: Path) -> None:
    folder = init(tmp_path / "ws")
    mrr = tmp_path / "customer_mrr.csv"
    mrr.write_text("customer_id,month,mrr\na,2024-01,100\na,2024-02,100\nb,2024-01,50\n")
    assert cli("-w", folder, "load", "customer_mrr", mrr).exit_code == 0
    first = cli("-w", folder, "run")
    assert first.exit_code == 0, first.output
    assert "Since the last full run" not in first.output  # every source is new
    again = cli("-w", folder, "run")
    assert "No source changed since the last full run." in again.output
    # b's January corrected and a March added: two months, in a's bucket and b's.
    mrr.write_text(
        "customer_id,month,mrr\na,2024-01,100\na,2024-02,100\na,2024-03,100\nb,2024-01,55\n"
    )
    assert cli("-w", folder, "load", "customer_mrr", mrr).exit_code == 0
    changed = cli("-w", folder, "run")
    line = " ".join(changed.output.split())
    assert "Since the last full run, changed: customer_mrr (months 2024-01, 2024-03; " in line
    assert re.search(r"; [12] of 64 customer buckets\)\.", line), line
