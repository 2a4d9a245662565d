"""The module of the `layer_scale` kind (ConvNeXt)."""
from __future__ import annotations

import torch
from torch import nn


class LayerScaleModule(nn.Module):
    """``layer_scale * x`` with a (C, 1, 1) parameter, as torchvision's CNBlock writes it
    (the parameter is named ``layer_scale`` there too)."""

    def __init__(self, channels: int, init: float):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(channels, 1, 1) * init)

    def forward(self, x):
        return self.layer_scale * x
