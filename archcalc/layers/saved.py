"""The tensors a layer keeps or makes besides its input and output, for memory.

Each layer kind's ``saved`` rule returns ``Saved`` records of what autograd
keeps from its forward pass for backward: the node's input, its output, or a
tensor made inside the node (a folded BN's input, pooling indices, a dropout
mask, BN's batch statistics). Input and output are named rather than sized so
that the memory analysis (analysis/memory.py) can count a tensor kept by two
nodes once, as PyTorch does: a ReLU keeps its output, and the conv after it
keeps the same tensor as its input. ``inference_temporaries`` returns the
tensors made inside a node that are alive together at its busiest moment in an
inference pass (a folded conv's output while its BN runs).

The rules were measured with ``torch.autograd.graph.saved_tensors_hooks`` and
are checked the same way on random examples of every kind
(tests/test_registry_contract.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INDEX_BYTES = 8  # max pooling keeps int64 indices of each output's maximum
# Element sizes that depend on the device (``element_bytes``):
# BatchNorm's batch mean and inverse std: fp32 on CUDA also for fp16/bf16 inputs (the
# accumulate type), the input's dtype on the CPU.
STAT = "stat"
# A dropout mask: bool (1 byte) on CUDA, where PyTorch uses native_dropout; on the CPU
# dropout multiplies by a noise tensor of the input's dtype and keeps that instead.
MASK = "mask"
# Max pooling's int64 indices in an inference pass: CUDA computes them even without
# autograd (so does the CPU under a dispatch mode); the plain CPU kernel makes none.
CUDA_INDEX = "cuda index"
DEVICES = ("cuda", "cpu")


def element_bytes(device: str, itemsize: int) -> dict:
    """Bytes per element of each ``Saved.itemsize`` value for a model of ``itemsize``
    bytes per element on ``device`` (None: the model's own dtype)."""
    cuda = device == "cuda"
    return {None: itemsize, STAT: 4 if cuda else itemsize, MASK: 1 if cuda else itemsize,
            CUDA_INDEX: INDEX_BYTES if cuda else 0}


@dataclass(frozen=True)
class Saved:
    """One tensor a node keeps for backward.

    ``tensor``: "input" (the node's first input), "output" (its output) or "internal"
    (made inside the node: ``elements`` per sample of ``itemsize`` bytes, None meaning
    the model's dtype). ``per_sample``: the elements scale with the batch (False for
    per-channel statistics). ``needs_input_grad``: kept only when the node's input needs a
    gradient (a part that runs before the node's weights, such as a pre-activation conv's
    act without BN: autograd records nothing for it on the network's images).
    """

    tensor: str
    elements: Any = 0
    itemsize: Any = None
    per_sample: bool = True
    needs_input_grad: bool = False


INPUT = Saved("input")
OUTPUT = Saved("output")


def internal(elements, itemsize=None) -> Saved:
    return Saved("internal", elements, itemsize)


def batch_norm_stats(channels) -> Saved:
    """BN's saved mean and inverse std: per channel, not per sample."""
    return Saved("internal", 2 * channels, STAT, per_sample=False)


def dropout_mask(elements) -> Saved:
    return Saved("internal", elements, MASK)
