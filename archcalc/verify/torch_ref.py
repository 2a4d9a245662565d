"""PyTorch's own measurements: forward-hook output shapes and FlopCounterMode."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def every_matmul_visible() -> Iterator[None]:
    """Attention as matmuls FlopCounterMode counts. It counts only ops it has a formula
    for, and the CPU's fused attention kernels have none: nn.MultiheadAttention's inference
    fast path (``_native_multi_head_attention``) and scaled_dot_product_attention's flash
    kernel for the CPU, so without this it misses Q K^T and the weighted sum (at inference,
    the projections too). The fast path off and SDPA's math backend run the same products
    as ``bmm`` and ``addmm``; the values agree to float rounding."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fast_path = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)


def flop_counter_macs(model, example) -> int:
    """FlopCounterMode's total for one forward pass, halved (it counts 2 per MAC), with
    attention's matmuls made visible to it (``every_matmul_visible``)."""
    counter = FlopCounterMode(display=False)
    with every_matmul_visible(), counter, torch.no_grad():
        model(example)
    return counter.get_total_flops() // 2
