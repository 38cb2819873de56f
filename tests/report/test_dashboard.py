"""The dashboard's HTML without a browser: self-contained, complete, and true to the facts.

The KPI values are checked against ``growth_summary``'s last row as read from the
workspace, not against anything the report module computes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.report import CHART_IDS, KPIS, build_report
from custlens.workspace import Workspace
from tests.report import demo_workspace, kpi_values

runner = CliRunner()

# A src or href that leaves the page; scripts are cut out first, since plotly.js quotes
# URLs in its source (links it only draws when asked) that the page never requests.
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_workspace(tmp_path_factory.mktemp("report") / "ws")


@pytest.fixture(scope="module")
def page(workspace: Path) -> str:
    with Workspace(workspace) as ws:
        return build_report(ws)


def test_the_page_is_one_html_document_with_plotly_inlined(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.rstrip().endswith("</html>")
    # plotly.js itself, not a <script src=…> pointing at a CDN.
    assert "Plotly.newPlot" in page
    assert re.search(r"<script[^>]*\bsrc=", page) is None
    assert "plotly.js v" in page or "plotly.js" in page


def test_nothing_outside_the_scripts_points_at_the_network(page: str) -> None:
    markup = SCRIPT.sub("", page)
    assert EXTERNAL.search(markup) is None
    assert "@import" not in markup and "url(http" not in markup
    assert "mathjax" not in page.lower().split("plotly.js")[0]


def test_no_stylesheet_font_or_image_is_linked(page: str) -> None:
    links = re.findall(r"<link\b[^>]*>", page)
    assert links == ['<link rel="icon" href="data:,">']
    assert "<img" not in SCRIPT.sub("", page)


def test_every_chart_container_and_section_is_there(page: str) -> None:
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' in page, chart_id
    for section in (
        "kpis",
        "section-health",
        "section-journey",
        "section-at-risk-overdue",
        "section-at-risk-declining-mrr",
        "section-segments",
    ):
        assert f'id="{section}"' in page, section
    assert 'id="table-at-risk-overdue"' in page
    assert 'id="table-segments"' in page


def test_every_chart_is_drawn_with_plotlys_white_template(page: str) -> None:
    # The figures are built without a template (Plotly copies one into every figure it
    # validates) and get plotly_white's as the page is written: each chart has it whole.
    import plotly.io as pio

    white = pio.templates["plotly_white"].to_plotly_json()
    charts = re.findall(
        r'Plotly\.newPlot\(\s*"([^"]+)",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{"responsive"',
        page,
        re.DOTALL,
    )
    assert {chart_id for chart_id, _, _ in charts} >= set(CHART_IDS)
    for chart_id, _, layout in charts:
        assert json.loads(layout)["template"] == json.loads(json.dumps(white)), chart_id


def test_sections_come_in_the_order_a_founder_reads_them(page: str) -> None:
    order = ["kpis", *CHART_IDS, "section-at-risk-overdue"]
    positions = [page.index(f'id="{name}"') for name in order]
    assert positions == sorted(positions)


def test_kpi_tiles_carry_growth_summarys_last_month(workspace: Path, page: str) -> None:
    with Workspace(workspace) as ws:
        growth = ws.table("growth_summary")
    last = growth.row(growth.height - 1, named=True)
    tiles = kpi_values(page)
    assert list(tiles) == [kpi.column for kpi in KPIS]
    # Computed in growth_summary, and shown: unit economics beside the growth KPIs.
    assert {"arpa", "ltv", "cac_payback_months", "ltv_to_cac"} <= set(tiles)
    for column, value in tiles.items():
        expected = last[column]
        assert value == (None if expected is None else float(expected)), column
    assert f'data-month="{last["month"].isoformat()}"' in page
    assert tiles["arr"] == pytest.approx(12 * tiles["ending_mrr"])  # type: ignore[operator]


def test_each_tile_shows_the_change_and_a_sparkline(page: str) -> None:
    tiles = re.findall(r'<div class="kpi".*?</svg></div>', page)
    assert len(tiles) == len(KPIS)
    for tile in tiles:
        assert "vs last month" in tile
        assert '<svg class="spark"' in tile


def test_money_is_formatted_for_a_person(workspace: Path, page: str) -> None:
    from custlens.format import money

    with Workspace(workspace) as ws:
        mrr = ws.table("growth_summary")["ending_mrr"][-1]
    assert f'<div class="value">{money(mrr)}</div>' in page
    assert '"tickprefix":"$"' in page


def test_the_layout_collapses_to_one_column_on_a_phone(page: str) -> None:
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    phone = re.search(r"@media \(max-width:700px\)\{(.*?)\n\}", page, re.DOTALL)
    assert phone is not None
    assert ".grid{grid-template-columns:1fr" in phone.group(1)
    assert '"responsive": true' in page


def test_the_cohort_heatmap_switches_between_logo_and_revenue(page: str) -> None:
    chart = page[page.index('id="chart-cohort-retention"') :]
    chart = chart[: chart.index("</script>")]
    assert '"name":"Logo retention"' in chart and '"name":"Revenue retention"' in chart
    assert '"label":"Logo"' in chart and '"label":"Revenue"' in chart


def test_a_workspace_missing_facts_still_renders_with_notes(tmp_path: Path) -> None:
    folder = demo_workspace(tmp_path / "ws", only=["growth_summary"])
    with Workspace(folder) as ws:
        assert "rfm" not in ws.tables()
        page = build_report(ws)
    assert 'id="chart-mrr-movements"' in page
    for missing in ("chart-rfm-segments", "chart-rfm-quadrants", "chart-cohort-retention"):
        assert f'id="{missing}"' not in page
    assert "No rfm table in this workspace" in page
    assert "No churn_risk table in this workspace" in page
    assert len(kpi_values(page)) == len(KPIS)


def test_an_empty_workspace_renders_notes_only(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "empty") as ws:
        page = build_report(ws)
    assert "No growth_summary table in this workspace" in page
    assert "No run recorded yet" in page
    assert kpi_values(page) == {}


def section(page: str, section_id: str) -> str:
    part = page[page.index(f'id="{section_id}"') :]
    return part[: part.index("</section>")]


def test_health_and_journey_draw_their_facts(workspace: Path, page: str) -> None:
    with Workspace(workspace) as ws:
        health = ws.table("health_scores")
        funnel = ws.table("journey_funnel")
    health_part = section(page, "section-health")
    assert 'id="chart-health-bands"' in health_part and 'class="note"' not in health_part
    assert '"barmode":"stack"' in health_part
    # One row per band present, with its count of paying customers, in band order: a
    # prospect who never paid is not "At Risk" of leaving.
    rows = re.findall(r"<tr><td>([A-Za-z ]+)</td><td class=\"num\">([\d,]+)</td>", health_part)
    paying = health.filter(pl.col("lifecycle_stage").is_in(["active", "at-risk"]))
    assert paying.height < health.height  # the demo has prospects and churned customers
    expected = paying.group_by("band").len()
    order = ["Excellent", "Good", "At Risk", "Critical"]
    assert [(b, int(n.replace(",", ""))) for b, n in rows] == sorted(
        expected.rows(), key=lambda r: order.index(r[0])
    )
    journey_part = section(page, "section-journey")
    assert 'id="chart-journey-funnel"' in journey_part and 'class="note"' not in journey_part
    signups = funnel.filter((funnel["segment"] == "All") & (funnel["stage"] == "signup"))[
        "customers"
    ][0]
    assert f"{signups:,} (100 %)" in journey_part
    assert 'id="table-journey-segments"' in journey_part


def test_health_and_journey_are_notes_without_their_facts(tmp_path: Path) -> None:
    folder = demo_workspace(tmp_path / "ws", only=["growth_summary"])
    with Workspace(folder) as ws:
        page = build_report(ws)
    assert "No health_scores table in this workspace" in section(page, "section-health")
    assert "No journey_funnel table in this workspace" in section(page, "section-journey")
    assert 'id="chart-health-bands"' not in page


def test_the_report_command_writes_the_file_and_prints_its_path(workspace: Path) -> None:
    result = runner.invoke(app, ["-w", str(workspace), "report"])
    assert result.exit_code == 0, result.output
    target = workspace / "report.html"
    assert result.output.strip() == str(target.resolve())
    assert kpi_values(target.read_text(encoding="utf-8"))


def test_the_report_command_writes_where_told(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "dash.html"
    result = runner.invoke(app, ["-w", str(workspace), "report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# Starlette's TestClient warns about its own httpx dependency; nothing custlens can act on.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_server_serves_the_dashboard_and_health(workspace: Path, page: str) -> None:
    from fastapi.testclient import TestClient

    from custlens.server import create_app

    with TestClient(create_app(workspace)) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        served = client.get("/")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/html")
    assert kpi_values(served.text) == kpi_values(page)


def test_demo_ends_by_writing_the_report_and_printing_its_path(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = runner.invoke(
        app, ["demo", "--customers", "50", "--months", "6", "--dir", str(folder)]
    )
    assert result.exit_code == 0, result.output
    target = (folder / "report.html").resolve()
    assert result.output.rstrip().splitlines()[-1] == f"Dashboard: {target}"
    assert len(kpi_values(target.read_text(encoding="utf-8"))) == len(KPIS)


def test_a_money_column_reads_one_way() -> None:
    # $0.00 beside $300 read as two kinds of number: a column with an amount of 100
    # or more is in whole dollars throughout, one below it in cents throughout.
    from custlens.report import widgets

    big = pl.DataFrame({"segment": ["A", "B"], "current_mrr": [0.0, 300.0]})
    small = pl.DataFrame({"segment": ["A", "B"], "current_mrr": [0.5, 12.25]})
    columns = {"segment": "Segment", "current_mrr": "MRR"}
    assert re.findall(r'class="num">([^<]*)<', widgets.table(big, columns, "t")) == ["$0", "$300"]
    assert re.findall(r'class="num">([^<]*)<', widgets.table(small, columns, "t")) == [
        "$0.50",
        "$12.25",
    ]


def test_bridge_axes_share_their_zero_and_count_in_whole_customers() -> None:
    from datetime import date

    from custlens.report import charts

    # Movements from −70 to +150, MRR up to 200: both axes get 5 % headroom and the
    # zero at the same height, −70 / 150 of each range's top.
    left, right = charts._aligned_ranges(-70.0, 150.0, [100.0, 200.0])
    assert left == pytest.approx([-73.5, 157.5])
    assert right == pytest.approx([210.0 * -73.5 / 157.5, 210.0])
    assert left[0] / left[1] == pytest.approx(right[0] / right[1])
    # A customer axis spanning fewer than ten steps by one customer (not halves).
    assert charts._whole({"tickformat": ",d"}, [-1.05, 2.1]) == {"dtick": 1}
    assert charts._whole({"tickformat": ",d"}, [-20.0, 300.0]) == {}
    assert charts._whole({"tickformat": ".3~s"}, [-1.0, 2.0]) == {}

    counts = pl.DataFrame(
        {
            "month": [date(2024, m, 1) for m in (1, 2, 3, 4)],
            "value_type_id": [1] * 4,
            "new": [2, 1, 0, 1],
            "reactivated": [0, 0, 0, 0],
            "churned": [0, 0, 1, 0],
            "ending_balance": [2, 3, 2, 3],
        }
    )
    html = charts.customer_bridge_section(counts)
    # Four months: a label per month, each bar in the middle of its month.
    assert '"ticklabelmode":"period"' in html and '"dtick":"M1"' in html
    assert '"xperiod":"M1"' in html and '"xperiodalignment":"middle"' in html
    assert '"dtick":1' in html
