"""The report as one self-contained HTML document: markup, the inlined style and
script, and the data as JSON in a non-executed script element.

Nothing is fetched: there is no URL to load, and the Content-Security-Policy allows
no source at all except the page's own style and script, named by their SHA-256, so a
script that somehow got into the data could not run either.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json

from archcalc.render.html_report.script_charts import CHARTS_SCRIPT
from archcalc.render.html_report.script_graph import GRAPH_SCRIPT
from archcalc.render.html_report.script_page import PAGE_SCRIPT
from archcalc.render.html_report.style import STYLE
from archcalc.render.safe_text import cell

SCRIPT = GRAPH_SCRIPT + CHARTS_SCRIPT + PAGE_SCRIPT

BODY = """<header>
<h1 id="model-title"></h1>
<p id="model-caption"></p>
<p id="model-source"></p>
<nav id="models"></nav>
</header>
<section id="compare"></section>
<section>
<h2>Graph</h2>
<div class="controls">colour by <select id="cost"></select>
<button id="expand-all">expand all</button><button id="collapse-all">collapse all</button>
<span id="shown"></span></div>
<div class="split">
<div id="graph-box"><svg id="graph" width="10" height="10"></svg></div>
<div id="details"></div>
</div>
</section>
<section>
<h2>Layers</h2>
<div class="controls"><input id="filter" type="search" placeholder="filter by name"
 aria-label="filter by name"> <span id="matches"></span>
 (click a column to sort; totals are over all rows)</div>
<div id="table-box"><table id="layers" class="layers"><thead></thead><tbody></tbody>
<tfoot></tfoot></table></div>
</section>
<section>
<h2>Charts</h2>
<div id="charts"></div>
</section>
"""


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def embedded_json(data) -> str:
    """JSON that cannot end its script element or start markup: every ``<``, ``>`` and
    ``&`` written as a \\u escape (JSON.parse reads them back), non-ASCII escaped too."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def document(title: str, data: dict) -> str:
    """The whole page; ``data``: {"models": [...], "compare": ... or None, "cost": key}."""
    policy = (f"default-src 'none'; script-src 'sha256-{_digest(SCRIPT)}'; "
              f"style-src 'sha256-{_digest(STYLE)}'; img-src data:")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(cell(title))}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{BODY}"
        f"<script type=\"application/json\" id=\"report-data\">{embedded_json(data)}</script>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n")
