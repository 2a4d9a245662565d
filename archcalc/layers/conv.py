"""Convolution, with optional batch-norm and activation folded in."""
from __future__ import annotations

from dataclasses import replace

from archcalc.layers import parts
from archcalc.layers.activation import act_param, folded
from archcalc.layers.arith import divides, product, require, select
from archcalc.layers.norm import norm_backward
from archcalc.layers.registry import Backward, LayerKind, Param, register
from archcalc.layers.saved import INPUT, OUTPUT, batch_norm_stats, internal


def act_in_place(p) -> bool:
    """Whether the folded activation overwrites its tensor (activation.py decides: a ReLU
    does, unless the analysis set ``inplace: False``); False without one."""
    act = folded(p)
    return act is not None and act.runs_in_place(p)


def act_makes_new_tensor(p) -> bool:
    """Whether the folded activation writes a new tensor beside the one it reads."""
    act = folded(p)
    return act is not None and not act.runs_in_place(p)


def unique(records) -> tuple:
    """Each record once, by identity: one tensor kept by two parts is kept once."""
    kept: list = []
    for record in records:
        if not any(record is other for other in kept):
            kept.append(record)
    return tuple(kept)


def spatial(kind: str, ins, rank: int = 3):
    """The one input as (C, H, W), or a ShapeError naming what was found."""
    shape = ins[0]
    require(len(shape) == rank,
            f"{kind} needs a C x H x W input, got {list(shape)}",
            "a flat tensor cannot be convolved or pooled; move this layer before `flatten`")
    return shape


def kernel_extent(kernel, dilation):
    """The input span of a dilated kernel: k + (k - 1)(d - 1)."""
    return kernel + (kernel - 1) * (dilation - 1)


def conv_out_size(size, kernel, stride, pad, dilation):
    """PyTorch's Conv2d rule, in the lecture's order: floor((size - extent + 2p) / s) + 1."""
    return (size - kernel_extent(kernel, dilation) + 2 * pad) // stride + 1


