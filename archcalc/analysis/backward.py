"""The FLOPs of a training step, per row: forward, and backward split into the gradient of
the inputs, of the weights (both matmul-type, 2 FLOPs per MAC, what PyTorch's
FlopCounterMode counts) and elementwise work (activations, norms, pools, bias sums), each
kind's ``backward`` rule (layers/registry.py).

Which gradients a row computes follows autograd: a tensor needs a gradient when a node
with trainable weights lies upstream of it. The images need none, so the first weighted
layer computes only its weights' gradient (and a pool on the images no backward at all);
with ``frozen_until`` every row up to that node keeps its weights fixed, so below the
lowest trainable layer nothing computes an input gradient.

The walk reads the graph from the rows' paths: a merge row (``add``, ``concat``) at path
P comes right after the rows of its branch, whose paths start with ``P.`` and name the
branch path next (``P.main.conv1``, ``P.shortcut``), as the built module's paths do.
Where a branch's paths meet at its input, autograd adds their gradients of that input:
(paths - 1) additions per element, counted on the merge's row.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from archcalc.analysis.report import Report, Row
from archcalc.errors import ArchcalcError
from archcalc.layers.arith import product
from archcalc.layers.registry import did_you_mean


@dataclass(frozen=True)
class StepRecord:
    """One row's FLOPs in a training step, per image (times the batch for a step).

    ``backward_input_flops`` and ``backward_weight_flops`` are 2 per MAC of the
    gradients of the inputs (and of tensors inside the node) and of the weights;
    ``backward_elementwise_flops`` is the rest of the backward pass by the kind's rule.
    """

    path: str
    kind: str
    forward_flops: Any
    forward_matmul_flops: Any  # 2 per forward MAC: the part a FlopCounterMode sees
    backward_input_flops: Any
    backward_weight_flops: Any
    backward_elementwise_flops: Any
    input_grad: bool  # the row's input needs a gradient
    weight_grad: bool  # the row's weights train

    @property
    def backward_flops(self):
        return (self.backward_input_flops + self.backward_weight_flops
                + self.backward_elementwise_flops)

    @property
    def step_flops(self):
        """Forward and backward."""
        return self.forward_flops + self.backward_flops

    @property
    def matmul_step_flops(self):
        """Forward and backward matmul-type FLOPs: what FlopCounterMode counts."""
        return self.forward_matmul_flops + self.backward_input_flops + \
            self.backward_weight_flops

    def as_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "forward_flops": self.forward_flops,
                "backward_input_flops": self.backward_input_flops,
                "backward_weight_flops": self.backward_weight_flops,
                "backward_elementwise_flops": self.backward_elementwise_flops,
                "backward_flops": self.backward_flops, "step_flops": self.step_flops,
                "input_grad": self.input_grad, "weight_grad": self.weight_grad}


STEP_KEYS = ("forward_flops", "backward_input_flops", "backward_weight_flops",
             "backward_elementwise_flops", "backward_flops", "step_flops")


@dataclass(frozen=True)
class _Branch:
    merge: Row
    paths: list  # per non-empty branch path, its units
    empty_paths: int


def _units(rows: list[Row], calls) -> list:
    """The rows of one sequence as units: a layer's row, or a branch (``_Branch``)."""
    units: list = []
    index = len(rows) - 1
    while index >= 0:
        row = rows[index]
        call = calls[row.path]
        if call.kind.arity != "many":
            units.append(row)
            index -= 1
            continue
        prefix, start = row.path + ".", index
        while start > 0 and rows[start - 1].path.startswith(prefix):
            start -= 1
        groups: dict[str, list[Row]] = {}
        for inner in rows[start:index]:
            groups.setdefault(inner.path[len(prefix):].split(".", 1)[0], []).append(inner)
        paths = [_units(group, calls) for group in groups.values()]
        units.append(_Branch(row, paths, len(call.inputs) - len(paths)))
        index = start - 1
    return units[::-1]


