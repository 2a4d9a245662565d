"""Tables and JSON for a symbolic analysis (expressions instead of numbers)."""
from __future__ import annotations

from archcalc.render import units


def _text(value) -> str:
    return units.grouped(value) if isinstance(value, int) else str(value)


def _expr(value) -> dict:
    from archcalc.analysis.symbolic import free_symbols

    return {"expr": _text(value).replace(",", "") if isinstance(value, int) else str(value),
            "free_symbols": free_symbols(value)}


def unique_conditions(result) -> list:
    seen, unique = set(), []
    for condition in result.conditions:
        key = str(condition.condition)
        if key not in seen:
            seen.add(key)
            unique.append(condition)
    return unique


def validity(result) -> dict:
    """The smallest square input (the exact search of analysis/limits.py, among the sides
    the assumptions allow) and the size forms that keep the arithmetic exact; the forms
    only when the input has spatial symbols, since they describe formulas of them."""
    from archcalc.analysis.symbolic import size_classes, square_spatial_symbols

    search = result.smallest_search()
    smallest = search.side if search is not None else None
    channels = result.report.input[0]
    facts = {
        "smallest_square_side": smallest,
        "smallest_input": f"{channels}x{smallest}x{smallest}" if smallest else None,
        "smallest_note": search.describe(channels) if search is not None and not smallest
        else None,
        "polynomial_sizes": None,
        "no_rounding_sizes": None,
    }
    if square_spatial_symbols(result):
        classes = size_classes(result, smallest or 1)
        facts["polynomial_sizes"] = _form(classes["polynomial"])
        facts["no_rounding_sizes"] = _form(classes["no_rounding"])
    return facts


def _form(pair) -> str | None:
    if pair is None:
        return None
    modulus, residue = pair
    if modulus == 1:
        return "any size"
    return f"{modulus}k" + (f" + {residue}" if residue else "")


def symbolic_dict(result, spec) -> dict:
    report = result.report
    return {
        "name": report.name, "source": spec.source,
        "input": [str(d) for d in report.input], "batch": str(report.batch),
        "dtype": report.dtype, "symbols": [str(s) for s in result.symbols],
        "assumptions": result.assumptions.text,
        "output": [str(d) for d in report.output],
        "totals": {key: _expr(value) for key, value in report.batch_totals.items()},
        "layers": [{"name": row.path, "kind": row.kind,
                    "output_shape": [str(d) for d in row.output_shape],
                    "activations": _expr(row.activations), "params": _expr(row.params),
                    "macs": _expr(row.macs), "flops": _expr(row.flops)}
                   for row in report.rows],
        "conditions": [c.as_dict() for c in unique_conditions(result)],
        "validity": validity(result),
    }


def symbolic_rich(result, title: str):
    from archcalc.render.rich_table import Table

    report = result.report
    table = Table(title=title, header_style="bold", show_footer=True,
                  caption=_caption(result), caption_justify="left")
    totals = report.batch_totals
    footer = ["total", "", " x ".join(str(d) for d in report.output),
              _text(totals["activations"]), _text(totals["params"]),
              _text(totals["macs"])]
    for index, header in enumerate(("layer", "kind", "output (C x H x W)", "activations",
                                    "params", "MACs")):
        table.add_column(header, footer=footer[index], overflow="fold")
    for row in report.rows:
        table.add_row(row.path, row.kind, " x ".join(str(d) for d in row.output_shape),
                      _text(row.activations), _text(row.params), _text(row.macs))
    return table


def _caption(result) -> str:
    facts = validity(result)
    lines = []
    if result.assumptions.text:
        lines.append("assuming " + ", ".join(result.assumptions.text))
    conditions = unique_conditions(result)
    if conditions:
        lines.append(f"valid inputs satisfy {len(conditions)} condition(s):")
        lines += [f"  {c.condition}   ({c.node})" for c in conditions[:12]]
        if len(conditions) > 12:
            lines.append(f"  ... and {len(conditions) - 12} more (--format json lists all)")
    else:
        lines.append("no layer puts a condition on the input size")
    if facts["smallest_input"]:
        lines.append(f"smallest square input: {facts['smallest_input']}")
    elif facts["smallest_note"]:
        lines.append(facts["smallest_note"])
    if facts["polynomial_sizes"]:
        lines.append(f"{_sizes(facts['polynomial_sizes'])} every output size a polynomial "
                     "(no floor)")
    if facts["no_rounding_sizes"]:
        lines.append(f"{_sizes(facts['no_rounding_sizes'])} every division exact "
                     "(no rounding)")
    return "\n".join(lines)


def _sizes(form: str) -> str:
    return "every size makes" if form == "any size" else f"sizes of the form {form} make"
