"""Build an ``nn.Module`` from a spec with the same registry as the analysis.

Each node becomes the module its kind's ``build()`` returns, registered under
the node's name, so ``model.get_submodule(path)`` finds every spec node. The
analysis runs first and supplies each node's input shape and resolved params.
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from archcalc.nn import ParallelPaths
from archcalc.spec.model import Branch, Layer, Sequence
from archcalc.torchgraph.init import init_weights
from archcalc.torchgraph.limits import refuse_oversized


def _local(path: str) -> str:
    return path.rsplit(".", 1)[-1]


class _Builder:
    def __init__(self, calls: dict):
        self.calls = calls

    def node(self, node) -> nn.Module:
        if isinstance(node, Layer):
            kind, params, ins, out = self.calls[node.path]
            return kind.build(params, ins, out)
        if isinstance(node, Sequence):
            return nn.Sequential(OrderedDict(
                (_local(child.path), self.node(child)) for child in node.children))
        if isinstance(node, Branch):
            kind, params, ins, out = self.calls[node.path]
            paths = [(name, self.node(path)) for name, path in node.paths]
            # the merge kind joins the paths and builds the act after them
            return ParallelPaths(paths, kind.join, kind.build(params, ins, out))
        raise TypeError(f"unknown node {node!r}")


def _refuse_unbuildable(report) -> None:
    from archcalc.errors import ArchcalcError

    for path, (kind, params, ins, out) in report.calls.items():
        if not kind.buildable:
            try:
                kind.build(params, ins, out)
            except ArchcalcError as exc:
                raise exc.located(None, path) from None
            raise AssertionError(f"layer kind {kind.name!r} is not buildable but built")


def build_module(spec_or_name, input=None, *, init: bool = True) -> nn.Module:
    """The spec as an ``nn.Module`` (train mode, torchvision-style initialisation); an
    ArchcalcError instead when it would not fit in the memory available."""
    from archcalc.analysis.analyze import analyze
    from archcalc.spec.loader import load_spec

    spec = spec_or_name if hasattr(spec_or_name, "root") else load_spec(spec_or_name)
    report = analyze(spec, input, check_expect=False)  # expect: facts are `check`'s job
    _refuse_unbuildable(report)  # an opaque node: its build() says why, with its path
    refuse_oversized(spec, report)  # before a byte is allocated
    model = _Builder(report.calls).node(spec.root)
    model.spec_name = spec.name
    model.input_shape = tuple(report.input)
    if init:
        init_weights(model)
    return model
