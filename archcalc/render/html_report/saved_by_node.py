"""Bytes autograd saves for backward, node by node: the memory plan's walk
(analysis/memory.py), with each saved tensor credited to the node that first keeps it.

A tensor kept by two nodes (a ReLU's output that the next conv also keeps as its
input) counts once, at the first, so the nodes' figures add up to the plan's
``saved_activation_bytes``; BatchNorm's per-batch statistics count once per batch, and
what a node keeps only at batch 1 only then.
"""
from __future__ import annotations

from archcalc.analysis import memory
from archcalc.analysis.report import DTYPE_BYTES, Report
from archcalc.layers.saved import element_bytes

DEVICE = "cuda"  # the plan's default device, so the figures equal `archcalc plan`'s


class _CreditingWalk(memory._SavedWalk):
    """The plan's own walk; ``keep`` also notes which node kept the tensor."""

    def __init__(self, calls: dict, sizes: dict):
        super().__init__(calls, sizes)
        self.per_sample_by_path: dict[str, int] = {}
        self.per_batch_by_path: dict[str, int] = {}
        self.batch_one_by_path: dict[str, int] = {}

    def keep(self, tensor: int, path: str) -> None:
        if tensor not in self.saved:
            by_path = (self.per_sample_by_path if self.batch_scaled[tensor]
                       else self.per_batch_by_path)
            by_path[path] = by_path.get(path, 0) + self.bytes[tensor]
        super().keep(tensor, path)

    def apply(self, path: str, inputs: list) -> int:
        # what a node keeps only at batch 1 (the walk's ``at_batch_one``, where it has one)
        before = getattr(self, "at_batch_one", 0)
        output = super().apply(path, inputs)
        extra = getattr(self, "at_batch_one", 0) - before
        if extra:
            self.batch_one_by_path[path] = self.batch_one_by_path.get(path, 0) + extra
        return output


def saved_bytes_by_node(spec, report: Report) -> dict[str, int]:
    """Node path -> bytes it saves for backward for the report's batch at its dtype."""
    walk = _CreditingWalk(report.calls, element_bytes(DEVICE, DTYPE_BYTES[report.dtype]))
    walk.run(spec.root, report.input)
    batch_one = walk.batch_one_by_path if report.batch == 1 else {}
    paths = set(walk.per_sample_by_path) | set(walk.per_batch_by_path) | set(batch_one)
    return {path: walk.per_sample_by_path.get(path, 0) * report.batch
            + walk.per_batch_by_path.get(path, 0) + batch_one.get(path, 0) for path in paths}
