"""Published figures (`paper:`) against the computed values, per node and in total.

A node's computed value is the sum over its rows (an inception block, a template
call, one layer), per image. The report is folded so that each node carrying
figures is one row, as the paper's table shows it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from archcalc.analysis.report import Report
from archcalc.spec.model import Params
from archcalc.spec.paper import Figure, spec_figures


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
    for path, (kind, params, ins, out) in report.calls.items():
        if prefix and not _under(path, prefix):
            continue
        if params.get("bias"):
            params = Params({**params, "bias": False})
        total += kind.param_count(params, ins, out)
    return total


def computed_value(report: Report, prefix: str, metric: str) -> int:
    """A metric per image over the rows under ``prefix`` ('' for the whole network)."""
    if metric == "weights":
        return weights(report, prefix)
    rows = [row for row in report.rows if not prefix or _under(row.path, prefix)]
    return sum(getattr(row, metric) for row in rows)


def fold_to(report: Report, paths) -> Report:
    """Rows under each of ``paths`` merged into one row named by the path."""
    rows, index = [], {}
    for row in report.rows:
        key = next((p for p in paths if _under(row.path, p)), None)
        if key is None:
            rows.append(row)
        elif key not in index:
            index[key] = len(rows)
            rows.append(replace(row, path=key) if row.path != key else row)
        else:
            last = rows[index[key]]
            rows[index[key]] = replace(
                last, kind="block", output_shape=row.output_shape,
                activations=last.activations + row.activations,
                params=last.params + row.params, buffers=last.buffers + row.buffers,
                macs=last.macs + row.macs, flops=last.flops + row.flops, rf=row.rf,
                folded=last.folded + 1)
    return Report(report.name, report.input, rows, report.batch, report.dtype)


def compare_with_paper(spec, report: Report) -> PaperComparison:
    """The spec's published figures against ``report`` (the spec at its own input)."""
    whole, by_node = spec_figures(spec)
    rows = {path: [Check(figure, computed_value(report, path, metric))
                   for metric, figure in figures.items()]
            for path, figures in by_node.items()}
    totals = [Check(figure, computed_value(report, "", metric))
              for metric, figure in whole.items()]
    return PaperComparison(fold_to(report, list(by_node)), rows, totals)

