"""The modules of the `channel_shuffle` and `channel_slice` kinds (ShuffleNet V2)."""
from __future__ import annotations

from torch import nn


class ChannelShuffleModule(nn.Module):
    """torchvision's ``shufflenetv2.channel_shuffle`` as a module, operation for operation
    (view, transpose, contiguous, view), so its memory is torchvision's: a copy, except
    for 1 or C groups, where the transposed view is already contiguous and ``contiguous``
    returns it. ``nn.ChannelShuffle`` gives the same values through another kernel."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        batch, channels, height, width = x.size()
        x = x.view(batch, self.groups, channels // self.groups, height, width)
        x = x.transpose(1, 2).contiguous()
        return x.view(batch, channels, height, width)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ChannelSliceModule(nn.Module):
    """``x[:, start:stop]``: a view of channels [start, stop) (ShuffleNet's ``chunk``)."""

    def __init__(self, start: int, stop: int):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x):
        return x[:, self.start:self.stop]

    def extra_repr(self) -> str:
        return f"start={self.start}, stop={self.stop}"
