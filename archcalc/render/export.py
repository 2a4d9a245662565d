"""Machine-readable forms of a report: plain dicts (for JSON) and CSV rows.

Every JSON document archcalc writes names its form and version in a ``schema`` field
(``archcalc/table/1``): the published JSON Schema (``schema/report.schema.json`` in the
repository, ``archcalc/schema/`` in a wheel) describes each form, and ``SCHEMA_VERSION``
changes whenever a field is renamed, removed or changes meaning (adding one does not).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from archcalc.analysis.report import Report

SCHEMA_VERSION = 1
SCHEMA_FILE = "report.schema.json"
_PACKAGE = Path(__file__).resolve().parent.parent

# Shapes have at most three axes today (C x H x W, H x W x C, tokens L x D, features);
# a deeper one widens the CSV rather than losing an axis (see shape_columns).
SHAPE_AXES = 3
_FIGURES = ("activations", "activation_bytes", "params", "buffers", "macs", "flops")
_FIELD = ("rf_size_h", "rf_size_w", "rf_stride_h", "rf_stride_w")


def schema_id(document: str) -> str:
    """The value of a document's ``schema`` field: ``archcalc/<document>/<version>``."""
    return f"archcalc/{document}/{SCHEMA_VERSION}"


def versioned(document: str, data: dict) -> dict:
    """``data`` with its ``schema`` field first."""
    return {"schema": schema_id(document), **data}


def schema_path() -> Path:
    """The JSON Schema file: shipped in the package (a wheel), else the clone's schema/."""
    for folder in (_PACKAGE / "schema", _PACKAGE.parent / "schema"):
        if (folder / SCHEMA_FILE).is_file():
            return folder / SCHEMA_FILE
    from archcalc.errors import ArchcalcError

    raise ArchcalcError(f"the JSON Schema file {SCHEMA_FILE} is not installed",
                        hint="reinstall archcalc (the wheel carries archcalc/schema/)")


def _number(value):
    """JSON's figure: a number, a symbol as text, null where unknown (an opaque node)."""
    if value is None:
        return None
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
    """The document of `archcalc table --format json` (and of the API's ``to_dict``)."""
    data: dict[str, Any] = {"schema": schema_id("table"), "name": report.name}
    if spec is not None:
        data.update(title=spec.title, source=spec.source, file=spec.file)
    data.update(input=list(report.input), output=list(report.output), batch=report.batch,
                dtype=report.dtype,
                totals=totals_dict(report),
                layers=[row_dict(row, report) for row in report.rows])
    return data


def totals_dict(report: Report) -> dict:
    """The batch's totals; where some rows' MACs or FLOPs are unknown, ``macs``/``flops``
    are the known rows' sum and ``unknown`` names the others (absent when none is)."""
    totals: dict[str, Any] = {k: _number(v) for k, v in report.batch_totals.items()}
    if report.unknown:
        totals["unknown"] = {key: list(names) for key, names in report.unknown.items()}
    return totals


def shape_columns(report: Report) -> int:
    """How many output-axis columns the report's rows need (at least SHAPE_AXES)."""
    return max([SHAPE_AXES, *(len(row.output_shape) for row in report.rows)])


def flat_rows(report: Report) -> tuple[list[str], list[list]]:
    """(column names, one list per row): the layer rows with each output axis and each
    receptive-field figure in a column of its own (None where a row has fewer axes or
    no field: an empty CSV cell); the table behind the CSV and the API's ``to_dataframe``."""
    axes = shape_columns(report)
    columns = ["name", "kind", *(f"output_dim{i}" for i in range(1, axes + 1)), *_FIGURES,
               *_FIELD]
    rows = []
    for row in report.rows:
        data = row_dict(row, report)
        shape = data["output_shape"]
        rf = data["receptive_field"]
        field = [*rf["size"], *rf["stride"]] if rf and len(rf["size"]) == 2 else [None] * 4
        rows.append([data["name"], data["kind"], *shape, *[None] * (axes - len(shape)),
                     *(data[key] for key in _FIGURES), *field])
    return columns, rows


def report_csv(report: Report) -> str:
    """The CSV of `archcalc table --format csv`: a ``row`` column says what each line is
    (``input``, ``layer``, ``total``, or ``total_lower_bound`` where some rows' MACs or FLOPs
are unknown: empty cells), so a layer named "total" cannot pass for the totals;
    the totals line holds the batch's figures, as the JSON's ``totals`` do."""
    columns, rows = flat_rows(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row", *columns])
    for index, values in enumerate(rows):
        writer.writerow(["input" if index == 0 else "layer", *values])
    totals = {k: _number(v) for k, v in report.batch_totals.items()}
    output = [_number(d) for d in report.output]
    axes = shape_columns(report)
    # a line whose MACs/FLOPs sum only the known rows is not the total: it says so
    label = "total_lower_bound" if report.unknown else "total"
    writer.writerow([label, report.name, None, *output, *[None] * (axes - len(output)),
                     *(totals[key] for key in _FIGURES), *[None] * len(_FIELD)])
    return buffer.getvalue()


# --- training passes (`table --pass backward|step`): analysis/backward.py's records -----

STEP_COLUMNS = ("forward_flops", "backward_input_flops", "backward_weight_flops",
                "backward_elementwise_flops", "backward_flops", "step_flops")


def _step_figures(record, batch) -> dict:
    """A record's FLOPs for the batch, and which gradients it computes (1 or 0: the
    table document's rows take numeric columns only)."""
    data = {key: _number(getattr(record, key) * batch) for key in STEP_COLUMNS}
    data.update(input_grad=int(record.input_grad), weight_grad=int(record.weight_grad))
    return data


def step_report_dict(report: Report, records, spec=None) -> dict:
    """`table --pass backward|step --format json`: the table document, each row and the
    totals with the training step's FLOPs for the batch (``STEP_COLUMNS``)."""
    from archcalc.analysis.backward import step_totals

    data = report_dict(report, spec)
    for row, record in zip(data["layers"], records):
        row.update(_step_figures(record, report.batch))
    data["totals"].update({key: _number(value) for key, value
                           in step_totals(records, report.batch).items()})
    return data


def step_report_csv(report: Report, records) -> str:
    """The CSV of `table --pass backward|step`: the forward CSV's columns, then the step's
    FLOPs for the batch and which gradients each row computes."""
    from archcalc.analysis.backward import step_totals

    rows = list(csv.reader(io.StringIO(report_csv(report))))
    extra = [*STEP_COLUMNS, "input_grad", "weight_grad"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*rows[0], *extra])
    for values, record in zip(rows[1:], records):
        figures = _step_figures(record, report.batch)
        writer.writerow([*values, *(figures[key] for key in extra)])
    totals = step_totals(records, report.batch)
    writer.writerow([*rows[-1], *(_number(totals[key]) for key in STEP_COLUMNS), None, None])
    return buffer.getvalue()
