"""Training and inference memory of a spec, from the analysis alone (no torch).

Training keeps, per ARCHITECTURE section 4: the weights, their gradients, the
optimizer's state and the activations autograd saves for backward. What each
node saves is its kind's ``saved`` rule (layers/saved.py); this module follows
tensors through the graph so that one tensor kept by two nodes (a ReLU's output
and the next conv's input) is counted once, as PyTorch stores it once.

Inference keeps no graph: its peak is the largest sum of live tensors while the
built module runs, node by node in execution order. A tensor lives while a
Python name or list in the module's forward holds it: a Sequential drops its
previous output after the next child returns, a branch holds its input until
every path has run and each path's output until the merge (DenseNet's
concatenations make these large), and the caller holds the network's input.

Saved bytes are linear in the batch: per-sample bytes times the batch, plus BatchNorm's
per-channel statistics (per batch), plus, at batch 1 only, what a kind keeps because
PyTorch views a reshape it must copy for larger batches (``saved_at_batch_one``: Swin's
window attention with one window). The inference peak is the largest, over the moments of
the pass, of per-sample bytes times the batch plus the batch's own tensors (Swin's
gathered position bias and shift mask), so it is kept as the few moments no other moment
dominates, and batch 1 is walked apart for the same reshapes. That makes ``max_batch``
exact.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from archcalc.analysis.analyze import analyze
from archcalc.analysis.backward import frozen_rows
from archcalc.analysis.report import DTYPE_BYTES, Report
from archcalc.errors import ArchcalcError
from archcalc.layers.arith import product
from archcalc.layers.registry import UnknownCost
from archcalc.layers.saved import DEVICES, element_bytes, internal
from archcalc.spec.model import Branch, Sequence

# Per-parameter tensors of the parameter's size each optimizer keeps: SGD none, SGD with
# momentum its momentum buffer, Adam exp_avg and exp_avg_sq. (Adam's `step` counters
# are one-element tensors that torch.optim keeps on the CPU unless capturable/fused.)
OPTIMIZER_STATES = {"sgd": 0, "sgd-momentum": 1, "adam": 2}

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_memory(text: str) -> int:
    """'80GiB' -> 85899345920 bytes; GB/MB/KB are powers of 10, GiB/MiB/KiB of 2."""
    match = _MEMORY.match(str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ArchcalcError(f"cannot read the memory size {text!r}",
                            hint="write a number and a unit: 80GiB, 40GB, 512MiB, 1.5GiB")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value < 1:
        raise ArchcalcError(f"the memory size {text!r} is zero", hint="give a positive size")
    return value


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes of one training or inference setting; ``at(batch)`` for another batch."""

    name: str
    input: tuple
    batch: int
    dtype: str
    optimizer: str
    device: str
    params: int
    weights_bytes: int
    buffers_bytes: int
    saved_per_sample_bytes: int  # activations saved for backward, per image
    saved_per_batch_bytes: int  # BatchNorm's batch statistics, once per batch
    # (per-sample bytes, per-batch bytes, node) of the inference moments no other dominates,
    # for batches of 2 and more; and the peak bytes and node of a batch of 1
    inference_peaks: tuple
    inference_peak_at_one: tuple
    saved_per_sample_by_block: dict = field(default_factory=dict)  # top-level node -> bytes
    saved_at_batch_one_bytes: int = 0  # kept besides the per-sample bytes at batch 1 only
    # nodes whose saved tensors and temporaries are unknown (opaque): counted as nothing
    # saved and only their output alive, so every figure is then a lower bound
    unknown: tuple = ()
    # with frozen_until: the node up to which (in the table's order) weights stay fixed, and
    # the bytes of the weights that train (None: all of them)
    frozen_until: str | None = None
    trained_weights_bytes: int | None = None

    @property
    def gradients_bytes(self) -> int:
        """One gradient per trained weight (a frozen weight has none)."""
        return self.weights_bytes if self.trained_weights_bytes is None else \
            self.trained_weights_bytes

    @property
    def optimizer_bytes(self) -> int:
        return OPTIMIZER_STATES[self.optimizer] * self.gradients_bytes

    @property
    def saved_activation_bytes(self) -> int:
        return self._saved_at(self.batch)

    def _saved_at(self, batch: int) -> int:
        extra = self.saved_at_batch_one_bytes if batch == 1 else 0
        return self.saved_per_sample_bytes * batch + self.saved_per_batch_bytes + extra

    @property
    def fixed_bytes(self) -> int:
        """What training needs whatever the batch: state, gradients, BN statistics."""
        return (self.weights_bytes + self.buffers_bytes + self.gradients_bytes +
                self.optimizer_bytes + self.saved_per_batch_bytes)

    @property
    def total_bytes(self) -> int:
        return self.fixed_bytes - self.saved_per_batch_bytes + self.saved_activation_bytes

    def _inference_peak(self) -> tuple:
        if self.batch == 1:
            return self.inference_peak_at_one
        per_sample, per_batch, node = max(
            self.inference_peaks, key=lambda peak: peak[0] * self.batch + peak[1])
        return per_sample * self.batch + per_batch, node

    @property
    def inference_activation_peak_bytes(self) -> int:
        return self._inference_peak()[0]

    @property
    def inference_peak_at(self) -> str:
        """The node running when live tensors peak."""
        return self._inference_peak()[1]

    @property
    def inference_peak_bytes(self) -> int:
        return self.weights_bytes + self.buffers_bytes + self.inference_activation_peak_bytes

    def at(self, batch: int) -> MemoryPlan:
        return replace(self, batch=batch)

    def max_batch(self, memory_bytes: int) -> int:
        """The largest batch whose training total fits in ``memory_bytes`` (0: none)."""
        if self.fixed_bytes - self.saved_per_batch_bytes + self._saved_at(1) > memory_bytes:
            return 0
        return (memory_bytes - self.fixed_bytes) // self.saved_per_sample_bytes

    def as_dict(self, memory_bytes: int | None = None) -> dict:
        data = {"name": self.name, "input": list(self.input), "batch": self.batch,
                "dtype": self.dtype, "optimizer": self.optimizer, "device": self.device,
                "params": self.params}
        for key in ("weights_bytes", "buffers_bytes", "gradients_bytes", "optimizer_bytes",
                    "saved_activation_bytes", "saved_per_sample_bytes", "saved_per_batch_bytes",
                    "total_bytes", "inference_peak_bytes", "inference_activation_peak_bytes",
                    "inference_peak_at", "saved_per_sample_by_block"):
            data[key] = getattr(self, key)
        if self.unknown:
            data["unknown"] = list(self.unknown)
        if memory_bytes is not None:
            data["memory_bytes"] = memory_bytes
            data["max_batch"] = self.max_batch(memory_bytes)
        return data


