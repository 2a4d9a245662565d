"""Hypothesis strategies for random, valid archcalc specs (needs ``hypothesis``).

Use them in your own property tests::

    from hypothesis import given
    from archcalc.testing import specs

    @given(specs())
    def test_my_tool(document):
        spec = archcalc.spec.loader.parse_spec(yaml.safe_dump(document), "random.yaml")

Every draw is valid by construction: each layer is drawn from what the
current shape allows (kernels no larger than the padded input, groups that
divide the channels, branches whose paths end in equal shapes), so nothing is
filtered away. Drawn specs use conv (with groups, dilation, folded BN and
activation), max/avg pooling with PyTorch's ceil mode, bn, relu, branches
merged by add and by concat (with identity paths), repeat with a first-copy
override, a template, and odd input sizes such as 97x131.
"""
from __future__ import annotations

from hypothesis import strategies as st

TEMPLATE = {
    "unit": {
        "args": {"out": "required", "kernel": 3},
        "body": [{"conv": {"out": "$out", "kernel": "$kernel", "pad": 0, "bn": True,
                           "act": "relu", "name": "conv"}},
                 {"relu": {"name": "act"}}],
    }
}


def _same_conv(draw, channels: int, out: int | None = None, stride: int = 1) -> dict:
    """A conv that keeps the spatial size (at stride 1): odd kernel, half padding."""
    kernel = draw(st.sampled_from([1, 3, 5]))
    return {"conv": {"out": out or channels, "kernel": kernel, "pad": kernel // 2,
                     "stride": stride, "bias": draw(st.booleans())}}


def _out_size(size, kernel, stride, pad, dilation=1, ceil=False):
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if not ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= size + pad else out


@st.composite
def _conv(draw, shape):
    channels, height, width = shape
    pad = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 2))
    smallest = min(height, width) + 2 * pad
    kernel = draw(st.integers(1, max(1, min(7, (smallest - 1) // dilation + 1))))
    stride = draw(st.integers(1, 3))
    divisors = [g for g in (1, 2, 3, 4) if channels % g == 0]
    groups = draw(st.sampled_from(divisors))
    out = groups * draw(st.integers(1, max(1, 12 // groups)))
    args = {"out": out, "kernel": kernel, "stride": stride, "pad": pad,
            "dilation": dilation, "groups": groups, "bias": draw(st.booleans()),
            "bn": draw(st.booleans()), "act": draw(st.sampled_from(["none", "relu"]))}
    new = (out, _out_size(height, kernel, stride, pad, dilation),
           _out_size(width, kernel, stride, pad, dilation))
    return {"conv": args}, new


@st.composite
def _pool(draw, shape):
    channels, height, width = shape
    op = draw(st.sampled_from(["maxpool", "avgpool"]))
    kernel = draw(st.integers(1, max(1, min(4, height, width))))
    pad = draw(st.integers(0, kernel // 2))
    stride = draw(st.integers(1, 3))
    ceil = draw(st.booleans())
    new = (channels, _out_size(height, kernel, stride, pad, 1, ceil),
           _out_size(width, kernel, stride, pad, 1, ceil))
    return {op: {"kernel": kernel, "stride": stride, "pad": pad, "ceil": ceil}}, new


@st.composite
def _add_branch(draw, shape):
    channels, height, width = shape
    stride = draw(st.integers(1, 2))
    if stride == 1 and draw(st.booleans()):
        shortcut = []  # identity
        out = channels
    else:
        out = draw(st.integers(1, 12))
        shortcut = [{"conv": {"out": out, "kernel": 1, "stride": stride, "bias": False,
                              "bn": True}}]
    main = [_same_conv(draw, channels, out, stride), _same_conv(draw, out)]
    new = (out, (height - 1) // stride + 1, (width - 1) // stride + 1)
    return {"branch": {"merge": "add", "act": "relu",
                       "paths": {"main": main, "shortcut": shortcut}}}, new


@st.composite
def _concat_branch(draw, shape):
    channels, height, width = shape
    paths, total = {}, 0
    if draw(st.booleans()):
        paths["identity"] = []
        total += channels
    for index in range(draw(st.integers(1, 3))):
        out = draw(st.integers(1, 8))
        paths[f"p{index}"] = [_same_conv(draw, channels, out)]
        total += out
    return {"branch": {"merge": "concat", "paths": paths}}, (total, height, width)


@st.composite
def _repeat(draw, shape):
    channels, height, width = shape
    count = draw(st.integers(1, 3))
    item = _same_conv(draw, channels)
    item["conv"].update(repeat=count, first={"stride": 2}, act="relu")
    return item, (channels, (height - 1) // 2 + 1, (width - 1) // 2 + 1)


@st.composite
def _template_call(draw, shape):
    channels, height, width = shape
    kernel = draw(st.integers(1, min(3, height, width)))
    out = draw(st.integers(1, 8))
    return {"unit": {"out": out, "kernel": kernel}}, \
        (out, height - kernel + 1, width - kernel + 1)


@st.composite
def specs(draw, max_layers: int = 6, head: bool | None = None, min_side: int = 8,
          max_side: int = 140):
    """A spec document (a dict ready for ``yaml.safe_dump``), valid by construction."""
    channels = draw(st.integers(1, 4))
    height = draw(st.integers(min_side, max_side))
    width = draw(st.integers(min_side, max_side))
    shape = (channels, height, width)
    layers = []
    makers = [_conv, _pool, _add_branch, _concat_branch, _repeat, _template_call]
    for _ in range(draw(st.integers(1, max_layers))):
        if min(shape[1:]) < 2:
            break
        maker = draw(st.sampled_from(makers))
        item, shape = draw(maker(shape))
        layers.append(item)
        if draw(st.integers(0, 4)) == 0:
            layers.append(draw(st.sampled_from(["bn", "relu"])))
    document = {"archcalc": 1, "name": "random", "source": "archcalc.testing.specs",
                "input": [channels, height, width], "templates": TEMPLATE, "layers": layers}
    if head if head is not None else draw(st.booleans()):
        layers += [{"avgpool": {"global": True}}, "flatten",
                   {"fc": {"out": draw(st.integers(1, 10))}}]
    return document


@st.composite
def fully_convolutional_specs(draw, max_layers: int = 5):
    """Specs of stride-1, 'same'-padded convolutions and branches only: every output
    size equals the input size, so MACs are exactly proportional to the input area."""
    channels = draw(st.integers(1, 4))
    layers = []
    shape = (channels, 0, 0)
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(["conv", "concat", "add"]))
        if kind == "conv":
            out = draw(st.integers(1, 8))
            layers.append(_same_conv(draw, shape[0], out))
            shape = (out, 0, 0)
        elif kind == "concat":
            item, shape = draw(_concat_branch(shape))
            layers.append(item)
        else:
            main = [_same_conv(draw, shape[0])]
            layers.append({"branch": {"merge": "add", "paths": {"main": main, "skip": []}}})
    return {"archcalc": 1, "name": "fully_convolutional", "input": [channels, 16, 16],
            "layers": layers}
