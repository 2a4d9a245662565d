"""How the paths of a ``branch`` are joined: element-wise add or channel concat.

Everything about a merge lives in its kind: the rules, the activation after it (its
``act``, an activation of layers/activation.py), ``join`` (what the built branch,
archcalc.nn.ParallelPaths, calls on its paths' outputs) and ``own_modules`` (the part
of that module that is the merge's own, not its paths', for verify's counts).
"""
from __future__ import annotations

from archcalc.layers import parts
from archcalc.layers.activation import act_param, folded
from archcalc.layers.arith import equal, product, require
from archcalc.layers.conv import act_in_place, act_makes_new_tensor
from archcalc.layers.registry import Backward, LayerKind, register
from archcalc.layers.saved import INPUT, OUTPUT, internal

MERGE_PARAMS = (act_param("activation applied after the merge (ResNet's final ReLU)"),)


def merge_saved(p, ins, out, adds: bool):
    """A sum or a concatenation keeps nothing for backward; the act after it keeps what
    its class keeps: its output, or its input (the merged tensor: a one-path "sum" is
    that path's output, the node's input)."""
    act = folded(p)
    if act is None:
        return ()
    if act.runs_in_place(p):
        merged = OUTPUT
    else:
        merged = INPUT if adds and len(ins) == 1 else internal(product(out))
    return act.kept(p, merged, OUTPUT, product(out))


def merge_temporaries(p, ins, out, adds: bool):
    """Tensors alive next to the merge's output: two partial sums meet from a third path
    (``result = result + other``), and an act that makes a new tensor (tanh, sigmoid, a
    ReLU out of place) runs next to the merged one: a concatenation is always new, a
    one-path "sum" is its path's output, which the branch already holds."""
    new_act = act_makes_new_tensor(p)
    merged_is_new = len(ins) > 1 if adds else True
    partial_sums = adds and len(ins) > 2
    return (internal(product(out)),) if partial_sums or new_act and merged_is_new else ()


class _Merge(LayerKind):
    """What add and concat share: arity, the act after the join, and its module."""

    arity = "many"
    params = MERGE_PARAMS

    def join(self, tensors):
        """The merged tensor of the paths' outputs (called by the built module)."""
        raise NotImplementedError

    def build(self, p, ins, out):
        """The act after the merge, or None: archcalc.nn.ParallelPaths holds it as
        ``act`` and calls ``join`` (torchgraph/builder.py)."""
        act = folded(p)
        return act.make_module(act.runs_in_place(p)) if act is not None else None

    def own_modules(self, module):
        # the built branch holds its paths too; the merge's own part is its act
        return [module.act] if module.act is not None else []

    def _act_flops(self, p, out):
        act = folded(p)
        return act.flops_on(product(out)) if act is not None else 0

    def backward(self, p, ins, out, input_grad, weight_grad):
        """A sum hands its gradient to every path unchanged and a concatenation hands each
        path its slice: no FLOPs; the act after the merge, its backward rule when the
        merged tensor needs a gradient. (Where the paths' gradients of the branch's input
        are added, analysis/backward.py counts the additions on this row.)"""
        act = folded(p)
        return Backward(0, 0, act.backward_on(product(out))
                        if act is not None and input_grad else 0)


@register
class Add(_Merge):
    """Element-wise sum of all paths (residual connections).

    FLOPs: (paths - 1) additions per element, +1 per element for the act.
    Backward: the act's rule; the sum passes its gradient on unchanged.
    """

    name = "add"
    summary = "element-wise sum of a branch's paths"

    def output_shape(self, p, ins):
        first = ins[0]
        for index, shape in enumerate(ins[1:], start=1):
            hint = "give the shortcut path a projection (a 1x1 conv with the same stride)"
            message = (f"add needs equal shapes, got {list(first)} and {list(shape)} "
                       f"(path {index + 1})")
            require(len(shape) == len(first), message, hint)
            for a, b in zip(first, shape):
                require(equal(a, b), message, hint)
        return first

    def flops(self, p, ins, out):
        return (len(ins) - 1) * product(out) + self._act_flops(p, out)

    def saved(self, p, ins, out):
        return merge_saved(p, ins, out, adds=True)

    def inference_temporaries(self, p, ins, out):
        return merge_temporaries(p, ins, out, adds=True)

    def shares_input(self, p, ins, out, training):
        # one path: the "sum" is that path's output itself (an in-place act writes it)
        return len(ins) == 1 and (folded(p) is None or act_in_place(p))

    def writes_input(self, p, ins, out):
        return len(ins) == 1 and act_in_place(p)

    def join(self, tensors):
        result = tensors[0]
        for other in tensors[1:]:
            result = result + other
        return result

    def parts(self, p, ins, out):
        # result = result + other, once per extra path (``join``)
        sums = parts.elementwise("add", [out], out) * (len(ins) - 1)
        return sums + parts.activation(p.act, product(out))


@register
class Concat(_Merge):
    """Concatenation of all paths along the channel axis (inception, dense layers).

    FLOPs: 0 (a copy), +1 per element for the act.
    Backward: the act's rule; each path's gradient is a slice of the output's.
    """

    name = "concat"
    summary = "channel concatenation of a branch's paths"

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
        return self._act_flops(p, out)

    def saved(self, p, ins, out):
        return merge_saved(p, ins, out, adds=False)

    def inference_temporaries(self, p, ins, out):
        return merge_temporaries(p, ins, out, adds=False)

    def join(self, tensors):
        import torch  # only a built module calls this

        return torch.cat(tensors, dim=1)

    def parts(self, p, ins, out):
        return [parts.Part("cat", outputs=product(out))] + parts.activation(p.act, product(out))
