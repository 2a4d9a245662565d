"""The modules of the token kinds (layers/tokens.py), written as torchvision's
VisionTransformer (torchvision/models/vision_transformer.py) runs them, so that values,
state-dict shapes and memory are torchvision's."""
from __future__ import annotations

import torch
from torch import nn


class TokensModule(nn.Module):
    """(N, C, H, W) -> (N, H*W, C): ``_process_input``'s reshape and permute (a view)."""

    def forward(self, x):
        batch, channels, height, width = x.shape
        return x.reshape(batch, channels, height * width).permute(0, 2, 1)


class ClassToken(nn.Module):
    """Prepends a learnable (1, 1, D) token, zero at first as torchvision's ``class_token``;
    ``torch.cat`` of the expanded token and the sequence (a new tensor)."""

    def __init__(self, dim: int):
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x):
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)


class PositionEmbedding(nn.Module):
    """Adds a learnable (1, L, D) parameter, initialised as torchvision's Encoder
    (normal, std 0.02)."""

    def __init__(self, length: int, dim: int):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, length, dim).normal_(std=0.02))

    def forward(self, x):
        return x + self.pos_embedding


class SelfAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention(D, heads, dropout, batch_first=True)`` called as
    torchvision's EncoderBlock calls it: ``attn(x, x, x, need_weights=False)[0]``. A
    subclass, not a wrapper, so the state-dict names are torchvision's (in_proj_weight,
    in_proj_bias, out_proj.weight, out_proj.bias)."""

    def forward(self, x):  # type: ignore[override]
        return super().forward(x, x, x, need_weights=False)[0]


class SelectToken(nn.Module):
    """``x[:, index]``: one token of the sequence (torchvision's ``x[:, 0]``, a view)."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x):
        return x[:, self.index]

    def extra_repr(self) -> str:
        return f"index={self.index}"
