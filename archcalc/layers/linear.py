"""Fully connected layers."""
from __future__ import annotations

from archcalc.layers.activation import act_param, folded
from archcalc.layers.arith import require
from archcalc.layers.registry import LayerKind, Param, register
from archcalc.layers.saved import INPUT, OUTPUT, Saved, dropout_mask, internal
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
        act_param(),
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
        act = folded(p)
        return 2 * self.macs(p, ins, out) + (p.out if p.bias else 0) + \
            (act.flops_on(p.out) if act is not None else 0)

    def saved(self, p, ins, out):
        """The linear keeps its input, the act what its class keeps (activation.py),
        dropout its mask."""
        kept: tuple[Saved, ...] = (INPUT,)
        act = folded(p)
        if act is not None:
            act_output = internal(p.out) if p.dropout else OUTPUT
            act_input = act_output if act.runs_in_place(p) else internal(p.out)
            kept += act.kept(p, act_input, act_output, p.out)
        return kept + ((dropout_mask(p.out),) if p.dropout else ())

    def inference_temporaries(self, p, ins, out):
        # an act that cannot run in place (tanh, sigmoid) makes a new tensor next to the
        # linear's output; dropout is the identity at inference
        act = folded(p)
        return (internal(p.out),) if act is not None and not act.runs_in_place(p) else ()

    def build(self, p, ins, out):
        from torch import nn

        from archcalc.nn import NamedChain

        linear = nn.Linear(ins[0][0], p.out, bias=p.bias)
        act = folded(p)
        if act is None and not p.dropout:
            return linear
        parts: list[tuple[str, nn.Module]] = [("fc", linear)]
        if act is not None:  # the linear's output is new: in place is always safe
            parts.append(("act", act.make_module(act.runs_in_place(p))))
        if p.dropout:
            parts.append(("dropout", nn.Dropout(p.dropout)))
        return NamedChain(parts)
