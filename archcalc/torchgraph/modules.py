"""The few module classes a built spec needs beyond torch.nn's own."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def make_activation(name: str, inplace: bool = True) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=inplace)
    return _ACTIVATIONS[name]()


class NamedChain(nn.Sequential):
    """A sequence of named children (conv -> bn -> act), like nn.Sequential."""

    def __init__(self, parts):
        super().__init__(OrderedDict(parts))


class Branch(nn.Module):
    """Runs every path on the same input, then adds or concatenates the results.

    Paths are registered in spec order, so parameters appear in the same order
    as in torchvision's blocks (main path before the downsample shortcut).
    """

    def __init__(self, paths, merge: str, act: nn.Module | None):
        super().__init__()
        self.path_names = [name for name, _ in paths]
        for name, module in paths:
            self.add_module(name, module)
        self.merge = merge
        self.act = act  # the activation after the merge (ResNet's final ReLU), or None

    def forward(self, x):
        outputs = [getattr(self, name)(x) for name in self.path_names]
        if self.merge == "add":
            result = outputs[0]
            for other in outputs[1:]:
                result = result + other
        else:
            result = torch.cat(outputs, dim=1)
        return self.act(result) if self.act is not None else result
