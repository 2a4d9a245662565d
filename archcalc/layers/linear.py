"""Fully connected layers."""
from __future__ import annotations

from archcalc.layers import parts
from archcalc.layers.activation import act_param, folded
from archcalc.layers.arith import product, select
from archcalc.layers.layout import PermutedView, last_axis_input, new_tensor_like
from archcalc.layers.registry import Backward, LayerKind, Param, register
from archcalc.layers.saved import INPUT, OUTPUT, Saved, dropout_mask, internal
from archcalc.layers.shape import check_probability


def _elements(shape):
    # a flat shape's one size as it is (not 1 * size), so explain's terms read as before
    return shape[0] if len(shape) == 1 else product(tuple(shape))


def larger(a, b):
    """max(a, b) on integers and symbols."""
    return select(a > b, a, b)


def _strided(ins) -> bool:
    """Whether the input is permute's view in an order other than its storage's: with
    one channel or one position the permuted view is contiguous already (measured)."""
    if not isinstance(ins[0], PermutedView):
        return False
    height, width, channels = ins[0]
    return not (bool(channels == 1) or bool(height * width == 1))


def _strided_copy(ins):
    # measured with saved_tensors_hooks: nn.Linear on permute's view keeps a contiguous
    # (rows, in) copy of its input, not the input
    return internal(product(tuple(ins[0])))


@register
class Linear(LayerKind):
    """Fully connected layer (``nn.Linear``) on the last axis: of features (F,), of
    tokens (L, D) or of a channels-last map (H, W, C) after ``permute`` (a C x H x W map
    is refused: the usual cause is a missing ``flatten``).

    Optional folded activation and dropout, in torchvision's classifier order
    (linear -> act -> dropout), so that VGG's FC rows stay one row each.
    With R rows (the product of the leading axes; 1 on features), IN -> OUT:
    params IN*OUT (+OUT bias); MACs R*IN*OUT; FLOPs 2 per MAC, +1 per output element for
    the bias, + the act's FLOPs on the R*OUT outputs.
    Backward: the MACs once for the input's gradient (when the input needs one) and once
    for the weights' (when they train); elementwise, the bias's gradient (1 per output
    element, a sum), and where a gradient passes them the act's backward rule and
    dropout's (1 per element: the gradient times the kept mask) on the R*OUT outputs.
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
        shape = last_axis_input(self.name, ins)
        check_probability(p.dropout, "dropout")  # nn.Dropout would raise at build
        return new_tensor_like(shape, tuple(shape[:-1]) + (p.out,))

    def param_count(self, p, ins, out):
        return ins[0][-1] * p.out + (p.out if p.bias else 0)

    def macs(self, p, ins, out):
        shape = ins[0]
        per_row = shape[-1] * p.out
        return per_row if len(shape) == 1 else product(tuple(shape[:-1])) * per_row

    def flops(self, p, ins, out):
        act, outputs = folded(p), _elements(out)
        return 2 * self.macs(p, ins, out) + (outputs if p.bias else 0) + \
            (act.flops_on(outputs) if act is not None else 0)

    def backward(self, p, ins, out, input_grad, weight_grad):
        macs, act, outputs = self.macs(p, ins, out), folded(p), _elements(out)
        elementwise = outputs if p.bias and weight_grad else 0
        if input_grad or weight_grad:  # the act and dropout see the linear's output
            elementwise += act.backward_on(outputs) if act is not None else 0
            elementwise += outputs if p.dropout else 0
        return Backward(macs if input_grad else 0, macs if weight_grad else 0, elementwise)

    def saved(self, p, ins, out):
        """The linear keeps its input, the act what its class keeps (activation.py),
        dropout its mask."""
        # on permute's strided view, the matmul keeps the contiguous copy it makes
        kept: tuple[Saved, ...] = (_strided_copy(ins),) if _strided(ins) else (INPUT,)
        act = folded(p)
        if act is not None:
            outputs = _elements(out)
            act_output = internal(outputs) if p.dropout else OUTPUT
            act_input = act_output if act.runs_in_place(p) else internal(outputs)
            kept += act.kept(p, act_input, act_output, outputs)
        return kept + ((dropout_mask(_elements(out)),) if p.dropout else ())

    def inference_temporaries(self, p, ins, out):
        # an act that cannot run in place (tanh, sigmoid) makes a new tensor next to the
        # linear's output; dropout is the identity at inference
        # on permute's strided view, the copy lives during the matmul (beside the linear's
        # output); then the bias is added out of place (aten.mm, then aten.add: measured),
        # so the matmul's result lives beside the biased output, as a new act tensor
        # would: the larger of the two moments
        act = folded(p)
        copy = product(tuple(ins[0])) if _strided(ins) else 0
        new_act = act is not None and not act.runs_in_place(p)
        if new_act or (copy and p.bias):
            return (internal(_elements(out) if not copy else larger(copy, _elements(out))),)
        return (internal(copy),) if copy else ()

    def parts(self, p, ins, out):
        dropout = parts.elementwise("Dropout", [out], out) if p.dropout else []
        return [parts.linear(ins[0], p.out, p.bias)] + parts.activation(p.act, product(out)) \
            + dropout

    def build(self, p, ins, out):
        from torch import nn

        from archcalc.nn import NamedChain

        linear = nn.Linear(ins[0][-1], p.out, bias=p.bias)
        act = folded(p)
        if act is None and not p.dropout:
            return linear
        parts: list[tuple[str, nn.Module]] = [("fc", linear)]
        if act is not None:  # the linear's output is new: in place is always safe
            parts.append(("act", act.make_module(act.runs_in_place(p))))
        if p.dropout:
            parts.append(("dropout", nn.Dropout(p.dropout)))
        return NamedChain(parts)
