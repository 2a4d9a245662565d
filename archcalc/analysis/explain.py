"""`explain`: each layer's arithmetic written out, from the layer rules themselves.

The ordinary analysis runs with every input size and parameter replaced by a
``Traced`` integer, so each figure carries the expression that produced it.
Each row starts from plain numbers (the previous row's results), as the
lecture does: ``(227 - 11)/4 + 1 = 55``, ``11*11*3*96 + 96 = 34,944``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from archcalc.analysis.analyze import Analyzer, analyze
from archcalc.analysis.traced import Traced, leaf, shown
from archcalc.layers.layout import ChannelsLast, same_layout
from archcalc.spec.model import Params

AXES = ("channels", "height", "width")
CHANNELS_LAST_AXES = ("height", "width", "channels")  # ConvNeXt's and Swin's (H, W, C) maps
TOKEN_AXES = ("tokens", "features")  # a transformer's (L, D) sequence


def axis_names(shape) -> tuple:
    """What each axis of a per-sample shape is, by its rank and layout."""
    if len(shape) == 3:
        return CHANNELS_LAST_AXES if isinstance(shape, ChannelsLast) else AXES
    if len(shape) == 2:
        return TOKEN_AXES
    if len(shape) == 1:
        return ("features",)
    return tuple(f"axis {index}" for index in range(len(shape)))


@dataclass(frozen=True)
class Derivation:
    path: str
    kind: str
    output: dict  # axis name -> "text = value"
    params: str
    params_terms: tuple  # the summands (weights, bias, BN) with their values
    activations: str
    macs: str

    def as_dict(self) -> dict:
        return {"name": self.path, "kind": self.kind, "output": self.output,
                "params": self.params, "params_terms": list(self.params_terms),
                "activations": self.activations, "macs": self.macs}


def _leaves(value):
    if isinstance(value, tuple):
        return tuple(_leaves(v) for v in value)
    return leaf(value)


def _carried(value):
    """Next row's input: a plain number, except a bare product (a flatten's
    7*7*512), which the lecture keeps written out in the following FC row."""
    if isinstance(value, Traced) and not any(ch in value.text for ch in "/()+- "):
        return value
    return leaf(int(value))


class ExplainAnalyzer(Analyzer):
    def __init__(self):
        super().__init__(check_expect=False)
        self.derivations: list[Derivation] = []
        self.shapes: dict = {}

    def prepare(self, node, params, ins):
        traced = Params({key: _leaves(value) for key, value in params.items()})
        return traced, [same_layout(shape, (_carried(d) for d in shape)) for shape in ins]

    def settle(self, node, out):
        self.shapes[node.path] = out
        return same_layout(out, (_carried(d) for d in out))

    def record(self, node, row):
        out = self.shapes.pop(node.path)
        output = {name: shown(value) for name, value in zip(axis_names(out), out)}
        params = row.params
        terms = tuple(f"{term.text} = {int(term):,}" if term.text != str(int(term))
                      else f"{int(term):,}" for term in getattr(params, "terms", ()))
        self.derivations.append(Derivation(
            row.path, row.kind, output, shown(params), terms if len(terms) > 1 else (),
            shown(row.activations), shown(row.macs)))
        return row


def explain(spec, input_shape=None, pattern: str | None = None) -> list[Derivation]:
    """Derivations for every layer (or those whose path matches ``pattern``, a regex
    or a shell-style glob)."""
    analyzer = ExplainAnalyzer()
    report = analyze(spec, input_shape, check_expect=False, analyzer=analyzer)
    # Derivations are written during the walk; the in-place decision comes after it and
    # may give a ReLU a tensor of its own, so activations are read from the settled rows.
    settled = {row.path: row.activations for row in report.layers}
    rows = [replace(row, activations=shown(settled[row.path])) for row in analyzer.derivations]
    if pattern:
        matcher = _matcher(pattern)
        rows = [row for row in rows if matcher(row.path)]
    return rows


def _matcher(pattern: str):
    import fnmatch

    if any(ch in pattern for ch in "*?["):
        return lambda path: fnmatch.fnmatchcase(path, pattern)
    compiled = re.compile(pattern)
    return lambda path: compiled.search(path) is not None


__all__ = ["Derivation", "Traced", "explain"]
