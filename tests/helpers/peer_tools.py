"""Run each peer counting tool on a built module the way its README says to, and return
the exact total it prints (the integer behind its rounded text).

The protocol is the one archcalc's ``--convention`` reproduces (README "Counting
conventions"): batch 1, the module in eval mode, one forward pass.
- torchinfo: ``summary(model, input_size=(1, C, H, W)).total_mult_adds``; torchinfo sets
  eval mode and ``torch.no_grad()`` itself.
- fvcore: ``FlopCountAnalysis(model.eval(), x).total()`` (a TorchScript trace).
- ptflops: ``get_model_complexity_info(model, (C, H, W), as_strings=False)[0]`` with its
  default ``pytorch`` backend (it calls ``eval()``, gradients stay on).
- thop: ``thop.profile(model, inputs=(x,))[0]`` (eval and ``no_grad`` inside).
- FlopCounterMode: ``get_total_flops()`` of one ``model.eval()`` pass under
  ``torch.no_grad()``: inference, so nn.MultiheadAttention takes its fused fast path.
"""
from __future__ import annotations

import contextlib
import io
import warnings


def _example(shape, device):
    import torch

    return torch.zeros((1, *shape), device=device)


def torchinfo_total(model, shape, device="cpu") -> int:
    from torchinfo import summary
    from torchinfo.torchinfo import clear_cached_forward_pass

    stats = summary(model, input_size=(1, *shape), verbose=0, device=device)
    # torchinfo keeps every summary's layers (and so the model) in a module-level cache
    # keyed by class name; dropped here so that a test's models are freed
    clear_cached_forward_pass()
    return int(stats.total_mult_adds)


def fvcore_total(model, shape, device="cpu") -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(model.eval(), _example(shape, device))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return int(analysis.total())


def ptflops_total(model, shape, device="cpu") -> int:
    from ptflops import get_model_complexity_info

    with contextlib.redirect_stdout(io.StringIO()):
        macs, _ = get_model_complexity_info(model, tuple(shape), as_strings=False,
                                            print_per_layer_stat=False)
    if macs is None:
        raise RuntimeError("ptflops failed (it prints the exception and returns None)")
    return int(macs)


def thop_total(model, shape, device="cpu") -> int:
    import thop

    with contextlib.redirect_stdout(io.StringIO()):
        ops, _ = thop.profile(model, inputs=(_example(shape, device),), verbose=False)
    return int(ops)


def flopcountermode_total(model, shape, device="cpu") -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    model.eval()
    with counter, torch.no_grad():
        model(_example(shape, device))
    return int(counter.get_total_flops())


TOOLS = {
    "torchinfo": torchinfo_total,
    "fvcore": fvcore_total,
    "ptflops": ptflops_total,
    "thop": thop_total,
    "flopcountermode": flopcountermode_total,
}
