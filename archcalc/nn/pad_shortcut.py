"""The module of the `pad_shortcut` kind: ResNet's parameter-free option-A shortcut."""
from __future__ import annotations

from torch import nn
from torch.nn import functional as F


class PadShortcutModule(nn.Module):
    """``x[:, :, ::s, ::s]`` with ``out - in`` zero channels split before and after."""

    def __init__(self, in_channels: int, out_channels: int, stride=(1, 1)):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride = tuple(stride)
        extra = out_channels - in_channels
        self.pad_before, self.pad_after = extra // 2, extra - extra // 2

    def forward(self, x):
        if self.stride != (1, 1):
            x = x[:, :, ::self.stride[0], ::self.stride[1]]
        if self.pad_before or self.pad_after:
            x = F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"
