"""Batch, layer and local response normalisation."""
from __future__ import annotations

from archcalc.layers import parts
from archcalc.layers.arith import product, require, select
from archcalc.layers.layout import last_axis_input, layernorm_examples, new_tensor_like
from archcalc.layers.registry import Backward, LayerKind, Param, register
from archcalc.layers.saved import INPUT, batch_norm_stats, internal

# FLOPs per normalised element of a norm's backward (batch, layer norm; one per operation
# of the gradient's formula, x^ = (x - mean) * rstd, g = dy * gamma, n elements per mean):
RECOMPUTE_NORMALISED = 2  # x^ recomputed from the input and the kept statistics
AFFINE_GRADIENT = 3  # d gamma = sum(dy * x^), d beta = sum(dy): a multiply, two additions
INPUT_GRADIENT = 8  # g = dy * gamma; sum(g) and sum(g * x^) (3);
#                     dx = (g - sum(g)/n - x^ * sum(g * x^)/n) * rstd (4)


def norm_backward(elements, weight_grad: bool, input_grad: bool):
    """Elementwise FLOPs of a batch or layer norm's backward on ``elements`` elements."""
    if not (weight_grad or input_grad):
        return 0
    per_element = RECOMPUTE_NORMALISED + (AFFINE_GRADIENT if weight_grad else 0) + \
        (INPUT_GRADIENT if input_grad else 0)
    return per_element * elements


@register
class BatchNorm(LayerKind):
    """Batch norm over channels (``nn.BatchNorm2d``, or ``1d`` on a flat input).

    Params: gamma and beta per channel. Buffers: running mean and variance per
    channel plus the one-element ``num_batches_tracked``.
    FLOPs: 2 per element (inference: one scale, one shift).
    Backward (``norm_backward``, per element): 2 to recompute x^ when any gradient is
    needed, 3 for gamma's and beta's gradients when it trains, 8 for the input's.
    """

    name = "bn"
    summary = "batch normalisation (2 params and 2 buffers per channel)"
    params = (Param("eps", "float", 1e-5),)

    def param_count(self, p, ins, out):
        return 2 * ins[0][0]

    def buffer_count(self, p, ins, out):
        return 2 * ins[0][0] + 1

    def buffer_bytes(self, p, ins, out, itemsize):
        return 2 * ins[0][0] * itemsize + 8  # num_batches_tracked is an int64

    def flops(self, p, ins, out):
        return 2 * product(out)

    def saved(self, p, ins, out):
        return (INPUT, batch_norm_stats(ins[0][0]))

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, norm_backward(product(out), weight_grad, input_grad))

    def parts(self, p, ins, out):
        return [parts.batch_norm(ins[0])]

    def build(self, p, ins, out):
        from torch import nn

        cls = nn.BatchNorm2d if len(ins[0]) == 3 else nn.BatchNorm1d
        return cls(ins[0][0], eps=p.eps)


@register
class LocalResponseNorm(LayerKind):
    """Local response normalisation across channels (``nn.LocalResponseNorm``).

    ``alpha`` follows PyTorch (and Caffe): it is divided by ``size``, so the
    AlexNet paper's alpha=1e-4 is written as ``alpha: 1e-4`` only if you accept
    that convention; params are zero either way.
    FLOPs: per element, ``size`` squares and ``size - 1`` additions, then
    scale, offset, power and divide: 2*size + 3.
    Backward (the input's gradient, through each step of ``F.local_response_norm``), per
    element: size + 14: the divide x / d 5 (g / d; -g * x / (d * d)), the power 3
    (g * beta * d^(beta - 1)), the scale by alpha 1, the average pool over channels
    size + 1 (a divide, then size additions into the window), the square 3 (g * x twice and
    their sum), the two gradients of x added 1.
    """

    name = "lrn"
    summary = "local response normalisation across channels"
    params = (
        Param("size", "positive"),
        Param("alpha", "float", 1e-4),
        Param("beta", "float", 0.75),
        Param("k", "float", 1.0),
    )

    def output_shape(self, p, ins):
        require(len(ins[0]) == 3, f"lrn needs a C x H x W input, got {list(ins[0])}")
        return ins[0]

    def flops(self, p, ins, out):
        return product(out) * (2 * p.size + 3)

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, product(out) * (p.size + 14) if input_grad else 0)

    def saved(self, p, ins, out):
        # F.local_response_norm: the input (for x*x and x/div), the squares padded by
        # size-1 channels (avg_pool3d's input), and pow's input and output (the divisor)
        channels, height, width = ins[0]
        return (INPUT, internal((channels + p.size - 1) * height * width),
                internal(product(out)), internal(product(out)))

    def inference_temporaries(self, p, ins, out):
        # the squares with their padded copy, then two of the divisor's steps next to
        # the average (div.mul(alpha).add(k).pow(beta)): the larger of the two moments
        channels, height, width = ins[0]
        padded, elements = (channels + p.size - 1) * height * width, product(ins[0])
        return (internal(select(padded > 2 * elements, padded, 2 * elements)),)

    def parts(self, p, ins, out):
        # F.local_response_norm pads the squared map with size//2 + (size-1)//2 channels
        channels, height, width = ins[0]
        padded = (channels + p.size // 2 + (p.size - 1) // 2) * height * width
        return [parts.Part("LocalResponseNorm", inputs=product(ins[0]), outputs=product(out),
                           windows=padded)]

    def build(self, p, ins, out):
        from torch import nn

        return nn.LocalResponseNorm(p.size, p.alpha, p.beta, p.k)


@register
class LayerNorm(LayerKind):
    """Layer norm over the last axis (``nn.LayerNorm(D)``): of features (F,), tokens
    (L, D) or a channels-last map (H, W, C) after ``permute`` (a C x H x W map is
    refused: use ``layernorm2d`` for its channels).

    Params: gamma and beta, 2*D. Buffers: 0. MACs: 0 (like BN: MACs count conv and
    linear products). FLOPs: 5 per element, fvcore's rule for a norm with an affine
    (mean, subtract, square-and-sum for the variance, normalise, scale-and-shift).
    Saved for backward (CPU, measured with saved_tensors_hooks): the input, the mean and
    the reciprocal std, one each per normalised row (rows = elements / D).
    Inference temporaries: the mean and reciprocal std, which the CPU kernel makes
    beside the output also without autograd.
    Backward: as ``bn`` (``norm_backward``) per element.
    """

    name = "layernorm"
    summary = "layer normalisation over the last axis (2 params per feature)"
    params = (Param("eps", "float", 1e-5),)
    examples = staticmethod(layernorm_examples)

    def output_shape(self, p, ins):
        shape = last_axis_input(self.name, ins, "features, tokens or a channels-last map")
        return new_tensor_like(shape, shape)  # contiguous also on permute's strided view

    def param_count(self, p, ins, out):
        return 2 * ins[0][-1]

    def flops(self, p, ins, out):
        return 5 * product(out)

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, norm_backward(product(out), weight_grad, input_grad))

    def saved(self, p, ins, out):
        return (INPUT, internal(2 * product(tuple(ins[0][:-1]))))

    def inference_temporaries(self, p, ins, out):
        return (internal(2 * product(tuple(ins[0][:-1]))),)

    def parts(self, p, ins, out):
        dim = ins[0][-1]
        return [parts.Part("LayerNorm", inputs=product(ins[0]), outputs=product(out),
                           weights=dim, biases=dim)]

    def build(self, p, ins, out):
        from torch import nn

        return nn.LayerNorm(ins[0][-1], eps=p.eps)