# keyword-only settings of one training step, each with a default (the CLI's options)
def plan(spec, *, batch: int = 1, dtype: str = "fp32", optimizer: str = "sgd-momentum",  # noqa: PLR0913
         device: str = "cuda", report: Report | None = None,
         frozen_until: str | None = None) -> MemoryPlan:
    """The memory of training (and of inference) ``spec`` at ``batch``; ``report``: the
    spec's analysis at the input the plan is for (default: the spec's own input).
    ``frozen_until``: a node's path; its weights and those of every row before it stay
    fixed (no gradient, no optimizer state), and autograd records nothing before the first
    trained node (analysis/backward.py's ``frozen_rows``)."""
    if optimizer not in OPTIMIZER_STATES:
        raise ArchcalcError(f"unknown optimizer {optimizer!r}",
                            hint=f"one of {', '.join(OPTIMIZER_STATES)}")
    if device not in DEVICES:
        raise ArchcalcError(f"unknown device {device!r}", hint=f"one of {', '.join(DEVICES)}")
    if report is None:
        report = analyze(spec, check_expect=False)
    itemsize = DTYPE_BYTES[dtype]
    frozen = frozen_rows(report, frozen_until)
    weights = buffers = trained = 0
    for path, call in report.calls.items():
        weight_bytes = call.kind.param_count(call.params, call.inputs, call.output) * itemsize
        weights += weight_bytes
        trained += 0 if path in frozen else weight_bytes
        buffers += call.kind.buffer_bytes(call.params, call.inputs, call.output, itemsize)
    sizes = element_bytes(device, itemsize)
    training = _SavedWalk(report.calls, sizes, frozen)
    training.run(spec.root, report.input)
    inference = _LiveWalk(report.calls, sizes, batch_one=False)
    inference.run(spec.root, report.input)
    single = _LiveWalk(report.calls, sizes, batch_one=True)
    single.run(spec.root, report.input)
    return MemoryPlan(
        name=spec.name, input=tuple(report.input), batch=batch, dtype=dtype,
        optimizer=optimizer, device=device, params=report.totals["params"],
        weights_bytes=weights, buffers_bytes=buffers,
        saved_per_sample_bytes=training.per_sample, saved_per_batch_bytes=training.per_batch,
        inference_peaks=tuple(inference.peaks), inference_peak_at_one=single.peak_at_one(),
        saved_per_sample_by_block=training.by_block,
        saved_at_batch_one_bytes=training.at_batch_one,
        unknown=tuple(dict.fromkeys(training.unknown + inference.unknown)),
        frozen_until=frozen_until, trained_weights_bytes=None if frozen_until is None else trained)


