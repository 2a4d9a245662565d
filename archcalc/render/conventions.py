"""`archcalc table --convention TOOL`: each node's count as TOOL counts it, beside
archcalc's MACs, with TOOL's total as the tool prints it (analysis/conventions/)."""
from __future__ import annotations

import csv
import io

from archcalc.analysis.conventions import ConventionReport
from archcalc.render import units
from archcalc.render.safe_text import cell


def _headers(result: ConventionReport) -> tuple:
    tool = result.convention
    return ("layer", "kind", "output", "MACs (archcalc)", f"{tool.quantity} ({tool.name})")


def _rows(result: ConventionReport) -> list[tuple]:
    """(row of archcalc's report, the same row counted as the tool), input row excluded."""
    return list(zip(result.archcalc.rows[1:], result.report.rows[1:]))


def _cells(result: ConventionReport) -> list[list[str]]:
    ours, theirs = result.archcalc, result.report
    lines = [[cell(mine.path), cell(mine.kind), units.shape(mine.output_shape),
              units.grouped(ours.row_per_batch(mine).macs),
              units.grouped(theirs.row_per_batch(counted).macs)]
             for mine, counted in _rows(result)]
    lines.append(["total", "", units.shape(ours.output),
                  units.grouped(ours.batch_totals["macs"]), units.grouped(result.total)])
    return lines


def caption(result: ConventionReport) -> str:
    tool = result.convention
    report = result.archcalc
    text = (f"{report.name} at {units.shape(report.input)}, batch {report.batch}: "
            f"{tool.name} prints {result.printed!r} ({result.total:,}). Counted as "
            f"{tool.package} {tool.tested} counts, without running it: {tool.summary}")
    for note in result.notes:
        text += f" Note: {note}."
    return text


def convention_rich(result: ConventionReport, title: str):
    from archcalc.render.rich_table import Table

    table = Table(title=title, caption=caption(result), caption_justify="left",
                  header_style="bold")
    for index, header in enumerate(_headers(result)):
        table.add_column(header, justify="right" if index >= 3 else "left")
    lines = _cells(result)
    for line in lines[:-1]:
        table.add_row(*line)
    table.add_section()
    table.add_row(*lines[-1])
    return table


def convention_markdown(result: ConventionReport) -> str:
    headers = _headers(result)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i >= 3 else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(line) + " |" for line in _cells(result)]
    return "\n".join(lines) + "\n\n" + caption(result) + "\n"


def convention_block(result: ConventionReport) -> dict:
    """The JSON object under ``convention``: the tool, its total and how it prints it."""
    tool = result.convention
    return {"name": tool.name, "package": tool.package, "tested_version": tool.tested,
            "quantity": tool.quantity, "total": result.total, "printed": result.printed,
            "rule": tool.summary, "notes": list(result.notes)}


def convention_dict(result: ConventionReport, spec=None) -> dict:
    """archcalc's report as JSON (render/export.py), each layer with ``convention_count``
    (for the batch, as its ``macs``) and the ``convention`` block."""
    from archcalc.render.export import report_dict

    data = report_dict(result.archcalc, spec)
    counted = {row.path: result.report.row_per_batch(row).macs
               for row in result.report.rows[1:]}
    for layer in data["layers"]:
        if layer["name"] in counted:
            layer["convention_count"] = counted[layer["name"]]
    data["convention"] = convention_block(result)
    return data


def convention_csv(result: ConventionReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("name", "kind", "output_shape", "macs", f"{result.convention.name}_count"))
    for mine, counted in _rows(result):
        writer.writerow((mine.path, mine.kind, "x".join(map(str, mine.output_shape)),
                         result.archcalc.row_per_batch(mine).macs,
                         result.report.row_per_batch(counted).macs))
    writer.writerow(("total", "", "x".join(map(str, result.archcalc.output)),
                     result.archcalc.batch_totals["macs"], result.total))
    return buffer.getvalue()
