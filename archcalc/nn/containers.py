"""Containers of a built spec: a folded node's parts, and a branch's parallel paths."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn


class NamedChain(nn.Sequential):
    """A sequence of named children (conv -> bn -> act), like nn.Sequential."""

    def __init__(self, parts):
        super().__init__(OrderedDict(parts))


class ParallelPaths(nn.Module):
    """Runs every path on the same input, joins the results with ``merge`` (a merge
    kind's ``join``, layers/merge.py: a sum or a channel concatenation), then applies
    ``act`` (ResNet's final ReLU) when there is one.

    Paths are registered in spec order, so parameters appear in the same order
    as in torchvision's blocks (main path before the downsample shortcut). The
    attributes are ``path_names``, ``merge`` and ``act`` (spec/names.py keeps paths
    from taking those names).
    """

    def __init__(self, paths, merge, act: nn.Module | None):
        super().__init__()
        self.path_names = [name for name, _ in paths]
        for name, module in paths:
            self.add_module(name, module)
        self.merge = merge  # callable: list of tensors -> tensor
        self.act = act

    def forward(self, x):
        # the paths' outputs stay alive until the act has run, as the memory analysis
        # (analysis/memory.py) counts them
        outputs = [getattr(self, name)(x) for name in self.path_names]
        result = self.merge(outputs)
        return self.act(result) if self.act is not None else result
