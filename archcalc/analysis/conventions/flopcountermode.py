"""PyTorch's ``torch.utils.flop_counter.FlopCounterMode`` total (torch 2.14), for one
inference pass on the CPU: ``model.eval()`` under ``torch.no_grad()``.

Source: torch/utils/flop_counter.py ``flop_registry``. It counts, at the dispatcher,
only operators with a formula, 2 FLOPs per multiply-accumulate: convolutions, mm,
addmm, bmm, baddbmm (no bias), and the CUDA attention kernels. Norms, pools,
activations and adds are 0. At inference ``nn.MultiheadAttention`` with an even head
count takes its fused fast path (``_native_multi_head_attention``), which has no
formula: the whole attention counts 0. With an odd count it runs the composite path:
the projections are matmuls (2*4*L*D^2), the CPU's SDPA kernel has no formula.
"""
from __future__ import annotations

from archcalc.analysis.conventions.rule import ToolConvention


def _twice_macs(part) -> int:
    return 2 * part.macs


def _attention(part) -> int:
    if part.heads % 2 == 0:
        return 0
    return 2 * 4 * part.length * part.dim * part.dim


_SUFFIXES = ["", "K", "M", "B", "T"]


def printed(total: int) -> str:
    """``display=True``'s Global row: ``convert_num_with_suffix(total, get_suffix_str)``."""
    index = max(0, min(len(_SUFFIXES) - 1, (len(str(total)) - 2) // 3))
    return f"Global FLOP: {total / 1000 ** index:.3f}{_SUFFIXES[index]}"


CONVENTION = ToolConvention(
    name="flopcountermode", package="torch", tested="2.14.1", quantity="FLOPs",
    printed=printed,
    summary="2 FLOPs per conv and linear MAC without bias, nothing else; attention 0 at "
            "inference (its fused fast path has no formula; with an odd head count, its "
            "projections).",
    rules={"Conv2d": _twice_macs, "Linear": _twice_macs, "MultiheadAttention": _attention,
           # addmm for qkv and proj, bmm for both products: all of them
           "ShiftedWindowAttention": _twice_macs},
    zero_ops=("ReLU", "ReLU6", "Tanh", "Sigmoid", "Hardsigmoid", "Hardswish", "SiLU", "GELU",
              "MaxPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
              "BatchNorm2d", "BatchNorm1d", "LayerNorm", "LayerNorm2d", "LocalResponseNorm",
              "Dropout", "Flatten", "StochasticDepth", "LayerScale",
              "add", "mul", "cat", "data"),
)
