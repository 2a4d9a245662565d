"""Several specs side by side: their totals per image and each one's exact ratios to
the first (`archcalc compare`; render/side_by_side.py writes them as a table and in
words, as the lecture does: "Compared to AlexNet: 12X less params, 2x more compute").
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from archcalc.spec.model import Branch, Layer, Sequence

# the totals compared, in the order they are shown
METRICS = ("params", "macs", "flops", "activations", "depth")


@dataclass(frozen=True)
class ModelTotals:
    """One spec's totals per image at one input size."""

    name: str
    title: str
    input: tuple
    params: int
    macs: int
    flops: int
    activations: int
    activation_bytes: int
    depth: int  # weight layers on the longest path from input to output
    # nodes whose MACs/FLOPs are unknown (opaque): macs and flops are then lower bounds
    unknown: tuple = ()


def weight_depth(node, macs_by_path: dict) -> int:
    """Weight layers (conv and fc: the layers with MACs) on the longest path.

    This is how papers count depth: VGG-16 has 16, GoogLeNet 22 ("22 layers deep
    when counting only layers with parameters"), ResNet-50 50 (a block's main path,
    not its shortcut), DenseNet-121 121. BN, pooling and merges do not count.
    """
    if isinstance(node, Layer):
        return 1 if (macs_by_path.get(node.path, 0) or 0) > 0 else 0  # None: unknown
    if isinstance(node, Sequence):
        return sum(weight_depth(child, macs_by_path) for child in node.children)
    if isinstance(node, Branch):
        return max((weight_depth(path, macs_by_path) for _, path in node.paths), default=0)
    raise TypeError(f"unknown node {node!r}")


def model_totals(spec, input_shape=None, *, dtype: str = "fp32") -> ModelTotals:
    """Totals of ``spec`` at its own input or ``input_shape``; a size that collapses
    raises the analysis's error (naming the smallest input that works)."""
    from archcalc.analysis.limits import analyze_explained

    report = analyze_explained(spec, input_shape, dtype=dtype, check_expect=False)
    totals = report.totals
    macs_by_path = {row.path: row.macs for row in report.rows}
    return ModelTotals(spec.name, spec.title, tuple(report.input), totals["params"],
                       totals["macs"], totals["flops"], totals["activations"],
                       totals["activation_bytes"], weight_depth(spec.root, macs_by_path),
                       tuple(sorted({p for names in report.unknown.values() for p in names})))


def ratios(base: ModelTotals, other: ModelTotals) -> dict:
    """other / base for every metric, exact; None where the base is zero, and for MACs
    and FLOPs where either model's are lower bounds (an opaque node's are unknown)."""
    lower_bounds = base.unknown or other.unknown
    return {key: Fraction(getattr(other, key), getattr(base, key))
            if getattr(base, key) and not (lower_bounds and key in ("macs", "flops"))
            else None for key in METRICS}

