"""Published figures (a spec's `paper:`, read by spec/published.py) checked against the
computed values, per node and in total (`archcalc table --paper`).

A node's computed value is the sum over its rows (an inception block, a template
call, one layer), per image. The report is folded so that each node carrying
figures is one row, as the paper's table shows it.
"""
from __future__ import annotations

from dataclasses import dataclass

from archcalc.analysis.report import Report, merge_rows
from archcalc.spec.model import Params
from archcalc.spec.published import Figure, spec_figures


@dataclass(frozen=True)
class Check:
    figure: Figure
    computed: int

    @property
    def metric(self) -> str:
        return self.figure.metric

    @property
    def agree(self) -> bool:
        return self.figure.agrees(self.computed)

    @property
    def difference(self):
        """computed - published, exact (a Fraction where the figure is fractional)."""
        return self.computed - self.figure.value


@dataclass
class PaperComparison:
    report: Report  # folded: one row per node with figures
    rows: dict  # row path -> [Check]
    totals: list  # [Check] for the file-level figures

    @property
    def checks(self) -> list:
        return [c for checks in self.rows.values() for c in checks] + self.totals

    @property
    def differing(self) -> list:
        """(row path or 'total', Check) for every figure outside its printed precision."""
        found = [(path, c) for path, checks in self.rows.items() for c in checks
                 if not c.agree]
        return found + [("total", c) for c in self.totals if not c.agree]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def weights(report: Report, prefix: str) -> int:
    """Params without biases of the layers under ``prefix`` (all layers for '')."""
    total = 0
    for path, call in report.calls.items():
        if prefix and not _under(path, prefix):
            continue
        params = call.params
        if params.get("bias"):
            params = Params({**params, "bias": False})
        total += call.kind.param_count(params, call.inputs, call.output)
    return total


def computed_value(report: Report, prefix: str, metric: str) -> int:
    """A metric per image over the rows under ``prefix`` ('' for the whole network)."""
    if metric == "weights":
        return weights(report, prefix)
    rows = [row for row in report.rows if not prefix or _under(row.path, prefix)]
    return sum(getattr(row, metric) for row in rows)


def fold_to(report: Report, paths) -> Report:
    """Rows under each of ``paths`` merged into one row named by the path."""
    def node_of(path: str) -> str | None:
        return next((p for p in paths if _under(path, p)), None)

    return report.with_rows(merge_rows(report.rows, node_of))


def compare_with_paper(spec, report: Report) -> PaperComparison:
    """The spec's published figures against ``report`` (the spec at its own input)."""
    whole, by_node = spec_figures(spec)
    rows = {path: [Check(figure, computed_value(report, path, metric))
                   for metric, figure in figures.items()]
            for path, figures in by_node.items()}
    totals = [Check(figure, computed_value(report, "", metric))
              for metric, figure in whole.items()]
    return PaperComparison(fold_to(report, list(by_node)), rows, totals)

