"""thop's ``profile(model, inputs=(x,))`` total (ultralytics-thop 2.2.3, the maintained
THOP; the ``thop`` package on PyPI stopped at 0.1.1 in 2022).

Source: thop/profile.py (``register_hooks``, ``functional_hooks``) and
thop/vision/basic_hooks.py. thop looks each module's rule up along its class's MRO (a
subclass takes its base's rule), runs in eval mode under ``torch.no_grad()``, and adds
matmul-type calls made outside every counted module. Conv and Linear count their MACs
(no bias); a norm 2 per element, doubled with an affine (BatchNorm and LayerNorm: 4);
an average pool one add per covered input position plus one divide per output; ReLU,
ReLU6, max pools, dropout and flatten are zero-rules; modules it has no rule for
(Sigmoid, SiLU, GELU, Hardswish, LRN, ...) count nothing.
"""
from __future__ import annotations

from archcalc.analysis.conventions.rule import ToolConvention


def _macs(part) -> int:
    return part.macs


def _norm(part) -> int:
    return 4 * part.inputs  # calculate_norm (2 per element), x2 for affine


def _avg_pool(part) -> int:
    # count_avgpool / count_adap_avgpool: the windows' covered inputs + the outputs
    return part.windows + part.outputs


def _attention(part) -> int:
    # count_multihead_attention (batch 1, no bias_k, no zero attention): the four
    # projections 4*L*D^2, the two products 2*L^2*D, and calculate_softmax on heads*L
    # rows of L (exp, L - 1 adds, divide)
    length, dim = part.length, part.dim
    return (4 * length * dim * dim + 2 * length * length * dim
            + part.heads * length * (3 * length - 1))


def printed(total: int) -> str:
    """``thop.clever_format(total, "%.3f")``."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(total) >= scale:
            return f"{total / scale:.3f}{unit}"
    return f"{total:.3f}B"


CONVENTION = ToolConvention(
    name="thop", package="ultralytics-thop", tested="2.2.3", quantity="MACs",
    printed=printed,
    summary="conv and linear MACs without bias, BatchNorm and LayerNorm 4 per element, "
            "average pools 1 per input each window covers plus 1 per output, attention "
            "4LD^2 + 2L^2D + its softmax heads*L*(3L - 1); activations, max pools, LRN, "
            "adds and multiplies count 0.",
    rules={
        "Conv2d": _macs, "Linear": _macs,
        "BatchNorm2d": _norm, "BatchNorm1d": _norm,
        "LayerNorm": _norm, "LayerNorm2d": _norm,  # LayerNorm2d by its base class
        "AvgPool2d": _avg_pool, "AdaptiveAvgPool2d": _avg_pool,
        "MultiheadAttention": _attention,
        # no module rule, so its functional counter sees F.linear and both Tensor.matmul
        "ShiftedWindowAttention": _macs,
    },
    zero_ops=("ReLU", "ReLU6", "MaxPool2d", "AdaptiveMaxPool2d", "Dropout", "Flatten",
              # no rule at all: counted as nothing
              "Tanh", "Sigmoid", "Hardsigmoid", "Hardswish", "SiLU", "GELU",
              "LocalResponseNorm", "StochasticDepth", "LayerScale",
              "add", "mul", "cat", "data"),
    fails_on={
        "MultiheadAttention":
            "thop 2.2.3 raises IndexError on archcalc's built attention: its rule reads the "
            "key from the call's arguments, and archcalc's SelfAttention is called with x "
            "alone; the rule here is what thop counts for nn.MultiheadAttention called as "
            "torchvision's ViT calls it (x, x, x)",
    },
)
