"""What each layer kind runs in PyTorch, as the peer tools see it: a list of parts.

A counting tool (torchinfo, fvcore, ptflops, thop, FlopCounterMode) never sees a spec
node: it sees the ``torch.nn`` modules the builder makes (each kind's ``build()``) and
the tensor operations their ``forward`` runs. ``parts(call)`` lists them for one analysed
node, in the order they run, with the sizes the tools' rules read; each tool's module in
this package is then one table of rules per part (its ``op``), so a kind's
decomposition is written once, here, beside the builder it mirrors, and a tool's rules
once, there. Everything is per image (batch 1), from the analysis alone: no torch.

A kind missing from ``_DECOMPOSE`` is an error under every convention, never a silent
zero (``UnknownKind``): a new kind needs its parts written here first.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archcalc.errors import ArchcalcError
from archcalc.layers.arith import product


@dataclass(frozen=True)
class Part:
    """One module or tensor operation of a built node.

    ``op`` names the ``torch.nn`` class the builder makes (``Conv2d``, ``ReLU``,
    ``LayerNorm2d``), or for operations called in ``forward`` without a module of their
    own: ``add`` and ``mul`` (the ``+`` and ``*`` operators, ``Tensor.__add__`` and
    ``Tensor.__mul__``), ``cat`` (``torch.cat``) and ``data`` (views, slices, padding,
    copies: no arithmetic in any tool).
    """

    op: str
    inputs: int = 0  # elements of the (first) input, per image
    outputs: int = 0  # elements of the output, per image
    macs: int = 0  # products of a conv, linear or attention, bias excluded (archcalc's)
    weights: int = 0  # elements of the parameter named ``weight``
    biases: int = 0  # elements of the parameter named ``bias``
    positions: int = 1  # a conv's output pixels H*W; a linear's rows; attention's windows
    windows: int = 0  # avg pools: the sum of their window sizes; LRN: its padded map
    heads: int = 0  # attention: heads, tokens L, width D
    length: int = 0
    dim: int = 0


class UnknownKind(ArchcalcError):
    """A layer kind without a decomposition (a kind added after the conventions)."""


# --- helpers --------------------------------------------------------------------------


def _kind(name: str):
    from archcalc.layers.registry import get_kind

    return get_kind(name)


def _act(name: str, elements) -> list[Part]:
    if name == "none":
        return []
    return [Part(_kind(name).module, inputs=elements, outputs=elements)]


def _conv2d(cin, cout, kernel, groups, bias, out_hw) -> Part:
    weights = cout * (cin // groups) * kernel[0] * kernel[1]
    positions = out_hw[0] * out_hw[1]
    return Part("Conv2d", outputs=cout * positions, macs=weights * positions,
                weights=weights, biases=cout if bias else 0, positions=positions)


def _linear(in_shape, out_features, bias) -> Part:
    rows = product(tuple(in_shape[:-1])) if len(in_shape) > 1 else 1
    features = in_shape[-1]
    return Part("Linear", inputs=rows * features, outputs=rows * out_features,
                macs=rows * features * out_features, weights=features * out_features,
                biases=out_features if bias else 0, positions=rows)


def _batch_norm(shape) -> Part:
    return Part("BatchNorm2d" if len(shape) == 3 else "BatchNorm1d",
                inputs=product(shape), outputs=product(shape),
                weights=shape[0], biases=shape[0])


def _pool_window_sum(size, out_size, kernel, stride, pad, include_pad) -> int:
    """The sum over output positions of the input positions each window covers, clipped
    to the input (plus the padding when it counts): thop's avg-pool rule, per axis."""
    lower, upper = (-pad, size + pad) if include_pad else (0, size)
    return sum(max(min(i * stride - pad + kernel, upper) - max(i * stride - pad, lower), 0)
               for i in range(out_size))


def _adaptive_window_sum(size, out_size) -> int:
    from archcalc.layers.pool import adaptive_windows

    return sum(stop - start for start, stop in adaptive_windows(size, out_size))


