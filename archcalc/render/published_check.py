"""Published figures next to computed ones: a rich table and JSON additions.

A cell reads ``2.7K != 9.19K (+6.49K)``: the figure as printed, = when the computed
value rounds to it at its printed precision and != when it does not, the computed
value at the figure's scale (one digit more than printed) and the difference.
"""
from __future__ import annotations

from fractions import Fraction

from archcalc.analysis.published_check import Check, PaperComparison, computed_value
from archcalc.render import units
from archcalc.spec.published import METRICS

LABELS = {"params": "params", "weights": "weights", "macs": "MACs",
          "flops": "FLOPs", "activations": "activations"}


def _signed(value) -> str:
    return ("+" if value > 0 else "") + units.grouped(value)


def check_text(check: Check) -> str:
    figure = check.figure
    sign = "=" if check.agree else "!="
    if figure.scale == 1:
        text = f"{figure.text} {sign} {units.grouped(check.computed)}"
        return text if check.difference == 0 else f"{text} ({_signed(int(check.difference))})"
    digits = figure.decimals + 1
    computed = units.scaled(check.computed, figure.scale, figure.suffix, digits)
    difference = units.scaled(check.difference, figure.scale, figure.suffix, digits, True)
    return f"{figure.text} {sign} {computed} ({difference})"


def used_metrics(comparison: PaperComparison) -> list[str]:
    used = {check.metric for check in comparison.checks}
    return [metric for metric in METRICS if metric in used]


def summary(comparison: PaperComparison) -> str:
    differing = comparison.differing
    text = (f"{len(comparison.checks)} published figures, {len(differing)} outside their "
            "printed precision")
    if differing:
        text += ": " + ", ".join(f"{path} {LABELS[check.metric]}" for path, check in differing)
    return text


def paper_table(comparison: PaperComparison, original, title: str):
    """One row per table row (nodes with figures folded to one row): each used metric's
    computed value, and the published figure beside it where there is one."""
    from rich.text import Text

    from archcalc.render.rich_table import Table

    report = comparison.report
    metrics = used_metrics(comparison)
    table = Table(title=title, header_style="bold", show_footer=True, caption_justify="left",
                  caption="Figures from the spec's `paper:`, per image at "
                          f"{units.shape(report.input)}. '=' agrees within the printed "
                          "precision (half a unit of the figure's last significant digit, or "
                          "of the spec's `precision` step), '!=' does not; weights are "
                          "params without biases. "
                          + summary(comparison) + ".")
    footer = {check.metric: check for check in comparison.totals}
    table.add_column("layer", footer="total", no_wrap=True)
    table.add_column("kind")
    table.add_column("output (CxHxW)", footer=units.shape(report.output))
    for metric in metrics:
        whole = computed_value(original, "", metric)
        table.add_column(LABELS[metric], justify="right", footer=units.grouped(whole))
        table.add_column(f"paper {LABELS[metric]}", justify="right",
                         footer=_styled(Text, footer.get(metric)))
    for row in report.rows:
        checks = {check.metric: check for check in comparison.rows.get(row.path, ())}
        cells = [row.path, row.kind, units.shape(row.output_shape)]
        for metric in metrics:
            cells += [units.grouped(computed_value(original, row.path, metric)
                                    if metric == "weights" else getattr(row, metric)),
                      _styled(Text, checks.get(metric))]
        table.add_row(*cells)
    return table


def _styled(Text, check):
    if check is None:
        return Text("")
    return Text(check_text(check), style="green" if check.agree else "bold red")


def _number(value):
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    return value


def check_dict(check: Check) -> dict:
    figure = check.figure
    return {"figure": figure.text, "value": _number(figure.value), "computed": check.computed,
            "difference": _number(check.difference), "tolerance": _number(figure.tolerance),
            "agree": check.agree}


def add_paper(data: dict, comparison: PaperComparison) -> dict:
    """``report_dict`` output with a ``paper`` object on every row (empty where the spec
    prints no figure) and the file-level figures and a count at the top."""
    for entry in data["layers"]:
        entry["paper"] = {check.metric: check_dict(check)
                          for check in comparison.rows.get(entry["name"], ())}
    data["paper"] = {"totals": {check.metric: check_dict(check)
                                for check in comparison.totals},
                     "figures": len(comparison.checks),
                     "differing": [{"name": path, "metric": check.metric}
                                   for path, check in comparison.differing]}
    return data
