"""`archcalc report`: one self-contained HTML page per spec (or per comparison).

The page shows the network as a graph (branches side by side, merges as joins, each
named container a collapsible group, nodes coloured by a chosen cost), the per-layer
table of `archcalc table` (sortable, filterable), each node's derivation as `archcalc
explain` writes it (and its formulas when the input was given in letters), and the
charts of `archcalc plot` plus cumulative memory. No torch, no matplotlib, no
JavaScript library: the layout and charts are a few hundred lines of inlined script.

Modules: pages.py runs the analyses, model_data.py turns one into plain data,
saved_by_node.py credits autograd's saved bytes to nodes, document.py writes the page
(style.py, script_graph.py, script_charts.py and script_page.py are its inlined style
and script).
"""
from __future__ import annotations

from dataclasses import dataclass

from archcalc.render.html_report.document import document
from archcalc.render.html_report.model_data import COSTS
from archcalc.render.html_report.pages import compare_data, model_page


@dataclass(frozen=True)
class ReportOptions:
    """``shape``: a numeric input (None: each spec's own); ``symbolic_shape``: an input
    in letters, whose formulas each node carries (the numbers stay at the spec's own
    input); ``cost``: what colours the nodes at first (a key of COSTS)."""

    shape: tuple | None = None
    symbolic_shape: tuple | None = None
    batch: int = 1
    dtype: str = "fp32"
    assume: tuple = ()
    cost: str = "macs"


def report_html(specs, options: ReportOptions = ReportOptions()) -> str:
    """The page for ``specs`` (loaded specs; two or more add the side-by-side part)."""
    if options.cost not in COSTS:
        raise ValueError(f"unknown cost {options.cost!r}: one of {', '.join(COSTS)}")
    models = [model_page(spec, shape=options.shape, symbolic_shape=options.symbolic_shape,
                         batch=options.batch, dtype=options.dtype, assume=options.assume)
              for spec in specs]
    compare = compare_data(specs, shape=options.shape, dtype=options.dtype) \
        if len(specs) > 1 else None
    title = " vs ".join(spec.name for spec in specs) + " - archcalc report"
    return document(title, {"models": models, "compare": compare, "cost": options.cost})


__all__ = ["COSTS", "ReportOptions", "report_html"]
