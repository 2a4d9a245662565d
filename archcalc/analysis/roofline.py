"""Time before you train: a roofline estimate of each layer, the training step and the epoch.

Each row of the analysis runs a forward and a backward pass, each as a main kernel (the
convolution, the matrix product, the pool) and then the elementwise parts folded into
the row (a BatchNorm, an activation, a bias), one kernel after the other. Each kernel's
time is the roofline's ``max(FLOPs / rate, bytes / bandwidth)``: the arithmetic at the
device's rate (the main kernel's family: matmul, conv, depthwise or pointwise (1x1)
conv, analysis/devices.py; elementwise work at the dtype's peak), or the
data it moves at the bandwidth of its class of kernel (a convolution's or a matrix
product's tensors and the optimizer stream at ``memory_bandwidth``; BatchNorm,
activation and add kernels at ``elementwise_bandwidth``; pools at ``pool_bandwidth``,
each the memory bandwidth where the profile does not give it), whichever takes longer;
the row's time is the sum. (One ``max`` over a whole row would hide a BatchNorm's
memory traffic under its convolution's arithmetic, which the machine does not do.)
Arithmetic intensity is FLOPs per byte moved; layers under the profile's ridge point
(peak / bandwidth) are memory-bound.

**FLOPs**: forward as the table counts them; backward as ``analysis/backward.py``
counts it (each kind's grad-input, grad-weight and elementwise FLOPs; no input gradient
for the first weighted layer, none for frozen layers with ``frozen_until``).

**Bytes moved** (per batch of B images, ``s`` bytes per element at the dtype; a row's
input and output counted per image and times B):

- forward: reads every input and the weights, writes the output; each part folded into
  the row (a BatchNorm, an activation) reads and writes one more tensor of its size
  (of the output for ``order: post``, of the input for ``order: pre``); a node without
  folded parts also writes the tensors it makes for backward (pooling indices, a mask).
  A view (flatten, a channel slice) moves nothing.
- backward (only for layers autograd records: whose input needs a gradient, or whose
  weights train, as analysis/backward.py decides): reads the output's gradient, the
  tensors autograd saved (the layer's ``saved`` rule, as ``archcalc plan`` counts them)
  and, when the input needs a gradient, the weights; writes the input's gradient (when
  needed) and the weights' gradients (when they train); each folded part reads and
  writes one more gradient of its size.
- the optimizer step: reads weights and gradients, reads and writes its state, writes
  the weights: params x s x (3 + 2 x states) (SGD 3, SGD with momentum 5, Adam 7).

**Freshly mapped memory** (CPU profiles from `archcalc calibrate`): PyTorch's CPU
allocator is the C library's malloc, and glibc maps every block above its mmap threshold
(at most 32 MiB on 64-bit Linux, where the dynamic threshold stops growing) fresh from
the kernel and unmaps it when freed; the first write to each page then takes a page
fault. Each new tensor larger than the profile's ``fresh_threshold`` (the output, the
tensors made inside a node that autograd keeps, and in backward the input's gradient,
one gradient per such intermediate and the weights' gradient) adds its bytes at the
profile's ``fresh_page_bandwidth`` to the layer's time. CUDA's caching allocator reuses
its blocks, so GPU profiles have no such term.

Not counted: caches (a layer's reads are assumed to come from memory, so small layers
come out slower than they run when they fit in cache), kernel launch and framework
overhead per operation, the loss, gradient accumulation where a tensor feeds two paths,
and the time of the data pipeline. No torch here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from archcalc.analysis.backward import StepRecord, step_flops
from archcalc.analysis.devices import DeviceProfile
from archcalc.analysis.memory import OPTIMIZER_STATES
from archcalc.analysis.report import DTYPE_BYTES, Report
from archcalc.errors import ArchcalcError
from archcalc.layers.arith import product
from archcalc.layers.saved import element_bytes

MATMUL_KINDS = ("fc", "attention", "window_attention", "patch_merging")


@dataclass(frozen=True)
class LayerTime:
    """One row's roofline figures for a whole batch (FLOPs, bytes, seconds)."""

    path: str
    kind: str
    family: str                 # matmul | conv | depthwise | pointwise | elementwise
    forward_flops: int
    backward_flops: int
    forward_bytes: int
    backward_bytes: int
    forward_seconds: float
    backward_seconds: float
    rate: float                 # FLOP/s the family reaches on the device
    fresh_bytes: int = 0        # bytes written to freshly mapped memory (CPU; see above)

    @property
    def flops(self) -> int:
        return self.forward_flops + self.backward_flops

    @property
    def bytes(self) -> int:
        return self.forward_bytes + self.backward_bytes

    @property
    def seconds(self) -> float:
        return self.forward_seconds + self.backward_seconds

    @property
    def intensity(self) -> float:
        """FLOPs per byte over forward and backward (inf for a layer that moves nothing)."""
        return self.flops / self.bytes if self.bytes else math.inf

    def bound(self, bandwidth: float) -> str:
        """'memory' when the bytes take longer than the FLOPs, else 'compute'."""
        return "memory" if self.bytes / bandwidth > self.flops / self.rate else "compute"

    def as_dict(self, bandwidth: float) -> dict:
        return {"path": self.path, "kind": self.kind, "family": self.family,
                "forward_flops": self.forward_flops, "backward_flops": self.backward_flops,
                "forward_bytes": self.forward_bytes, "backward_bytes": self.backward_bytes,
                "intensity": None if math.isinf(self.intensity) else self.intensity,
                "forward_seconds": self.forward_seconds,
                "backward_seconds": self.backward_seconds, "bound": self.bound(bandwidth),
                "fresh_bytes": self.fresh_bytes}


