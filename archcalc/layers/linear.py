"""Fully connected layers."""
from __future__ import annotations

from archcalc.layers.arith import require
from archcalc.layers.conv import ACTIVATIONS
from archcalc.layers.registry import LayerKind, Param, register
from archcalc.layers.saved import INPUT, OUTPUT, dropout_mask, internal
from archcalc.layers.shape import check_probability


@register
class Linear(LayerKind):
    """Fully connected layer (``nn.Linear``) on a flat input.

    Optional folded activation and dropout, in torchvision's classifier order
    (linear -> act -> dropout), so that VGG's FC rows stay one row each.
    FLOPs: 2 per MAC, +1 per output for the bias, +1 per output for the act.
    """

    name = "fc"
    summary = "fully connected layer (+ optional folded activation and dropout)"
    params = (
        Param("out", "positive"),
        Param("bias", "bool", True),
        Param("act", "choice", "none", choices=ACTIVATIONS),
        Param("dropout", "float", 0.0, help="dropout probability after the activation"),
    )

    def output_shape(self, p, ins):
        shape = ins[0]
        require(len(shape) == 1, f"fc needs a flat input, got {list(shape)}",
                "add `flatten` (or a global pool and `flatten`) before this layer")
        check_probability(p.dropout, "dropout")  # nn.Dropout would raise at build
        return (p.out,)

    def param_count(self, p, ins, out):
        return ins[0][0] * p.out + (p.out if p.bias else 0)

    def macs(self, p, ins, out):
        return ins[0][0] * p.out

    def flops(self, p, ins, out):
        return 2 * self.macs(p, ins, out) + (p.out if p.bias else 0) + \
            (p.out if p.act != "none" else 0)

    def saved(self, p, ins, out):
        """The linear keeps its input, the act its output, dropout its mask."""
        kept = (INPUT,)
        if p.act != "none":
            kept += (internal(p.out) if p.dropout else OUTPUT,)
        return kept + ((dropout_mask(p.out),) if p.dropout else ())

    def inference_temporaries(self, p, ins, out):
        # tanh/sigmoid make a new tensor next to the linear's output; ReLU runs in
        # place and dropout is the identity at inference
        return (internal(p.out),) if p.act in ("tanh", "sigmoid") else ()

    def build(self, p, ins, out):
        from torch import nn

        from archcalc.torchgraph.modules import NamedChain, make_activation

        linear = nn.Linear(ins[0][0], p.out, bias=p.bias)
        if p.act == "none" and not p.dropout:
            return linear
        parts = [("fc", linear)]
        if p.act != "none":
            parts.append(("act", make_activation(p.act)))
        if p.dropout:
            parts.append(("dropout", nn.Dropout(p.dropout)))
        return NamedChain(parts)
