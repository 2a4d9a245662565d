"""`verify`: build the module, run it once and compare every node with the analysis,
then compare its values with an independent evaluation (verify/values.py)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from archcalc.verify import fvcore_ref, torch_ref, values

MAC_KINDS = ("conv", "fc")
# Rows the analysis counts as 0 activation elements by convention: views,
# identities at inference and in-place operations (README, counting conventions).
NO_NEW_TENSOR = ("flatten", "dropout", "channel_slice",  # channel_slice: x[:, start:stop]
                 "stochastic_depth",  # the identity at inference (returns its input)
                 "tokens", "select_token",  # views: reshape+permute, x[:, index]
                 "permute")  # a strided view (torchvision.ops.misc.Permute)


@dataclass(frozen=True)
class Check:
    node: str
    what: str
    expected: object
    measured: object
    status: str  # "ok", "mismatch" or "not counted" (an op the reference has no rule for)

    def as_dict(self) -> dict:
        return {"node": self.node, "what": self.what, "expected": self.expected,
                "measured": self.measured, "status": self.status}


def _check(checks, node, what, expected, measured):
    checks.append(Check(node, what, expected, measured,
                        "ok" if expected == measured else "mismatch"))


def verify_spec(spec, input_shape=None, seed: int = 0, *, compare_values: bool = True
                ) -> list[Check]:
    from archcalc.analysis.analyze import analyze
    from archcalc.torchgraph.builder import build_module

    report = analyze(spec, input_shape, check_expect=False)
    torch.manual_seed(seed)
    model = build_module(spec, input_shape).eval()
    example = torch.randn(1, *report.input)
    rows = {row.path: row for row in report.layers}
    checks: list[Check] = []

    shapes = torch_ref.output_shapes(model, list(report.calls), example)
    for path, row in rows.items():
        _check(checks, path, "output shape", list(row.output_shape), list(shapes.get(path, ())))
        measured = 1
        for dim in shapes.get(path, ()):
            measured *= dim
        in_place = row.activations == 0 and (row.kind in NO_NEW_TENSOR or _in_place(model, path))
        _check(checks, path, "activations", row.activations, 0 if in_place else measured)
        # a branch's module holds its paths too: the kind names its own part
        own = report.calls[path][0].own_modules(model.get_submodule(path))
        _check(checks, path, "params", row.params,
               sum(p.numel() for m in own for p in m.parameters()))
        _check(checks, path, "buffers", row.buffers,
               sum(b.numel() for m in own for b in m.buffers()))

    macs, unsupported = fvcore_ref.count_by_module(model, example)
    for path, row in rows.items():
        if row.kind in MAC_KINDS:
            _check(checks, path, "MACs (fvcore)", row.macs, macs.get(path, 0))
    for operator, calls in sorted(unsupported.items()):
        checks.append(Check("*", f"{operator} (x{calls})", "not counted by fvcore",
                            "not counted by fvcore", "not counted"))
    total = report.totals["macs"]
    _check(checks, "total", "MACs (FlopCounterMode / 2)", total,
           torch_ref.flop_counter_macs(model, example))
    _check(checks, "total", "params", report.totals["params"],
           sum(p.numel() for p in model.parameters()))
    _check(checks, "total", "buffers", report.totals["buffers"],
           sum(b.numel() for b in model.buffers()))
    if compare_values:  # last: it turns the model to float64 and back
        checks.extend(values.value_checks(model, report.calls, report.input, seed))
    return checks


def _in_place(model, path) -> bool:
    module = model.get_submodule(path)
    return bool(getattr(module, "inplace", False))
