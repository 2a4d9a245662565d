"""Peers' counting conventions: the per-layer count another tool would print.

``archcalc table NAME --convention TOOL`` shows, per node and in total, what TOOL prints
for the built module (README "Counting conventions"): which layers it counts, MACs or
FLOPs, bias or not, norms and activations or not. Each tool is one module here, a table
of rules over the parts a node runs (each kind's ``parts`` rule, layers/parts.py), read
from the tool's source and checked against the tool itself on the whole zoo
(tests/test_conventions.py). No torch is imported: the rules run on the analysis.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from archcalc.analysis.conventions import flopcountermode, fvcore, ptflops, thop, torchinfo
from archcalc.analysis.conventions.rule import ToolConvention
from archcalc.analysis.report import Report

ARCHCALC = "archcalc"

PEERS: dict[str, ToolConvention] = {
    tool.CONVENTION.name: tool.CONVENTION
    for tool in (torchinfo, fvcore, ptflops, thop, flopcountermode)
}
NAMES = (ARCHCALC, *PEERS)


@dataclass(frozen=True)
class ConventionReport:
    """``report`` with each row's ``macs`` replaced by the tool's count of that node (per
    image, as rows are; ``report.batch_totals["macs"]`` is the tool's total for the
    batch); ``archcalc`` the original report."""

    convention: ToolConvention
    report: Report
    archcalc: Report
    notes: tuple  # the tool's failures on ops this model has (ToolConvention.fails_on)

    @property
    def total(self) -> int:
        """The tool's total for the report's batch, the integer behind its text."""
        return self.report.batch_totals["macs"]

    @property
    def printed(self) -> str:
        return self.convention.printed(self.total)

    def folded(self, depth: int | None) -> ConventionReport:
        """Both reports with rows deeper than ``depth`` merged (``table --depth``)."""
        return replace(self, report=self.report.folded(depth),
                       archcalc=self.archcalc.folded(depth))


def parts(call) -> list:
    """The modules and operations one analysed node (an ``analysis.report.Call``) runs."""
    return call.kind.parts(call.params, call.inputs, call.output)


def node_count(convention: ToolConvention, call) -> int:
    """The tool's count of one analysed node, per image."""
    return sum(convention.count(part) for part in parts(call))


def apply(report: Report, name: str) -> ConventionReport:
    """The report counted as the tool ``name`` counts (one of ``PEERS``)."""
    convention = PEERS[name]
    rows = [report.rows[0]]
    notes: dict[str, str] = {}
    for row in report.rows[1:]:
        call = report.calls[row.path]
        for part in parts(call):
            if part.op in convention.fails_on:
                notes[part.op] = convention.fails_on[part.op]
        rows.append(replace(row, macs=node_count(convention, call), flops=0))
    counted = report.with_rows(rows)
    return ConventionReport(convention, counted, report, tuple(notes.values()))
