"""How the paths of a ``branch`` are joined: element-wise add or channel concat."""
from __future__ import annotations

from archcalc.layers.arith import equal, product, require
from archcalc.layers.conv import ACTIVATIONS, act_in_place
from archcalc.layers.registry import LayerKind, Param, register
from archcalc.layers.saved import OUTPUT, internal

MERGE_PARAMS = (Param("act", "choice", "none", choices=ACTIVATIONS,
                      help="activation applied after the merge (ResNet's final ReLU)"),)


def merge_saved(p):
    """A sum or a concatenation keeps nothing for backward; the act after it (in place)
    keeps the merged output."""
    return (OUTPUT,) if p.act != "none" else ()


def merge_temporaries(p, ins, out, adds: bool):
    """Tensors alive next to the merge's output: two partial sums meet from a third path
    (``result = result + other``), and an act that makes a new tensor (tanh, sigmoid, a
    ReLU out of place) runs next to the merged one: a concatenation is always new, a
    one-path "sum" is its path's output, which the branch already holds."""
    new_act = p.act != "none" and not act_in_place(p)
    merged_is_new = len(ins) > 1 if adds else True
    partial_sums = adds and len(ins) > 2
    return (internal(product(out)),) if partial_sums or new_act and merged_is_new else ()


def merge_activation(p):
    from archcalc.torchgraph.modules import make_activation

    return make_activation(p.act, inplace=act_in_place(p)) if p.act != "none" else None


@register
class Add(LayerKind):
    """Element-wise sum of all paths (residual connections).

    FLOPs: (paths - 1) additions per element, +1 per element for the act.
    """

    name = "add"
    summary = "element-wise sum of a branch's paths"
    arity = "many"
    params = MERGE_PARAMS

    def output_shape(self, p, ins):
        first = ins[0]
        for index, shape in enumerate(ins[1:], start=1):
            hint = "give the shortcut path a projection (a 1x1 conv with the same stride)"
            message = f"add needs equal shapes, got {list(first)} and {list(shape)} (path {index + 1})"
            require(len(shape) == len(first), message, hint)
            for a, b in zip(first, shape):
                require(equal(a, b), message, hint)
        return first

    def flops(self, p, ins, out):
        return (len(ins) - 1) * product(out) + (product(out) if p.act != "none" else 0)

    def saved(self, p, ins, out):
        return merge_saved(p)

    def inference_temporaries(self, p, ins, out):
        return merge_temporaries(p, ins, out, adds=True)

    def shares_input(self, p, ins, out, training):
        # one path: the "sum" is that path's output itself (an in-place act writes it)
        return len(ins) == 1 and (p.act == "none" or act_in_place(p))

    def writes_input(self, p, ins, out):
        return len(ins) == 1 and act_in_place(p)

    def build(self, p, ins, out):
        return merge_activation(p)


@register
class Concat(LayerKind):
    """Concatenation of all paths along the channel axis (inception, dense layers).

    FLOPs: 0 (a copy), +1 per element for the act.
    """

    name = "concat"
    summary = "channel concatenation of a branch's paths"
    arity = "many"
    params = MERGE_PARAMS

    def output_shape(self, p, ins):
        first = ins[0]
        for index, shape in enumerate(ins[1:], start=1):
            require(len(shape) == len(first),
                    f"concat needs tensors of the same rank, got {list(first)} and {list(shape)}")
            for axis, (a, b) in enumerate(zip(first[1:], shape[1:]), start=1):
                require(equal(a, b),
                        f"concat needs equal {('height', 'width')[axis - 1]}s, got "
                        f"{list(first)} and {list(shape)} (path {index + 1})",
                        "every path must keep the same spatial size: check strides and padding")
        channels = sum(shape[0] for shape in ins)
        return (channels,) + tuple(first[1:])

    def flops(self, p, ins, out):
        return product(out) if p.act != "none" else 0

    def saved(self, p, ins, out):
        return merge_saved(p)

    def inference_temporaries(self, p, ins, out):
        return merge_temporaries(p, ins, out, adds=False)

    def build(self, p, ins, out):
        return merge_activation(p)
