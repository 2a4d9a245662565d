"""One model's part of the HTML report as plain data (JSON for the page's script).

The table cells are the terminal table's own cells (render/tables.py), so the page
shows the same columns, units and numbers as `archcalc table`; the derivations are
`archcalc explain`'s lines; the graph is the spec's own structure (a sequence runs
its children in order, a branch runs its paths side by side and joins them at its
merge), with every named container a group the page can collapse.
"""
from __future__ import annotations

from typing import Any

from archcalc.analysis.report import Report
from archcalc.render import units
from archcalc.render.html_report.saved_by_node import saved_bytes_by_node
from archcalc.render.tables import HEADERS, _cells, _total_cells, caption
from archcalc.spec.model import Branch, Sequence

# Costs a node can be coloured by: key -> (label, how its total is written).
COSTS = {
    "params": ("params", units.grouped),
    "macs": ("MACs", units.grouped),
    "memory": ("activation memory", units.size_bytes),
    "saved": ("saved for backward", units.size_bytes),
}


# matplotlib's tab10 colours by name, for the bar colours `archcalc plot` gives each kind
TAB_COLOURS = {"tab:blue": "#1f77b4", "tab:orange": "#ff7f0e", "tab:gray": "#7f7f7f",
               "tab:green": "#2ca02c", "tab:purple": "#9467bd", "tab:olive": "#bcbd22"}


def kind_colours(kinds) -> dict[str, str]:
    """Kind -> bar colour, as render/plots.py colours its bars (the one table there)."""
    from archcalc.render.plots import KIND_COLOURS, OTHER_COLOUR

    return {kind: TAB_COLOURS[KIND_COLOURS.get(kind, OTHER_COLOUR)] for kind in sorted(kinds)}


def derivation_lines(derivation) -> list[str]:
    """One layer as `archcalc explain` prints it (cli/cmd_explain.py, rich format)."""
    lines = [f"{derivation.path} ({derivation.kind})"]
    for axis, text in derivation.output.items():
        lines.append(f"  {axis:<11} {text}")
    params = derivation.params + (f"   [{' + '.join(derivation.params_terms)}]"
                                  if derivation.params_terms else "")
    lines.append(f"  {'params':<11} {params}")
    lines.append(f"  {'activations':<11} {derivation.activations}")
    lines.append(f"  {'MACs':<11} {derivation.macs}")
    return lines


def graph_tree(node, index: dict[str, int]) -> Any:
    """The spec's graph for the page: a layer is its row number; a sequence
    ``{"p": path, "c": [...]}``; a branch ``{"p": path, "b": [sequence, ...], "m": row of
    its merge, "n": [path names]}``."""
    if isinstance(node, Sequence):
        return {"p": node.path, "c": [graph_tree(child, index) for child in node.children]}
    if isinstance(node, Branch):
        return {"p": node.path, "m": index[node.path], "n": [name for name, _ in node.paths],
                "b": [graph_tree(path, index) for _, path in node.paths]}
    return index[node.path]


def _rf_size(row) -> int:
    return int(max(row.rf.size)) if row.rf and all(isinstance(v, int) for v in row.rf.size) \
        else 0


def _values(report: Report, saved: dict[str, int]) -> dict[str, list]:
    """Numbers per row for sorting, colouring and the charts (the cells carry the text)."""
    per_batch = [report.row_per_batch(row) for row in report.rows]
    return {
        "activations": [each.activations for each in per_batch],
        "memory": [each.activation_bytes for each in per_batch],
        "params": [row.params for row in report.rows],
        "macs": [each.macs for each in per_batch],
        "saved": [saved.get(row.path, 0) for row in report.rows],
        "rf": [_rf_size(row) for row in report.rows],
    }


def model_data(spec, report: Report, derivations, formulas: dict | None = None) -> dict:
    """Everything the page shows of one model analysed at numbers (``report``);
    ``formulas``: row path -> its formulas when the input was symbolic."""
    index = {row.path: number for number, row in enumerate(report.rows)}
    saved = saved_bytes_by_node(spec, report)
    values = _values(report, saved)
    explained = {each.path: derivation_lines(each) for each in derivations}
    totals = {key: format_total(sum(values[key])) for key, (_, format_total) in COSTS.items()}
    return {
        "name": report.name, "title": spec.title, "source": spec.source,
        "input": units.shape(report.input), "batch": report.batch, "dtype": report.dtype,
        "caption": caption(report),
        "headers": list(HEADERS),
        "rows": [_cells(row, report) for row in report.rows],
        "kinds": [row.kind for row in report.rows],
        "kind_colours": kind_colours({row.kind for row in report.rows}),
        "footer": _total_cells(report),
        "values": values,
        "saved_texts": [units.size_bytes(v) for v in values["saved"]],
        "chart_labels": {"memory": units.size_bytes(max(values["memory"])),
                         "params": units.si(max(values["params"])),
                         "macs": units.si(max(values["macs"])),
                         "cum_memory": units.size_bytes(sum(values["memory"])),
                         "cum_saved": units.size_bytes(sum(values["saved"]))},
        "cost_totals": totals,
        "costs": {key: label for key, (label, _) in COSTS.items()},
        "derivations": [explained.get(row.path) for row in report.rows],
        "formulas": [formulas.get(row.path) for row in report.rows] if formulas else None,
        "tree": graph_tree(spec.root, index),
    }


def symbolic_formulas(result, numeric: Report) -> dict[str, dict]:
    """Row path -> its output size (per axis, as `explain` names them), activations,
    params and MACs as formulas (per image). The axes are named from ``numeric``'s rows,
    whose shapes keep their layout (ConvNeXt's channels-last maps)."""
    from archcalc.analysis.explain import axis_names
    from archcalc.analysis.symbolic import text

    layouts = {row.path: row.output_shape for row in numeric.rows}
    formulas = {}
    for row in result.report.rows:
        names = axis_names(layouts.get(row.path, row.output_shape))
        formulas[row.path] = {**{name: text(d) for name, d in zip(names, row.output_shape)},
                              "activations": text(row.activations),
                              "params": text(row.params), "MACs": text(row.macs)}
    return formulas
