"""PyTorch's own measurements: forward-hook output shapes and FlopCounterMode."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def output_shapes(model, paths, example) -> dict:
    """{path: per-sample output shape} recorded by forward hooks on each path's module."""
    shapes, handles = {}, []
    for path in paths:
        module = model.get_submodule(path)

        def hook(_module, _inputs, output, path=path):
            shapes[path] = tuple(output.shape[1:])

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def flop_counter_macs(model, example) -> int:
    """FlopCounterMode's total for one forward pass, halved (it counts 2 per MAC)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(example)
    return counter.get_total_flops() // 2