@dataclass(frozen=True)
class StepEstimate:
    """The roofline estimate of one training step of ``batch`` images."""

    name: str
    batch: int
    dtype: str
    optimizer: str
    profile: DeviceProfile
    layers: list = field(repr=False)
    optimizer_bytes: int = 0

    @property
    def forward_seconds(self) -> float:
        return sum(layer.forward_seconds for layer in self.layers)

    @property
    def backward_seconds(self) -> float:
        return sum(layer.backward_seconds for layer in self.layers)

    @property
    def optimizer_seconds(self) -> float:
        return self.optimizer_bytes / self.profile.memory_bandwidth

    @property
    def step_seconds(self) -> float:
        return self.forward_seconds + self.backward_seconds + self.optimizer_seconds

    @property
    def model_flops(self) -> int:
        """Forward and backward FLOPs of the step: the numerator of MFU."""
        return sum(layer.flops for layer in self.layers)

    @property
    def peak(self) -> float:
        return self.profile.peak(self.dtype)

    def utilisation(self, measured_seconds: float) -> float:
        """Model FLOPs utilisation: model FLOPs per step / measured time / the profile's
        best rate for the dtype (``DeviceProfile.best``)."""
        return self.model_flops / measured_seconds / self.profile.best(self.dtype)

    def epoch_seconds(self, images: int, evaluated: int = 0) -> float:
        """Steps over ``images`` (the last one partial, as the loop runs it) plus a
        forward pass over ``evaluated`` images."""
        steps = -(-images // self.batch)
        return steps * self.step_seconds + evaluated * self.forward_seconds / self.batch

    def as_dict(self) -> dict:
        bandwidth = self.profile.memory_bandwidth
        return {"name": self.name, "batch": self.batch, "dtype": self.dtype,
                "optimizer": self.optimizer, "profile": self.profile.as_dict(),
                "forward_seconds": self.forward_seconds,
                "backward_seconds": self.backward_seconds,
                "optimizer_seconds": self.optimizer_seconds,
                "step_seconds": self.step_seconds, "model_flops": self.model_flops,
                "ridge_point": self.peak / bandwidth,
                "layers": [layer.as_dict(bandwidth) for layer in self.layers]}


def family(call) -> str:
    """Which of the device's rates a node runs at."""
    kind, params, ins, _ = call
    if kind.name == "conv":
        groups = params.get("groups", 1)
        if groups > 1 and groups == ins[0][0]:
            return "depthwise"
        # a 1x1 convolution is a matrix product (channels x positions) that PyTorch runs
        # on kernels of its own
        return "pointwise" if tuple(params.get("kernel")) == (1, 1) and groups == 1 \
            else "conv"
    return "matmul" if kind.name in MATMUL_KINDS else "elementwise"


def _fused_parts(params) -> int:
    """Elementwise parts folded into a row: a BatchNorm and an activation."""
    return int(bool(params.get("bn"))) + int(params.get("act", "none") not in ("none", None))


class Moved(NamedTuple):
    """What one row moves, per the model in the module docstring: bytes per image of the
    main kernel and of the folded elementwise parts in the forward and backward passes,
    bytes of weights per batch, and the elements per image of each tensor the passes
    newly allocate (with its bytes per element)."""

    forward: int
    forward_fused: int
    backward: int
    backward_fused: int
    weights_forward: int
    weights_backward: int
    new_forward: tuple = ()           # (elements per image, bytes per element)
    new_backward: tuple = ()
    new_weight_gradients: int = 0     # bytes, per batch


def _traffic(call, record: StepRecord, sizes: dict) -> Moved:
    kind, params, ins, out = call
    itemsize = sizes[None]
    if kind.shares_input(params, ins, out, True) and not kind.writes_input(params, ins, out):
        return Moved(0, 0, 0, 0, 0, 0)
    inputs = sum(product(shape) for shape in ins)
    output = product(out)
    fused = _fused_parts(params) * (product(ins[0]) if params.get("order") == "pre" else output)
    weights = kind.param_count(params, ins, out) * itemsize
    # tensors made inside the node that autograd keeps (a folded BN's input, pooling
    # indices, a mask) are new tensors of the forward pass, as the output is
    internal = tuple((kept.elements, sizes.get(kept.itemsize, kept.itemsize))
                     for kept in kind.saved(params, ins, out)
                     if kept.tensor == "internal" and kept.per_sample)
    made = internal + (() if kind.writes_input(params, ins, out) else ((output, itemsize),))
    forward, forward_fused = (inputs + output) * itemsize, 2 * fused * itemsize
    if not fused:  # pooling indices, a mask: written beside the output
        forward_fused = sum(elements * size for elements, size in internal)
    if not (record.input_grad or record.weight_grad):
        return Moved(forward, forward_fused, 0, 0, weights, 0, made)
    saved = sum(product(ins[0]) if kept.tensor == "input" else output
                for kept in kind.saved(params, ins, out) if kept.tensor != "internal")
    grad_in = inputs if record.input_grad else 0
    backward = (output + grad_in + saved) * itemsize
    # the folded parts read their gradients and saved tensors, and write gradients
    backward_fused = 2 * fused * itemsize + sum(elements * size for elements, size in internal)
    # the weights are read for the input's gradient and their gradients written
    backward_weights = weights * (int(record.input_grad) + int(record.weight_grad))
    # new in backward: each input's gradient and one per intermediate tensor of the dtype
    gradients = tuple((product(shape), itemsize) for shape in ins) if record.input_grad \
        else ()
    gradients += tuple((elements, itemsize) for elements, size in internal if size == itemsize)
    return Moved(forward, forward_fused, backward, backward_fused, weights, backward_weights,
                 made, gradients, weights if record.weight_grad else 0)


def fresh_bytes(tensors, batch: int, threshold: float | None) -> int:
    """Bytes of the tensors (elements per image, bytes per element) for ``batch`` images
    that are larger than ``threshold``: those the allocator maps fresh each time."""
    if threshold is None:
        return 0
    sizes = (elements * batch * size for elements, size in tensors)
    return sum(nbytes for nbytes in sizes if nbytes > threshold)


def estimate_step(report: Report, profile: DeviceProfile, *, batch: int | None = None,
                  dtype: str | None = None, optimizer: str = "sgd-momentum",
                  frozen_until: str | None = None) -> StepEstimate:
    """The roofline estimate of one training step of ``report``'s network.

    ``dtype`` is the arithmetic's (and the tensors') dtype: fp32, tf32 (fp32 tensors
    on tensor cores), bf16 or fp16; default the report's. ``batch`` defaults to the
    report's; the profile's device (cuda or cpu) picks the element sizes of saved
    statistics and masks; ``frozen_until``: a node's path, it and every row before it
    do not train (their weights get no gradient and no optimizer state)."""
    batch = int(report.batch if batch is None else batch)
    dtype = dtype or report.dtype
    if batch < 1:
        raise ArchcalcError(f"the batch must be at least 1, not {batch}")
    if optimizer not in OPTIMIZER_STATES:
        raise ArchcalcError(f"unknown optimizer {optimizer!r}",
                            hint=f"one of {', '.join(OPTIMIZER_STATES)}")
    profile.peak(dtype)  # a profile without this dtype is refused before any work
    itemsize = DTYPE_BYTES["fp32" if dtype == "tf32" else dtype]
    sizes = element_bytes(profile.device, itemsize)
    records = step_flops(report, frozen_until)[1:]  # the first is the input row
    layers = []
    trained_params = 0
    threshold = profile.fresh_threshold
    for row, record in zip(report.layers, records):
        call = report.calls[row.path]
        moved = _traffic(call, record, sizes)
        trained_params += row.params if record.weight_grad else 0
        fresh = (fresh_bytes(moved.new_forward, batch, threshold),
                 fresh_bytes(moved.new_backward, batch, threshold) +
                 fresh_bytes(((moved.new_weight_gradients, 1),), 1, threshold))
        kernels = _kernels(record, moved, batch)
        layers.append(_layer_time(row, family(call), (profile.rate(family(call), dtype),
                                                      profile.peak(dtype)),
                                  profile, kernels, fresh))
    states = OPTIMIZER_STATES[optimizer]
    optimizer_bytes = trained_params * itemsize * (3 + 2 * states)
    return StepEstimate(report.name, batch, dtype, optimizer, profile, layers,
                        optimizer_bytes)


class Kernel(NamedTuple):
    """One pass of a row as the kernels run it: the main kernel's FLOPs at the family's
    rate and its bytes, then the folded elementwise parts' FLOPs and bytes."""

    main_flops: int
    main_bytes: int
    elementwise_flops: int
    elementwise_bytes: int

    def seconds(self, rates: tuple[float, float], bandwidths: tuple[float, float]) -> float:
        """At (the main kernel's rate, the elementwise peak) and (the main kernel's
        bandwidth, the elementwise kernels')."""
        return max(self.main_flops / rates[0], self.main_bytes / bandwidths[0]) + \
            max(self.elementwise_flops / rates[1], self.elementwise_bytes / bandwidths[1])


def _kernels(record: StepRecord, moved: Moved, batch: int) -> tuple[Kernel, Kernel]:
    """(forward, backward) for the batch. A row without matmul FLOPs (a pool, an add) is
    one elementwise kernel: its FLOPs go with its main bytes."""
    forward_matmul = record.forward_matmul_flops
    forward_rest = record.forward_flops - forward_matmul
    backward_matmul = record.backward_input_flops + record.backward_weight_flops
    backward_rest = record.backward_elementwise_flops
    if not forward_matmul:
        forward_matmul, forward_rest = forward_rest, 0
    if not backward_matmul:
        backward_matmul, backward_rest = backward_rest, 0
    return (Kernel(forward_matmul * batch, moved.forward * batch + moved.weights_forward,
                   forward_rest * batch, moved.forward_fused * batch),
            Kernel(backward_matmul * batch, moved.backward * batch + moved.weights_backward,
                   backward_rest * batch, moved.backward_fused * batch))


def _layer_time(row, family_name: str, rates: tuple[float, float], profile: DeviceProfile,
                kernels: tuple[Kernel, Kernel], fresh: tuple[int, int]) -> LayerTime:
    """One row's times from its (forward, backward) kernels at (the family's rate, the
    dtype's peak for elementwise work) and the bytes each pass writes to fresh memory."""
    forward, backward = kernels
    main = "pool" if "pool" in row.kind else \
        "elementwise" if family_name == "elementwise" else "stream"
    bandwidths = (profile.bandwidth(main), profile.bandwidth("elementwise"))
    fresh_rate = profile.fresh_page_bandwidth or math.inf
    return LayerTime(row.path, row.kind, family_name,
                     forward.main_flops + forward.elementwise_flops,
                     backward.main_flops + backward.elementwise_flops,
                     forward.main_bytes + forward.elementwise_bytes,
                     backward.main_bytes + backward.elementwise_bytes,
                     forward.seconds(rates, bandwidths) + fresh[0] / fresh_rate,
                     backward.seconds(rates, bandwidths) + fresh[1] / fresh_rate,
                     rates[0], sum(fresh))
