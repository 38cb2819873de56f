"""Synthetic ERP data for a B2B SaaS company, one Polars frame per source table.

Everything is drawn per customer as NumPy arrays and expanded to customer-months,
billing periods or events with ``np.repeat``-style index arithmetic: there is no
Python loop over customers or rows, so 100 000 customers x 36 months take seconds.

Timeline model (month indices count from ``start``; the window is months ``0..M-1``):

- ``s``: signup month; ``ps``: paid start date (after a trial of 1-2 months or, for
  direct sales, 1-5 weeks after signup); ``p0``: its month index. The billing anchor
  (day of month of every period start) is the day of ``ps``, always 1..28 so that
  every period spans whole calendar months.
- ``e1``: first month without the plan (churn month, exclusive end of the first
  lifetime); ``r0``/``e2``: the reactivated lifetime, if any (``r0 - e1 >= 1``).
- Add-on lines run over ``[a0, a1)``, a downgrade applies from month ``dg``.
- Decliners: a few monthly customers still paying at the window's end remove seats
  month after month over its last 4–6 months (their plan line shrinks by a fixed
  share of its price each month): MRR falling in a straight line, which is what
  ``mrr_trend_risk`` looks for. They are drawn from a stream of their own, so
  every other drawn value is what it was without them.

Nothing is dated after the last day of the window; ``period_end`` is the exclusive
end of a service period billed inside the window, so it may lie after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from custlens.sources.contract import JOURNEY_STAGES

DEFAULT_START = dt.date(2023, 1, 1)

TABLE_NAMES: tuple[str, ...] = (
    "customers",
    "subscription_lines",
    "transactions",
    "usage_events",
    "support_tickets",
    "nps_responses",
    "journey_events",
    "contacts",
    "acquisition_costs",
    "marketing_spend",
)

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
SEGMENT_P = np.array([0.55, 0.35, 0.10])
INDUSTRIES = (
    "FinTech",
    "HealthTech",
    "Retail",
    "Logistics",
    "EdTech",
    "Manufacturing",
    "Media",
    "Professional Services",
)
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
REGION_P = np.array([0.45, 0.30, 0.17, 0.08])

PLANS = ("Starter", "Growth", "Scale")
PLAN_PRODUCTS = ("PLAN-STARTER", "PLAN-GROWTH", "PLAN-SCALE")
PLAN_PRICE = np.array([299.0, 899.0, 1999.0])
PLAN_BY_SEGMENT = np.array([[0.75, 0.22, 0.03], [0.20, 0.60, 0.20], [0.02, 0.28, 0.70]])

ADDON_PRODUCTS = ("ADDON-ANALYTICS", "ADDON-INTEGRATIONS", "ADDON-MOBILE")
ADDON_PRICE = np.array([249.0, 199.0, 99.0])
ADDON_MIX = np.array([0.3, 0.3, 0.4])
USAGE_PRODUCT = "USAGE-API"
ONBOARDING_PRODUCT = "ONBOARDING"
ONBOARDING_FEE = np.array([500.0, 1500.0, 5000.0])
ANNUAL_DISCOUNTS = np.array([0.10, 0.15, 0.20])
RAMP_DISCOUNTS = np.array([0.10, 0.15, 0.20])
KINDS = ("recurring", "one_time", "usage")
# Product codes of the lines frame: plans, then add-ons, then usage and one-time.
PRODUCTS = (*PLAN_PRODUCTS, *ADDON_PRODUCTS, USAGE_PRODUCT, ONBOARDING_PRODUCT)

CHANNELS = ("organic", "referral", "paid_search", "paid_social", "events", "partner", "outbound")
CHANNEL_BY_SEGMENT = np.array(
    [
        [0.25, 0.10, 0.30, 0.25, 0.03, 0.05, 0.02],
        [0.15, 0.10, 0.20, 0.10, 0.15, 0.15, 0.15],
        [0.05, 0.10, 0.05, 0.02, 0.25, 0.20, 0.33],
    ]
)
MARKETING_CHANNELS = ("paid_search", "paid_social", "events", "partner", "outbound", "content")
# Fixed monthly spend per marketing channel, before the part that scales with acquisitions.
MARKETING_BASE = np.array([4000.0, 3000.0, 2500.0, 1500.0, 3500.0, 2000.0])

PAYMENT_METHODS = ("card", "ach", "wire", "paypal")
PAYMENT_BY_SEGMENT = np.array(
    [[0.70, 0.15, 0.00, 0.15], [0.45, 0.35, 0.15, 0.05], [0.10, 0.40, 0.50, 0.00]]
)
TX_TYPES = ("payment", "refund")
TX_STATUSES = ("processed", "failed", "pending")

EVENT_TYPES = ("login", "feature_use")
FEATURES = ("dashboards", "reports", "integrations", "automations", "api", "mobile_app")

ROLES = ("primary", "champion", "executive_sponsor")
TITLES = (
    ("Operations Manager", "Finance Manager", "IT Manager", "Office Manager", "Controller"),
    ("Head of Operations", "Product Lead", "Data Lead", "RevOps Lead", "Analytics Manager"),
    ("CFO", "COO", "CEO", "CTO", "VP Finance"),
)
FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Isabel", "Jonas",
    "Kira", "Liam", "Maya", "Nikhil", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tara",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Carmen", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Kowalski", "Lopez", "Muller", "Nakamura", "Okafor", "Patel", "Quintero", "Rossi", "Silva",
    "Tanaka", "Usman", "Varga", "Wang", "Xu", "Yilmaz", "Zhang", "Nguyen", "Murphy", "Khan",
)  # fmt: skip
NAME_WORDS_A = (
    "Blue", "Bright", "Cedar", "Clear", "Copper", "Crimson", "Delta", "Eagle", "Ember", "Falcon",
    "Granite", "Harbor", "Iron", "Juniper", "Keystone", "Lumen", "Maple", "North", "Oak", "Onyx",
    "Pine", "Quartz", "River", "Sierra", "Silver", "Summit", "Terra", "Vertex", "Willow", "Zenith",
)  # fmt: skip
NAME_WORDS_B = (
    "Analytics", "Systems", "Logistics", "Health", "Labs", "Works", "Partners", "Digital",
    "Dynamics", "Networks", "Foods", "Capital", "Learning", "Media", "Robotics", "Supply",
)  # fmt: skip
LEGAL_SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "Group", "Co")
TLDS = ("com", "io", "co", "net")
BILLING_LOCALS = ("billing", "accounts", "finance", "ap", "admin")
FREE_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com")

# Per-segment behaviour (SMB, Mid-Market, Enterprise).
ANNUAL_P = np.array([0.12, 0.30, 0.55])
DIRECT_P = np.array([0.30, 0.50, 0.75])  # no trial: sold directly
MONTHLY_HAZARD = np.array([0.035, 0.020, 0.010])
ADDON_P = np.array([0.30, 0.45, 0.55])
ONBOARDING_P = np.array([0.20, 0.60, 0.90])
FREE_MAIL_P = np.array([0.12, 0.02, 0.0])
USAGE_LAMBDA = np.array([2.0, 2.8, 3.5])  # usage events per active customer-month
TICKET_LAMBDA = np.array([0.08, 0.15, 0.30])  # support tickets per active customer-month
CAC_MEDIAN = np.array([900.0, 3500.0, 12000.0])
CS_COST_MEDIAN = np.array([80.0, 300.0, 900.0])

TRIAL_NO_CONVERT_P = 0.25
REACTIVATION_P = 0.25
REACTIVATED_HAZARD = 0.04
RAMP_P = 0.40
ADDON_REMOVAL_P = 0.20
DOWNGRADE_P = 0.12
DECLINE_P = 0.05  # of the monthly customers paying at the window's end, with 8+ months
DECLINE_MONTHS = (4, 7)  # the last 4–6 months of the window
DECLINE_STEP = (0.05, 0.10)  # share of the plan's price removed each month
USAGE_BILLING_P = 0.12
FAILED_PAYMENT_P = 0.04
REFUND_P = 0.02
OTHER_METHOD_P = 0.08
NPS_RESPONSE_P = 0.55
DUPLICATE_SHARE = 0.01

_US_PER_DAY = 86_400_000_000
_US_PER_HOUR = 3_600_000_000
_US_PER_SECOND = 1_000_000
# Multiplier coprime to 10**7: (i * A + B) mod 10**7 gives distinct 7-digit subscriber
# numbers for distinct i < 10**7, so phone numbers never collide by accident (a
# collision would falsely merge two customers in identity resolution).
_PHONE_MULTIPLIER = 7_654_321


@dataclass(frozen=True)
class _Window:
    """The generated period: months ``0..months-1`` counted from ``start``."""

    start_m: np.datetime64
    months: int

    def month_start(self, m: np.ndarray | int) -> np.ndarray:
        """First day (datetime64[D]) of month index ``m``; ``m`` may lie outside the window."""
        return (self.start_m + np.asarray(m, dtype=np.int64)).astype("datetime64[D]")

    def month_of(self, d: np.ndarray) -> np.ndarray:
        """Month index of dates ``d``."""
        return (d.astype("datetime64[M]") - self.start_m).astype(np.int64)

    @property
    def end_day(self) -> np.datetime64:
        """Exclusive end: the first day after the window."""
        return (self.start_m + np.timedelta64(self.months, "M")).astype("datetime64[D]")

    @property
    def last_day(self) -> np.datetime64:
        return self.end_day - np.timedelta64(1, "D")

    @property
    def end_us(self) -> np.datetime64:
        return self.end_day.astype("datetime64[us]")


@dataclass(frozen=True)
class _Profile:
    """Per-customer arrays (length n) for the billing customers."""

    n: int
    seg: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    plan: np.ndarray
    channel: np.ndarray
    annual: np.ndarray
    annual_disc: np.ndarray
    s: np.ndarray
    signup: np.ndarray  # datetime64[D]
    signup_us: np.ndarray  # datetime64[us], with a time of day
    converts: np.ndarray
    ps: np.ndarray  # datetime64[D]; for non-converters the date the trial would have ended
    anchor: np.ndarray
    p0: np.ndarray
    e1: np.ndarray
    r0: np.ndarray
    e2: np.ndarray
    ramp: np.ndarray
    has_addon: np.ndarray
    addon: np.ndarray
    a0: np.ndarray
    a1: np.ndarray
    dg: np.ndarray
    plan_now: np.ndarray
    plan2: np.ndarray
    usage_billing: np.ndarray
    usage_rate: np.ndarray
    onboarding: np.ndarray
    engagement: np.ndarray
    method: np.ndarray


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repeat each parent ``counts[i]`` times: return (parent index, 0-based rank within parent)."""
    counts = np.asarray(counts, dtype=np.int64)
    parent = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts
    rank = np.arange(len(parent), dtype=np.int64) - offsets[parent]
    return parent, rank


