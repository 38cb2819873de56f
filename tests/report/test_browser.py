"""The dashboard in a real headless Chromium (Debian's ``/usr/bin/chromium``, via Playwright).

The report is opened from disk (``file://``) and served over a loopback port by
uvicorn in a thread; each page must load without a console error, request
nothing but itself, draw every chart, and show ``growth_summary``'s last month in
its KPI tiles. Screenshots at 1280 px and at a phone's width are saved under the
test's temporary folder. Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from custlens.report import CHART_IDS, KPIS, write_report
from custlens.workspace import Workspace
from tests.report import demo_workspace
from tests.servers import serving

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Drawn when: Plotly marked the div as a plot and put marks into its traces (bars, lines,
# points: paths; a heatmap: an image).
CHARTS_DRAWN = """ids => ids.every(id => {
  const el = document.getElementById(id);
  return el !== null && el.classList.contains('js-plotly-plot') &&
    el.querySelectorAll('svg.main-svg g.trace path, svg.main-svg g.hm image, canvas').length > 0;
})"""
KPI_TILES = """() => Array.from(document.querySelectorAll('.kpi')).map(
  t => [t.dataset.kpi, t.dataset.value])"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_workspace(tmp_path_factory.mktemp("browser") / "ws")


@pytest.fixture(scope="module")
def report_file(workspace: Path) -> Path:
    with Workspace(workspace) as ws:
        return write_report(ws)


@pytest.fixture(scope="module")
def last_month(workspace: Path) -> dict[str, Any]:
    with Workspace(workspace) as ws:
        growth = ws.table("growth_summary")
    return growth.row(growth.height - 1, named=True)


@pytest.fixture(scope="module")
def server_url(workspace: Path) -> Iterator[str]:
    """uvicorn serving the workspace on a free loopback port, stopped after the module."""
    with serving(workspace) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail("needs Debian's chromium at /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """A page opened in Chromium, with what it logged and requested."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def visit(browser: Any, url: str, viewport: dict[str, int]) -> Visit:
    """Open ``url``, recording console errors and requests, and wait for every chart."""
    page = browser.new_page(viewport=viewport)
    seen = Visit(page)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url))
    page.goto(url, wait_until="load")
    page.wait_for_function(CHARTS_DRAWN, arg=list(CHART_IDS), timeout=15_000)
    return seen


TABLES = """() => Array.from(document.querySelectorAll('.scroll')).map(box => {
  const table = box.querySelector('table');
  return {
    id: table ? table.id : '',
    overflows: box.scrollWidth > box.clientWidth + 1,
    background: getComputedStyle(box).backgroundImage,
    clippedHeaders: Array.from(box.querySelectorAll('th'))
      .filter(th => th.scrollWidth > th.clientWidth + 1).map(th => th.textContent),
  };
})"""

TOOLBAR_OVER_TOGGLE = """() => {
  const chart = document.getElementById('chart-cohort-retention');
  const bar = chart.querySelector('.modebar');
  const toggle = chart.querySelector('.updatemenu-container');
  if (!bar || !toggle) return 'missing ' + (!bar ? 'modebar' : 'toggle');
  const a = bar.getBoundingClientRect(), b = toggle.getBoundingClientRect();
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}"""

LONG_TEXT_WIDTHS = """() => Array.from(document.querySelectorAll('td.long'))
  .map(td => td.getBoundingClientRect().width)"""