@register
class Conv(LayerKind):
    """2-D convolution (``nn.Conv2d``), optionally with BN and an activation.

    ``order: post`` is conv -> bn -> act; ``order: pre`` is bn -> act -> conv
    (pre-activation, as in DenseNet and pre-activation ResNets), where the BN
    normalises the input channels.

    FLOPs: 2 per MAC, +1 per output element for the bias, +2 per normalised
    element for BN (scale and shift), +1 per activated element.

    Backward: the conv's MACs once for its input's gradient (when its input needs one:
    the node's input does, or, ``order: pre``, a BN before it trains) and once for its
    weights' (when they train); elementwise, the bias's gradient (1 per output element,
    a sum), the act's backward rule (layers/activation.py) and the BN's
    (``norm_backward``) on the elements they act on, wherever a gradient passes them.
    """

    name = "conv"
    summary = "2-D convolution (+ optional folded batch-norm and activation)"
    params = (
        Param("out", "channels", help="output channels (or an exact ratio of the input, `in/2`)"),
        Param("kernel", "pair", minimum=1),
        Param("stride", "pair", 1, minimum=1),
        Param("pad", "pair", 0),
        Param("dilation", "pair", 1, minimum=1),
        Param("groups", "positive", 1),
        Param("bias", "bool", True),
        Param("bn", "bool", False, help="fold a BatchNorm2d into this node"),
        Param("bn_eps", "float", 1e-5),
        act_param(),
        Param("order", "choice", "post", choices=("post", "pre")),
    )

    def output_shape(self, p, ins):
        channels, height, width = spatial("conv", ins)
        require(divides(p.groups, channels),
                f"input channels {channels} are not divisible by groups={p.groups}")
        require(divides(p.groups, p.out),
                f"output channels {p.out} are not divisible by groups={p.groups}")
        sizes = []
        for axis, size in enumerate((height, width)):
            extent = kernel_extent(p.kernel[axis], p.dilation[axis])
            require(size + 2 * p.pad[axis] >= extent,
                    f"input {'height' if axis == 0 else 'width'} {size} plus padding "
                    f"2*{p.pad[axis]} is smaller than the kernel extent {extent}",
                    "the spatial size collapses here: use a larger input")
            sizes.append(conv_out_size(size, p.kernel[axis], p.stride[axis], p.pad[axis],
                                       p.dilation[axis]))
        return (p.out, sizes[0], sizes[1])

    def _norm_channels(self, p, ins):
        return ins[0][0] if p.order == "pre" else p.out

    def param_count(self, p, ins, out):
        weights = p.kernel[0] * p.kernel[1] * (ins[0][0] // p.groups) * p.out
        bias = p.out if p.bias else 0
        bn = 2 * self._norm_channels(p, ins) if p.bn else 0
        return weights + bias + bn

    def buffer_count(self, p, ins, out):
        # running_mean, running_var and the one-element num_batches_tracked
        return 2 * self._norm_channels(p, ins) + 1 if p.bn else 0

    def buffer_bytes(self, p, ins, out, itemsize):
        # num_batches_tracked is an int64
        return 2 * self._norm_channels(p, ins) * itemsize + 8 if p.bn else 0

    def saved(self, p, ins, out):
        """The conv keeps its input; BN its input and batch statistics; the activation
        what its class keeps (activation.py), a ReLU in place its output, which is then
        the BN's (post) or the conv's input (pre) too."""
        return self._saved_post(p, out) if p.order == "post" else self._saved_pre(p, ins)

    def _saved_post(self, p, out):
        kept = [INPUT]
        tensor = OUTPUT  # the conv's (then the BN's) output; the node's unless an act follows
        act = folded(p)
        if p.bn or act is not None:
            tensor = internal(product(out))
        if p.bn:
            kept += [tensor, batch_norm_stats(p.out)]
            tensor = internal(product(out)) if act is not None else OUTPUT
        if act is not None:
            act_input = OUTPUT if act.runs_in_place(p) else tensor
            kept += act.kept(p, act_input, OUTPUT, product(out))
        return unique(kept)

    def _saved_pre(self, p, ins):
        kept = []
        tensor = INPUT  # what the next part reads: the node's input, BN's or act's output
        if p.bn:
            kept += [INPUT, batch_norm_stats(ins[0][0])]
            tensor = internal(product(ins[0]))
        act = folded(p)
        if act is not None:
            act_output = tensor if act.runs_in_place(p) else internal(product(ins[0]))
            from_act = act.kept(p, tensor, act_output, product(ins[0]))
            if not p.bn:  # the act comes before any weight; what the conv keeps stays
                from_act = tuple(record if record is act_output else
                                 replace(record, needs_input_grad=True) for record in from_act)
            kept += from_act
            tensor = act_output
        return unique(kept + [tensor])  # the conv keeps its input

    def inference_temporaries(self, p, ins, out):
        """Each part's output lives until the next part has made its own: post, the
        conv's output next to the BN's (or to a new tanh/sigmoid output); pre, the BN's
        output next to the act's and the act's next to the conv's output."""
        new_act = act_makes_new_tensor(p)
        if p.order == "post":
            return (internal(product(out)),) if p.bn or new_act else ()
        normalised, produced = product(ins[0]), product(out)
        if p.bn and new_act:  # bn, act and conv outputs: max(Z + A, A + output)
            return (internal(normalised),
                    internal(select(normalised > produced, normalised - produced, 0)))
        return (internal(normalised),) if p.bn or new_act else ()

    def writes_input(self, p, ins, out):
        # pre-activation without BN: the ReLU runs on the node's own input
        return p.order == "pre" and not p.bn and act_in_place(p)

    def macs(self, p, ins, out):
        return self.activations(p, ins, out) * (p.kernel[0] * p.kernel[1] * (ins[0][0] // p.groups))

    def flops(self, p, ins, out):
        elements_out = product(out)
        normalised = product(ins[0]) if p.order == "pre" else elements_out
        total = 2 * self.macs(p, ins, out)
        total += elements_out if p.bias else 0
        total += 2 * normalised if p.bn else 0
        act = folded(p)
        return total + (act.flops_on(normalised) if act is not None else 0)

    def backward(self, p, ins, out, input_grad, weight_grad):
        macs, act = self.macs(p, ins, out), folded(p)
        elementwise = product(out) if p.bias and weight_grad else 0
        if p.order == "post":  # conv -> bn -> act: all after the conv, when its output needs it
            conv_input_grad, after = input_grad, input_grad or weight_grad
            if after:
                elementwise += act.backward_on(product(out)) if act is not None else 0
                elementwise += norm_backward(product(out), weight_grad, True) if p.bn else 0
        else:  # bn -> act -> conv on the input: the act's input needs a gradient
            normalised = product(ins[0])  # when the node's input does or the BN trains
            conv_input_grad = input_grad or (p.bn and weight_grad)
            if act is not None and conv_input_grad:
                elementwise += act.backward_on(normalised)
            elementwise += norm_backward(normalised, weight_grad, input_grad) if p.bn else 0
        return Backward(macs if conv_input_grad else 0, macs if weight_grad else 0,
                        elementwise)

    def rf_step(self, p, ins, out):
        return tuple((kernel_extent(p.kernel[a], p.dilation[a]), p.stride[a], p.pad[a])
                     for a in (0, 1))

    def parts(self, p, ins, out):
        conv = parts.conv2d(ins[0][0], p.out, p.kernel, p.groups, p.bias, out[1:])
        if p.order == "pre":  # bn -> act -> conv on the input
            norm = [parts.batch_norm(ins[0])] if p.bn else []
            return norm + parts.activation(p.act, product(ins[0])) + [conv]
        norm = [parts.batch_norm(out)] if p.bn else []
        return [conv] + norm + parts.activation(p.act, product(out))

    def build(self, p, ins, out):
        from torch import nn

        from archcalc.nn import NamedChain

        conv = nn.Conv2d(ins[0][0], p.out, tuple(p.kernel), tuple(p.stride), tuple(p.pad),
                         tuple(p.dilation), p.groups, p.bias)
        act = folded(p)
        if not p.bn and act is None:
            return conv
        modules: list[tuple[str, nn.Module]] = []
        if p.bn:
            modules.append(("bn", nn.BatchNorm2d(self._norm_channels(p, ins), eps=p.bn_eps)))
        if act is not None:
            modules.append(("act", act.make_module(act.runs_in_place(p))))
        modules = [("conv", conv)] + modules if p.order == "post" else modules + [("conv", conv)]
        return NamedChain(modules)
