"""Reading, validating and loading source tables (custlens.sources.load)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import hypothesis.strategies as st
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings

from custlens.errors import ContractError, ContractWarning
from custlens.sources.contract import TABLES
from custlens.sources.load import find_sources, load_sources, read_source, validate
from custlens.workspace import Workspace
from tests.sources import write

KNOWN = ", ".join(sorted(TABLES))


def load(folder: Path, table: str, text: str) -> pl.DataFrame:
    """Write ``text`` as ``<table>.csv`` and return it read and validated."""
    return validate(table, *read_source(write(folder, f"{table}.csv", text), table))


def error_of(folder: Path, table: str, text: str) -> ContractError:
    with pytest.raises(ContractError) as info:
        load(folder, table, text)
    return info.value


class RecordingWarehouse:
    """Stands in for custlens.warehouse.Warehouse: records every write."""

    def __init__(self) -> None:
        self.calls: list[dict[str, pl.DataFrame]] = []

    def write_tables(self, tables: dict[str, pl.DataFrame]) -> None:
        self.calls.append(dict(tables))


# -- reading and typing ------------------------------------------------------


def test_csv_is_typed_with_defaults_and_extras(tmp_path: Path) -> None:
    frame = load(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,kind,note\n"
        " 007 ,2024-01-01,2024-02-01, 120.5 ,,first\n"
        "8,2024-01-15,2025-01-15,1200,one_time,\n",
    )
    assert frame.columns == [c.name for c in TABLES["subscription_lines"].columns] + ["note"]
    assert frame.schema["customer_id"] == pl.String
    assert frame.schema["period_start"] == pl.Date
    assert frame.schema["amount"] == pl.Float64
    assert frame.schema["discount"] == pl.Float64  # absent optional column, added typed
    assert frame["customer_id"].to_list() == ["007", "8"]  # ids stay text
    assert frame["amount"].to_list() == [120.5, 1200.0]
    assert frame["period_end"].to_list() == [date(2024, 2, 1), date(2025, 1, 15)]
    assert frame["kind"].to_list() == ["recurring", "one_time"]  # default fills the empty cell
    assert frame["discount"].null_count() == 2
    assert frame["note"].to_list() == ["first", None]  # extra column kept, as text


def test_month_is_truncated_to_first_day(tmp_path: Path) -> None:
    frame = load(
        tmp_path,
        "customer_mrr",
        "customer_id,month,mrr\na,2024-03,10\nb,2024-03-01,20\nc,2024-03-31,30\nd,2024-3,40\n",
    )
    assert frame["month"].to_list() == [date(2024, 3, 1)] * 4
    assert frame["mrr"].to_list() == [10.0, 20.0, 30.0, 40.0]


def test_timestamps_accept_dates_t_separator_and_offsets(tmp_path: Path) -> None:
    frame = load(
        tmp_path,
        "transactions",
        "transaction_id,customer_id,created_at,amount,type\n"
        "t1,c,2024-03-01,1,refund\n"
        "t2,c,2024-03-01 10:30,1,\n"
        "t3,c,2024-03-01T10:30:15.25,1,\n"
        "t4,c,2024-03-01T10:30:00Z,1,\n"
        "t5,c,2024-03-01 10:30:00+02:00,1,\n",
    )
    assert frame.schema["created_at"] == pl.Datetime("us")
    assert frame["created_at"].to_list() == [
        datetime(2024, 3, 1),
        datetime(2024, 3, 1, 10, 30),
        datetime(2024, 3, 1, 10, 30, 15, 250000),
        datetime(2024, 3, 1, 10, 30),
        datetime(2024, 3, 1, 8, 30),  # offsets are converted to UTC
    ]
    assert frame["type"].to_list() == ["refund"] + ["payment"] * 4
    assert frame["status"].to_list() == ["processed"] * 5


def test_whole_numbers_accept_integral_spellings(tmp_path: Path) -> None:
    frame = load(
        tmp_path,
        "revenue_events",
        "date,revenue_type_id,value_type_id,nr_of_customers\n"
        "2024-01-01,1,2,3\n2024-01-01,2.0,3,1e2\n",
    )
    assert frame.schema["nr_of_customers"] == pl.Int64
    assert frame["revenue_type_id"].to_list() == [1, 2]
    assert frame["nr_of_customers"].to_list() == [3, 100]


def test_header_only_file_is_zero_typed_rows(tmp_path: Path) -> None:
    frame = load(tmp_path, "customers", "customer_id,name,signup_date\n")
    assert frame.height == 0
    assert frame.schema["signup_date"] == pl.Date


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path: Path) -> None:
    text = 'customer_id,name\n\nc1,"two\nlines"\n  ,  \nc2,x\nc1,y\n'
    frame, _ = read_source(write(tmp_path, "customers.csv", text), "customers")
    assert frame["customer_id"].to_list() == ["c1", "c2", "c1"]
    error = error_of(tmp_path, "customers", text)
    # Row 3 is the third data row; it starts on line 7 of the file.
    assert "row 3 (line 7)" in str(error)
    assert "first seen in row 1 (line 3)" in str(error)


def test_header_names_are_stripped_like_cells(tmp_path: Path) -> None:
    frame = load(tmp_path, "customers", " customer_id , name\nc1,Acme\n")
    assert frame.select("customer_id", "name").rows() == [("c1", "Acme")]


def test_categorical_columns_are_read_as_text() -> None:
    frame = pd.DataFrame({"customer_id": pd.Categorical(["a", "b"]), "name": ["A", "B"]})
    assert validate("contacts", frame)["customer_id"].to_list() == ["a", "b"]


def test_parquet_is_read_typed_then_cast(tmp_path: Path) -> None:
    path = tmp_path / "customer_mrr.parquet"
    pl.DataFrame(
        {
            "customer_id": [7, 8],
            "month": [date(2024, 3, 17), date(2024, 4, 1)],
            "mrr": [10, 20],
            "source": ["erp", "erp"],
        }
    ).write_parquet(path)
    frame = validate("customer_mrr", *read_source(path, "customer_mrr"))
    assert frame.rows() == [
        ("7", date(2024, 3, 1), 10.0, "erp"),
        ("8", date(2024, 4, 1), 20.0, "erp"),
    ]


def test_parquet_errors_name_the_row_without_a_line(tmp_path: Path) -> None:
    path = tmp_path / "nps_responses.parquet"
    pl.DataFrame(
        {"customer_id": ["a", "b"], "responded_at": [date(2024, 1, 1)] * 2, "score": [9, 11]}
    ).write_parquet(path)
    with pytest.raises(ContractError) as info:
        validate("nps_responses", *read_source(path, "nps_responses"))
    assert str(info.value) == (
        f"{path}, row 2, column 'score': out-of-range value 11; expected between 0 and 10"
    )


def test_pandas_and_arrow_frames_are_accepted() -> None:
    rows = {
        "customer_id": ["a", "b"],
        "occurred_at": [datetime(2024, 1, 1, 9, tzinfo=UTC), None],
        "event_type": ["login", "login"],
    }
    from_pandas = pd.DataFrame(rows)
    from_pandas.loc[1, "occurred_at"] = pd.Timestamp("2024-01-02 10:00", tz="UTC")
    for frame in (from_pandas, pa.table(from_pandas)):
        typed = validate("usage_events", frame)
        assert typed.schema["occurred_at"] == pl.Datetime("us")
        assert typed["occurred_at"].to_list() == [
            datetime(2024, 1, 1, 9),
            datetime(2024, 1, 2, 10),
        ]
        assert typed["feature"].null_count() == 2


def test_pandas_float_ids_read_as_whole_numbers() -> None:
    frame = pd.DataFrame({"customer_id": [1.0, 2.0], "cac": [100, 200]})
    assert validate("acquisition_costs", frame)["customer_id"].to_list() == ["1", "2"]


def test_date_column_rejects_a_time_of_day() -> None:
    frame = pl.DataFrame({"customer_id": ["a"], "signup_date": [datetime(2024, 1, 1, 9)]})
    with pytest.raises(ContractError, match="2024-01-01 09:00:00 is not a date"):
        validate("customers", frame)
    midnight = frame.with_columns(pl.lit(datetime(2024, 1, 1)).alias("signup_date"))
    assert validate("customers", midnight)["signup_date"].to_list() == [date(2024, 1, 1)]


def test_column_of_an_unusable_type_is_an_error() -> None:
    frame = pl.DataFrame({"customer_id": ["a"], "cac": [[1, 2]]})
    with pytest.raises(ContractError, match=r"column 'cac': has type List\(Int64\)"):
        validate("acquisition_costs", frame)


# -- errors: one per rule ----------------------------------------------------


def test_missing_required_column_is_named_with_the_columns_found(tmp_path: Path) -> None:
    error = error_of(tmp_path, "subscription_lines", "customer_id,start,period_end\nc,1,2\n")
    assert str(error) == (
        f"{tmp_path / 'subscription_lines.csv'}: missing required columns 'period_start', "
        "'amount'; found columns: 'customer_id', 'start', 'period_end'"
    )


def test_missing_column_hints_at_case(tmp_path: Path) -> None:
    error = error_of(tmp_path, "customers", "Customer_ID\nc\n")
    assert "column names are case-sensitive: found 'Customer_ID' for 'customer_id'" in str(error)


@pytest.mark.parametrize(
    ("table", "text", "where", "expected"),
    [
        (
            "customers",
            "customer_id,signup_date\na,2024-01-31\nb,\nc,2024-02-30\nd,nope\n",
            "row 3 (line 4), column 'signup_date'",
            "'2024-02-30' is not a date; expected YYYY-MM-DD",
        ),
        (
            "usage_events",
            "customer_id,occurred_at,event_type\na,2024-01-01 10:00,login\nb,01/02/2024,login\n",
            "row 2 (line 3), column 'occurred_at'",
            "'01/02/2024' is not a timestamp; expected YYYY-MM-DD",
        ),
        (
            "acquisition_costs",
            'customer_id,cac\na,1\nb,"1,5"\nc,1 000\n',
            "row 2 (line 3), column 'cac'",
            "'1,5' is not a number",
        ),
        (
            "acquisition_costs",
            "customer_id,cac\na,inf\n",
            "row 1 (line 2), column 'cac'",
            "'inf' is not a number",
        ),
        (
            "support_tickets",
            "ticket_id,customer_id,opened_at,csat\nt,c,2024-01-01,4.5\n",
            "row 1 (line 2), column 'csat'",
            "'4.5' is not a whole number",
        ),
        (
            "marketing_spend",
            "month,amount\n2024-01,5\n2024-13,5\n",
            "row 2 (line 3), column 'month'",
            "'2024-13' is not a month; expected YYYY-MM",
        ),
    ],
)
def test_unparseable_value_names_its_row_and_value(
    tmp_path: Path, table: str, text: str, where: str, expected: str
) -> None:
    error = error_of(tmp_path, table, text)
    message = str(error)
    if "problems" in message.splitlines()[0]:  # the other bad rows are listed too
        assert any(line.startswith(f"  {where}: {expected}") for line in message.splitlines())
    else:
        assert message.startswith(f"{tmp_path / (table + '.csv')}, {where}: {expected}")
    assert error.origin == str(tmp_path / f"{table}.csv")
    assert error.row is not None and error.column is not None and error.value is not None


def test_negative_mrr(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "customer_mrr",
        "customer_id,month,mrr\na,2024-01-01,10\nb,2024-01-01,-10\n",
    )
    assert str(error) == (
        f"{tmp_path / 'customer_mrr.csv'}, row 2 (line 3), column 'mrr': "
        "negative value -10.0; expected >= 0"
    )
    assert (error.row, error.column, error.value) == (2, "mrr", -10.0)


def test_a_credit_a_proration_or_a_discount_line_loads_negative(tmp_path: Path) -> None:
    # Every billing system emits them (DESIGN.md §2: amount is negative for credits).
    path = tmp_path / "subscription_lines.csv"
    path.write_text(
        "customer_id,subscription_id,period_start,period_end,amount\n"
        "a,s1,2024-03-01,2024-04-01,100\n"
        "a,s1,2024-03-15,2024-04-01,-54.84\n"
        "a,s1,2024-03-15,2024-04-01,109.68\n",
        encoding="utf-8",
    )
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load({"subscription_lines": path})
        assert ws.table("subscription_lines")["amount"].to_list() == [100.0, -54.84, 109.68]


def test_value_out_of_range(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "support_tickets",
        "ticket_id,customer_id,opened_at,sentiment\nt1,c,2024-01-01,-1\nt2,c,2024-01-01,1.5\n",
    )
    assert (
        "row 2 (line 3), column 'sentiment': out-of-range value 1.5; expected between -1 and 1"
        in (str(error))
    )


def test_value_not_among_choices_lists_the_allowed(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "journey_events",
        "customer_id,occurred_at,stage\na,2024-01-01,Signup\na,2024-01-02,Onboard\n",
    )
    # 'Signup' is signup in other capitals; 'Onboard' is no stage.
    assert str(error).endswith(
        "row 2 (line 3), column 'stage': 'Onboard' is not one of 'signup', 'onboarding', "
        "'first_value', 'paid', 'expansion', 'advocacy'"
    )


def test_integer_choices(tmp_path: Path) -> None:
    error = error_of(tmp_path, "starting_balances", "value_type_id,nr_of_customers\n4,1\n")
    assert "column 'value_type_id': 4 is not one of 1, 2, 3" in str(error)


def test_null_in_required_column(tmp_path: Path) -> None:
    error = error_of(tmp_path, "contacts", "customer_id,name\na,Ann\nb,  \n")
    assert str(error) == (
        f"{tmp_path / 'contacts.csv'}, row 2 (line 3), column 'name': "
        "missing value; name is required in every row"
    )


def test_negative_period_names_both_values(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount\n"
        "a,2024-01-01,2024-02-01,10\n"
        "b,2024-03-01,2024-02-01,10\n",
    )
    assert str(error).endswith(
        "row 2 (line 3), column 'period_end': period_end 2024-02-01 is not after "
        "period_start 2024-03-01 (a negative period); expected period_end > period_start"
    )


def test_empty_period_is_rejected_too(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount\na,2024-01-01,2024-01-01,10\n",
    )
    assert "(an empty period)" in str(error)


def test_duplicate_key_names_value_and_both_rows(tmp_path: Path) -> None:
    error = error_of(tmp_path, "customers", "customer_id,name\nc1,A\nc2,B\nc1,C\n")
    assert str(error) == (
        f"{tmp_path / 'customers.csv'}, row 3 (line 4), column 'customer_id': "
        "duplicate customer_id 'c1', first seen in row 1 (line 2); it must be unique"
    )


def test_customer_mrr_is_unique_per_calendar_month(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "customer_mrr",
        "customer_id,month,mrr\nc1,2024-03,10\nc1,2024-04,10\nc1,2024-03-31,5\n",
    )
    assert (
        "row 3 (line 4): duplicate key customer_id 'c1', month 2024-03-01, first seen in "
        "row 1 (line 2); (customer_id, month) must be unique" in str(error)
    )


def test_several_problems_are_listed_one_per_line(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,discount,kind\n"
        "a,2024-01-01,2024-02-01,5,-5,\n"
        "b,2024-01-01,2024-02-01,5,,monthly\n",
    )
    assert str(error).splitlines() == [
        f"{tmp_path / 'subscription_lines.csv'}: 2 problems",
        "  row 2 (line 3), column 'kind': 'monthly' is not one of 'recurring', 'one_time', 'usage'",
        "  row 1 (line 2), column 'discount': negative value -5.0; expected >= 0",
    ]
    assert (error.row, error.column) == (2, "kind")  # the first problem


def test_one_load_lists_every_reason_and_counts_past_twenty(tmp_path: Path) -> None:
    # Two bad amounts, an unknown kind, a date that is not one and two negative
    # periods — the one beside the bad date is still checked, on the rows that parse.
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,kind\n"
        "a,2024-01-01,2024-02-01,abc,recurring\n"
        "b,2024-03-01,2024-02-01,10,recurring\n"
        "c,2024-01-01,2024-02-01,10,monthly\n"
        "d,2024-01-01,2024-02-01,xyz,recurring\n"
        "e,01/02/2024,2024-02-01,10,recurring\n"
        "f,2024-05-01,2024-04-01,10,recurring\n",
    )
    path = tmp_path / "subscription_lines.csv"
    negative = "(a negative period); expected period_end > period_start"
    assert str(error).splitlines() == [
        f"{path}: 6 problems",
        "  row 5 (line 6), column 'period_start': '01/02/2024' is not a date; expected "
        "YYYY-MM-DD (day or month first? load with --date-format '%d/%m/%Y' or '%m/%d/%Y')",
        "  row 1 (line 2), column 'amount': 'abc' is not a number",
        "  row 4 (line 5), column 'amount': 'xyz' is not a number",
        "  row 3 (line 4), column 'kind': 'monthly' is not one of 'recurring', 'one_time', 'usage'",
        "  row 2 (line 3), column 'period_end': period_end 2024-02-01 is not after period_start "
        f"2024-03-01 {negative}",
        "  row 6 (line 7), column 'period_end': period_end 2024-04-01 is not after period_start "
        f"2024-05-01 {negative}",
    ]
    assert (error.row, error.column, error.value) == (5, "period_start", "01/02/2024")

    # 25 bad amounts and one bad kind: twenty lines, then the count of the rest.
    rows = "".join(f"c{i},2024-01-01,2024-02-01,x{i},recurring\n" for i in range(25))
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,kind\n"
        + rows
        + "z,2024-01-01,2024-02-01,1,weekly\n",
    )
    lines = str(error).splitlines()
    assert lines[0] == f"{path}: 26 problems"
    assert lines[1] == "  row 1 (line 2), column 'amount': 'x0' is not a number"
    assert lines[20] == "  row 20 (line 21), column 'amount': 'x19' is not a number"
    assert lines[21:] == ["  and 6 more"]


def test_unknown_table(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=f"unknown table 'customer'; known tables: {KNOWN}"):
        validate("customer", pl.DataFrame({"customer_id": ["a"]}))
    with pytest.raises(ContractError, match="unknown table 'customer'"):
        read_source(write(tmp_path, "customer.csv", "customer_id\na\n"), "customer")


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"customers\.csv: file not found"):
        read_source(tmp_path / "customers.csv", "customers")


def test_unsupported_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.xlsx", "")
    with pytest.raises(ContractError, match=r"unsupported file type '\.xlsx'; expected one of"):
        read_source(path, "customers")


def test_empty_file_has_no_header(tmp_path: Path) -> None:
    error = error_of(tmp_path, "customers", "")
    assert "the file is empty; expected a header line naming the columns" in str(error)


def test_file_without_header(tmp_path: Path) -> None:
    error = error_of(tmp_path, "customers", "c1,Acme\nc2,Beta\n")
    message = str(error)
    assert "missing required column 'customer_id'; found columns: 'c1', 'Acme'" in message
    assert "the first line does not look like a header" in message


def test_row_with_more_fields_than_the_header(tmp_path: Path) -> None:
    error = error_of(tmp_path, "customers", "customer_id,name\na,A\nb,B,extra\n")
    assert str(error) == (
        f"{tmp_path / 'customers.csv'}, row 2 (line 3): more fields than the header; "
        "the header has 2 (customer_id, name)"
    )


def test_duplicate_header_name(tmp_path: Path) -> None:
    error = error_of(tmp_path, "customers", "customer_id,name,name\na,A,B\n")
    assert "the header names a column twice: 'name'" in str(error)


def test_not_a_parquet_file(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read as Parquet"):
        read_source(write(tmp_path, "customers.parquet", "customer_id\n"), "customers")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=12))
def test_any_date_cell_parses_or_names_its_row_and_value(cell: str) -> None:
    frame = pl.DataFrame({"customer_id": ["a", "b"], "signup_date": ["2024-01-01", cell]})
    try:
        typed = validate("customers", frame)
    except ContractError as error:
        assert (error.row, error.column, error.value) == (2, "signup_date", cell)
        assert f"row 2, column 'signup_date': {cell!r} is not a date" in str(error)
    else:
        assert typed["signup_date"][0] == date(2024, 1, 1)


# -- finding a folder's sources ----------------------------------------------


def test_find_sources(tmp_path: Path) -> None:
    write(tmp_path, "customers.csv", "customer_id\n")
    pl.DataFrame({"month": [date(2024, 1, 1)], "amount": [1.0]}).write_parquet(
        tmp_path / "marketing_spend.parquet"
    )
    write(tmp_path, "README.md", "notes")
    write(tmp_path, ".customers.csv", "")  # hidden: an editor's lock or backup
    assert find_sources(tmp_path) == {
        "customers": tmp_path / "customers.csv",
        "marketing_spend": tmp_path / "marketing_spend.parquet",
    }


def test_find_sources_rejects_an_unknown_file_name(tmp_path: Path) -> None:
    write(tmp_path, "customer.csv", "customer_id\n")
    with pytest.raises(ContractError) as info:
        find_sources(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'customer.csv'}: 'customer.csv' is not a source table; name a file after "
        f"its table (<table>.csv or <table>.parquet), known tables: {KNOWN}"
    )


def test_find_sources_rejects_two_files_for_one_table(tmp_path: Path) -> None:
    write(tmp_path, "customers.csv", "customer_id\n")
    pl.DataFrame({"customer_id": ["a"]}).write_parquet(tmp_path / "customers.parquet")
    with pytest.raises(
        ContractError,
        match=r"two files for table 'customers': customers\.csv and customers\.parquet",
    ):
        find_sources(tmp_path)


def test_find_sources_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="source folder not found"):
        find_sources(tmp_path / "nope")


# -- loading: all or nothing -------------------------------------------------

GOOD_CUSTOMERS = "customer_id,name,segment\nc1,Acme,smb\nc2,Beta,enterprise\n"
GOOD_LINES = (
    "customer_id,period_start,period_end,amount\n"
    "c1,2024-01-01,2024-02-01,100\n"
    "c2,2024-01-01,2025-01-01,1200\n"
)


def test_load_sources_writes_every_table_in_one_call(tmp_path: Path) -> None:
    warehouse = RecordingWarehouse()
    rows = load_sources(
        warehouse,
        {
            "customers": write(tmp_path, "customers.csv", GOOD_CUSTOMERS),
            "subscription_lines": str(write(tmp_path, "lines.csv", GOOD_LINES)),
            "marketing_spend": pl.DataFrame({"month": ["2024-01"], "amount": [5]}),
        },
    )
    assert rows == {"customers": 2, "subscription_lines": 2, "marketing_spend": 1}
    assert len(warehouse.calls) == 1
    written = warehouse.calls[0]
    assert sorted(written) == ["src_customers", "src_marketing_spend", "src_subscription_lines"]
    assert written["src_subscription_lines"]["kind"].to_list() == ["recurring"] * 2
    assert written["src_marketing_spend"]["month"].to_list() == [date(2024, 1, 1)]


def test_load_sources_writes_nothing_when_one_item_is_bad(tmp_path: Path) -> None:
    warehouse = RecordingWarehouse()
    bad_lines = GOOD_LINES.replace("2025-01-01", "2023-01-01")  # a negative period
    with pytest.raises(ContractError, match=r"lines\.csv, row 2 \(line 3\), column 'period_end'"):
        load_sources(
            warehouse,
            {
                "customers": write(tmp_path, "customers.csv", GOOD_CUSTOMERS),
                "subscription_lines": write(tmp_path, "lines.csv", bad_lines),
            },
        )
    assert warehouse.calls == []


def test_load_sources_reports_every_bad_source(tmp_path: Path) -> None:
    warehouse = RecordingWarehouse()
    with pytest.raises(ContractError) as info:
        load_sources(
            warehouse,
            {
                "customers": write(tmp_path, "customers.csv", "customer_id\nc1\nc1\n"),
                "subscription_lines": tmp_path / "missing.csv",
            },
        )
    lines = str(info.value).splitlines()
    assert lines[0] == "2 sources are invalid; nothing was loaded:"
    assert "customers.csv, row 2 (line 3), column 'customer_id': duplicate" in lines[1]
    assert lines[2] == f"{tmp_path / 'missing.csv'}: file not found"
    assert info.value.origin == str(tmp_path / "customers.csv")
    assert warehouse.calls == []


def test_load_sources_unknown_table_writes_nothing() -> None:
    warehouse = RecordingWarehouse()
    with pytest.raises(ContractError, match=f"unknown table 'invoices'; known tables: {KNOWN}"):
        load_sources(
            warehouse,
            {"customers": pl.DataFrame({"customer_id": ["a"]}), "invoices": pl.DataFrame()},
        )
    assert warehouse.calls == []


def test_load_sources_round_trips_through_the_real_warehouse(tmp_path: Path) -> None:
    from custlens.warehouse import connect

    warehouse = connect(f"duckdb:///{tmp_path}/w.duckdb")
    try:
        rows = load_sources(
            warehouse,
            {
                "customers": write(tmp_path, "customers.csv", GOOD_CUSTOMERS),
                "subscription_lines": write(tmp_path, "subscription_lines.csv", GOOD_LINES),
            },
        )
        assert rows == {"customers": 2, "subscription_lines": 2}
        lines = warehouse.table("src_subscription_lines").to_polars()
        expected = validate(
            "subscription_lines",
            *read_source(tmp_path / "subscription_lines.csv", "subscription_lines"),
        )
        assert lines.schema == expected.schema
        assert lines.sort("customer_id").equals(expected)

        # A bad load leaves both tables as they were.
        with pytest.raises(ContractError):
            load_sources(
                warehouse,
                {
                    "customers": pl.DataFrame({"customer_id": ["z"]}),
                    "subscription_lines": write(tmp_path, "bad.csv", GOOD_LINES + "c3,x,y,1\n"),
                },
            )
        customers = warehouse.table("src_customers").to_polars().sort("customer_id")
        assert customers["customer_id"].to_list() == ["c1", "c2"]
    finally:
        warehouse.close()


# -- repeated lines (issue 14, item 4) ----------------------------------------


def test_identical_subscription_lines_are_rejected_naming_both_rows(tmp_path: Path) -> None:
    # Loaded twice, the line would double the customer's MRR: 50 a month, not 100.
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount\n"
        "a,2024-01-01,2024-02-01,50\n"
        "b,2024-01-01,2024-02-01,50\n"
        "a,2024-01-01,2024-02-01,50\n",
    )
    assert str(error) == (
        f"{tmp_path / 'subscription_lines.csv'}, row 3 (line 4): repeats row 1 (line 2) "
        "exactly; a line loaded twice would count twice (give two equal charges distinct "
        "line_id values)"
    )


def test_equal_lines_with_distinct_line_ids_are_two_charges(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "subscription_lines",
        "line_id,customer_id,period_start,period_end,amount\n"
        "L1,a,2024-01-01,2024-02-01,50\n"
        "L2,a,2024-01-01,2024-02-01,50\n",
    )
    assert loaded["line_id"].to_list() == ["L1", "L2"]
    assert loaded["amount"].sum() == 100


def test_a_repeated_line_id_is_rejected(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "subscription_lines",
        "line_id,customer_id,period_start,period_end,amount\n"
        "L1,a,2024-01-01,2024-02-01,50\n"
        "L1,b,2024-03-01,2024-04-01,70\n",
    )
    assert str(error) == (
        f"{tmp_path / 'subscription_lines.csv'}, row 2 (line 3), column 'line_id': "
        "duplicate line_id 'L1', first seen in row 1 (line 2); it must be unique"
    )


# -- implausible dates and short rows (issue 14, item 5) ----------------------


@pytest.mark.parametrize(
    ("cells", "column", "value"),
    [
        ("a,0001-01-01,2024-02-01,10", "period_start", "0001-01-01"),
        ("a,2024-01-01,9999-12-31,10", "period_end", "9999-12-31"),
    ],
)
def test_placeholder_dates_are_rejected(tmp_path: Path, cells: str, column: str, value: str):
    error = error_of(
        tmp_path, "subscription_lines", f"customer_id,period_start,period_end,amount\n{cells}\n"
    )
    assert (
        f"row 1 (line 2), column {column!r}: date {value} is outside 1900-01-01 … 2199-12-31"
        in str(error)
    )


def test_a_timestamp_far_in_the_future_is_rejected(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "transactions",
        "transaction_id,customer_id,created_at,amount\nt1,a,2024-01-01T10:00:00,5\n"
        "t2,a,9999-01-01T00:00:00,5\n",
    )
    assert "row 2 (line 3), column 'created_at': date 9999-01-01 00:00:00 is outside" in str(error)


def test_a_row_with_fewer_fields_than_the_header_is_named(tmp_path: Path) -> None:
    # The last, optional column would silently be null: a shifted or cut-off line.
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,kind\n"
        "a,2024-01-01,2024-02-01,10,recurring\n"
        "b,2024-01-01,2024-02-01,10\n",
    )
    assert str(error) == (
        f"{tmp_path / 'subscription_lines.csv'}, row 2 (line 3): 4 fields where the header "
        "has 5 (customer_id, period_start, period_end, amount, kind)"
    )


def test_an_empty_last_field_is_not_a_short_row(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,kind\n"
        'a,2024-01-01,2024-02-01,10,\n"b, quoted",2024-01-01,2024-02-01,10,\n',
    )
    assert loaded["kind"].to_list() == ["recurring", "recurring"]


def test_a_header_only_file_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", "customer_id,name\n")
    warehouse = RecordingWarehouse()
    with pytest.raises(ContractError) as error:
        load_sources(warehouse, {"customers": path})
    assert str(error.value) == (
        f"{path}: the file has a header and no rows; loading it would empty src_customers "
        "(--allow-empty to mean that)"
    )
    assert warehouse.calls == []
    assert load_sources(warehouse, {"customers": path}, allow_empty=True) == {"customers": 0}


def test_an_extra_column_is_a_warning_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", "customer_id,colour,name\nc1,red,A\n")
    with pytest.warns(ContractWarning, match=r"customers.csv: extra column 'colour' is kept"):
        loaded = load_sources(RecordingWarehouse(), {"customers": path})
    assert loaded == {"customers": 1}


# -- open-ended subscriptions (issue 14, item 6) ------------------------------


def test_an_empty_period_end_needs_a_billing_interval(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,billing_interval\n"
        "a,2024-01-01,,100,Month\n"
        "b,2024-01-01,,300,3 months\n"
        "c,2024-01-01,,60, 2 Weeks\n"
        "d,2024-01-01,2024-02-01,10,\n",
    )
    assert loaded["billing_interval"].to_list() == ["1 month", "3 month", "2 week", None]
    assert loaded["period_end"].to_list() == [None, None, None, date(2024, 2, 1)]
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,billing_interval\n"
        "a,2024-01-01,2024-02-01,100,\n"
        "b,2024-01-01,,100,\n",
    )
    assert (
        "row 2 (line 3), column 'period_end': missing value; period_end is required unless "
        "billing_interval says how long each period is" in str(error)
    )


def test_a_billing_interval_that_is_not_one_is_named(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,billing_interval\n"
        "a,2024-01-01,,100,fortnight\n",
    )
    assert (
        "row 1 (line 2), column 'billing_interval': 'fortnight' is not a billing interval; "
        "expected month, quarter, year or week, with an optional count (3 month, 2 week)"
    ) in str(error)


def test_text_that_is_not_utf8_names_the_byte_offset_and_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    # "Café" in Latin-1 on line 3: the é is byte 0xE9 at offset 36 (17 + 13 + 6).
    path.write_bytes(b"customer_id,name\nc1,Plain Ltd\nc2,Caf\xe9 SA\n")
    with pytest.raises(ContractError) as error:
        read_source(path, "customers")
    assert str(error.value) == (
        f"{path}: the file is not UTF-8 text: byte 0xe9 at offset 36 (line 3) is not "
        "UTF-8; save it as UTF-8 (Excel: CSV UTF-8), or say its encoding with --encoding "
        "(cp1252: Windows, Western Europe)"
    )


def test_currency_codes_are_stored_in_capitals(tmp_path: Path) -> None:
    lines = load(
        tmp_path,
        "subscription_lines",
        "customer_id,period_start,period_end,amount,currency\n"
        "C1,2024-01-01,2024-02-01,10,eur\n"
        "C1,2024-02-01,2024-03-01,10, Jpy \n"
        "C2,2024-01-01,2024-02-01,10,\n",
    )
    assert lines["currency"].to_list() == ["EUR", "JPY", None]


def test_fx_rates_load_with_their_codes_in_capitals(tmp_path: Path) -> None:
    rates = load(
        tmp_path, "fx_rates", "date,currency,rate\n2024-01-01,eur,1.0875\n2024-01-02,EUR,1.09\n"
    )
    assert rates.to_dicts() == [
        {"date": date(2024, 1, 1), "currency": "EUR", "rate": 1.0875},
        {"date": date(2024, 1, 2), "currency": "EUR", "rate": 1.09},
    ]


def test_every_unknown_currency_row_is_named(tmp_path: Path) -> None:
    message = str(
        error_of(
            tmp_path,
            "transactions",
            "transaction_id,customer_id,created_at,amount,currency\n"
            "T1,C1,2024-01-05,20,EURO\nT2,C1,2024-01-06,20,usd\nT3,C1,2024-01-07,20,EURO\n",
        )
    )
    assert "2 problems" in message
    assert "row 1 (line 2), column 'currency': 'EURO' is not an ISO 4217 currency code" in message
    assert "row 3 (line 4), column 'currency': 'EURO' is not an ISO 4217" in message
