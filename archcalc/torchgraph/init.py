"""torchvision-style weight initialisation for spec-built modules.

As torchvision's ResNet/VGG/DenseNet do: Kaiming normal (fan_out, ReLU) for
convolutions with zero bias, BN weight 1 and bias 0, and linear layers drawn
from N(0, 0.01) with zero bias (VGG's rule; ResNet and DenseNet keep PyTorch's
default linear init, which only changes the random draw, not the scale much).
"""
from __future__ import annotations

from torch import nn


def init_weights(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
