"""The output-size rules equal PyTorch's own layers on random hyper-parameters.

Strategies draw dependent values (the input is drawn at least as large as the
dilated kernel minus padding), so no example is thrown away by a filter.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.errors import ShapeError
from archcalc.layers.registry import get_kind
from archcalc.spec.model import Params

torch = pytest.importorskip("torch")
nn = torch.nn


@st.composite
def window(draw, pool: bool):
    """Kernel, stride, padding, dilation and an input size the window fits in."""
    kernel = draw(st.integers(1, 7))
    dilation = draw(st.integers(1, 3)) if not pool or draw(st.booleans()) else 1
    extent = dilation * (kernel - 1) + 1
    # PyTorch pooling allows padding up to half the (effective) window.
    pad = draw(st.integers(0, extent // 2 if pool else 3))
    stride = draw(st.integers(1, 4))
    size = draw(st.integers(max(1, extent - 2 * pad), extent + 40))
    return kernel, stride, pad, dilation, size


def shape_of(kind_name: str, params: dict, in_shape):
    kind = get_kind(kind_name)
    return tuple(kind.output_shape(Params(params), [in_shape]))


def conv_params(groups, kernel, stride, pad, dilation) -> dict:
    return {"out": groups, "kernel": kernel, "stride": stride, "pad": pad,
            "dilation": dilation, "groups": groups, "bias": True, "bn": False, "act": "none",
            "order": "post"}


@settings(max_examples=150, deadline=None)
@given(window(pool=False), window(pool=False), st.integers(1, 3))
def test_conv_output_size_equals_torch(rows, cols, groups):
    (kh, sh, ph, dh, height), (kw, sw, pw, dw, width) = rows, cols
    channels = 2 * groups
    params = conv_params(groups, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    ours = shape_of("conv", params, (channels, height, width))
    layer = nn.Conv2d(channels, groups, (kh, kw), (sh, sw), (ph, pw), (dh, dw), groups)
    theirs = layer(torch.zeros(1, channels, height, width)).shape[1:]
    assert ours == tuple(theirs)


def assert_pool_agrees(kind_name: str, params: dict, layer, height: int, width: int):
    """Our output size equals torch's, or, where torch refuses the window, ours does too."""
    x = torch.zeros(1, 2, height, width)
    try:
        theirs = tuple(layer(x).shape[1:])
    except RuntimeError:
        with pytest.raises(ShapeError):
            shape_of(kind_name, params, (2, height, width))
        return
    assert shape_of(kind_name, params, (2, height, width)) == theirs


@settings(max_examples=200, deadline=None)
@given(window(pool=True), window(pool=True), st.booleans())
def test_maxpool_output_size_equals_torch(rows, cols, ceil):
    (kh, sh, ph, dh, height), (kw, sw, pw, dw, width) = rows, cols
    params = {"kernel": (kh, kw), "stride": (sh, sw), "pad": (ph, pw), "dilation": (dh, dw),
              "ceil": ceil, "global": False}
    layer = nn.MaxPool2d((kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode=ceil)
    assert_pool_agrees("maxpool", params, layer, height, width)


@settings(max_examples=200, deadline=None)
@given(window(pool=True), window(pool=True), st.booleans())
def test_avgpool_output_size_equals_torch(rows, cols, ceil):
    (kh, sh, ph, _, height), (kw, sw, pw, _, width) = rows, cols
    params = {"kernel": (kh, kw), "stride": (sh, sw), "pad": (ph, pw), "ceil": ceil,
              "global": False, "count_include_pad": True}
    layer = nn.AvgPool2d((kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil)
    assert_pool_agrees("avgpool", params, layer, height, width)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 9), st.integers(1, 9))
def test_adaptive_pool_flops_are_the_window_sums(height, width, out_h, out_w):
    # Oracle: PyTorch's adaptive pool as a sum pool, fed ones, sums each window's size.
    params = Params(size=(out_h, out_w))
    kind = get_kind("adaptive_avgpool")
    out = kind.output_shape(params, [(1, height, width)])
    pooled = nn.AdaptiveAvgPool2d((out_h, out_w))(torch.ones(1, 1, height, width))
    assert tuple(pooled.shape[1:]) == out
    # window size = 1 / (average of a one-hot impulse) summed is awkward; count directly:
    import math

    windows = 0
    for i in range(out_h):
        for j in range(out_w):
            rows = math.ceil((i + 1) * height / out_h) - (i * height) // out_h
            cols = math.ceil((j + 1) * width / out_w) - (j * width) // out_w
            windows += rows * cols
    assert kind.flops(params, [(1, height, width)], out) == windows


# --- acceptance: archcalc refuses exactly the shapes PyTorch refuses ----------------------

def torch_verdict(layer, height: int, width: int, channels: int = 2, grad: bool = False):
    """torch's output shape (C, H, W), or None when the call raises: PyTorch's own
    acceptance, the oracle (with ``grad`` max pooling runs max_pool2d_with_indices)."""
    x = torch.zeros(1, channels, height, width, requires_grad=grad)
    try:
        return tuple(layer(x).shape[1:])
    except RuntimeError:
        return None


