"""fvcore's ``FlopCountAnalysis(model.eval(), x).total()`` (fvcore 0.1.5.post20221221).

Source: fvcore/nn/flop_count.py ``_DEFAULT_SUPPORTED_OPS`` and nn/jit_handles.py. fvcore
traces the model with TorchScript and counts only the aten operators it has a handle
for, one "flop" per multiply-accumulate: ``_convolution``, ``linear``/``addmm``/``matmul``
and ``bmm`` their MACs (no bias), ``batch_norm`` in eval mode 2 per element with an
affine, ``layer_norm`` 5 per element with an affine, ``adaptive_avg_pool2d`` 1 per input
element. Everything else (max and average pools, activations, adds, the SE multiply,
LRN's pow and div, ``scaled_dot_product_attention``) is an "unsupported op": 0.
"""
from __future__ import annotations

from archcalc.analysis.conventions.rule import ToolConvention


def _macs(part) -> int:
    return part.macs


def _batch_norm(part) -> int:
    return 2 * part.inputs  # batchnorm_flop_jit, not training, affine


def _layer_norm(part) -> int:
    return 5 * part.inputs  # norm_flop_counter: "5 is just a rough estimate"


def _adaptive_avg(part) -> int:
    return part.inputs  # elementwise_flop_counter(1, 0)


def _attention(part) -> int:
    # gradients on, so nn.MultiheadAttention runs F.multi_head_attention_forward: the
    # q, k, v and out projections are aten::linear (4*L*D^2); the SDPA between has no
    # handle
    return 4 * part.length * part.dim * part.dim


def printed(total: int) -> str:
    return f"FlopCountAnalysis.total(): {total}"


CONVENTION = ToolConvention(
    name="fvcore", package="fvcore", tested="0.1.5.post20221221", quantity="flops (MACs)",
    printed=printed,
    summary="conv and linear MACs without bias, BatchNorm (eval) 2 and LayerNorm 5 per "
            "element, adaptive average pools 1 per input element, attention's four "
            "projections but not its scaled_dot_product_attention; max and average pools, "
            "activations, adds and multiplies count 0.",
    rules={
        "Conv2d": _macs, "Linear": _macs,
        "BatchNorm2d": _batch_norm, "BatchNorm1d": _batch_norm,
        "LayerNorm": _layer_norm, "LayerNorm2d": _layer_norm,
        "AdaptiveAvgPool2d": _adaptive_avg,
        "MultiheadAttention": _attention,
        # F.linear (qkv, proj) and two aten::matmul: every product, archcalc's MACs
        "ShiftedWindowAttention": _macs,
    },
    zero_ops=("ReLU", "ReLU6", "Tanh", "Sigmoid", "Hardsigmoid", "Hardswish", "SiLU", "GELU",
              "MaxPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "LocalResponseNorm",
              "Dropout", "Flatten", "StochasticDepth", "LayerScale",
              "add", "mul", "cat", "data"),
)
