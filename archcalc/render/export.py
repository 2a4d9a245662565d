"""Machine-readable forms of a report: plain dicts (for JSON) and CSV rows."""
from __future__ import annotations

import csv
import io
from typing import Any

from archcalc.analysis.report import Report

CSV_COLUMNS = ("name", "kind", "output_shape", "activations", "activation_bytes", "params",
               "buffers", "macs", "flops", "rf_size", "rf_stride")


def _number(value):
    return value if isinstance(value, (int, float)) else str(value)


def row_dict(row, report: Report) -> dict:
    """A row as JSON: ``activations`` per image (the lecture's count), the bytes, MACs and
    FLOPs for the report's batch, as the totals are."""
    batch = report.row_per_batch(row)
    data = {
        "name": row.path, "kind": row.kind,
        "output_shape": [_number(d) for d in row.output_shape],
        "activations": _number(row.activations),
        "activation_bytes": _number(batch.activation_bytes),
        "params": row.params, "buffers": row.buffers,
        "macs": _number(batch.macs), "flops": _number(batch.flops),
        "receptive_field": row.rf.as_dict() if row.rf else None,
    }
    if row.folded > 1:
        data["folded_rows"] = row.folded
    return data


def report_dict(report: Report, spec=None) -> dict:
    data: dict[str, Any] = {"name": report.name}
    if spec is not None:
        data.update(title=spec.title, source=spec.source, file=spec.file)
    data.update(input=list(report.input), output=list(report.output), batch=report.batch,
                dtype=report.dtype,
                totals={k: _number(v) for k, v in report.batch_totals.items()},
                layers=[row_dict(row, report) for row in report.rows])
    return data


def report_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        data = row_dict(row, report)
        rf = data["receptive_field"]
        writer.writerow([data["name"], data["kind"], "x".join(map(str, data["output_shape"])),
                         data["activations"], data["activation_bytes"], data["params"],
                         data["buffers"], data["macs"], data["flops"],
                         "x".join(map(str, rf["size"])) if rf else "",
                         "x".join(map(str, rf["stride"])) if rf else ""])
    totals = report.batch_totals
    writer.writerow(["total", "", "x".join(map(str, report.output)), totals["activations"],
                     totals["activation_bytes"], totals["params"], totals["buffers"],
                     totals["macs"], totals["flops"], "", ""])
    return buffer.getvalue()