def _adaptive_avg(in_shape, out_hw) -> Part:
    channels, height, width = in_shape
    windows = (channels * _adaptive_window_sum(height, out_hw[0])
               * _adaptive_window_sum(width, out_hw[1]))
    return Part("AdaptiveAvgPool2d", inputs=product(in_shape),
                outputs=channels * out_hw[0] * out_hw[1], windows=windows)


# --- one function per kind: what its build() makes ------------------------------------


def _conv(p, ins, out) -> list[Part]:
    conv = _conv2d(ins[0][0], p.out, p.kernel, p.groups, p.bias, out[1:])
    if p.order == "pre":  # bn -> act -> conv on the input (layers/conv.py)
        norm = [_batch_norm(ins[0])] if p.bn else []
        return norm + _act(p.act, product(ins[0])) + [conv]
    norm = [_batch_norm(out)] if p.bn else []
    return [conv] + norm + _act(p.act, product(out))


def _fc(p, ins, out) -> list[Part]:
    dropout = [Part("Dropout", inputs=product(out), outputs=product(out))] if p.dropout else []
    return [_linear(ins[0], p.out, p.bias)] + _act(p.act, product(out)) + dropout


def _maxpool(p, ins, out) -> list[Part]:
    op = "AdaptiveMaxPool2d" if p["global"] else "MaxPool2d"
    return [Part(op, inputs=product(ins[0]), outputs=product(out))]


def _avgpool(p, ins, out) -> list[Part]:
    if p["global"]:
        return [_adaptive_avg(ins[0], (1, 1))]
    channels, height, width = ins[0]
    stride = p.stride or p.kernel
    sums = [_pool_window_sum(size, out[axis + 1], p.kernel[axis], stride[axis],
                             p.pad[axis], p.count_include_pad)
            for axis, size in enumerate((height, width))]
    return [Part("AvgPool2d", inputs=product(ins[0]), outputs=product(out),
                 windows=channels * sums[0] * sums[1])]