class _SavedWalk:
    """Follows tensors through a training-mode forward pass and sums, once per tensor,
    what the nodes save. A tensor is a storage: a view or an in-place result is its input's.

    Autograd records nothing for a node when neither its inputs nor its parameters need
    a gradient: the images need none, so a parameter-free layer before the first weighted
    one (a pool on the raw input) saves nothing, and neither does a frozen node (``frozen``:
    paths whose weights stay fixed, a prefix of the table, so their inputs need none).
    """

    def __init__(self, calls: dict, sizes: dict, frozen: frozenset | set = frozenset()):
        self.calls, self.sizes, self.frozen = calls, sizes, frozen
        self.bytes: list[int] = []  # tensor id -> bytes per sample (or per batch)
        self.batch_scaled: list[bool] = []
        self.needs_grad: list[bool] = []
        self.saved: set[int] = set()
        self.per_sample = self.per_batch = self.at_batch_one = 0
        self.by_block: dict[str, int] = {}
        self.unknown: list[str] = []  # opaque nodes: nothing saved counted (a lower bound)

    def new(self, elements, itemsize=None, per_sample: bool = True) -> int:
        self.bytes.append(elements * self.sizes.get(itemsize, itemsize))
        self.batch_scaled.append(per_sample)
        self.needs_grad.append(True)
        return len(self.bytes) - 1

    def keep(self, tensor: int, path: str) -> None:
        if tensor in self.saved:
            return
        self.saved.add(tensor)
        if self.batch_scaled[tensor]:
            self.per_sample += self.bytes[tensor]
            block = path.split(".", 1)[0]
            self.by_block[block] = self.by_block.get(block, 0) + self.bytes[tensor]
        else:
            self.per_batch += self.bytes[tensor]

    def run(self, root, input_shape) -> None:
        images = self.new(product(input_shape))
        self.needs_grad[images] = False
        self.visit(root, images)

    def visit(self, node, tensor: int) -> int:
        if isinstance(node, Sequence):
            for child in node.children:
                tensor = self.visit(child, tensor)
            return tensor
        if isinstance(node, Branch):
            outputs = [self.visit(path, tensor) for _, path in node.paths]
            return self.apply(node.path, outputs)
        return self.apply(node.path, [tensor])

    def apply(self, path: str, inputs: list) -> int:
        kind, params, ins, out = self.calls[path]
        recorded = any(self.needs_grad[tensor] for tensor in inputs) or \
            (path not in self.frozen and kind.param_count(params, ins, out) > 0)
        if kind.shares_input(params, ins, out, True):
            output = inputs[0]
        else:
            output = self.new(product(out))
            self.needs_grad[output] = recorded
        if not recorded:
            return output
        input_needs_grad = any(self.needs_grad[tensor] for tensor in inputs)
        try:
            kept = kind.saved(params, ins, out)
        except UnknownCost:
            self.unknown.append(path)
            kept = ()
        for saved in kept:
            if saved.needs_input_grad and not input_needs_grad:
                continue
            if saved.tensor == "input":
                self.keep(inputs[0], path)
            elif saved.tensor == "output":
                self.keep(output, path)
            else:
                self.keep(self.new(saved.elements, saved.itemsize, saved.per_sample), path)
        for saved in kind.saved_at_batch_one(params, ins, out):
            self.at_batch_one += saved.elements * self.sizes.get(saved.itemsize, saved.itemsize)
        return output


