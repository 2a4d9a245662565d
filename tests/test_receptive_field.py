"""Receptive fields: the lecture's arithmetic on small specs, and every zoo spec against
the input-gradient support of its built module.

How the built module measures a field (the independent oracle):
the field of an output unit is the set of input pixels that can change it. Make
every partial derivative along every connection strictly positive and the input
gradient of that unit is then a sum, over all paths from a pixel to the unit, of
products of positive numbers: nonzero exactly on the pixels connected to it, with
no cancellation possible. So the module is built in eval mode in double precision
with every conv/linear weight and bias a positive constant, BatchNorm at unit
statistics (a positive scale), an all-ones input (every ReLU sees a positive input
and passes its gradient; tanh and sigmoid have positive slopes everywhere). Two
kinds of layer would route or mix the gradient in ways unrelated to connectivity
and are replaced by layers with the same connectivity and positive derivatives:
max pooling sends the gradient only to the maximum of each window, so it becomes
average pooling over the same window (kernel, stride, padding, ceil mode), which
depends on every element of the window as max pooling does; LRN mixes channels
with negative cross-derivatives but never spatial positions, so it becomes the
identity. The unit measured is the sum over channels at the centre of a row's
output map (all channels of a position share one field), captured by a forward
hook; the forward stops at the deepest chosen row. The bounding box of the
nonzero input gradient is compared with the row's field (size, stride, offset):
its first pixel is offset + i*stride - size/2 for unit i. Rows are chosen where the
central unit's field lies inside the input, so no clipping is involved.
"""
from __future__ import annotations

from fractions import Fraction

import pytest

from archcalc import load_spec
from archcalc.analysis.analyze import analyze
from archcalc.analysis.limits import smallest_square_side
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import parse_spec

# --- the lecture's arithmetic on hand-written specs ----------------------------------------


def spec_of(layers: str, channels: int = 8, side: int = 32):
    return parse_spec(f"archcalc: 1\nname: stack\ninput: [{channels}, {side}, {side}]\n"
                      f"layers:\n{layers}", "stack.yaml")


def fields(spec):
    return [(row.path, row.rf.size[0], row.rf.stride[0]) for row in analyze(spec).rows]


@pytest.mark.parametrize("depth,size", [(1, 3), (2, 5), (3, 7), (4, 9)])
def test_stacked_3x3_convs_see_2n_plus_1(depth, size):
    """Two 3x3 stride-1 convs see 5x5, three see 7x7 (the VGG argument): each adds 2."""
    spec = spec_of(f"  - conv: {{out: 8, kernel: 3, pad: 1, repeat: {depth}, name: c}}\n")
    last = analyze(spec).rows[-1]
    assert (last.rf.size, last.rf.stride) == ((size, size), (1, 1))
    assert last.rf.offset == (Fraction(1, 2), Fraction(1, 2))  # 'same' padding keeps centres


def test_three_3x3_convs_see_what_one_7x7_sees_with_fewer_weights():
    """The lecture's VGG argument: the same 7x7 field, 3*(9*C*C) = 27C^2 weights
    against 49C^2 (C = 64 channels, no biases)."""
    stack = spec_of("  - conv: {out: 64, kernel: 3, pad: 1, bias: false, repeat: 3, name: c}\n",
                    channels=64)
    single = spec_of("  - conv: {out: 64, kernel: 7, pad: 3, bias: false}\n", channels=64)
    a, b = analyze(stack), analyze(single)
    assert a.rows[-1].rf.size == b.rows[-1].rf.size == (7, 7)
    assert (a.totals["params"], b.totals["params"]) == (27 * 64 * 64, 49 * 64 * 64)


def test_pooling_multiplies_the_step():
    """r += (k - 1) * j; j *= s: conv3 (3, j1), pool2/2 (4, j2), conv3 (4 + 2*2 = 8, j2)."""
    spec = spec_of("  - conv: {out: 8, kernel: 3, pad: 1}\n"
                   "  - maxpool: {kernel: 2, stride: 2}\n"
                   "  - conv: {out: 8, kernel: 3, pad: 1}\n"
                   "  - conv: {out: 8, kernel: 3, pad: 2, dilation: 2}\n")
    assert [f[1:] for f in fields(spec)] == [(1, 1), (3, 1), (4, 2), (8, 2), (16, 2)]


def test_vgg16_fields_by_hand():
    """VGG16: 3x3 convs add 2*j, 2x2/2 pools add j and double j; pool5 sees 212 pixels."""
    size, jump, expected = 1, 1, {}
    for stage, convs in enumerate((2, 2, 3, 3, 3), start=1):
        for index in range(convs):
            size += 2 * jump
            expected[f"conv{stage}.{index}"] = (size, jump)
        size, jump = size + jump, jump * 2
        expected[f"pool{stage}"] = (size, jump)
    got = {path: (size, stride) for path, size, stride in fields(load_spec("vgg16"))}
    assert {path: got[path] for path in expected} == expected
    assert expected["pool5"] == (212, 32)