def frozen_rows(report: Report, frozen_until: str | None) -> set[str]:
    """Paths of the rows whose weights stay fixed: every row up to and including
    ``frozen_until`` (a row's path, or a block's: its last row) in the table's order."""
    if frozen_until is None:
        return set()
    paths = [row.path for row in report.layers]
    last = max((index for index, path in enumerate(paths)
                if path == frozen_until or path.startswith(frozen_until + ".")), default=None)
    if last is None:
        blocks = {".".join(path.split(".")[:depth]) for path in paths
                  for depth in range(1, path.count(".") + 2)}
        raise ArchcalcError(f"no node {frozen_until!r} to freeze up to in {report.name}",
                            hint=did_you_mean(frozen_until, blocks)
                            or "give a row's path or a block's, as `table` lists them")
    return set(paths[:last + 1])


class _Walk:
    def __init__(self, report: Report, frozen: set[str]):
        self.calls, self.frozen = report.calls, frozen
        self.records: dict[str, StepRecord] = {}

    def trains(self, row: Row) -> bool:
        return row.path not in self.frozen and bool(row.params != 0)

    def sequence(self, units: list, needs_grad: bool, shape) -> tuple[bool, Any]:
        """Record each unit; the gradient need and shape of the sequence's output."""
        for unit in units:
            if isinstance(unit, _Branch):
                needs_grad, shape = self.branch(unit, needs_grad, shape)
            else:
                self.record(unit, needs_grad)
                needs_grad, shape = needs_grad or self.trains(unit), unit.output_shape
        return needs_grad, shape

    def branch(self, unit: _Branch, needs_grad: bool, shape) -> tuple[bool, Any]:
        outputs = [self.sequence(path, needs_grad, shape)[0] for path in unit.paths]
        merged_needs_grad = any(outputs) or (needs_grad and unit.empty_paths > 0)
        paths = len(unit.paths) + unit.empty_paths
        # the paths' gradients of the branch's input, added where they meet
        fork = (paths - 1) * product(shape) if needs_grad else 0
        self.record(unit.merge, merged_needs_grad, fork)
        return merged_needs_grad or self.trains(unit.merge), unit.merge.output_shape

    def record(self, row: Row, input_grad: bool, extra_elementwise=0) -> None:
        kind, params, ins, out = self.calls[row.path]
        weight_grad = self.trains(row)
        rule = kind.backward(params, ins, out, input_grad, weight_grad)
        self.records[row.path] = StepRecord(
            row.path, row.kind, row.flops, 2 * row.macs, 2 * rule.input_macs,
            2 * rule.weight_macs, rule.elementwise_flops + extra_elementwise,
            input_grad, weight_grad)


def step_flops(report: Report, frozen_until: str | None = None) -> list[StepRecord]:
    """One record per row of ``report`` (unfolded; the input row's all zero), per image:
    forward FLOPs and the backward's input-gradient, weight-gradient and elementwise
    FLOPs. ``frozen_until``: a node's path; it and every row before it do not train."""
    walk = _Walk(report, frozen_rows(report, frozen_until))
    walk.sequence(_units(list(report.layers), report.calls), False, report.input)
    first = report.rows[0]
    records = [StepRecord(first.path, first.kind, 0, 0, 0, 0, 0, False, False)]
    return records + [walk.records[row.path] for row in report.layers]


def step_totals(records: list[StepRecord], batch=1) -> dict:
    """Sums of the records' figures (``STEP_KEYS``) for ``batch`` images."""
    return {key: sum(getattr(record, key) for record in records) * batch
            for key in STEP_KEYS}


def folded_records(records: list[StepRecord], depth: int | None) -> list[StepRecord]:
    """Records merged as ``Report.folded(depth)`` merges rows: the same order and paths."""
    if not depth:
        return records
    result: list[StepRecord] = [records[0]]
    index: dict[str, int] = {}
    for record in records[1:]:
        key = ".".join(record.path.split(".")[:depth])
        if key not in index:
            index[key] = len(result)
            result.append(replace(record, path=key))
            continue
        held = result[index[key]]
        sums = {name: getattr(held, name) + getattr(record, name) for name in _FIGURES}
        result[index[key]] = replace(held, kind="block", weight_grad=held.weight_grad
                                     or record.weight_grad, **sums)
    return result


_FIGURES = ("forward_flops", "forward_matmul_flops", "backward_input_flops",
            "backward_weight_flops", "backward_elementwise_flops")
