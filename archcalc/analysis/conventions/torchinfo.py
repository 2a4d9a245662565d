"""torchinfo's "Total mult-adds" (torchinfo 1.8.0, ``summary(model, input_size)``).

Source: torchinfo/layer_info.py ``LayerInfo.calculate_macs`` and model_statistics.py.
torchinfo runs the model in eval mode under ``torch.no_grad()`` and sums, over *leaf*
modules only (modules without children), one figure per parameter named ``weight`` or
``bias``: in a module whose class name contains "Conv", the parameter's elements times the
output's batch and spatial size (N*H*W); in any other module, its elements times the
batch. So a conv counts its bias once per output pixel, a Linear counts its weights and
bias once per image whatever the number of rows (tokens) it runs on, a norm counts its
2*C affine parameters, and modules without such parameters (activations, pools, dropout,
LRN, adds) count 0.
"""
from __future__ import annotations

from enum import Enum

from archcalc.analysis.conventions.rule import ToolConvention


def _per_pixel(part) -> int:
    return (part.weights + part.biases) * part.positions


def _per_image(part) -> int:
    return part.weights + part.biases


def _zero(part) -> int:
    return 0


class Units(str, Enum):
    """torchinfo.enums.Units (its values): torchinfo writes the member with an f-string,
    which gives "G" up to Python 3.10 and "Units.GIGABYTES" from 3.11 (mixed-in enums
    format as str() there), so torchinfo 1.8.0 prints "Total mult-adds
    (Units.GIGABYTES): 4.09" on 3.11. Formatting the same kind of member here prints
    what torchinfo prints on the running Python."""

    MEGABYTES = "M"
    GIGABYTES = "G"
    TERABYTES = "T"


def printed(total: int) -> str:
    """``ModelStatistics.format_output_num(total, Units.AUTO)`` after "Total mult-adds":
    M below 1e9, G below 1e12, else T; two decimals unless the quotient is whole."""
    unit, scale = next(((unit, scale) for unit, scale in
                        ((Units.TERABYTES, 1e12), (Units.GIGABYTES, 1e9)) if total >= scale),
                       (Units.MEGABYTES, 1e6))
    value = total / scale
    text = f"{int(value):,d}" if value.is_integer() else f"{value:,.2f}"
    return f"Total mult-adds ({unit}): {text}"


CONVENTION = ToolConvention(
    name="torchinfo", package="torchinfo", tested="1.8.0", quantity="Mult-Adds",
    printed=printed,
    summary="leaf modules only; each parameter named weight or bias counts its elements "
            "once per output pixel in a Conv and once per image elsewhere, so a conv adds "
            "its bias per pixel, a Linear ignores how many rows (tokens) it runs on, a norm "
            "adds its 2C; activations, pools, adds and attention count 0.",
    rules={
        "Conv2d": _per_pixel,  # class name contains "Conv": (weight + bias) * N*H*W
        "Linear": _per_image,  # (weight + bias) * N, whatever the rows
        "BatchNorm2d": _per_image, "BatchNorm1d": _per_image,
        "LayerNorm": _per_image, "LayerNorm2d": _per_image,
        # not a leaf (it holds out_proj, which its forward calls functionally): nothing
        "MultiheadAttention": _zero,
        # not a leaf either (qkv and proj are children its forward never calls)
        "ShiftedWindowAttention": _zero,
        # parameters not named weight or bias (layer_scale, class_token, pos_embedding)
        "LayerScale": _zero,
    },
    zero_ops=("ReLU", "ReLU6", "Tanh", "Sigmoid", "Hardsigmoid", "Hardswish", "SiLU", "GELU",
              "MaxPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
              "LocalResponseNorm", "Dropout", "Flatten", "StochasticDepth",
              "add", "mul", "cat", "data"),
)