# --- the built module's input-gradient support -------------------------------------------

torch = pytest.importorskip("torch")
FIELD_KINDS = ("conv", "maxpool", "avgpool", "add", "concat")
ROWS_PER_SPEC = 4


def small_side(spec) -> int:
    """A small input the spec accepts (cheap to run), at most the spec's own size."""
    own = spec.input[1]
    return min(own, max(64, smallest_square_side(spec, spec.input[0], limit=own) or own))


def inside_rows(report):
    """Rows whose central unit's field lies inside the input, spread along the network."""
    height, width = report.input[1:]
    chosen = []
    for row in report.rows:
        if row.kind not in FIELD_KINDS or row.rf is None or len(row.output_shape) != 3:
            continue
        box = expected_box(row)
        if box[0] >= 0 and box[2] >= 0 and box[1] < height and box[3] < width:
            chosen.append(row)
    if len(chosen) <= ROWS_PER_SPEC:
        return chosen
    step = (len(chosen) - 1) / (ROWS_PER_SPEC - 1)
    return [chosen[round(i * step)] for i in range(ROWS_PER_SPEC)]


def expected_box(row):
    """(first row, last row, first col, last col) of the central unit's field."""
    box = []
    for axis in (0, 1):
        unit = row.output_shape[1 + axis] // 2
        centre = row.rf.offset[axis] + unit * row.rf.stride[axis]
        first = Fraction(centre) - Fraction(row.rf.size[axis], 2)  # offsets: x or x.5 floats
        assert first.denominator == 1, f"{row.path}: field edge {first} between pixels"
        box += [int(first), int(first) + row.rf.size[axis] - 1]
    return box[0], box[1], box[2], box[3]


def positive_module(spec, shape):
    """The built module with connectivity-preserving, strictly positive derivatives."""
    from torch import nn

    from archcalc.torchgraph.builder import build_module

    model = build_module(spec, shape, init=False).double().eval()
    for name, module in list(model.named_modules()):
        replacement = None
        if isinstance(module, nn.MaxPool2d):
            assert module.dilation in (1, (1, 1)), "a dilated max pool has no avg-pool twin"
            replacement = nn.AvgPool2d(module.kernel_size, module.stride, module.padding,
                                       ceil_mode=module.ceil_mode)
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            replacement = nn.AdaptiveAvgPool2d(module.output_size)
        elif isinstance(module, nn.LocalResponseNorm):
            replacement = nn.Identity()
        elif isinstance(module, nn.ReLU6):
            replacement = nn.ReLU()  # the same support; ReLU6 saturates (zero derivative) above 6
        if replacement is not None:
            parent, _, local = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, local, replacement)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.fill_(0.1)
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_parameters()  # weight 1, bias 0, mean 0, variance 1
    return model


class _Stop(Exception):
    """Raised by the deepest hook: nothing after the chosen rows needs computing."""


def measured_boxes(spec, shape, rows):
    model = positive_module(spec, shape)
    outputs, handles = {}, []
    for row in rows:
        def keep(module, args, output, path=row.path, last=row is rows[-1]):
            outputs[path] = output
            if last:
                raise _Stop
        handles.append(model.get_submodule(row.path).register_forward_hook(keep))
    image = torch.ones((1,) + tuple(shape), dtype=torch.float64, requires_grad=True)
    with pytest.raises(_Stop):
        model(image)
    for handle in handles:
        handle.remove()
    boxes = {}
    for row in rows:
        output = outputs[row.path]
        assert tuple(output.shape[1:]) == row.output_shape, "the swap changed a shape"
        unit = output[0, :, output.shape[2] // 2, output.shape[3] // 2].sum()
        (grad,) = torch.autograd.grad(unit, image, retain_graph=True)
        support = grad[0].abs().sum(0).nonzero()
        boxes[row.path] = (int(support[:, 0].min()), int(support[:, 0].max()),
                           int(support[:, 1].min()), int(support[:, 1].max()))
    return boxes


@pytest.mark.parametrize("name", sorted(bundled()))
def test_fields_equal_the_gradient_support_of_the_built_module(name):
    spec = load_spec(name)
    side = small_side(spec)
    shape = (spec.input[0], side, side)
    rows = inside_rows(analyze(spec, shape, check_expect=False))
    assert rows, f"no row of {name} has a field inside {shape}"
    measured = measured_boxes(spec, shape, rows)
    assert {row.path: expected_box(row) for row in rows} == measured