def _lrn(p, ins, out) -> list[Part]:
    # F.local_response_norm pads the squared map with size//2 + (size-1)//2 channels
    channels, height, width = ins[0]
    padded = (channels + p.size // 2 + (p.size - 1) // 2) * height * width
    return [Part("LocalResponseNorm", inputs=product(ins[0]), outputs=product(out),
                 windows=padded)]


def _add(p, ins, out) -> list[Part]:
    # result = result + other, once per extra path (layers/merge.py Add.join)
    sums = [Part("add", inputs=product(out), outputs=product(out))] * (len(ins) - 1)
    return sums + _act(p.act, product(out))


def _concat(p, ins, out) -> list[Part]:
    return [Part("cat", outputs=product(out))] + _act(p.act, product(out))


def _se(p, ins, out) -> list[Part]:
    # torchvision.ops.SqueezeExcitation: avgpool, fc1 (1x1 conv), act, fc2, gate, scale * x
    channels = ins[0][0]
    return ([_adaptive_avg(ins[0], (1, 1)),
             _conv2d(channels, p.squeeze, (1, 1), 1, True, (1, 1))]
            + _act(p.act, p.squeeze)
            + [_conv2d(p.squeeze, channels, (1, 1), 1, True, (1, 1))]
            + _act(p.gate, channels)
            + [Part("mul", inputs=product(ins[0]), outputs=product(out))])


def _layernorm(p, ins, out) -> list[Part]:
    dim = ins[0][-1]
    return [Part("LayerNorm", inputs=product(ins[0]), outputs=product(out),
                 weights=dim, biases=dim)]


def _layernorm2d(p, ins, out) -> list[Part]:
    # torchvision's LayerNorm2d: a subclass of nn.LayerNorm, permute -> layer_norm -> back
    channels = ins[0][0]
    return [Part("LayerNorm2d", inputs=product(ins[0]), outputs=product(out),
                 weights=channels, biases=channels)]


def _layer_scale(p, ins, out) -> list[Part]:
    # archcalc.nn.LayerScaleModule: ``self.layer_scale * x``, its parameter not named weight
    return [Part("LayerScale", inputs=product(ins[0]), outputs=product(out))]


def _attention(p, ins, out) -> list[Part]:
    length, dim = ins[0]
    weights = 4 * dim * dim
    return [Part("MultiheadAttention", inputs=length * dim, outputs=length * dim,
                 macs=4 * length * dim * dim + 2 * length * length * dim,
                 weights=weights, biases=4 * dim, positions=length,
                 heads=p.heads, length=length, dim=dim)]


def _window_attention(p, ins, out) -> list[Part]:
    # torchvision's ShiftedWindowAttention: forward calls shifted_window_attention with its
    # qkv and proj weights (F.linear; the child Linear modules never run), q.matmul(k^T),
    # softmax, attn.matmul(v), on nW windows of L = w*w tokens of C channels
    kind = _kind("window_attention")
    rows, cols = kind._grid(p, ins)
    channels = ins[0][2]
    return [Part("ShiftedWindowAttention", inputs=product(ins[0]), outputs=product(out),
                 macs=kind.macs(p, ins, out), positions=rows * cols, heads=p.heads,
                 length=p.window * p.window, dim=channels)]


def _patch_merging(p, ins, out) -> list[Part]:
    # torchvision's PatchMerging: pad, four strided slices, cat (4C), norm, reduction
    height, width, channels = out
    gathered = (height, width, 2 * channels)
    norm = Part("LayerNorm", inputs=product(gathered), outputs=product(gathered),
                weights=2 * channels, biases=2 * channels)
    return [Part("cat", outputs=product(gathered)), norm,
            _linear(gathered, channels, bias=False)]


def _activation(module: str) -> Callable:
    def parts_of(p, ins, out) -> list[Part]:
        return [Part(module, inputs=product(ins[0]), outputs=product(out))]

    return parts_of


def _single(op: str) -> Callable:
    def parts_of(p, ins, out) -> list[Part]:
        return [Part(op, inputs=product(ins[0]), outputs=product(out))]

    return parts_of


_DECOMPOSE: dict[str, Callable] = {
    "conv": _conv,
    "fc": _fc,
    "bn": lambda p, ins, out: [_batch_norm(ins[0])],
    "lrn": _lrn,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "adaptive_avgpool": lambda p, ins, out: [_adaptive_avg(ins[0], out[1:])],
    "add": _add,
    "concat": _concat,
    "se": _se,
    "layernorm": _layernorm,
    "layernorm2d": _layernorm2d,
    "layer_scale": _layer_scale,
    "attention": _attention,
    "patch_merging": _patch_merging,
    "window_attention": _window_attention,
    "dropout": _single("Dropout"),
    "stochastic_depth": _single("StochasticDepth"),  # the identity at inference
    "flatten": _single("Flatten"),
    # no arithmetic: views, slices, zero padding, a shuffling copy
    "permute": _single("data"),
    "tokens": _single("data"),
    "select_token": _single("data"),
    "channel_slice": _single("data"),
    "channel_shuffle": _single("data"),
    "pad_shortcut": _single("data"),
    "class_token": lambda p, ins, out: [Part("cat", outputs=product(out))],
    # x + pos_embedding (archcalc.nn.tokens.PositionEmbedding), a parameter not named weight
    "position_embedding": _single("add"),
}


def parts(call) -> list[Part]:
    """The parts of one analysed node (an ``analysis.report.Call``)."""
    from archcalc.layers.activation import Activation

    kind = call.kind
    if isinstance(kind, Activation):
        return _activation(kind.module)(call.params, call.inputs, call.output)
    decompose = _DECOMPOSE.get(kind.name)
    if decompose is None:
        raise UnknownKind(f"the counting conventions do not know layer kind {kind.name!r}",
                          hint="list the modules its build() makes in "
                               "archcalc/analysis/conventions/parts.py")
    return decompose(call.params, call.inputs, call.output)
