"""PyTorch's own memory, measured: what autograd saves in a training-mode forward pass,
and the peak of live tensors in an inference pass. The oracles for analysis/memory.py.

Both count a storage once, however many tensors (views, in-place results) share it, and
leave out the module's parameters and buffers, which the plan counts apart.
"""
from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def _state_storages(model) -> set:
    return {t.untyped_storage().data_ptr()
            for t in list(model.parameters()) + list(model.buffers())}


def saved_tensor_bytes(model, example) -> int:
    """Bytes autograd keeps for backward from one forward pass of ``model`` on
    ``example`` (``saved_tensors_hooks``; each storage once, by its data pointer)."""
    state = _state_storages(model)
    storages, kept = {}, []

    def pack(tensor):
        # A detached alias: the same storage without the autograd history. Packing the
        # tensor itself makes a saved output refer to its own grad_fn, a cycle through C++
        # that Python's collector cannot free (about 1 GB a VGG pass, leaked for good).
        alias = tensor.detach()
        kept.append(alias)  # keeps every storage alive, so no address is reused
        storage = alias.untyped_storage()
        if storage.data_ptr() not in state:
            storages.setdefault(storage.data_ptr(), storage.nbytes())
        return alias

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(example)
    return sum(storages.values())


class LiveTensors(TorchDispatchMode):
    """Tracks the storages of every tensor an operator returns while the mode is on,
    frees them when their last tensor dies (weakref finalizers), and records the peak.

    Under a dispatch mode PyTorch runs max pooling as max_pool2d_with_indices even
    without autograd, as it always does on CUDA, so the peak includes those indices.
    """

    def __init__(self, ignore=()):
        super().__init__()
        self.ignore = set(ignore)
        self.owners: dict[int, set] = {}  # storage pointer -> ids of its live tensors
        self.nbytes: dict[int, int] = {}
        self.live = self.peak = 0

    def track(self, tensor) -> None:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer in self.ignore or storage.nbytes() == 0:
            return
        owners = self.owners.get(pointer)
        if owners is None:
            owners = self.owners[pointer] = set()
            self.nbytes[pointer] = storage.nbytes()
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
        if id(tensor) not in owners:
            owners.add(id(tensor))
            weakref.finalize(tensor, self._release, pointer, id(tensor))

    def _release(self, pointer: int, key: int) -> None:
        owners = self.owners.get(pointer)
        if owners is None:
            return
        owners.discard(key)
        if not owners:
            del self.owners[pointer]
            self.live -= self.nbytes.pop(pointer)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for value in tree_flatten(result)[0]:
            if isinstance(value, torch.Tensor):
                self.track(value)
        return result


def inference_peak_bytes(model, example) -> int:
    """The peak bytes of live tensors (the input included, weights not) while
    ``model`` runs on ``example`` without autograd."""
    with torch.no_grad():
        mode = LiveTensors(_state_storages(model))
        mode.track(example)
        with mode:
            model(example)
    return mode.peak
