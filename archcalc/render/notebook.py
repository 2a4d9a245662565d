"""A report as an HTML table, for a notebook's rich display (``_repr_html_``).

The same rows and figures as `archcalc table` (activations, memory, MACs and FLOPs for
the report's batch; exact integers with thousands separators); every cell is escaped,
since names come from spec files.
"""
from __future__ import annotations

from html import escape

from archcalc.analysis.report import Report
from archcalc.render import units
from archcalc.render.tables import figure, lower_bound, unknown_note

HEADERS = ("layer", "kind", "output", "activations", "memory", "params", "MACs", "FLOPs",
           "RF")
_RIGHT = frozenset(("activations", "memory", "params", "MACs", "FLOPs"))


def _row_cells(row, report: Report) -> list[str]:
    batch = report.row_per_batch(row)
    rf = f"{units.square(row.rf.size)} /{units.square(row.rf.stride)}" if row.rf else ""
    return [row.path, row.kind, units.shape(row.output_shape), units.grouped(batch.activations),
            units.size_bytes(batch.activation_bytes), units.grouped(row.params),
            figure(batch.macs), figure(batch.flops), rf]


def _total_cells(report: Report) -> list[str]:
    totals = report.batch_totals
    return ["total", "", units.shape(report.output), units.grouped(totals["activations"]),
            units.size_bytes(totals["activation_bytes"]), units.grouped(totals["params"]),
            lower_bound(report, "macs", units.grouped(totals["macs"])),
            lower_bound(report, "flops", units.grouped(totals["flops"])), ""]


def _tr(cells: list[str], tag: str = "td") -> str:
    parts = []
    for header, text in zip(HEADERS, cells):
        align = ' style="text-align:right"' if header in _RIGHT else ""
        parts.append(f"<{tag}{align}>{escape(str(text))}</{tag}>")
    return "<tr>" + "".join(parts) + "</tr>"


def html_table(report: Report, title: str | None = None) -> str:
    caption = (f"{title or report.name} at {units.shape(report.input)}, batch {report.batch}, "
               f"{report.dtype} (memory: forward activations, MB = 10^6 bytes; RF = receptive "
               "field size /effective stride)" + unknown_note(report))
    body = "".join(_tr(_row_cells(row, report)) for row in report.rows)
    return (f'<table class="archcalc-report"><caption>{escape(caption)}</caption>'
            f"<thead>{_tr(list(HEADERS), 'th')}</thead><tbody>{body}</tbody>"
            f"<tfoot>{_tr(_total_cells(report))}</tfoot></table>")
