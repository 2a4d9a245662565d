"""Swin Transformer's layers (Liu et al. 2021) on channels-last maps, as torchvision's
swin_transformer.py runs them: ``patch_merging``.

A Swin stage works on an (H, W, C) channels-last map (``permute: {order: [1, 2, 0]}`` after
the patch-embedding conv, layers/layout.py). The built modules are torchvision's own
classes, so their state-dict names and order are torchvision's.

Memory (measured with saved_tensors_hooks and the live-tensor dispatch mode of
archcalc/verify/memory_ref.py, PyTorch 2.x on the CPU; tests/test_kinds_windows.py).
"""
from __future__ import annotations

from archcalc.layers import parts
from archcalc.layers.arith import ceildiv, product, require
from archcalc.layers.layout import TO_CHANNELS_LAST, ChannelsLast
from archcalc.layers.norm import norm_backward
from archcalc.layers.registry import Backward, LayerKind, Param, register
from archcalc.layers.saved import internal


def channels_last_map(kind: str, ins):
    """The one input as an (H, W, C) channels-last map, or a ShapeError naming the kind."""
    shape = ins[0]
    require(len(shape) == 3 and isinstance(shape, ChannelsLast),
            f"{kind} needs a channels-last H x W x C map, got {list(shape)}",
            "make one with `permute: {order: [1, 2, 0]}` after the patch-embedding conv")
    return shape


@register
class PatchMerging(LayerKind):
    """torchvision's ``PatchMerging(dim)``: (H, W, C) -> (ceil(H/2), ceil(W/2), 2C).

    It pads H and W to even sizes (``F.pad``, a copy even when nothing is padded), gathers
    the four strided 2x2 neighbours ``x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2],
    x[1::2, 1::2]`` and concatenates them (4C), then ``norm`` (LayerNorm(4C)) and
    ``reduction`` (Linear(4C, 2C, bias=False)); torchvision registers ``reduction`` first,
    so its state dict lists reduction.weight before norm.weight and norm.bias.

    With H' = ceil(H/2), W' = ceil(W/2):
    Params: 8*C*C (reduction) + 8*C (norm). Buffers: 0.
    MACs: H'*W'*4C*2C (the reduction; the norm's affine is counted in FLOPs only, as
    ``layernorm`` does).
    FLOPs: 5 per element of the 4C map (the norm, as ``layernorm``) + 2 per MAC.
    Activations: H'*W'*2C (the output; the padded copy, the concatenation and the norm's
    output live inside the node, as a folded conv's do).
    Saved for backward (measured): the concatenation (the norm's input, 4*H'*W'*C), the
    norm's mean and reciprocal std (2*H'*W') and the norm's output (the reduction's input,
    4*H'*W'*C); never the node's input (pad, slices and cat need only sizes).
    Inference temporaries (measured): the peak is at the norm, with the input, the padded
    copy gone, the concatenation, the norm's output and its statistics alive:
    8*H'*W'*C + 2*H'*W' beside the input, which is 6*H'*W'*C + 2*H'*W' beyond the output.
    Receptive field: each output position sees a 2 x 2 window with stride 2.
    Backward: the reduction's MACs once for its weights' gradient (when the node trains)
    and once for its input's, the norm's output, whenever a gradient enters the node (the
    norm's weights train or the input needs one); the norm's backward (``norm_backward``)
    on the 4*H'*W'*C gathered elements; the pad, strided slices and concatenation pass
    their gradients as copies (0).
    """

    name = "patch_merging"
    summary = "Swin's patch merging: 2x2 neighbours to 4C, LayerNorm, Linear to 2C"
    params = (Param("eps", "float", 1e-5, help="the LayerNorm's eps (torchvision's 1e-5)"),)

    def output_shape(self, p, ins):
        height, width, channels = channels_last_map(self.name, ins)
        return ChannelsLast((ceildiv(height, 2), ceildiv(width, 2), 2 * channels))

    def param_count(self, p, ins, out):
        channels = ins[0][2]
        return 8 * channels * channels + 8 * channels

    def macs(self, p, ins, out):
        height, width, _ = out
        channels = ins[0][2]
        return height * width * 4 * channels * 2 * channels

    def flops(self, p, ins, out):
        height, width, _ = out
        return 5 * height * width * 4 * ins[0][2] + 2 * self.macs(p, ins, out)

    def activations(self, p, ins, out):
        height, width, channels = out
        return height * width * channels

    def backward(self, p, ins, out, input_grad, weight_grad):
        height, width, _ = out
        macs = self.macs(p, ins, out)
        return Backward(macs if input_grad or weight_grad else 0, macs if weight_grad else 0,
                        norm_backward(4 * height * width * ins[0][2], weight_grad, input_grad))

    def saved(self, p, ins, out):
        height, width, _ = out
        gathered = 4 * height * width * ins[0][2]
        return (internal(gathered), internal(2 * height * width), internal(gathered))

    def inference_temporaries(self, p, ins, out):
        height, width, _ = out
        return (internal(6 * height * width * ins[0][2] + 2 * height * width),)

    def rf_step(self, p, ins, out):
        return ((2, 2, 0), (2, 2, 0))

    def parts(self, p, ins, out):
        # torchvision's PatchMerging: pad, four strided slices, cat (4C), norm, reduction
        height, width, channels = out
        gathered = (height, width, 2 * channels)
        norm = parts.Part("LayerNorm", inputs=product(gathered), outputs=product(gathered),
                          weights=2 * channels, biases=2 * channels)
        return [parts.Part("cat", outputs=product(gathered)), norm,
                parts.linear(gathered, channels, bias=False)]

    def build(self, p, ins, out):
        from functools import partial

        from torch import nn
        from torchvision.models.swin_transformer import PatchMerging as TorchvisionMerging

        return TorchvisionMerging(ins[0][2], norm_layer=partial(nn.LayerNorm, eps=p.eps))


def _patch_merging_examples(shape):
    """``archcalc.testing`` strategy for ``patch_merging``: on a channels-last map, after a
    1x1 conv at times (the input then needs a gradient) and a layernorm at times."""
    from hypothesis import strategies as st

    @st.composite
    def items(draw):
        channels, height, width = shape
        layers: list = []
        if draw(st.booleans()):
            channels = draw(st.integers(1, 6))
            layers.append({"conv": {"out": channels, "kernel": 1}})
        layers.append({"permute": {"order": TO_CHANNELS_LAST}})
        if draw(st.booleans()):
            layers.append({"layernorm": {"eps": 1e-5}})
        layers.append({"patch_merging": {"eps": draw(st.sampled_from([1e-5, 1e-6]))}})
        return layers, (-(-height // 2), -(-width // 2), 2 * channels)

    return items()


PatchMerging.examples = staticmethod(_patch_merging_examples)