def _pick(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element, from the probability row ``probs[rows[i]]``."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(rows))
    picked = (u[:, None] > cum[rows]).sum(axis=1)
    return np.minimum(picked, probs.shape[1] - 1)


def _labels(values: tuple[str, ...], idx: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    """Map integer codes to strings (``null`` marks rows that get a null)."""
    codes = pl.Series(np.asarray(idx, dtype=np.int64))
    if null is not None:
        codes = pl.select(pl.when(pl.Series(null)).then(None).otherwise(codes)).to_series()
    return pl.Series(values, dtype=pl.String).gather(codes)


def _uniform_us(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform timestamps in [lo, hi), truncated to whole seconds (datetime64[us])."""
    lo_i = lo.astype("datetime64[us]").astype(np.int64)
    hi_i = hi.astype("datetime64[us]").astype(np.int64)
    t = lo_i + np.floor(rng.random(len(lo_i)) * (hi_i - lo_i)).astype(np.int64)
    # Truncating may move t below lo only when lo has sub-second precision; it never does.
    t -= t % _US_PER_SECOND
    return t.astype("datetime64[us]")


def _day_of_month(d: np.ndarray) -> np.ndarray:
    return (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def _profile(rng: np.random.Generator, n: int, win: _Window) -> _Profile:
    """Draw every per-customer attribute and the customer's timeline."""
    months = win.months
    big = months + 10_000  # "never" for month indices
    seg = rng.choice(3, n, p=SEGMENT_P)
    industry = rng.integers(0, len(INDUSTRIES), n)
    region = rng.choice(len(REGIONS), n, p=REGION_P)
    plan = _pick(rng, PLAN_BY_SEGMENT, seg)
    channel = _pick(rng, CHANNEL_BY_SEGMENT, seg)
    annual = rng.random(n) < ANNUAL_P[seg]
    annual_disc = ANNUAL_DISCOUNTS[rng.integers(0, len(ANNUAL_DISCOUNTS), n)]

    # A growing start-up: later months see up to three times as many signups.
    weights = 1.0 + 2.0 * np.arange(months) / max(months - 1, 1)
    s = rng.choice(months, n, p=weights / weights.sum())
    first = win.month_start(s)
    days_in_month = (win.month_start(s + 1) - first).astype(np.int64)
    day = 1 + np.floor(rng.random(n) * days_in_month).astype(np.int64)
    signup = first + (day - 1)
    signup_us = signup.astype("datetime64[us]") + rng.integers(
        8 * _US_PER_HOUR, 19 * _US_PER_HOUR, n
    )
    signup_us -= signup_us.astype(np.int64) % _US_PER_SECOND

    direct = rng.random(n) < DIRECT_P[seg]
    trial_months = rng.integers(1, 3, n)
    converts = direct | (rng.random(n) >= TRIAL_NO_CONVERT_P)
    ps_direct = signup + rng.integers(7, 36, n)
    ps_trial = win.month_start(s + trial_months) + (np.minimum(day, 28) - 1)
    ps = np.where(direct, ps_direct, ps_trial)
    # Anchors stay within 1..28 so every period has whole calendar months (months() exact).
    late = _day_of_month(ps) > 28
    ps = np.where(late, (ps.astype("datetime64[M]") + 1).astype("datetime64[D]"), ps)
    anchor = _day_of_month(ps)
    p0 = win.month_of(ps)

    # Lifetimes: geometric months to churn; annual contracts only end at a renewal.
    lifetime = rng.geometric(MONTHLY_HAZARD[seg] * np.where(annual, 0.6, 1.0))
    lifetime = np.where(annual, 12 * -(-lifetime // 12), lifetime)
    e1 = np.where(converts, p0 + lifetime, p0)
    react = converts & (e1 < months) & (rng.random(n) < REACTIVATION_P)
    r0 = np.where(react, e1 + rng.integers(1, 7, n), big)
    e2 = np.where(react, r0 + rng.geometric(REACTIVATED_HAZARD, n), big)

    ramp = np.where(
        ~annual & (rng.random(n) < RAMP_P),
        RAMP_DISCOUNTS[rng.integers(0, len(RAMP_DISCOUNTS), n)],
        0.0,
    )
    has_addon = converts & (rng.random(n) < ADDON_P[seg])
    addon = rng.choice(len(ADDON_PRODUCTS), n, p=ADDON_MIX)
    a0 = p0 + rng.integers(3, 13, n)
    removed = rng.random(n) < ADDON_REMOVAL_P
    a1 = np.minimum(np.where(removed, a0 + rng.integers(3, 13, n), big), e1)
    a1 = np.where(has_addon, np.maximum(a1, a0), a0)

    downgrades = converts & ~annual & (plan > 0) & (rng.random(n) < DOWNGRADE_P)
    dg = np.where(downgrades, p0 + rng.integers(4, 16, n), big)
    lower = np.maximum(plan - 1, 0)
    plan2 = np.where(dg < e1, lower, plan)  # plan of a reactivated lifetime
    plan_now = np.where(dg < np.minimum(e1, months), lower, plan)

    usage_billing = converts & (plan >= 1) & (rng.random(n) < USAGE_BILLING_P)
    usage_rate = np.round(PLAN_PRICE[plan] * rng.uniform(0.04, 0.15, n), 2)
    onboarding = converts & (rng.random(n) < ONBOARDING_P[seg])
    engagement = rng.lognormal(0.0, 0.35, n)
    method = _pick(rng, PAYMENT_BY_SEGMENT, seg)
    return _Profile(
        n=n,
        seg=seg,
        industry=industry,
        region=region,
        plan=plan,
        channel=channel,
        annual=annual,
        annual_disc=annual_disc,
        s=s,
        signup=signup,
        signup_us=signup_us,
        converts=converts,
        ps=ps,
        anchor=anchor,
        p0=p0,
        e1=e1,
        r0=r0,
        e2=e2,
        ramp=ramp,
        has_addon=has_addon,
        addon=addon,
        a0=a0,
        a1=a1,
        dg=dg,
        plan_now=plan_now,
        plan2=plan2,
        usage_billing=usage_billing,
        usage_rate=usage_rate,
        onboarding=onboarding,
        engagement=engagement,
        method=method,
    )


def _line_part(
    win: _Window,
    pr: _Profile,
    cust: np.ndarray,
    m: np.ndarray,
    interval: np.ndarray | int,
    amount: np.ndarray,
    discount: np.ndarray | float,
    kind: int,
    product: np.ndarray | int,
    sub_no: np.ndarray | int,
) -> dict[str, np.ndarray]:
    """Columns of billed periods starting in month ``m`` on the customer's anchor day."""
    size = len(cust)
    start = win.month_start(m) + (pr.anchor[cust] - 1)
    end = win.month_start(m + interval) + (pr.anchor[cust] - 1)
    return {
        "cust": cust,
        "period_start": start,
        "period_end": end,
        "amount": np.round(np.asarray(amount, dtype=np.float64), 2),
        "discount": np.round(np.broadcast_to(np.asarray(discount, dtype=np.float64), size), 2),
        "kind": np.full(size, kind, dtype=np.int64),
        "product": np.broadcast_to(np.asarray(product, dtype=np.int64), size),
        "sub_no": np.broadcast_to(np.asarray(sub_no, dtype=np.int64), size),
    }


def _decline(rng: np.random.Generator, pr: _Profile, win: _Window) -> np.ndarray:
    """Per customer, the share of the plan's price removed each month from a month
    on — (first month, step) as an (n, 2) array; step 0 for a customer who does not
    shrink."""
    months = win.months
    eligible = pr.converts & ~pr.annual & (pr.e1 >= months) & (pr.p0 <= months - 8)
    chosen = eligible & (rng.random(pr.n) < DECLINE_P)
    first = months - rng.integers(*DECLINE_MONTHS, pr.n)
    step = np.where(chosen, rng.uniform(*DECLINE_STEP, pr.n), 0.0)
    return np.column_stack([first, step])


def _line_columns(
    rng: np.random.Generator, pr: _Profile, win: _Window, decline: np.ndarray
) -> dict[str, np.ndarray]:
    """All subscription lines as integer-coded NumPy columns (customer index ``cust``)."""
    months = win.months
    parts: list[dict[str, np.ndarray]] = []

    # First lifetime: the plan, monthly or annual, from p0 until churn (or the window end).
    interval = np.where(pr.annual, 12, 1)
    span = np.where(pr.converts, np.clip(np.minimum(pr.e1, months) - pr.p0, 0, None), 0)
    cust, k = _expand(-(-span // interval))
    m = pr.p0[cust] + k * interval[cust]
    downgraded = m >= pr.dg[cust]
    plan = np.where(downgraded, np.maximum(pr.plan[cust] - 1, 0), pr.plan[cust])
    list_amount = PLAN_PRICE[plan] * interval[cust]
    shrunk = np.clip(m - decline[cust, 0] + 1, 0, None) * decline[cust, 1]
    list_amount = list_amount * (1.0 - shrunk)
    disc_pct = np.where(pr.annual[cust], pr.annual_disc[cust], np.where(k < 3, pr.ramp[cust], 0.0))
    discount = np.round(list_amount * disc_pct, 2)
    parts.append(
        _line_part(win, pr, cust, m, interval[cust], list_amount - discount, discount, 0, plan, 1)
    )

    # Reactivated lifetime: monthly, list price of the plan held at churn, no ramp.
    cust, k = _expand(np.clip(np.minimum(pr.e2, months) - pr.r0, 0, None))
    plan = pr.plan2[cust]
    parts.append(_line_part(win, pr, cust, pr.r0[cust] + k, 1, PLAN_PRICE[plan], 0.0, 0, plan, 3))

    # Add-ons: a second monthly subscription some months in, ending at churn or removal.
    cust, k = _expand(np.clip(np.minimum(pr.a1, months) - pr.a0, 0, None))
    addon = pr.addon[cust]
    parts.append(
        _line_part(
            win,
            pr,
            cust,
            pr.a0[cust] + k,
            1,
            ADDON_PRICE[addon],
            0.0,
            0,
            len(PLAN_PRODUCTS) + addon,
            2,
        )
    )

    # Usage-based overage: a monthly line with a varying amount in every paid month.
    usage_product = PRODUCTS.index(USAGE_PRODUCT)
    for first, end, sub_no in ((pr.p0, pr.e1, 1), (pr.r0, pr.e2, 3)):
        span = np.where(pr.usage_billing, np.clip(np.minimum(end, months) - first, 0, None), 0)
        cust, k = _expand(span)
        amount = np.maximum(pr.usage_rate[cust] * rng.lognormal(0.0, 0.35, len(cust)), 1.0)
        parts.append(
            _line_part(win, pr, cust, first[cust] + k, 1, amount, 0.0, 2, usage_product, sub_no)
        )

    # One-time onboarding fee on the first paid day; a one-day service period.
    cust = np.flatnonzero(pr.onboarding & (pr.p0 < months))
    start = pr.ps[cust]
    parts.append(
        {
            "cust": cust,
            "period_start": start,
            "period_end": start + 1,
            "amount": ONBOARDING_FEE[pr.seg[cust]],
            "discount": np.zeros(len(cust)),
            "kind": np.full(len(cust), 1, dtype=np.int64),
            "product": np.full(len(cust), PRODUCTS.index(ONBOARDING_PRODUCT), dtype=np.int64),
            "sub_no": np.full(len(cust), 1, dtype=np.int64),
        }
    )
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _subscription_lines(cols: dict[str, np.ndarray], cid: pl.Series) -> pl.DataFrame:
    """Build the contract frame from coded line columns."""
    order = np.lexsort((cols["product"], cols["period_start"], cols["cust"]))
    cust = cols["cust"][order]
    customer_id = cid.gather(pl.Series(cust))
    frame = pl.DataFrame(
        {
            "customer_id": customer_id,
            "period_start": pl.Series(cols["period_start"][order]),
            "period_end": pl.Series(cols["period_end"][order]),
            "amount": pl.Series(cols["amount"][order]),
            "sub_no": pl.Series(cols["sub_no"][order]),
            "product_id": _labels(PRODUCTS, cols["product"][order]),
            "currency": pl.repeat("USD", len(cust), dtype=pl.String, eager=True),
            "kind": _labels(KINDS, cols["kind"][order]),
            "discount": pl.Series(cols["discount"][order]),
        }
    )
    return frame.select(
        "customer_id",
        "period_start",
        "period_end",
        "amount",
        # One id per line, as a billing system gives: two equal charges stay two lines.
        pl.format("L{}", (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(8)).alias(
            "line_id"
        ),
        pl.concat_str(
            pl.lit("S"), pl.col("customer_id").str.slice(1), pl.lit("-"), pl.col("sub_no")
        ).alias("subscription_id"),
        "product_id",
        "currency",
        "kind",
        "discount",
        # Every generated line has its period_end; none is open-ended.
        pl.lit(None, dtype=pl.String).alias("billing_interval"),
    )


def _transactions(
    rng: np.random.Generator,
    cols: dict[str, np.ndarray],
    pr: _Profile,
    win: _Window,
    cid: pl.Series,
) -> pl.DataFrame:
    """One payment per invoice (lines of a customer sharing a period_start), failures, refunds."""
    invoices = (
        pl.DataFrame(
            {
                "cust": cols["cust"],
                "day": cols["period_start"].astype(np.int64),
                "amount": cols["amount"],
            }
        )
        .group_by("cust", "day")
        .agg(pl.col("amount").sum().round(2))
        .sort("cust", "day")
    )
    cust = invoices["cust"].to_numpy()
    day = invoices["day"].to_numpy()
    amount = invoices["amount"].to_numpy()
    n = len(cust)
    last_day = win.last_day.astype(np.int64)

    # Collected a few days after the period starts, but never after the window.
    delay = np.minimum(rng.integers(0, 6, n), last_day - day)
    paid = (day + delay) * _US_PER_DAY + rng.integers(7 * _US_PER_HOUR, 22 * _US_PER_HOUR, n)
    paid -= paid % _US_PER_SECOND
    # A failed attempt is retried 1-3 days later; only where the retry still fits.
    failed = (rng.random(n) < FAILED_PAYMENT_P) & (last_day - (day + delay) >= 4)
    retry = paid + rng.integers(1, 4, n) * _US_PER_DAY + rng.integers(0, 6, n) * _US_PER_HOUR
    processed_at = np.where(failed, retry, paid)
    # Refunds come 3-30 days after a processed payment, full or partial.
    refund_at = processed_at + rng.integers(3, 31, n) * _US_PER_DAY
    refunded = (rng.random(n) < REFUND_P) & (refund_at < win.end_us.astype(np.int64))
    refund_amount = np.where(
        rng.random(n) < 0.5, amount, np.round(amount * rng.uniform(0.2, 0.7, n), 2)
    )
    f_idx = np.flatnonzero(failed)
    r_idx = np.flatnonzero(refunded)

    t_cust = np.concatenate([cust, cust[f_idx], cust[r_idx]])
    t_at = np.concatenate([processed_at, paid[f_idx], refund_at[r_idx]])
    t_amount = np.concatenate([amount, amount[f_idx], refund_amount[r_idx]])
    t_type = np.concatenate([np.zeros(n + len(f_idx), np.int64), np.ones(len(r_idx), np.int64)])
    t_status = np.concatenate(
        [np.zeros(n, np.int64), np.ones(len(f_idx), np.int64), np.zeros(len(r_idx), np.int64)]
    )
    # Mostly the customer's usual method; sometimes another one.
    t_method = pr.method[t_cust]
    other = rng.random(len(t_cust)) < OTHER_METHOD_P
    t_method = np.where(other, rng.integers(0, len(PAYMENT_METHODS), len(t_cust)), t_method)

    # Ids increase with time, as a payment processor would issue them.
    order = np.lexsort((t_type, t_status, t_cust, t_at))
    width = max(8, len(str(len(order))))
    ids = pl.int_range(1, len(order) + 1, eager=True).cast(pl.String).str.zfill(width)
    return pl.DataFrame(
        {
            "transaction_id": ("TX" + ids) if len(order) else ids,
            "customer_id": cid.gather(pl.Series(t_cust[order])),
            "created_at": pl.Series(t_at[order].astype("datetime64[us]")),
            "amount": pl.Series(t_amount[order]),
            "type": _labels(TX_TYPES, t_type[order]),
            "status": _labels(TX_STATUSES, t_status[order]),
            "payment_method": _labels(PAYMENT_METHODS, t_method[order]),
            "currency": pl.repeat("USD", len(order), dtype=pl.String, eager=True),
        }
    )


@dataclass(frozen=True)
class _Activity:
    """Customer-months in which a customer uses the product (trial or paid)."""

    cust: np.ndarray
    m: np.ndarray
    factor: np.ndarray  # activity multiplier: lower in trials and in the run-up to churn
    churning: np.ndarray  # within three months of the end of a lifetime


def _activity(pr: _Profile, win: _Window) -> _Activity:
    months = win.months
    # First lifetime includes the trial months: [s, e1); a failed trial is [s, end of trial).
    end_a = np.where(pr.converts, pr.e1, np.maximum(pr.p0, pr.s + 1))
    c1, k1 = _expand(np.clip(np.minimum(end_a, months) - pr.s, 0, None))
    m1 = pr.s[c1] + k1
    c2, k2 = _expand(np.clip(np.minimum(pr.e2, months) - pr.r0, 0, None))
    m2 = pr.r0[c2] + k2
    cust = np.concatenate([c1, c2])
    m = np.concatenate([m1, m2])
    end = np.concatenate([end_a[c1], pr.e2[c2]])
    churning = np.concatenate([pr.converts[c1], np.ones(len(c2), bool)]) & (m >= end - 3)
    trial = np.concatenate([m1 < pr.p0[c1], np.zeros(len(c2), bool)])
    factor = np.where(churning, 0.35, np.where(trial, 0.7, 1.0))
    return _Activity(cust=cust, m=m, factor=factor, churning=churning)


def _usage_events(
    rng: np.random.Generator, pr: _Profile, act: _Activity, win: _Window, cid: pl.Series
) -> pl.DataFrame:
    """Logins and feature use, a few per active customer-month."""
    lam = USAGE_LAMBDA[pr.seg[act.cust]] * pr.engagement[act.cust] * act.factor
    row, _ = _expand(rng.poisson(lam))
    cust = act.cust[row]
    m = act.m[row]
    lo = np.maximum(win.month_start(m).astype("datetime64[us]"), pr.signup_us[cust])
    at = _uniform_us(rng, lo, win.month_start(m + 1))
    login = rng.random(len(cust)) < 0.55
    # Each customer adopts its own subset of features; feature use draws from that subset.
    adopted = rng.integers(1, len(FEATURES) + 1, pr.n)
    preference = np.argsort(rng.random((pr.n, len(FEATURES))), axis=1)
    pick = np.floor(rng.random(len(cust)) * adopted[cust]).astype(np.int64)
    feature = preference[cust, pick]
    order = np.lexsort((at, cust))
    return pl.DataFrame(
        {
            "customer_id": cid.gather(pl.Series(cust[order])),
            "occurred_at": pl.Series(at[order]),
            "event_type": _labels(EVENT_TYPES, np.where(login, 0, 1)[order]),
            "feature": _labels(FEATURES, feature[order], null=login[order]),
        }
    )


def _support_tickets(
    rng: np.random.Generator, pr: _Profile, act: _Activity, win: _Window, cid: pl.Series
) -> pl.DataFrame:
    """Tickets: more and unhappier before churn; some unresolved at the window end."""
    lam = TICKET_LAMBDA[pr.seg[act.cust]] * np.where(act.churning, 2.5, 1.0)
    row, _ = _expand(rng.poisson(lam))
    cust = act.cust[row]
    m = act.m[row]
    churning = act.churning[row]
    size = len(cust)
    lo = np.maximum(win.month_start(m).astype("datetime64[us]"), pr.signup_us[cust])
    opened = _uniform_us(rng, lo, win.month_start(m + 1))
    # Resolution time: log-normal hours (median ~18 h), at least one minute.
    hours = rng.lognormal(np.log(18.0), 1.0, size)
    resolved = opened + np.maximum(hours * _US_PER_HOUR, 60 * _US_PER_SECOND).astype(np.int64)
    resolved -= resolved.astype(np.int64) % _US_PER_SECOND
    unresolved = (rng.random(size) < 0.07) | (resolved >= win.end_us)
    resolved = np.where(unresolved, np.datetime64("NaT", "us"), resolved)
    sentiment = np.clip(rng.normal(np.where(churning, -0.25, 0.3), 0.35), -1.0, 1.0).round(3)
    csat = np.clip(np.rint(3.2 + 2.0 * sentiment + rng.normal(0, 0.6, size)), 1, 5)
    no_csat = unresolved | (rng.random(size) < 0.3)
    order = np.lexsort((opened, cust))
    width = max(7, len(str(size)))
    ids = pl.int_range(1, size + 1, eager=True).cast(pl.String).str.zfill(width)
    csat_s = pl.Series(csat[order].astype(np.int64))
    return pl.DataFrame(
        {
            "ticket_id": ("TK" + ids) if size else ids,
            "customer_id": cid.gather(pl.Series(cust[order])),
            "opened_at": pl.Series(opened[order]),
            "resolved_at": pl.Series(resolved[order]),
            "sentiment": pl.Series(sentiment[order]),
            "csat": pl.select(
                pl.when(pl.Series(no_csat[order])).then(None).otherwise(csat_s)
            ).to_series(),
        }
    )


def _nps_responses(
    rng: np.random.Generator, pr: _Profile, win: _Window, cid: pl.Series
) -> pl.DataFrame:
    """Surveys two months after going live and every six months after; about half answer."""
    first = pr.p0 + 2
    span = np.where(pr.converts, np.clip(np.minimum(pr.e1, win.months) - first, 0, None), 0)
    cust, k = _expand(-(-span // 6))
    m = first[cust] + 6 * k
    keep = rng.random(len(cust)) < NPS_RESPONSE_P
    cust, m = cust[keep], m[keep]
    # Customers within six months of churning score lower.
    soon = pr.e1[cust] - m <= 6
    mean = np.where(soon, 5.0, 8.2) + 0.8 * np.log(pr.engagement[cust])
    score = np.clip(np.rint(rng.normal(mean, 1.8)), 0, 10).astype(np.int64)
    at = _uniform_us(rng, win.month_start(m), win.month_start(m + 1))
    return pl.DataFrame(
        {
            "customer_id": cid.gather(pl.Series(cust)),
            "responded_at": pl.Series(at),
            "score": pl.Series(score),
        }
    )


def _journey_events(
    rng: np.random.Generator, pr: _Profile, win: _Window, cid: pl.Series
) -> pl.DataFrame:
    """Stage timestamps in strictly increasing order, cut at the window end (so a prefix)."""
    n = pr.n
    nat = np.datetime64("NaT", "us")
    signup = pr.signup_us
    paid = pr.ps.astype("datetime64[us]") + rng.integers(9 * _US_PER_HOUR, 18 * _US_PER_HOUR, n)
    gap = (paid - signup).astype(np.int64)  # at least six days
    onboard = signup + (rng.uniform(0.10, 0.40, n) * gap).astype(np.int64)
    first_value = signup + (rng.uniform(0.50, 0.90, n) * gap).astype(np.int64)
    # Failed trials stop early in the funnel.
    onboard_ok = pr.converts | (rng.random(n) < 0.7)
    value_ok = pr.converts | (onboard_ok & (rng.random(n) < 0.3))
    onboard = np.where(onboard_ok, onboard, nat)
    first_value = np.where(value_ok, first_value, nat)
    paid = np.where(pr.converts, paid, nat)
    expanded = pr.has_addon & (pr.a1 > pr.a0)
    expansion = win.month_start(pr.a0).astype("datetime64[us]") + (
        (pr.anchor - 1) * _US_PER_DAY + rng.integers(9 * _US_PER_HOUR, 18 * _US_PER_HOUR, n)
    )
    expansion = np.where(expanded, expansion, nat)
    advocacy = expansion + rng.integers(20, 121, n) * _US_PER_DAY
    advocacy = np.where(expanded & (rng.random(n) < 0.35), advocacy, nat)

    stages = np.stack([signup, onboard, first_value, paid, expansion, advocacy], axis=1)
    stages -= stages.astype(np.int64) % _US_PER_SECOND
    ok = ~np.isnat(stages) & (stages < win.end_us)
    # Once a stage is missing or out of the window, later ones are dropped as well.
    ok = np.cumprod(ok, axis=1).astype(bool)
    cust, stage = np.nonzero(ok)
    return pl.DataFrame(
        {
            "customer_id": cid.gather(pl.Series(cust)),
            "occurred_at": pl.Series(stages[cust, stage]),
            "stage": _labels(JOURNEY_STAGES, stage),
        }
    )


def _phone_digits(index: np.ndarray, area: np.ndarray, offset: int) -> pl.DataFrame:
    """Area code and 7-digit subscriber number, distinct for distinct ``index``."""
    sub = (index.astype(np.int64) * _PHONE_MULTIPLIER + offset) % 10_000_000
    return pl.DataFrame({"area": area.astype(np.int64), "sub": sub})


def _phone_pretty(area: pl.Expr, sub: pl.Expr) -> pl.Expr:
    """Billing-system style: ``+1 (555) 123-4567``."""
    s = sub.cast(pl.String).str.zfill(7)
    return pl.concat_str(
        pl.lit("+1 ("), area.cast(pl.String), pl.lit(") "), s.str.slice(0, 3), pl.lit("-"),
        s.str.slice(3, 4),
    )  # fmt: skip


def _phone_plain(area: pl.Expr, sub: pl.Expr) -> pl.Expr:
    """CRM style: digits only, no country code (``5551234567``)."""
    return pl.concat_str(area.cast(pl.String), sub.cast(pl.String).str.zfill(7))


def _customers(
    rng: np.random.Generator, pr: _Profile, win: _Window, n_dup: int, cid: pl.Series
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Billing customers plus ~1 % duplicate records from CRM and support systems.

    Returns the customers frame and a per-customer frame of (first, last, domain) used to
    build contacts.
    """
    n = pr.n
    phone_offset = int(rng.integers(0, 10_000_000))
    a = rng.integers(0, len(NAME_WORDS_A), n)
    b = rng.integers(0, len(NAME_WORDS_B), n)
    suffix = rng.integers(0, len(LEGAL_SUFFIXES), n)
    tld = rng.integers(0, len(TLDS), n)
    local = rng.integers(0, len(BILLING_LOCALS), n)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    free = rng.random(n) < FREE_MAIL_P[pr.seg]
    free_dom = rng.integers(0, len(FREE_MAIL_DOMAINS), n)
    # Half the free-mail customers carry the free-mail domain in `domain` (as a CRM that
    # derives it from the email would); resolution must not link them through it.
    free_domain_kept = rng.random(n) < 0.5
    area = rng.integers(201, 990, n)

    base = pl.DataFrame(
        {
            "idx": np.arange(n),
            "word_a": _labels(NAME_WORDS_A, a),
            "word_b": _labels(NAME_WORDS_B, b),
            "suffix": _labels(LEGAL_SUFFIXES, suffix),
            "tld": _labels(TLDS, tld),
            "local": _labels(BILLING_LOCALS, local),
            "first": _labels(FIRST_NAMES, first),
            "last": _labels(LAST_NAMES, last),
            "free": free,
            "free_domain": _labels(FREE_MAIL_DOMAINS, free_dom),
            "free_domain_kept": free_domain_kept,
        }
    ).hstack(_phone_digits(np.arange(n), area, phone_offset))
    slug = pl.concat_str(pl.col("word_a"), pl.col("word_b")).str.to_lowercase()
    # Company domains must be unique: a number disambiguates repeated name pairs.
    rank = pl.int_range(pl.len()).over(slug)
    company_domain = pl.concat_str(
        slug,
        pl.when(rank > 0).then((rank + 1).cast(pl.String)).otherwise(pl.lit("")),
        pl.lit("."),
        pl.col("tld"),
    )
    personal = pl.concat_str(
        pl.col("first").str.to_lowercase(),
        pl.lit("."),
        pl.col("last").str.to_lowercase(),
        (pl.col("idx") + 1).cast(pl.String),
        pl.lit("@"),
    )
    base = base.with_columns(
        name=pl.concat_str("word_a", "word_b", "suffix", separator=" "),
        short_name=pl.concat_str("word_a", "word_b", separator=" "),
        company_domain=company_domain,
    ).with_columns(
        email=pl.when("free")
        .then(pl.concat_str(personal, pl.col("free_domain")))
        .otherwise(pl.concat_str("local", pl.lit("@"), "company_domain")),
        domain=pl.when(~pl.col("free"))
        .then("company_domain")
        .when("free_domain_kept")
        .then("free_domain")
        .otherwise(None),
        phone=_phone_pretty(pl.col("area"), pl.col("sub")),
        personal_email=pl.concat_str(personal, pl.col("free_domain")),
    )

    originals = pl.DataFrame(
        {
            "customer_id": cid.head(n),
            "name": base["name"],
            "segment": _labels(SEGMENTS, pr.seg),
            "industry": _labels(INDUSTRIES, pr.industry),
            "region": _labels(REGIONS, pr.region),
            "plan": _labels(PLANS, pr.plan_now),
            "acquisition_channel": _labels(CHANNELS, pr.channel),
            "signup_date": pl.Series(pr.signup),
            "email": base["email"],
            "phone": base["phone"],
            "domain": base["domain"],
            "source_system": pl.repeat("billing", n, dtype=pl.String, eager=True),
        }
    )

    # Duplicates: the same company seen by the CRM or the support desk, linked to its
    # billing record through exactly one key: email, phone (other format) or domain.
    orig = rng.choice(n, n_dup, replace=False) if n_dup else np.zeros(0, np.int64)
    key = rng.choice(3, n_dup, p=[0.4, 0.3, 0.3])  # 0 email, 1 phone, 2 domain
    key = np.where((key == 2) & free[orig], 0, key)  # free-mail companies have no domain
    system = np.where(rng.random(n_dup) < 0.6, "crm", "support")
    later = np.minimum(pr.signup[orig] + rng.integers(0, 61, n_dup), win.last_day)
    d = base[orig]
    # A phone-matched duplicate has a personal address that must not match anything else.
    dup_personal = pl.concat_str(
        pl.col("first").str.to_lowercase(),
        pl.lit("."),
        pl.col("last").str.to_lowercase(),
        (pl.col("idx") + 1 + n).cast(pl.String),
        pl.lit("@"),
        pl.col("free_domain"),
    )
    kind = pl.Series(key)
    dups = d.with_columns(kind=kind, system=pl.Series(system, dtype=pl.String)).select(
        customer_id=cid.slice(n, n_dup),
        name=pl.when(pl.col("kind") == 1).then("short_name").otherwise("name"),
        segment=_labels(SEGMENTS, pr.seg[orig]),
        industry=_labels(INDUSTRIES, pr.industry[orig]),
        region=_labels(REGIONS, pr.region[orig]),
        plan=pl.when(pl.col("system") == "crm")
        .then(_labels(PLANS, pr.plan_now[orig]))
        .otherwise(None),
        acquisition_channel=pl.when(pl.col("system") == "crm")
        .then(_labels(CHANNELS, pr.channel[orig]))
        .otherwise(None),
        signup_date=pl.Series(later, dtype=pl.Date),
        email=pl.when(pl.col("kind") == 0)
        .then("email")
        .when(pl.col("kind") == 1)
        .then(dup_personal)
        .otherwise(
            pl.concat_str(pl.col("first").str.to_lowercase(), pl.lit("@"), pl.col("company_domain"))
        ),
        phone=pl.when(pl.col("kind") == 1)
        .then(_phone_plain(pl.col("area"), pl.col("sub")))
        .otherwise(None),
        domain=pl.when(pl.col("kind") == 2).then("company_domain").otherwise(None),
        source_system="system",
    )
    customers = pl.concat([originals, dups], how="vertical")
    people = base.select("idx", "company_domain", "free", "free_domain")
    return customers, people.with_columns(phone_offset=pl.lit(phone_offset))


def _contacts(
    rng: np.random.Generator, pr: _Profile, people: pl.DataFrame, cid: pl.Series
) -> pl.DataFrame:
    """1-3 contacts per billing customer: always a primary, often a champion and a sponsor."""
    n = pr.n
    champion = rng.random(n) < np.array([0.45, 0.65, 0.80])[pr.seg]
    sponsor = rng.random(n) < np.array([0.15, 0.40, 0.75])[pr.seg]
    has = np.stack([np.ones(n, bool), champion, sponsor], axis=1)
    cust, role = np.nonzero(has)  # row-major: grouped by customer, roles in order
    size = len(cust)
    first = rng.integers(0, len(FIRST_NAMES), size)
    last = rng.integers(0, len(LAST_NAMES), size)
    title = rng.integers(0, len(TITLES[0]), size)
    titles = tuple(t for group in TITLES for t in group)
    phone_offset = int(people["phone_offset"][0]) if n else 0
    # Contact phones continue the customer numbering, so they never equal a company phone.
    phones = _phone_digits(np.arange(size) + n, rng.integers(201, 990, size), phone_offset)
    frame = pl.DataFrame(
        {
            "customer_id": cid.gather(pl.Series(cust)),
            "first": _labels(FIRST_NAMES, first),
            "last": _labels(LAST_NAMES, last),
            "title": _labels(titles, role * len(TITLES[0]) + title),
            "role": _labels(ROLES, role),
            "seq": np.arange(size) + 1,
        }
    ).hstack(phones)
    comp = people[cust]
    local = pl.concat_str(
        pl.col("first").str.to_lowercase(), pl.lit("."), pl.col("last").str.to_lowercase()
    )
    return frame.hstack(comp.select("company_domain", "free", "free_domain")).select(
        "customer_id",
        name=pl.concat_str("first", "last", separator=" "),
        title="title",
        role="role",
        # Free-mail companies' contacts use personal addresses, made unique by a number.
        email=pl.when("free")
        .then(pl.concat_str(local, pl.col("seq").cast(pl.String), pl.lit("@"), "free_domain"))
        .otherwise(pl.concat_str(local, pl.lit("@"), "company_domain")),
        phone=_phone_pretty(pl.col("area"), pl.col("sub")),
    )


def _acquisition_costs(
    rng: np.random.Generator, pr: _Profile, cid: pl.Series
) -> tuple[pl.DataFrame, np.ndarray]:
    """CAC and monthly customer-success cost per billing customer."""
    cac = np.round(CAC_MEDIAN[pr.seg] * rng.lognormal(0.0, 0.35, pr.n), 2)
    cs = np.round(CS_COST_MEDIAN[pr.seg] * rng.lognormal(0.0, 0.25, pr.n), 2)
    frame = pl.DataFrame(
        {"customer_id": cid.head(pr.n), "cac": pl.Series(cac), "cs_monthly_cost": pl.Series(cs)}
    )
    return frame, cac


def _marketing_spend(
    rng: np.random.Generator, pr: _Profile, cac: np.ndarray, win: _Window
) -> pl.DataFrame:
    """Spend per month and channel: a fixed part that grows, plus half the CAC acquired."""
    months = win.months
    k = len(MARKETING_CHANNELS)
    # Acquisition cost of signups per (month, marketing channel); organic/referral have none.
    channel_map = np.array([MARKETING_CHANNELS.index(c) if c in MARKETING_CHANNELS else -1
                            for c in CHANNELS])  # fmt: skip
    mc = channel_map[pr.channel]
    paid = mc >= 0
    acquired = np.zeros(months * k)
    np.add.at(acquired, pr.s[paid] * k + mc[paid], cac[paid])
    scale = max(pr.n / 1000.0, 0.05)  # spend grows with the size of the business
    growth = 1.0 + np.arange(months) / max(months, 1)
    fixed = (MARKETING_BASE[None, :] * scale * growth[:, None]).ravel()
    amount = np.round((fixed + 0.5 * acquired) * rng.uniform(0.85, 1.15, months * k), 2)
    m, c = np.divmod(np.arange(months * k), k)
    return pl.DataFrame(
        {
            "month": pl.Series(win.month_start(m)),
            "amount": pl.Series(amount),
            "channel": _labels(MARKETING_CHANNELS, c),
        }
    )


def generate(
    customers: int = 1000,
    months: int = 24,
    seed: int = 0,
    start: dt.date | None = None,
) -> dict[str, pl.DataFrame]:
    """Generate a synthetic B2B SaaS ERP data set, one Polars frame per source table.

    ``customers`` billing customers sign up over ``months`` months starting at ``start``
    (the first billing month, first day of a month; default 2023-01-01). On top of them,
    ``customers // 100`` duplicate records from the "crm" and "support" systems share an
    email, a phone (other format) or a domain with a billing record and have no lines.
    Returns frames keyed by table name (see ``TABLE_NAMES``), with the column names and
    types of ``custlens.sources.contract``. The same arguments give identical frames.
    Nothing is dated after the last day of the window; only ``period_end`` (exclusive
    end of a billed period) may lie after it.
    """
    if customers < 1 or months < 1:
        raise ValueError("customers and months must be at least 1")
    start = DEFAULT_START if start is None else start
    if start.day != 1:
        raise ValueError(f"start must be the first day of a month, got {start.isoformat()}")
    win = _Window(np.datetime64(start.strftime("%Y-%m"), "M"), months)
    # Stream i is the same whatever the count spawned: a stream added for a new
    # kind of data leaves every older one, and so every existing figure, unchanged.
    rngs = np.random.default_rng(seed).spawn(12)

    n_dup = int(customers * DUPLICATE_SHARE)
    width = max(6, len(str(customers + n_dup)))
    cid = "C" + pl.int_range(1, customers + n_dup + 1, eager=True).cast(pl.String).str.zfill(width)

    pr = _profile(rngs[0], customers, win)
    line_cols = _line_columns(rngs[1], pr, win, _decline(rngs[11], pr, win))
    act = _activity(pr, win)
    customers_df, people = _customers(rngs[2], pr, win, n_dup, cid)
    acquisition, cac = _acquisition_costs(rngs[3], pr, cid)
    frames = {
        "customers": customers_df,
        "subscription_lines": _subscription_lines(line_cols, cid),
        "transactions": _transactions(rngs[4], line_cols, pr, win, cid),
        "usage_events": _usage_events(rngs[5], pr, act, win, cid),
        "support_tickets": _support_tickets(rngs[6], pr, act, win, cid),
        "nps_responses": _nps_responses(rngs[7], pr, win, cid),
        "journey_events": _journey_events(rngs[8], pr, win, cid),
        "contacts": _contacts(rngs[9], pr, people, cid),
        "acquisition_costs": acquisition,
        "marketing_spend": _marketing_spend(rngs[10], pr, cac, win),
    }
    return {name: frames[name] for name in TABLE_NAMES}


def write(
    frames: dict[str, pl.DataFrame],
    out_dir: Path,
    fmt: Literal["csv", "parquet"] = "csv",
) -> list[Path]:
    """Write each frame to ``out_dir/<table>.<fmt>``; return the written paths.

    CSV dates are ISO ``YYYY-MM-DD`` and timestamps ``YYYY-MM-DDTHH:MM:SS``.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, frame in frames.items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            frame.write_csv(path, date_format="%Y-%m-%d", datetime_format="%Y-%m-%dT%H:%M:%S")
        else:
            frame.write_parquet(path)
        paths.append(path)
    return paths
