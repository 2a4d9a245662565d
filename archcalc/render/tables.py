"""People-facing tables of a report: rich (terminal) and Markdown."""
from __future__ import annotations

from archcalc.analysis.report import DTYPE_BYTES, Report
from archcalc.render import units

HEADERS = ("layer", "kind", "output (CxHxW)", "activations", "memory", "params", "MACs",
           "RF")


def _cells(row, report: Report) -> list[str]:
    size = DTYPE_BYTES[report.dtype] * report.batch
    rf = f"{units.square(row.rf.size)} /{units.square(row.rf.stride)}" if row.rf else ""
    return [row.path, row.kind, units.shape(row.output_shape),
            units.grouped(row.activations * report.batch),
            units.size_bytes(row.activations * size), units.grouped(row.params),
            units.grouped(row.macs * report.batch), rf]


def _total_cells(report: Report) -> list[str]:
    totals = report.totals
    return ["total", "", units.shape(report.output), units.grouped(totals["activations"]),
            units.size_bytes(totals["activation_bytes"]), units.grouped(totals["params"]),
            units.grouped(totals["macs"]), ""]


def caption(report: Report) -> str:
    totals = report.totals
    return (f"{report.name} at {units.shape(report.input)}, batch {report.batch}, "
            f"{report.dtype}: {units.si(totals['params'])} params "
            f"({units.size_bytes(totals['param_bytes'])}), {units.si(totals['macs'])} MACs, "
            f"{units.si(totals['flops'])} FLOPs, "
            f"{units.size_bytes(totals['activation_bytes'])} activations (forward only); "
            f"buffers {units.grouped(totals['buffers'])}. MB = 10^6 bytes; RF = receptive "
            "field size /effective stride.")


def rich_table(report: Report, title: str | None = None):
    from rich.table import Table

    table = Table(title=title or report.name, caption=caption(report), show_footer=True,
                  caption_justify="left", header_style="bold")
    footer = _total_cells(report)
    for index, header in enumerate(HEADERS):
        numeric = index >= 3
        table.add_column(header, footer=footer[index], justify="right" if numeric else "left",
                         no_wrap=index < 3)
    for row in report.rows:
        table.add_row(*_cells(row, report))
    return table


def markdown_table(report: Report) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |",
             "|" + "|".join("---:" if i >= 3 else "---" for i in range(len(HEADERS))) + "|"]
    for cells in [_cells(row, report) for row in report.rows] + [_total_cells(report)]:
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + caption(report) + "\n"
