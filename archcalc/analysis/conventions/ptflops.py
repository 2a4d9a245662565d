"""ptflops' ``get_model_complexity_info(model, (C, H, W))`` MACs (ptflops 0.7.5, its
default ``pytorch`` backend).

Source: ptflops/pytorch_ops.py (``MODULES_MAPPING``, ``FUNCTIONAL_MAPPING``,
``TENSOR_OPS_MAPPING``) and pytorch_engine.py. ptflops hooks modules whose *exact* type
is in its table (a subclass is not counted) and, during the pass, also replaces
``F.relu``, ``F.gelu``, ``F.silu``, the ``F.*pool*`` functions, ``torch.add``/
``Tensor.add``, ``Tensor.mul`` and the matmuls with counting wrappers. A module whose own
``forward`` calls one of those wrappers is counted twice: ``nn.ReLU`` and ``nn.GELU``
(hook + ``F.relu``/``F.gelu``), every pool (hook + ``F.*_pool2d``). The ``+`` and ``*``
operators (``Tensor.__add__``, ``__mul__``) are not wrapped. The model runs in eval
mode with gradients on.
"""
from __future__ import annotations

from archcalc.analysis.conventions.rule import ToolConvention


def _conv(part) -> int:
    # conv_flops_counter_hook: MACs + one per output element for a bias
    return part.macs + (part.outputs if part.biases else 0)


def _linear(part) -> int:
    # linear_flops_counter_hook: (in*out + out) per row
    return (part.weights + part.biases) * part.positions


def _outputs(part) -> int:
    return part.outputs


def _twice_outputs(part) -> int:
    return 2 * part.outputs  # relu_flops_counter_hook + the F.relu / F.gelu wrapper


def _twice_inputs(part) -> int:
    return 2 * part.inputs  # pool_flops_counter_hook + the F.*pool* wrapper


def _batch_norm(part) -> int:
    return 2 * part.inputs  # bn_flops_counter_hook: elements, x2 with `affine`


def _layer_norm(part) -> int:
    # the same hook; nn.LayerNorm's flag is `elementwise_affine`, not `affine`: x1
    return part.inputs


def _lrn(part) -> int:
    # F.local_response_norm: input.mul(input), avg_pool3d over the padded squares,
    # div.mul(alpha).add(k): the wrapped Tensor.mul, F.avg_pool3d, Tensor.mul, Tensor.add
    return 3 * part.inputs + part.windows


def _window_attention(part) -> int:
    # torchvision's shifted_window_attention: F.linear is not wrapped, so qkv and proj
    # count 0; the wrapped Tensor.matmul counts q @ k^T and attn @ v (L*L*C per window
    # each), the wrapped F.softmax one per score (heads*L*L per window)
    length = part.length
    return part.positions * (2 * length * length * part.dim + part.heads * length * length)


def printed(total: int) -> str:
    """``flops_to_string`` with its defaults (units None, precision 2)."""
    for unit, scale in (("GMac", 10**9), ("MMac", 10**6), ("KMac", 10**3)):
        if total // scale > 0:
            return f"Computational complexity: {round(total / float(scale), 2)} {unit}"
    return f"Computational complexity: {total} Mac"


CONVENTION = ToolConvention(
    name="ptflops", package="ptflops", tested="0.7.5", quantity="MACs",
    printed=printed,
    summary="conv and linear MACs plus 1 per output for a bias (a Linear's per row), "
            "BatchNorm 2 and LayerNorm 1 per element, ReLU and GELU 2 per element (its hook "
            "and its patched F.relu/F.gelu), ReLU6 and SiLU 1, every pool 2 per input "
            "element, LRN 3 per element plus its padded map; Sigmoid, Hardswish, "
            "Hardsigmoid, LayerNorm2d, adds, multiplies and attention count 0.",
    rules={
        "Conv2d": _conv, "Linear": _linear,
        "ReLU": _twice_outputs, "GELU": _twice_outputs,
        "ReLU6": _outputs,  # hook only: nn.ReLU6 calls F.hardtanh, not wrapped
        "SiLU": _outputs,  # no hook: the F.silu wrapper only
        "MaxPool2d": _twice_inputs, "AdaptiveMaxPool2d": _twice_inputs,
        "AvgPool2d": _twice_inputs, "AdaptiveAvgPool2d": _twice_inputs,
        "BatchNorm2d": _batch_norm, "BatchNorm1d": _batch_norm,
        "LayerNorm": _layer_norm,
        "LocalResponseNorm": _lrn,
        "ShiftedWindowAttention": _window_attention,
    },
    # not in its tables, and no wrapped function inside: Sigmoid, Tanh, Hardswish and
    # Hardsigmoid (torch.sigmoid, torch.tanh, F.hardswish, F.hardsigmoid); torchvision's
    # LayerNorm2d and archcalc's SelfAttention (subclasses of LayerNorm and
    # MultiheadAttention: exact types only; F.layer_norm, F.linear and
    # scaled_dot_product_attention are not wrapped); `+`, `*`, cat, views
    zero_ops=("Tanh", "Sigmoid", "Hardsigmoid", "Hardswish", "LayerNorm2d",
              "MultiheadAttention", "Dropout", "Flatten", "StochasticDepth", "LayerScale",
              "add", "mul", "cat", "data"),
)
