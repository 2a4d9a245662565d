"""Tensor layouts beyond C x H x W: channels-last maps and the kinds that act on the last axis.

A per-sample shape stays a tuple; its rank says what it is: (F,) features, (L, D) tokens,
(C, H, W) a map. A rank-3 shape made by ``permute: {order: [1, 2, 0]}`` is a channels-last
map (H, W, C), marked by the tuple subclass ``ChannelsLast`` (equal to the plain tuple of
the same sizes), so that a kind on the last axis (``fc``, ``layernorm``) can tell it from a
C x H x W map, where acting on the width is almost always a missing ``flatten``.
"""
from __future__ import annotations

from archcalc.layers import parts
from archcalc.layers.arith import product, require
from archcalc.layers.registry import Backward, LayerKind, Param, View, register
from archcalc.layers.saved import INPUT, internal


class ChannelsLast(tuple):
    """An (H, W, C) shape: a map whose channels are the last axis."""

    __slots__ = ()


class PermutedView(ChannelsLast):
    """A channels-last map that is ``permute``'s strided view of a C x H x W tensor (not
    contiguous: ``nn.Linear`` copies it before its matmul)."""

    __slots__ = ()


def same_layout(like, sizes) -> tuple:
    """``sizes`` as a shape of the same layout as ``like``: its class, marker included
    (for analyses that carry other numbers through the rules, analysis/explain.py)."""
    return type(like)(sizes) if isinstance(like, ChannelsLast) else tuple(sizes)


def new_tensor_like(like, sizes) -> tuple:
    """The shape of a new (contiguous) tensor in ``like``'s layout."""
    return ChannelsLast(sizes) if isinstance(like, ChannelsLast) else tuple(sizes)


def last_axis_input(kind: str, ins, wanted: str = "a flat input"):
    """The one input of a kind on the last axis: features, tokens or a channels-last map;
    a C x H x W map is refused (the usual cause: a missing ``flatten``)."""
    shape = ins[0]
    channels_first = len(shape) >= 3 and not isinstance(shape, ChannelsLast)
    require(not channels_first,
            f"{kind} needs {wanted}, got {list(shape)}: a C x H x W map ({kind} acts on the "
            f"last axis: features, tokens L x D, or a channels-last map after `permute`)",
            "add `flatten` (or a global pool and `flatten`) before this layer, or "
            "`permute: {order: [1, 2, 0]}` to act on the channels")
    return shape


TO_CHANNELS_LAST, TO_CHANNELS_FIRST = [1, 2, 0], [2, 0, 1]


@register
class Permute(View):
    """Reorder a map's axes (``torchvision.ops.misc.Permute``, ``x.permute``): a view.

    ``order: [1, 2, 0]`` turns a C x H x W map into a channels-last (H, W, C) one, where
    ``fc`` and ``layernorm`` act on the channels; ``order: [2, 0, 1]`` turns it back (the
    two that ConvNeXt's CNBlock uses). Params, MACs, FLOPs, activations: 0 (a strided view
    of the same storage). Saved: nothing. Receptive field: unchanged (no position mixes).
    """

    name = "permute"
    summary = "reorder a map's axes: [1, 2, 0] to channels-last, [2, 0, 1] back (a view)"
    params = (Param("order", "choice", choices=(TO_CHANNELS_LAST, TO_CHANNELS_FIRST),
                    help="[1, 2, 0] (C x H x W to H x W x C) or [2, 0, 1] (back)"),)

    def output_shape(self, p, ins):
        shape = ins[0]
        to_last = list(p.order) == TO_CHANNELS_LAST
        if to_last:
            require(len(shape) == 3 and not isinstance(shape, ChannelsLast),
                    f"permute [1, 2, 0] needs a C x H x W map, got {list(shape)}",
                    "[1, 2, 0] makes a channels-last map of a C x H x W one")
            return PermutedView((shape[1], shape[2], shape[0]))
        require(isinstance(shape, ChannelsLast),
                f"permute [2, 0, 1] needs a channels-last map, got {list(shape)}",
                "a channels-last map comes from `permute: {order: [1, 2, 0]}`")
        return (shape[2], shape[0], shape[1])

    def build(self, p, ins, out):
        from torchvision.ops.misc import Permute as TorchvisionPermute

        return TorchvisionPermute([0] + [axis + 1 for axis in p.order])


def _plain_map(kind: str, ins):
    shape = ins[0]
    require(len(shape) == 3 and not isinstance(shape, ChannelsLast),
            f"{kind} needs a C x H x W map, got {list(shape)}",
            "use it before `flatten`, on a map that is not channels-last")
    return shape


