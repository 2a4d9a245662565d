"""fvcore's per-module operation counts: the only module that imports fvcore.

fvcore traces the model with TorchScript and counts one "flop" per
multiply-accumulate for convolutions and matrix products, so its conv and
linear counts are MACs. Operators it has no rule for (max-pool, add, concat)
are reported by name, not counted.
"""
from __future__ import annotations

import warnings

MAC_OPERATORS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")


def count_by_module(model, example):
    """({module path: conv+linear MACs}, {operator: calls fvcore did not count})."""
    with warnings.catch_warnings():
        # importing fvcore scripts a helper with torch.jit.script, which torch 2.14 marks as
        # deprecated: a FutureWarning about fvcore's code, not the user's model
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, example)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_module = analysis.by_module_and_operator()
        unsupported = dict(analysis.unsupported_ops())
    macs = {path: sum(counts.get(op, 0) for op in MAC_OPERATORS)
            for path, counts in by_module.items()}
    return macs, unsupported