def check(seen: Visit, url: str, last_month: dict[str, Any]) -> None:
    """The assertions every page must pass, wherever it was loaded from."""
    assert seen.errors == []
    assert seen.requests == [url]
    tiles = dict(seen.page.evaluate(KPI_TILES))
    assert list(tiles) == [kpi.column for kpi in KPIS]
    for column, raw in tiles.items():
        expected = last_month[column]
        assert (float(raw) if raw else None) == (None if expected is None else float(expected))
    # The page is wide enough for its content: nothing scrolls sideways.
    overflow = seen.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_the_report_opens_from_disk_offline(
    browser: Any, report_file: Path, last_month: dict[str, Any], tmp_path: Path
) -> None:
    url = report_file.resolve().as_uri()
    seen = visit(browser, url, DESKTOP)
    check(seen, url, last_month)
    seen.page.screenshot(path=str(tmp_path / "report-1280.png"), full_page=True)
    assert (tmp_path / "report-1280.png").stat().st_size > 10_000
    seen.page.close()


def test_the_report_reads_on_a_phone(
    browser: Any, report_file: Path, last_month: dict[str, Any], tmp_path: Path
) -> None:
    url = report_file.resolve().as_uri()
    seen = visit(browser, url, PHONE)
    check(seen, url, last_month)
    # One column: every chart spans (nearly) the whole width of the screen.
    widths = seen.page.evaluate(
        "ids => ids.map(id => document.getElementById(id).getBoundingClientRect().width)",
        list(CHART_IDS),
    )
    assert all(w > PHONE["width"] * 0.8 for w in widths), widths
    # A table wider than the screen scrolls inside its card and shows that it does
    # (shadows at the edges); no header is cut; a long text column stays readable.
    tables = seen.page.evaluate(TABLES)
    assert tables
    for table in tables:
        if table["overflows"]:
            assert "gradient" in table["background"], table["id"]
        assert table["clippedHeaders"] == [], table["id"]
    # Plotly's toolbar, shown on touch or hover, leaves the cohort toggle free.
    seen.page.hover("#chart-cohort-retention")
    assert not seen.page.evaluate(TOOLBAR_OVER_TOGGLE)
    reasons = seen.page.evaluate(LONG_TEXT_WIDTHS)  # the at-risk tables' "Why"
    assert reasons and all(w >= 150 for w in reasons), reasons
    seen.page.screenshot(path=str(tmp_path / "report-phone.png"), full_page=True)
    seen.page.close()


def test_the_served_page_is_the_same_dashboard(
    browser: Any, server_url: str, last_month: dict[str, Any], tmp_path: Path
) -> None:
    seen = visit(browser, server_url, DESKTOP)
    check(seen, server_url, last_month)
    seen.page.screenshot(path=str(tmp_path / "served-1280.png"))
    health = seen.page.request.get(server_url + "health")
    assert health.ok and health.json() == {"status": "ok"}
    seen.page.close()


def test_the_cohort_heatmap_switches_to_revenue(browser: Any, report_file: Path) -> None:
    url = report_file.resolve().as_uri()
    seen = visit(browser, url, DESKTOP)
    visible = "() => document.getElementById('chart-cohort-retention').data.map(t => t.visible)"
    assert seen.page.evaluate(visible) == [True, False]
    seen.page.locator("#chart-cohort-retention .updatemenu-button").nth(1).click()
    seen.page.wait_for_function(
        "() => document.getElementById('chart-cohort-retention').data[1].visible === true"
    )
    assert seen.page.evaluate(visible) == [False, True]
    assert seen.errors == []
    assert seen.requests == [url]
    seen.page.close()


def test_the_health_chart_counts_every_customer(
    browser: Any, report_file: Path, workspace: Path
) -> None:
    with Workspace(workspace) as ws:
        health = ws.table("health_scores")
    url = report_file.resolve().as_uri()
    seen = visit(browser, url, DESKTOP)
    traces = seen.page.evaluate(
        "() => document.getElementById('chart-health-bands').data.map(t => [t.name, t.x, t.y])"
    )
    drawn = {
        (stage, band): n for band, xs, ys in traces for stage, n in zip(xs, ys, strict=True) if n
    }
    expected = {(s, b): n for s, b, n in health.group_by("lifecycle_stage", "band").len().rows()}
    assert drawn == expected
    assert seen.errors == []
    seen.page.close()