@register
class LayerNorm2d(LayerKind):
    """Layer norm over the channels of a C x H x W map, as
    ``torchvision.models.convnext.LayerNorm2d``: permute to channels-last, ``layer_norm``
    over C, permute back (its output is that non-contiguous view).

    Params: gamma and beta, 2*C. Buffers: 0. MACs: 0. FLOPs: 5 per element (as
    ``layernorm``). Activations: C*H*W (layer_norm's output). Saved for backward
    (measured with saved_tensors_hooks on the CPU): the input, and the mean and reciprocal
    std per position, 2*H*W. Inference temporaries: the mean and reciprocal std.
    Backward: as ``bn`` (layers/norm.py, ``norm_backward``) per element.
    """

    name = "layernorm2d"
    summary = "layer normalisation over the channels of a map (ConvNeXt's LayerNorm2d)"
    params = (Param("eps", "float", 1e-6),)

    def output_shape(self, p, ins):
        return _plain_map(self.name, ins)

    def param_count(self, p, ins, out):
        return 2 * ins[0][0]

    def flops(self, p, ins, out):
        return 5 * product(out)

    def backward(self, p, ins, out, input_grad, weight_grad):
        from archcalc.layers.norm import norm_backward  # norm.py imports this module

        return Backward(0, 0, norm_backward(product(out), weight_grad, input_grad))

    def saved(self, p, ins, out):
        return (INPUT, internal(2 * ins[0][1] * ins[0][2]))

    def inference_temporaries(self, p, ins, out):
        return (internal(2 * ins[0][1] * ins[0][2]),)

    def parts(self, p, ins, out):
        # torchvision's LayerNorm2d: a subclass of nn.LayerNorm, permute -> layer_norm -> back
        channels = ins[0][0]
        return [parts.Part("LayerNorm2d", inputs=product(ins[0]), outputs=product(out),
                           weights=channels, biases=channels)]

    def build(self, p, ins, out):
        from torchvision.models.convnext import LayerNorm2d as TorchvisionLayerNorm2d

        return TorchvisionLayerNorm2d(ins[0][0], eps=p.eps)


@register
class LayerScale(LayerKind):
    """A learnable per-channel scale of a C x H x W map (Touvron et al. 2021's LayerScale,
    ConvNeXt's ``CNBlock.layer_scale``): a (C, 1, 1) parameter, filled with ``init``,
    multiplied in.

    Params: C. Buffers: 0. MACs: 0. FLOPs: 1 per element (the multiply). Activations:
    C*H*W (a new tensor). Saved for backward: the input (the scale's gradient; the scale
    is a parameter, counted apart).
    Backward: the input's gradient g * scale, 1 per element; the scale's, when it trains,
    the sum of g * input, 2 per element.
    """

    name = "layer_scale"
    summary = "learnable per-channel scale, a (C, 1, 1) parameter (ConvNeXt's layer scale)"
    params = (Param("init", "float", 1e-6, help="the scale's initial value, e.g. 1e-6"),)

    def output_shape(self, p, ins):
        return _plain_map(self.name, ins)

    def param_count(self, p, ins, out):
        return ins[0][0]

    def flops(self, p, ins, out):
        return product(out)

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, (product(out) if input_grad else 0)
                        + (2 * product(out) if weight_grad else 0))

    def parts(self, p, ins, out):
        # archcalc.nn.LayerScaleModule: ``self.layer_scale * x``, a parameter not named weight
        return parts.elementwise("LayerScale", ins, out)

    def build(self, p, ins, out):
        from archcalc.nn import LayerScaleModule

        return LayerScaleModule(ins[0][0], p.init)


def layernorm_examples(shape):
    """``archcalc.testing`` strategy for ``layernorm``: on features after ``flatten``."""
    from hypothesis import strategies as st

    @st.composite
    def items(draw):
        flat = (shape[0] * shape[1] * shape[2],)
        eps = draw(st.sampled_from([1e-5, 1e-6]))
        return ["flatten", {"layernorm": {"eps": eps}}], flat

    return items()


def permute_examples(shape):
    """``archcalc.testing`` strategy for ``permute``: to channels-last, maybe a
    ``layernorm`` and an ``fc`` (with an act) on the channels, maybe back."""
    from hypothesis import strategies as st

    @st.composite
    def items(draw):
        channels, height, width = shape
        layers: list = [{"permute": {"order": TO_CHANNELS_LAST}}]
        if draw(st.booleans()):
            layers.append({"layernorm": {"eps": 1e-6}})
        if draw(st.booleans()):
            channels = draw(st.integers(1, 8))
            act = draw(st.sampled_from(["none", "gelu", "relu", "tanh"]))
            layers.append({"fc": {"out": channels, "act": act, "bias": draw(st.booleans())}})
        if draw(st.booleans()):
            layers.append({"permute": {"order": TO_CHANNELS_FIRST}})
            return layers, (channels, height, width)
        return layers, (height, width, channels)

    return items()


def layernorm2d_examples(shape):
    """``archcalc.testing`` strategy for ``layernorm2d``: alone, or after a conv (whose
    output only it reads)."""
    from hypothesis import strategies as st

    @st.composite
    def items(draw):
        before = draw(st.sampled_from([[], [{"conv": {"out": shape[0], "kernel": 1}}]]))
        return before + [{"layernorm2d": {"eps": draw(st.sampled_from([1e-6, 1e-5]))}}], shape

    return items()


def layer_scale_examples(shape):
    """``archcalc.testing`` strategy for ``layer_scale``: alone or after a conv."""
    from hypothesis import strategies as st

    @st.composite
    def items(draw):
        before = draw(st.sampled_from([[], [{"conv": {"out": shape[0], "kernel": 3, "pad": 1}}]]))
        return before + [{"layer_scale": {"init": draw(st.sampled_from([1e-6, 0.5]))}}], shape

    return items()


Permute.examples = staticmethod(permute_examples)
LayerNorm2d.examples = staticmethod(layernorm2d_examples)
LayerScale.examples = staticmethod(layer_scale_examples)