def archcalc_verdict(kind_name: str, params: dict, in_shape):
    try:
        return shape_of(kind_name, params, in_shape)
    except ShapeError:
        return None


@st.composite
def pool_axis(draw, dilated: bool):
    """One axis of a pooling window with an input size drawn around the smallest one
    PyTorch could accept, so both verdicts occur: padding up to one past half the
    kernel (PyTorch's limit), and sides from below the ceil-mode threshold
    (size + 2*pad + stride - 1 >= extent) to well above the floor-mode one."""
    kernel = draw(st.integers(1, 7))
    dilation = draw(st.integers(1, 3)) if dilated else 1
    extent = dilation * (kernel - 1) + 1
    stride = draw(st.integers(1, 4))
    pad = draw(st.integers(0, kernel // 2 + 1))
    lowest = extent - 2 * pad - (stride - 1)
    size = draw(st.integers(max(1, lowest - 3), max(1, lowest) + 12))
    return kernel, stride, pad, dilation, size


@settings(max_examples=400, deadline=None)
@given(pool_axis(dilated=True), pool_axis(dilated=True), st.booleans(), st.booleans())
def test_maxpool_accepts_exactly_what_torch_accepts(rows, cols, ceil, grad):
    (kh, sh, ph, dh, height), (kw, sw, pw, dw, width) = rows, cols
    params = {"kernel": (kh, kw), "stride": (sh, sw), "pad": (ph, pw), "dilation": (dh, dw),
              "ceil": ceil, "global": False}
    try:
        layer = nn.MaxPool2d((kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode=ceil)
    except (RuntimeError, ValueError):
        layer = None
    theirs = torch_verdict(layer, height, width, grad=grad) if layer else None
    assert archcalc_verdict("maxpool", params, (2, height, width)) == theirs


@settings(max_examples=400, deadline=None)
@given(pool_axis(dilated=False), pool_axis(dilated=False), st.booleans(), st.booleans())
def test_avgpool_accepts_exactly_what_torch_accepts(rows, cols, ceil, include_pad):
    (kh, sh, ph, _, height), (kw, sw, pw, _, width) = rows, cols
    params = {"kernel": (kh, kw), "stride": (sh, sw), "pad": (ph, pw), "ceil": ceil,
              "global": False, "count_include_pad": include_pad}
    layer = nn.AvgPool2d((kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil,
                         count_include_pad=include_pad)
    theirs = torch_verdict(layer, height, width)
    assert archcalc_verdict("avgpool", params, (2, height, width)) == theirs


@st.composite
def conv_axis(draw):
    """A conv axis with the input drawn around the smallest PyTorch accepts
    (size + 2*pad >= extent; a conv has no ceil mode and no limit on padding)."""
    kernel = draw(st.integers(1, 7))
    dilation = draw(st.integers(1, 3))
    extent = dilation * (kernel - 1) + 1
    stride = draw(st.integers(1, 4))
    pad = draw(st.integers(0, 4))
    lowest = extent - 2 * pad
    size = draw(st.integers(max(1, lowest - 3), max(1, lowest) + 12))
    return kernel, stride, pad, dilation, size


@settings(max_examples=300, deadline=None)
@given(conv_axis(), conv_axis(), st.integers(1, 3))
def test_conv_accepts_exactly_what_torch_accepts(rows, cols, groups):
    (kh, sh, ph, dh, height), (kw, sw, pw, dw, width) = rows, cols
    channels = 2 * groups
    params = conv_params(groups, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    layer = nn.Conv2d(channels, groups, (kh, kw), (sh, sw), (ph, pw), (dh, dw), groups)
    theirs = torch_verdict(layer, height, width, channels)
    assert archcalc_verdict("conv", params, (channels, height, width)) == theirs


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 12), st.integers(1, 12))
def test_adaptive_avgpool_accepts_exactly_what_torch_accepts(height, width, out_h, out_w):
    # PyTorch takes any non-empty input, also smaller than the output (windows repeat)
    layer = nn.AdaptiveAvgPool2d((out_h, out_w))
    theirs = torch_verdict(layer, height, width)
    assert archcalc_verdict("adaptive_avgpool", {"size": (out_h, out_w)}, (2, height, width)) \
        == theirs


@pytest.mark.parametrize("kind_name", ["maxpool", "avgpool"])
def test_ceil_mode_window_may_hang_over_the_end(kind_name):
    # By hand: 3x3/2 ceil on 2 pixels: ceil((2 - 3)/2) + 1 = 1 window, starting at 0
    # inside the input, its third column past the end; floor mode has none.
    params = {"kernel": (3, 3), "stride": (2, 2), "pad": (0, 0), "global": False,
              "count_include_pad": True, "dilation": (1, 1)}
    assert shape_of(kind_name, {**params, "ceil": True}, (1, 2, 2)) == (1, 1, 1)
    with pytest.raises(ShapeError, match="ceil-mode overhang 1"):
        shape_of(kind_name, {**params, "ceil": True}, (1, 1, 1))
    with pytest.raises(ShapeError):
        shape_of(kind_name, {**params, "ceil": False}, (1, 2, 2))
