"""Tests of the synthetic ERP generator: contract validity, coherence, determinism."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from custlens.sources import contract
from custlens.sources.load import POLARS_TYPES, read_source, validate
from custlens.synth import TABLE_NAMES, generate, write

CUSTOMERS = 500
MONTHS = 24
START = dt.date(2023, 1, 1)
LAST_DAY = dt.date(2024, 12, 31)
END_TS = dt.datetime(2025, 1, 1)

MOVEMENTS = {"new", "expansion", "contraction", "churn", "reactivation"}


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return generate(CUSTOMERS, MONTHS, seed=7)


def _billing_ids(frames: dict[str, pl.DataFrame]) -> pl.Series:
    customers = frames["customers"]
    return customers.filter(pl.col("source_system") == "billing")["customer_id"]


def _month_index(e: pl.Expr) -> pl.Expr:
    return e.dt.year().cast(pl.Int64) * 12 + e.dt.month().cast(pl.Int64)


def naive_mrr(lines: pl.DataFrame, start: dt.date, months: int) -> pl.DataFrame:
    """Customer-month MRR by DESIGN §3, written the simplest way (a cross join)."""
    first = pl.date_range(start, pl.lit(start).dt.offset_by(f"{months - 1}mo"), "1mo", eager=True)
    spine = pl.DataFrame({"month": first}).with_columns(month_end=pl.col("month").dt.month_end())
    recurring = lines.filter(pl.col("kind") == "recurring").with_columns(
        period_months=_month_index(pl.col("period_end")) - _month_index(pl.col("period_start"))
    )
    return (
        recurring.join(spine, how="cross")
        .filter(
            (pl.col("period_start") <= pl.col("month_end"))
            & (pl.col("month_end") < pl.col("period_end"))
        )
        .group_by("customer_id", "month")
        .agg((pl.col("amount") / pl.col("period_months")).sum().alias("mrr"))
    )


def movements(mrr: pl.DataFrame, start: dt.date, months: int) -> pl.DataFrame:
    """Classify each customer-month (gaps filled with 0) into the five MRR movements."""
    months_s = pl.date_range(
        start, pl.lit(start).dt.offset_by(f"{months - 1}mo"), "1mo", eager=True
    )
    grid = (
        mrr.select("customer_id")
        .unique()
        .join(pl.DataFrame({"month": months_s}), how="cross")
        .join(mrr, on=["customer_id", "month"], how="left")
        .with_columns(pl.col("mrr").fill_null(0.0))
        .sort("customer_id", "month")
    )
    q, p = pl.col("mrr"), pl.col("mrr").shift(1, fill_value=0.0).over("customer_id")
    ever_before = (q > 0).cast(pl.Int64).cum_sum().shift(1, fill_value=0).over("customer_id") > 0
    kind = (
        pl.when((p == 0) & (q > 0) & ~ever_before)
        .then(pl.lit("new"))
        .when((p == 0) & (q > 0))
        .then(pl.lit("reactivation"))
        .when((p > 0) & (q == 0))
        .then(pl.lit("churn"))
        .when(q > p + 1e-9)
        .then(pl.lit("expansion"))
        .when(p > q + 1e-9)
        .then(pl.lit("contraction"))
    )
    return grid.with_columns(movement=kind, previous=p).filter(pl.col("movement").is_not_null())


# -- shape and types -----------------------------------------------------------


def test_tables_columns_and_dtypes_follow_the_contract(frames: dict[str, pl.DataFrame]) -> None:
    assert tuple(frames) == TABLE_NAMES
    for name, frame in frames.items():
        spec = contract.TABLES[name]
        assert frame.columns == [c.name for c in spec.columns], name
        for col in spec.columns:
            assert frame.schema[col.name] == POLARS_TYPES[col.type], (name, col.name)
        assert frame.height > 0, name


def test_contract_rules_hold(frames: dict[str, pl.DataFrame]) -> None:
    for name, frame in frames.items():
        spec = contract.TABLES[name]
        for col in spec.columns:
            s = frame[col.name]
            if col.required:
                assert s.null_count() == 0, (name, col.name)
            if col.min is not None:
                assert (s.drop_nulls() >= col.min).all(), (name, col.name)
            if col.max is not None:
                assert (s.drop_nulls() <= col.max).all(), (name, col.name)
            if col.choices is not None:
                assert s.drop_nulls().is_in(list(col.choices)).all(), (name, col.name)
        if spec.unique:
            assert not frame.select(spec.unique).is_duplicated().any(), name
        for earlier, later in spec.ordered:
            both = frame.filter(pl.col(earlier).is_not_null() & pl.col(later).is_not_null())
            assert (both[later] > both[earlier]).all(), (name, earlier, later)


def test_the_loader_accepts_every_frame_unchanged(frames: dict[str, pl.DataFrame]) -> None:
    for name, frame in frames.items():
        assert_frame_equal(validate(name, frame), frame)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_files_read_back_identically(
    frames: dict[str, pl.DataFrame], tmp_path: Path, fmt: str
) -> None:
    paths = write(frames, tmp_path, fmt=fmt)  # type: ignore[arg-type]
    assert [p.name for p in paths] == [f"{t}.{fmt}" for t in TABLE_NAMES]
    for path in paths:
        raw, origin = read_source(path, path.stem)
        assert_frame_equal(validate(path.stem, raw, origin), frames[path.stem])


def test_csv_dates_are_iso(frames: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    write(frames, tmp_path)
    header, first = (tmp_path / "subscription_lines.csv").read_text().splitlines()[:2]
    assert header.startswith("customer_id,period_start,period_end,amount")
    assert dt.date.fromisoformat(first.split(",")[1])
    stamp = (tmp_path / "transactions.csv").read_text().splitlines()[1].split(",")[2]
    assert dt.datetime.fromisoformat(stamp)


def test_write_rejects_an_unknown_format(frames: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fmt"):
        write(frames, tmp_path, fmt="xlsx")  # type: ignore[arg-type]


# -- determinism and arguments -------------------------------------------------


def test_same_seed_same_frames_other_seed_other_frames() -> None:
    a, b, c = generate(120, 12, seed=3), generate(120, 12, seed=3), generate(120, 12, seed=4)
    for name in TABLE_NAMES:
        assert_frame_equal(a[name], b[name])
    assert not a["subscription_lines"].equals(c["subscription_lines"])


def test_start_must_be_the_first_of_a_month() -> None:
    with pytest.raises(ValueError, match="first day"):
        generate(10, 3, start=dt.date(2024, 2, 15))
    with pytest.raises(ValueError):
        generate(0, 3)


@pytest.mark.parametrize(("customers", "months"), [(1, 1), (7, 2), (60, 5)])
def test_tiny_sizes_are_valid(customers: int, months: int) -> None:
    for name, frame in generate(customers, months, seed=1).items():
        validate(name, frame)


def test_custom_start_shifts_the_window() -> None:
    frames = generate(80, 6, seed=2, start=dt.date(2021, 7, 1))
    lines = frames["subscription_lines"]
    assert lines["period_start"].min() >= dt.date(2021, 7, 1)  # type: ignore[operator]
    assert lines["period_start"].max() <= dt.date(2021, 12, 31)  # type: ignore[operator]
    assert frames["marketing_spend"]["month"].unique().sort().to_list() == [
        dt.date(2021, m, 1) for m in range(7, 13)
    ]


# -- the window: nothing in the future, nothing before start ---------------------


def test_nothing_is_dated_outside_the_window(frames: dict[str, pl.DataFrame]) -> None:
    dated = {
        "customers": ["signup_date"],
        "subscription_lines": ["period_start"],
        "transactions": ["created_at"],
        "usage_events": ["occurred_at"],
        "support_tickets": ["opened_at", "resolved_at"],
        "nps_responses": ["responded_at"],
        "journey_events": ["occurred_at"],
        "marketing_spend": ["month"],
    }
    for name, columns in dated.items():
        for column in columns:
            s = frames[name][column].drop_nulls()
            if s.dtype == pl.Date:
                assert START <= s.min() and s.max() <= LAST_DAY, (name, column)  # type: ignore[operator]
            else:
                start_ts = dt.datetime.combine(START, dt.time())
                assert start_ts <= s.min() and s.max() < END_TS, (name, column)  # type: ignore[operator]
    # period_end is exclusive: a period billed in the last month ends after the window.
    lines = frames["subscription_lines"]
    assert (lines["period_end"] > lines["period_start"]).all()


# -- subscription lines -----------------------------------------------------------


def test_ids_and_periods_are_well_formed(frames: dict[str, pl.DataFrame]) -> None:
    assert frames["customers"]["customer_id"].str.contains(r"^C\d{6}$").all()
    lines = frames["subscription_lines"]
    assert lines["customer_id"].is_in(_billing_ids(frames).implode()).all()
    recurring = lines.filter(pl.col("kind") != "one_time").with_columns(
        span=_month_index(pl.col("period_end")) - _month_index(pl.col("period_start"))
    )
    # Whole calendar months on one anchor day (1..28), so months() is exact.
    assert (recurring["period_start"].dt.day() == recurring["period_end"].dt.day()).all()
    assert (recurring["period_start"].dt.day() <= 28).all()
    assert set(recurring["span"].unique()) == {1, 12}
    one_time = lines.filter(pl.col("kind") == "one_time")
    assert one_time.height > 0
    assert ((one_time["period_end"] - one_time["period_start"]).dt.total_days() == 1).all()
    assert lines.filter(pl.col("kind") == "usage").height > 0


def test_annual_lines_are_twelve_discounted_months(frames: dict[str, pl.DataFrame]) -> None:
    lines = frames["subscription_lines"]
    annual = lines.filter(
        (pl.col("kind") == "recurring")
        & (_month_index(pl.col("period_end")) - _month_index(pl.col("period_start")) == 12)
    )
    assert annual.height > 0
    price = {"PLAN-STARTER": 299.0, "PLAN-GROWTH": 899.0, "PLAN-SCALE": 1999.0}
    listed = annual["product_id"].replace_strict(price, return_dtype=pl.Float64) * 12
    assert ((annual["amount"] + annual["discount"] - listed).abs() < 0.011).all()
    assert (annual["discount"] > 0).all()


def test_ramp_discounts_cover_the_first_three_months(frames: dict[str, pl.DataFrame]) -> None:
    lines = frames["subscription_lines"].filter(
        pl.col("product_id").str.starts_with("PLAN")
        & (_month_index(pl.col("period_end")) - _month_index(pl.col("period_start")) == 1)
    )
    ranked = lines.sort("period_start").with_columns(
        k=pl.int_range(pl.len()).over("subscription_id")
    )
    discounted = ranked.filter(pl.col("discount") > 0)
    assert discounted.height > 0
    assert (discounted["k"] < 3).all()


def test_addons_downgrades_and_reactivations_exist(frames: dict[str, pl.DataFrame]) -> None:
    lines = frames["subscription_lines"].filter(pl.col("kind") == "recurring")
    assert lines["product_id"].str.starts_with("ADDON").any()
    plans = lines.filter(pl.col("product_id").str.starts_with("PLAN"))
    per_sub = plans.group_by("subscription_id").agg(pl.col("product_id").n_unique())
    assert (per_sub["product_id"] > 1).any()  # a plan change inside one subscription
    # A reactivation: a later subscription starts at least a month after the first ended.
    spans = plans.group_by("customer_id", "subscription_id").agg(
        pl.col("period_start").min().alias("first"), pl.col("period_end").max().alias("last")
    )
    gaps = spans.sort("first").with_columns(prev_end=pl.col("last").shift(1).over("customer_id"))
    restarted = gaps.filter(pl.col("first") >= pl.col("prev_end").dt.offset_by("1mo"))
    assert restarted.height > 0


def test_mrr_shows_all_five_movements(frames: dict[str, pl.DataFrame]) -> None:
    mrr = naive_mrr(frames["subscription_lines"], START, MONTHS)
    moves = movements(mrr, START, MONTHS)
    counts = dict(moves.group_by("movement").len().iter_rows())
    assert set(counts) == MOVEMENTS, counts
    assert all(counts[m] >= 1 for m in MOVEMENTS), counts
    # Ending a ramp discount alone is an expansion: MRR rises to the undiscounted price.
    ratios = moves.filter(pl.col("movement") == "expansion").select(
        (pl.col("previous") / pl.col("mrr")).round(4).alias("r")
    )["r"]
    assert ratios.is_in([0.9, 0.85, 0.8]).any()


def test_trials_some_never_convert(frames: dict[str, pl.DataFrame]) -> None:
    journey = frames["journey_events"]
    lines = frames["subscription_lines"]
    signed = journey.filter(pl.col("stage") == "signup")
    paying = lines["customer_id"].unique()
    never = signed.filter(~pl.col("customer_id").is_in(paying.implode()))
    assert never.height > 0
    # Converted trials: the first line starts at least a month after signup.
    first_line = lines.group_by("customer_id").agg(pl.col("period_start").min())
    joined = signed.join(first_line, on="customer_id").with_columns(
        lag=_month_index(pl.col("period_start")) - _month_index(pl.col("occurred_at"))
    )
    assert (joined["lag"] >= 1).any()
    assert (joined["period_start"] >= joined["occurred_at"].dt.date()).all()


# -- transactions ---------------------------------------------------------------


def test_payments_follow_invoices(frames: dict[str, pl.DataFrame]) -> None:
    tx = frames["transactions"]
    lines = frames["subscription_lines"]
    invoices = lines.group_by("customer_id", "period_start").agg(pl.col("amount").sum())
    processed = tx.filter((pl.col("type") == "payment") & (pl.col("status") == "processed"))
    assert processed.height == invoices.height
    assert (
        abs(float(processed["amount"].sum()) - float(invoices["amount"].sum()))
        < 0.01 * invoices.height
    )
    assert tx["payment_method"].n_unique() >= 3
    assert set(tx["type"].unique()) == {"payment", "refund"}
    assert tx.filter(pl.col("type") == "refund")["amount"].min() > 0  # type: ignore[operator]
    assert tx["transaction_id"].str.starts_with("TX").all()


def test_failed_payments_are_retried(frames: dict[str, pl.DataFrame]) -> None:
    tx = frames["transactions"].filter(pl.col("type") == "payment")
    failed = tx.filter(pl.col("status") == "failed")
    assert failed.height > 0
    retried = failed.join(
        tx.filter(pl.col("status") == "processed"), on=["customer_id", "amount"], suffix="_ok"
    ).filter(pl.col("created_at_ok") > pl.col("created_at"))
    assert retried["transaction_id"].n_unique() == failed.height


# -- activity tables -----------------------------------------------------------


def test_usage_volume_is_moderate(frames: dict[str, pl.DataFrame]) -> None:
    usage = frames["usage_events"]
    assert usage.height <= 5 * CUSTOMERS * MONTHS
    per_cm = usage.group_by("customer_id", pl.col("occurred_at").dt.truncate("1mo")).len()
    assert per_cm["len"].mean() < 6  # type: ignore[operator]
    assert set(usage["event_type"].unique()) == {"login", "feature_use"}
    features = usage.filter(pl.col("event_type") == "feature_use")["feature"]
    assert features.null_count() == 0 and features.n_unique() >= 4
    assert (
        usage.filter(pl.col("event_type") == "login")["feature"].null_count()
        == usage.filter(pl.col("event_type") == "login").height
    )


def test_support_and_nps(frames: dict[str, pl.DataFrame]) -> None:
    tickets = frames["support_tickets"]
    assert tickets["resolved_at"].null_count() > 0
    assert tickets["csat"].drop_nulls().n_unique() >= 3
    assert tickets["sentiment"].min() < 0 < tickets["sentiment"].max()  # type: ignore[operator]
    nps = frames["nps_responses"]
    per_customer = nps.group_by("customer_id").len()["len"]
    assert 1 <= per_customer.mean() <= 5  # type: ignore[operator]
    assert nps["score"].min() <= 4 and nps["score"].max() >= 9  # type: ignore[operator]


def test_journeys_are_ordered_prefixes(frames: dict[str, pl.DataFrame]) -> None:
    journey = frames["journey_events"]
    rank = {stage: i for i, stage in enumerate(contract.JOURNEY_STAGES)}
    per = (
        journey.with_columns(r=pl.col("stage").replace_strict(rank, return_dtype=pl.Int64))
        .sort("customer_id", "r")
        .group_by("customer_id", maintain_order=True)
        .agg("r", "occurred_at")
    )
    for ranks, stamps in zip(per["r"].to_list(), per["occurred_at"].to_list(), strict=True):
        assert ranks == list(range(len(ranks)))
        assert all(a < b for a, b in itertools.pairwise(stamps))
    reached = set(journey["stage"].unique())
    assert reached == set(contract.JOURNEY_STAGES)
    # Every billing customer signed up, on its signup date.
    signup = journey.filter(pl.col("stage") == "signup").join(frames["customers"], on="customer_id")
    assert signup.height == _billing_ids(frames).len()
    assert (signup["occurred_at"].dt.date() == signup["signup_date"]).all()


def test_contacts_costs_and_spend(frames: dict[str, pl.DataFrame]) -> None:
    contacts = frames["contacts"]
    billing = _billing_ids(frames)
    per = contacts.group_by("customer_id").agg(pl.col("role"))
    assert per.height == billing.len()
    assert per["role"].list.len().is_between(1, 3).all()
    assert per["role"].list.contains("primary").all()
    assert (per["role"].list.n_unique() == per["role"].list.len()).all()
    assert contacts["email"].null_count() == 0 and contacts["phone"].null_count() == 0
    costs = frames["acquisition_costs"]
    assert costs["customer_id"].sort().equals(billing.sort())
    spend = frames["marketing_spend"]
    assert spend.height == MONTHS * spend["channel"].n_unique()
    assert not spend.select("month", "channel").is_duplicated().any()


# -- identity resolution material ------------------------------------------------


def _digits(e: pl.Expr) -> pl.Expr:
    return e.str.replace_all(r"\D", "").str.slice(-10)


def test_duplicates_share_exactly_one_key_with_a_billing_record(
    frames: dict[str, pl.DataFrame],
) -> None:
    customers = frames["customers"]
    billing = customers.filter(pl.col("source_system") == "billing")
    dups = customers.filter(pl.col("source_system") != "billing")
    assert dups.height == CUSTOMERS // 100
    assert set(dups["source_system"].unique()) <= {"crm", "support"}
    keys = {
        "email": pl.col("email"),
        "phone": _digits(pl.col("phone")),
        "domain": pl.col("domain"),
    }
    hits = pl.DataFrame({"customer_id": dups["customer_id"]})
    for key, expr in keys.items():
        left = dups.select("customer_id", expr.alias("k")).drop_nulls()
        right = billing.select(expr.alias("k")).drop_nulls()
        matched = left.join(right, on="k", how="semi")["customer_id"]
        hits = hits.with_columns(pl.col("customer_id").is_in(matched.implode()).alias(key))
    assert (hits.select(pl.sum_horizontal("email", "phone", "domain"))[:, 0] >= 1).all()
    # A phone duplicate is written differently from its billing twin.
    phone_dups = dups.filter(pl.col("phone").is_not_null())
    assert not phone_dups["phone"].is_in(billing["phone"].implode()).any()
    assert (
        dups["customer_id"].is_in(frames["subscription_lines"]["customer_id"].implode()).sum() == 0
    )


def test_billing_records_never_match_each_other(frames: dict[str, pl.DataFrame]) -> None:
    billing = frames["customers"].filter(pl.col("source_system") == "billing")
    assert not billing["email"].is_duplicated().any()
    assert not billing.select(_digits(pl.col("phone")))[:, 0].is_duplicated().any()
    free = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com")
    company = billing.filter(pl.col("domain").is_not_null() & ~pl.col("domain").is_in(free))
    assert not company["domain"].is_duplicated().any()
    free_mail = billing.filter(pl.col("email").str.split("@").list.last().is_in(free))
    assert free_mail.height > 1
    # Some free-mail customers carry the shared free-mail domain: a trap for resolution.
    assert free_mail["domain"].is_in(free).any()
    assert free_mail["domain"].null_count() > 0


def test_some_customers_shrink_in_a_straight_line_at_the_end(
    frames: dict[str, pl.DataFrame],
) -> None:
    # What mrr_trend_risk looks for: MRR falling every one of the last four months,
    # by about the same amount (seats removed), for customers still paying.
    mrr = naive_mrr(frames["subscription_lines"], START, MONTHS)
    last = mrr.filter(pl.col("month") >= dt.date(2024, 9, 1)).sort("customer_id", "month")
    per = last.group_by("customer_id").agg(pl.col("mrr"))
    falling = [
        values
        for values in per["mrr"].to_list()
        if len(values) == 4 and all(b < a for a, b in itertools.pairwise(values))
    ]
    assert len(falling) >= 5, len(falling)


def test_decliners_change_only_their_own_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from custlens.synth import generator

    with_decline = generate(300, MONTHS, seed=7)
    monkeypatch.setattr(generator, "DECLINE_P", 0.0)
    without = generate(300, MONTHS, seed=7)
    for name in ("customers", "usage_events", "support_tickets", "nps_responses", "contacts"):
        assert with_decline[name].equals(without[name]), name
    lines, plain = with_decline["subscription_lines"], without["subscription_lines"]
    assert lines.height == plain.height
    changed = lines.join(plain, on=list(lines.columns), how="anti", nulls_equal=True)
    changed = changed["customer_id"].unique()
    assert 0 < changed.len() < 0.1 * 300
    assert lines.filter(~pl.col("customer_id").is_in(changed.implode())).equals(
        plain.filter(~pl.col("customer_id").is_in(changed.implode()))
    )
