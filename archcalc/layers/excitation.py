"""Squeeze-and-excitation (Hu et al. 2018) as torchvision writes it: one kind, ``se``.

torchvision.ops.misc.SqueezeExcitation (MobileNetV3, EfficientNet, RegNetY): adaptive
average pool to 1x1, a 1x1 conv C -> squeeze with bias (``fc1``), an activation, a 1x1
conv squeeze -> C with bias (``fc2``), a gate (``scale_activation``), then ``gate * input``.
The built module is torchvision's own class, so its state-dict names are torchvision's.
"""
from __future__ import annotations

from dataclasses import replace

from archcalc.errors import SpecError
from archcalc.layers import parts
from archcalc.layers.activation import NONE, Activation, act_choices
from archcalc.layers.arith import product, select
from archcalc.layers.conv import spatial, unique
from archcalc.layers.registry import REGISTRY, Backward, LayerKind, Param, register
from archcalc.layers.saved import INPUT, internal

OUT_OF_PLACE = {"inplace": False}  # torchvision builds both acts with no arguments


def larger(a, b):
    """max(a, b) on integers and symbols."""
    return select(a > b, a, b)


@register
class SqueezeExcitation(LayerKind):
    """Squeeze-and-excitation (``torchvision.ops.misc.SqueezeExcitation``), C x H x W in
    and out.

    Params: (C*N + N) + (N*C + C) for fc1 and fc2 with biases (N = squeeze). Buffers: 0.
    MACs: C*N + N*C (the two 1x1 convs on the pooled 1x1 map).
    FLOPs: C*H*W for the pool (its additions and the divide, as adaptive average pooling
    counts them), 2 per MAC, N + C for the biases, the act's FLOPs on N elements and the
    gate's on C (layers/activation.py), and C*H*W for the channel-wise multiply.
    Activations: C*H*W (the product is a new tensor; the small tensors inside are not
    counted, like a folded conv's).
    Saved for backward (measured with saved_tensors_hooks): the input (the multiply's), the
    pooled C (fc1's input), what the act keeps and fc2's input (relu: its output, N, kept
    once), what the gate keeps, and the gate's output for the multiply when the input needs a
    gradient (sigmoid keeps that output anyway: one tensor of C).
    Inference temporaries: at the multiply the gate (C) lives beside input and output;
    before the output exists the pooled, fc and gate tensors peak at two of them alive.
    Backward: fc1's and fc2's MACs once each for their weights' gradients (when the node
    trains); fc2's once for its input's gradient whenever a gradient enters the node
    (its weights train or its input needs one), fc1's once when the input needs one.
    Elementwise: the gate's gradient, sum over H*W of g * input (2 per element of the map),
    the gate's and the act's backward rules on C and N, where a gradient enters; the biases'
    gradients N + C when it trains; when the input needs a gradient, g * gate (C*H*W), the
    pool's backward (C*H*W, as its forward) and the two gradients of the input added
    (C*H*W).
    Receptive field: each output sees the whole map through the pool; centred on any unit
    that is a window of 2*size-1 with stride 1 and padding size-1 (the smallest centred
    window that holds the whole map for every unit), so later rows never look local.
    """

    name = "se"
    summary = "squeeze-and-excitation: pool, fc1, act, fc2, gate, multiply (torchvision's)"
    params = (
        Param("squeeze", "channels", help="channels of the squeeze (fc1's output), or an "
                                          "expression of `in`, e.g. divisible(in/4, 8)"),
        Param("act", "choice", "relu", choices=act_choices, help="activation after fc1"),
        Param("gate", "choice", "sigmoid", choices=act_choices,
              help="scale activation after fc2 (sigmoid, hardsigmoid)"),
    )

    def _acts(self, p) -> tuple[Activation, Activation]:
        if NONE in (p.act, p.gate):
            raise SpecError("`se` needs an activation for `act` and for `gate`, not `none`",
                            hint="torchvision's SqueezeExcitation: act relu, gate sigmoid")
        # act_choices validated both names: registered activations
        return REGISTRY[p.act], REGISTRY[p.gate]  # type: ignore[return-value]

    def output_shape(self, p, ins):
        self._acts(p)
        return spatial(self.name, ins)

    def param_count(self, p, ins, out):
        channels, squeeze = ins[0][0], p.squeeze
        return (channels * squeeze + squeeze) + (squeeze * channels + channels)

    def macs(self, p, ins, out):
        return 2 * ins[0][0] * p.squeeze

    def flops(self, p, ins, out):
        act, gate = self._acts(p)
        channels, squeeze = ins[0][0], p.squeeze
        return (product(out) + 2 * self.macs(p, ins, out) + squeeze + channels
                + act.flops_on(squeeze) + gate.flops_on(channels) + product(out))

    def backward(self, p, ins, out, input_grad, weight_grad):
        act, gate = self._acts(p)
        fc_macs, elements = ins[0][0] * p.squeeze, product(out)
        entered = input_grad or weight_grad
        elementwise = 0
        if entered:
            elementwise += 2 * elements + gate.backward_on(ins[0][0]) + \
                act.backward_on(p.squeeze)
        if weight_grad:
            elementwise += p.squeeze + ins[0][0]
        if input_grad:
            elementwise += 3 * elements
        return Backward((fc_macs if entered else 0) + (fc_macs if input_grad else 0),
                        2 * fc_macs if weight_grad else 0, elementwise)

    def saved(self, p, ins, out):
        act, gate = self._acts(p)
        channels, squeeze = ins[0][0], p.squeeze
        pooled, fc1_out, act_out = internal(channels), internal(squeeze), internal(squeeze)
        fc2_out, gate_out = internal(channels), internal(channels)
        kept = [pooled]  # fc1 keeps its input
        kept += act.kept(OUT_OF_PLACE, fc1_out, act_out, squeeze)
        kept += [act_out]  # fc2 keeps its input
        by_gate = gate.kept(OUT_OF_PLACE, fc2_out, gate_out, channels)
        kept += by_gate
        # gate * input keeps the input (for the gate's gradient) and the gate only when the
        # input needs a gradient (not on the network's images); sigmoid keeps it anyway
        if not any(record is gate_out for record in by_gate):
            kept.append(replace(gate_out, needs_input_grad=True))
        return unique(kept + [INPUT])

    def rf_step(self, p, ins, out):
        # None would mean "unchanged": measured on regnet_y_400mf (tests/test_receptive_field.py),
        # every unit after the gate depends on every pixel of the map
        return tuple((2 * size - 1, 1, size - 1) for size in ins[0][1:])

    def inference_temporaries(self, p, ins, out):
        channels, squeeze = ins[0][0], p.squeeze
        # before the multiply, each step's input and output: pooled+fc1, fc1+act,
        # act+fc2, fc2+gate; at the multiply, the gate beside the new output
        before = larger(larger(channels + squeeze, 2 * squeeze), 2 * channels)
        return (internal(larger(channels, before - product(out))),)

    def parts(self, p, ins, out):
        # torchvision.ops.SqueezeExcitation: avgpool, fc1 (1x1 conv), act, fc2, gate, scale * x
        channels = ins[0][0]
        return ([parts.adaptive_avg(ins[0], (1, 1)),
                 parts.conv2d(channels, p.squeeze, (1, 1), 1, True, (1, 1))]
                + parts.activation(p.act, p.squeeze)
                + [parts.conv2d(p.squeeze, channels, (1, 1), 1, True, (1, 1))]
                + parts.activation(p.gate, channels)
                + parts.elementwise("mul", ins, out))

    def build(self, p, ins, out):
        from torchvision.ops.misc import SqueezeExcitation as TorchvisionSE

        act, gate = self._acts(p)
        return TorchvisionSE(ins[0][0], p.squeeze,
                             activation=lambda: act.make_module(False),
                             scale_activation=lambda: gate.make_module(False))
