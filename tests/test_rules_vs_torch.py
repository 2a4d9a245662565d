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


@settings(max_examples=150, deadline=None)
@given(window(pool=False), window(pool=False), st.integers(1, 3))
def test_conv_output_size_equals_torch(rows, cols, groups):
    (kh, sh, ph, dh, height), (kw, sw, pw, dw, width) = rows, cols
    channels = 2 * groups
    params = dict(out=groups, kernel=(kh, kw), stride=(sh, sw), pad=(ph, pw),
                  dilation=(dh, dw), groups=groups, bias=True, bn=False, act="none",
                  order="post")
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
