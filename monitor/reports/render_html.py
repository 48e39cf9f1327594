"""HTML renderer: one self-contained file (inline CSS, inline SVG chart) that prints on A4.

Jinja2 autoescaping escapes every value; nothing is marked safe except the SVG
this module draws from escaped parts.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from monitor import favicon
from monitor.reports import labels as L
from monitor.reports.model import Report

TEMPLATE = """<!DOCTYPE html>
<html lang="{{ 'zh-CN' if lang == 'zh' else 'en' }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="icon" href="{{ favicon }}" type="image/svg+xml">
<style>
@page { size: A4; margin: 15mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       font-size: 10.5pt; color: #222; max-width: 190mm; margin: 0 auto; padding: 8px; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 6px; }
h2 { font-size: 12.5pt; border-bottom: 1px solid #999; margin: 16px 0 6px; }
h3 { font-size: 11pt; margin: 10px 0 4px; }
p.meta { text-align: center; margin: 2px 0; color: #444; }
p.note { font-size: 9pt; color: #555; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { border: 1px solid #777; padding: 2px 4px; vertical-align: middle; }
th { background: #dde4ee; font-weight: bold; }
td.n { text-align: right; }
td.url { font-size: 8pt; word-break: break-all; }
table.summary { width: auto; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
h2 { page-break-after: avoid; break-after: avoid; }
svg { max-width: 100%; height: auto; }
/* On a phone a wide table scrolls inside its own box, never the page. */
.scroll { overflow-x: auto; max-width: 100%; }
td { overflow-wrap: anywhere; }
@media screen and (max-width: 760px) {
  body { font-size: 15px; }
  a { display: inline-block; min-height: 40px; min-width: 40px; line-height: 40px; }
  table.detail { min-width: 720px; }
}
@media print { body { max-width: none; padding: 0; } a { color: inherit; text-decoration: none; }
  .scroll { overflow: visible; } p.home { display: none; } }
</style>
</head>
<body>
{% if home %}<p class="home"><a href="{{ home }}">{{ t.home }}</a></p>
{% endif %}<h1>{{ title }}</h1>
<p class="meta">{{ t.check_date }}: {{ as_of }}</p>
<p class="meta">{{ t.policy }}: {{ policy }}</p>

<h2>{{ t.summary }}</h2>
<div class="scroll"><table class="summary">
{% for label, value in summary %}<tr><th>{{ label }}</th><td class="n">{{ value }}</td></tr>
{% endfor %}</table></div>
<p class="note">{{ t.pass_rate_note }}</p>

<h2>{{ t.regions }}</h2>
{{ table(region_columns, regions, t.none) }}
{{ chart }}

<h2>{{ t.top_units }}</h2>
{{ table(unit_columns, units, t.none) }}

<h2>{{ t.changes }} ({{ previous_as_of }})</h2>
<h3>{{ t.new_problems }}: {{ new_problems|length }}</h3>
{{ table(change_columns, new_problems, t.none) }}
<h3>{{ t.recovered }}: {{ recovered|length }}</h3>
{{ table(change_columns, recovered, t.none) }}

<h2>{{ t.roster }}</h2>
{{ table(finding_columns, findings, t.none) }}

{% if rectify %}<h2>{{ rectify.text.heading }}</h2>
<p>{{ rectify.intro }}</p>
<p>{{ rectify.counts }}</p>
{{ table(rectify.columns, rectify.cases, t.none) }}
<h3>{{ rectify.text.repeated }}</h3>
{{ table(rectify.repeated_columns, rectify.repeated, t.none) }}

{% endif %}<h2>{{ t.detail }}</h2>
{% if detail %}<div class="scroll"><table class="detail">
<thead><tr>{% for c in detail_columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for spans, cells in detail %}<tr>
{%- if spans[0] %}<td rowspan="{{ spans[0] }}">{{ cells[0] }}</td>{% endif -%}
{%- if spans[1] %}<td rowspan="{{ spans[1] }}">{{ cells[1] }}</td>{% endif -%}
{%- for c in cells[2:8] %}<td>{{ c }}</td>{% endfor -%}
<td class="n">{{ cells[8] if cells[8] is not none else "" }}</td>
<td class="url">{% if cells[9][:8] == "https://" or cells[9][:7] == "http://" %}<a href="{{ cells[9] }}">{{ cells[9] }}</a>{% else %}{{ cells[9] }}{% endif %}</td></tr>
{% endfor %}</tbody></table></div>{% else %}<p>{{ t.none }}</p>{% endif %}
{% if sites %}
<h2>{{ t.sites }}</h2>
<p class="note">{{ t.site_pass_rate_note }}</p>
{{ table(site_columns, sites, t.none) }}
{% endif %}</body>
</html>
"""

TABLE = """{% macro table(columns, rows, empty) -%}
{% if rows %}<div class="scroll"><table>
<thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for r in rows %}<tr>{% for c in r %}<td{% if c is number %} class="n"{% endif %}>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>{% else %}<p>{{ empty }}</p>{% endif %}
{%- endmacro %}"""

CHART = """<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}" viewBox="0 0 {{ width }} {{ height }}" role="img" aria-label="{{ caption }}">
<text x="{{ width / 2 }}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{{ caption }}</text>
{% for bar in bars %}<text x="{{ label_w - 6 }}" y="{{ bar.y + bar_h }}" text-anchor="end" font-size="11">{{ bar.region }}</text>
<rect x="{{ label_w }}" y="{{ bar.y }}" width="{{ bar.zw }}" height="{{ bar_h }}" fill="#c0392b"/>
<rect x="{{ label_w }}" y="{{ bar.y + bar_h }}" width="{{ bar.sw }}" height="{{ bar_h }}" fill="#7d3c98"/>
<text x="{{ label_w + bar.zw + 3 }}" y="{{ bar.y + bar_h - 2 }}" font-size="9">{{ bar.z }}</text>
<text x="{{ label_w + bar.sw + 3 }}" y="{{ bar.y + 2 * bar_h - 2 }}" font-size="9">{{ bar.s }}</text>
{% endfor %}<rect x="{{ label_w }}" y="{{ height - 18 }}" width="10" height="10" fill="#c0392b"/>
<text x="{{ label_w + 14 }}" y="{{ height - 9 }}" font-size="10">{{ series[0] }}</text>
<rect x="{{ label_w + 110 }}" y="{{ height - 18 }}" width="10" height="10" fill="#7d3c98"/>
<text x="{{ label_w + 124 }}" y="{{ height - 9 }}" font-size="10">{{ series[1] }}</text>
</svg>"""

_env = Environment(autoescape=True, trim_blocks=False, keep_trailing_newline=True)
_macros = _env.from_string(TABLE).module
_page = _env.from_string(TEMPLATE)
_chart = _env.from_string(CHART)


def chart_svg(report: Report, lang: str) -> str:
    """A grouped horizontal bar chart of zombie and suspended accounts per region."""
    bar_h, label_w, plot_w = 9, 130, 520
    most = max((r.tally.zombie for r in report.regions), default=0)
    most = max([most, *(r.tally.suspended for r in report.regions), 1])
    bars = [
        {
            "region": r.region,
            "y": 26 + i * (2 * bar_h + 8),
            "z": r.tally.zombie,
            "s": r.tally.suspended,
            "zw": round(plot_w * r.tally.zombie / most, 1),
            "sw": round(plot_w * r.tally.suspended / most, 1),
        }
        for i, r in enumerate(report.regions)
    ]
    cols = L.REGION_COLUMNS[lang]
    return _chart.render(
        width=label_w + plot_w + 40,
        height=26 + len(bars) * (2 * bar_h + 8) + 26,
        bars=bars,
        bar_h=bar_h,
        label_w=label_w,
        caption=L.TEXT[lang]["chart"],
        series=(cols[2], cols[3]),
    )


def _detail(report: Report, lang: str) -> list[tuple[tuple[int, int], list[Any]]]:
    """Detail rows with rowspans: the first row of a region/unit run spans the run; others 0."""
    flags = L.continuation(report.rows)
    spans = [[0, 0] for _ in report.rows]
    region_start = unit_start = 0
    for i, (same_region, same_unit) in enumerate(flags):
        if not same_region:
            region_start = i
        if not same_unit:
            unit_start = i
        spans[region_start][0] += 1
        spans[unit_start][1] += 1
    return [
        ((s[0], s[1]), L.detail_cells(row, lang)) for s, row in zip(spans, report.rows, strict=True)
    ]


def _rectify(report: Report, lang: str) -> dict[str, Any] | None:
    r = report.rectification
    if r is None:
        return None
    text = L.RECTIFY_TEXT[lang]
    return {
        "text": text,
        "intro": text["intro"].format(month=r.notice, as_of=r.notice_as_of.isoformat()),
        "counts": L.rectify_counts(report, lang),
        "columns": L.CASE_COLUMNS[lang],
        "cases": [L.case_cells(c, lang) for c in r.cases],
        "repeated_columns": L.REPEATED_COLUMNS[lang],
        "repeated": L.repeated_rows(report, lang),
    }


def render_html(report: Report, lang: str = "zh", *, home: str | None = None) -> bytes:
    """The report page; `home` (the dashboard's address, when served by it) adds a link back."""
    from markupsafe import Markup

    html = _page.render(
        lang=lang,
        home=home,
        favicon=favicon.DATA_URI,
        t=L.TEXT[lang],
        title=L.title(report, lang),
        as_of=report.as_of.isoformat(),
        previous_as_of=report.previous_as_of.isoformat(),
        policy=L.policy_text(report, lang),
        summary=L.summary_items(report, lang),
        table=_macros.table,  # type: ignore[attr-defined]  # a macro of the template module
        region_columns=L.REGION_COLUMNS[lang],
        regions=[L.region_cells(r.region, r.tally) for r in report.regions],
        # The SVG is built by an autoescaping template from report values: safe to inline.
        chart=Markup(chart_svg(report, lang)),
        unit_columns=L.UNIT_COLUMNS[lang],
        units=[L.unit_cells(u.region, u.unit, u.tally) for u in report.top_units],
        change_columns=L.CHANGE_COLUMNS[lang],
        new_problems=[L.change_cells(c, lang) for c in report.new_problems],
        recovered=[L.change_cells(c, lang) for c in report.recovered],
        finding_columns=L.FINDING_COLUMNS[lang],
        findings=[L.finding_cells(f, lang) for f in report.roster_findings],
        detail_columns=L.DETAIL_COLUMNS[lang],
        detail=_detail(report, lang),
        rectify=_rectify(report, lang),
        site_columns=L.SITE_COLUMNS[lang],
        sites=[L.site_cells(n, row, lang) for n, row in enumerate(report.sites, start=1)],
    )
    return html.encode("utf-8")
