"""The page around the sections: the inline CSS, the HTML document with Plotly inlined
once, the header (the data's as-of date, the run) and the footer of definitions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from custlens.report import widgets as w

if TYPE_CHECKING:
    from custlens.scoped import RoleView
    from custlens.workspace import Workspace


_CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#111827;background:#f3f4f6;line-height:1.4}
header.top{padding:20px 24px 8px}
header.top h1{margin:0;font-size:1.35rem}
header.top p{margin:4px 0 0;color:#4b5563;font-size:.9rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;
 padding:12px 24px}
.kpi{background:#fff;border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .label{font-size:.78rem;color:#6b7280;text-transform:uppercase;letter-spacing:.03em}
.kpi .value{font-size:clamp(1rem,1.4vw,1.5rem);font-weight:650;margin:2px 0;white-space:nowrap}
.kpi .delta{font-size:.8rem;color:#6b7280}
.kpi .delta.good{color:#15803d}.kpi .delta.bad{color:#b91c1c}
.kpi svg.spark{display:block;width:100%;height:30px;margin-top:6px}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px;padding:12px 24px 24px}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);
 min-width:0}
.card.wide{grid-column:1/-1}
.card h2{margin:0 0 4px;font-size:1.05rem}
.card p.sub{margin:0 0 8px;color:#6b7280;font-size:.85rem}
.note{color:#92400e;background:#fffbeb;border:1px solid #fde68a;border-radius:8px;
 padding:10px 12px;font-size:.88rem}
.chart{width:100%}
.scroll{overflow-x:auto;
 background:linear-gradient(to right,#fff 30%,rgba(255,255,255,0)) left/24px 100%
 no-repeat local,
 linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) right/24px 100% no-repeat local,
 radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.2),rgba(0,0,0,0)) left/10px 100%
 no-repeat scroll,
 radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.2),rgba(0,0,0,0)) right/10px 100%
 no-repeat scroll}
table.data td.long{min-width:14em}
table.data{border-collapse:collapse;width:100%;font-size:.86rem}
table.data th,table.data td{padding:6px 8px;border-bottom:1px solid #e5e7eb;text-align:left;
 vertical-align:top}
table.data th{color:#6b7280;font-weight:600;white-space:nowrap}
table.data td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
footer{padding:0 24px 24px;color:#9ca3af;font-size:.78rem}
@media (max-width:700px){
 .grid{grid-template-columns:1fr;padding:8px 10px 16px;gap:12px}
 .kpis{grid-template-columns:repeat(2,minmax(0,1fr));padding:8px 10px;gap:8px}
 header.top{padding:14px 12px 4px}
 .kpi .value{font-size:1.2rem}
 footer{padding:0 12px 16px}
}
"""


def page(title: str, body: str) -> str:
    from plotly.offline import get_plotlyjs

    # A literal "</script" inside the bundle would end the tag early; plotly.js has none
    # today, and the escape keeps it that way if a release adds one.
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # Without an icon the browser asks the server for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{w.esc(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{plotly_js}</script>\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def header(ws: Workspace | RoleView, heading: str, growth: pl.DataFrame | None) -> str:
    facts = []
    run = w.latest_run(ws)
    if run is not None:
        if run["as_of"] is not None:
            facts.append(f"Data as of {run['as_of']:%d %b %Y}")
        finished = run["finished_at"]
        if isinstance(finished, datetime):
            facts.append(f"run {run['run_id']} finished {finished:%Y-%m-%d %H:%M}")
    elif growth is not None and growth.height:
        facts.append(f"Data to {growth['month'][-1]:%B %Y}")
    line = " · ".join(facts) or "No run recorded yet: run `custlens run` first."
    return f'<header class="top"><h1>{w.esc(heading)}</h1><p>{w.esc(line)}</p></header>'


def footer() -> str:
    return (
        "<footer>Built by custlens. Definitions: MRR is a month-end snapshot; NRR = (S + E − C"
        " − X) / S; GRR = (S − C − X) / S; quick ratio = (N + E + R) / (C + X); customer churn"
        " rate = churned / starting customers.</footer>"
    )