class _LiveWalk:
    """Bytes per sample of the tensors alive at each moment of an inference pass, as the
    built module's forward holds them (torchgraph: nn.Sequential, Branch), and the peaks.

    Each tensor has a count of the names and lists holding it and is freed at zero.
    While a node runs, its input and what its ``inference_moments`` list are alive: by
    default its output and its temporaries (a folded conv's output while its BN runs).
    A moment's tensors of the batch (per_sample False) make its bytes a line in the
    batch, a*batch + b; ``peaks`` keeps the moments no other moment dominates in both.
    ``batch_one``: the moments of a batch of 1, where some reshapes are views.
    """

    def __init__(self, calls: dict, sizes: dict, batch_one: bool):
        self.calls, self.sizes, self.batch_one = calls, sizes, batch_one
        self.bytes: list[int] = []
        self.holders: list[int] = []
        self.live = 0
        self.peaks: list[tuple] = []  # (per-sample bytes, per-batch bytes, node)
        self.unknown: list[str] = []  # opaque nodes: their output only (a lower bound)

    def new(self, nbytes: int) -> int:
        self.bytes.append(nbytes)
        self.holders.append(1)
        self.live += nbytes
        return len(self.bytes) - 1

    def hold(self, tensor: int) -> None:
        self.holders[tensor] += 1

    def drop(self, tensor: int) -> None:
        self.holders[tensor] -= 1
        if self.holders[tensor] == 0:
            self.live -= self.bytes[tensor]

    def reach(self, per_sample: int, per_batch: int, path: str) -> None:
        candidate = (self.live + per_sample, per_batch)
        if any(old[0] >= candidate[0] and old[1] >= candidate[1] for old in self.peaks):
            return
        self.peaks = [old for old in self.peaks
                      if not (candidate[0] >= old[0] and candidate[1] >= old[1])]
        self.peaks.append((*candidate, path))

    def peak_at_one(self) -> tuple:
        per_sample, per_batch, node = max(self.peaks, key=lambda peak: peak[0] + peak[1])
        return per_sample + per_batch, node

    def run(self, root, input_shape) -> None:
        tensor = self.new(product(input_shape) * self.sizes[None])
        self.reach(0, 0, "input")
        self.drop(self.visit(root, tensor))

    def visit(self, node, tensor: int) -> int:
        """Run ``node`` on ``tensor`` (held by the caller); the result is held once more."""
        if isinstance(node, Sequence):
            current = tensor
            self.hold(current)
            for child in node.children:
                following = self.visit(child, current)
                self.drop(current)  # `input = module(input)` lets go of the previous one
                current = following
            return current
        if isinstance(node, Branch):
            outputs = [self.visit(path, tensor) for _, path in node.paths]
            merged = self.apply(node.path, outputs)
            for output in outputs:  # the list of path outputs goes when forward returns
                self.drop(output)
            return merged
        return self.apply(node.path, [tensor])

    def apply(self, path: str, inputs: list) -> int:
        kind, params, ins, out = self.calls[path]
        try:
            moments = kind.inference_moments(params, ins, out, self.batch_one)
        except UnknownCost:  # an opaque node: its output at least (a lower bound)
            self.unknown.append(path)
            moments = ((internal(product(out)),),)
        for moment in moments:
            sample = batch = 0
            for made in moment:
                nbytes = made.elements * self.sizes.get(made.itemsize, made.itemsize)
                if made.per_sample:
                    sample += nbytes
                else:
                    batch += nbytes
            self.reach(sample, batch, path)
        if kind.shares_input(params, ins, out, False):
            self.hold(inputs[0])
            return inputs[0]
        return self.new(product(out) * self.sizes[None])
