"""What a layer kind's built module runs, as other counting tools see it: a list of parts.

A counting tool (torchinfo, fvcore, ptflops, thop, FlopCounterMode) never sees a spec
node: it sees the ``torch.nn`` modules a kind's ``build()`` makes and the tensor operations
their ``forward`` runs. Each kind's ``parts`` rule lists them, in the order they run, with
the sizes the tools' rules read, beside the ``build`` it mirrors; each tool is then one
table of rules per part's ``op`` (analysis/conventions/). Per image, on integers: no torch.
A kind without a ``parts`` rule is an error under every convention (``UnknownKind``),
never a silent zero.
"""
from __future__ import annotations

from dataclasses import dataclass

from archcalc.errors import ArchcalcError
from archcalc.layers.arith import product


@dataclass(frozen=True)
class Part:
    """One module or tensor operation of a built node.

    ``op`` names the ``torch.nn`` class the builder makes (``Conv2d``, ``ReLU``,
    ``LayerNorm2d``), or for operations called in ``forward`` without a module of their
    own: ``add`` and ``mul`` (the ``+`` and ``*`` operators, ``Tensor.__add__`` and
    ``Tensor.__mul__``), ``cat`` (``torch.cat``) and ``data`` (views, slices, padding,
    copies: no arithmetic in any tool).
    """

    op: str
    inputs: int = 0  # elements of the (first) input, per image
    outputs: int = 0  # elements of the output, per image
    macs: int = 0  # products of a conv, linear or attention, bias excluded (archcalc's)
    weights: int = 0  # elements of the parameter named ``weight``
    biases: int = 0  # elements of the parameter named ``bias``
    positions: int = 1  # a conv's output pixels H*W; a linear's rows; attention's windows
    windows: int = 0  # avg pools: the sum of their window sizes; LRN: its padded map
    heads: int = 0  # attention: heads, tokens L, width D
    length: int = 0
    dim: int = 0


class UnknownKind(ArchcalcError):
    """A layer kind without a ``parts`` rule (a kind added after the conventions)."""


def elementwise(op: str, ins, out) -> list[Part]:
    """One module or operation on the node's input, making its output."""
    return [Part(op, inputs=product(ins[0]), outputs=product(out))]


def activation(name: str, elements) -> list[Part]:
    """The module of a folded ``act:`` (none: nothing) on ``elements`` values."""
    if name == "none":
        return []
    from archcalc.layers.activation import Activation
    from archcalc.layers.registry import get_kind

    kind = get_kind(name)
    assert isinstance(kind, Activation), name  # the spec checks act: names
    return [Part(kind.module, inputs=elements, outputs=elements)]


def conv2d(cin, cout, kernel, groups, bias, out_hw) -> Part:
    weights = cout * (cin // groups) * kernel[0] * kernel[1]
    positions = out_hw[0] * out_hw[1]
    return Part("Conv2d", outputs=cout * positions, macs=weights * positions,
                weights=weights, biases=cout if bias else 0, positions=positions)


def linear(in_shape, out_features, bias) -> Part:
    rows = product(tuple(in_shape[:-1])) if len(in_shape) > 1 else 1
    features = in_shape[-1]
    return Part("Linear", inputs=rows * features, outputs=rows * out_features,
                macs=rows * features * out_features, weights=features * out_features,
                biases=out_features if bias else 0, positions=rows)


def batch_norm(shape) -> Part:
    return Part("BatchNorm2d" if len(shape) == 3 else "BatchNorm1d",
                inputs=product(shape), outputs=product(shape),
                weights=shape[0], biases=shape[0])


def adaptive_avg(in_shape, out_hw) -> Part:
    from archcalc.layers.pool import adaptive_windows

    channels, height, width = in_shape
    sums = [sum(stop - start for start, stop in adaptive_windows(size, out_size))
            for size, out_size in zip((height, width), out_hw)]
    return Part("AdaptiveAvgPool2d", inputs=product(in_shape),
                outputs=channels * out_hw[0] * out_hw[1], windows=channels * sums[0] * sums[1])


def pool_window_sum(size, out_size, kernel, stride, pad, include_pad) -> int:
    """The sum over output positions of the input positions each window covers, clipped
    to the input (plus the padding when it counts): thop's avg-pool rule, per axis."""
    lower, upper = (-pad, size + pad) if include_pad else (0, size)
    return sum(max(min(i * stride - pad + kernel, upper) - max(i * stride - pad, lower), 0)
               for i in range(out_size))
