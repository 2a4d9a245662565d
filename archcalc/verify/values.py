"""Values, not only counts: the built module against an independent evaluation.

Counting checks cannot see a module that computes the wrong thing with the right
shapes, such as an in-place ReLU that overwrites a tensor another path still returns.
So ``verify`` also checks, on one random input:

- **outputs**: the built module equals the same module with every in-place flag
  turned off, on the same input with the same random seed (the same operations in the
  same precision, so only an in-place write can make them differ); a difference names
  the first node whose output differs (forward hooks on both runs). Both run in
  training mode without autograd: BatchNorm then normalises with the batch's own
  statistics, which keeps a 1,001-layer network finite (its fresh running statistics
  would let the values overflow to NaN), and the seed gives dropout the same masks;
- **input**: the caller's tensor is unchanged after the forward pass;
- **in-place hazards** (the built module's pass, under a dispatch mode): no in-place
  operation overwrites the network input, a value another operation has read, or a
  value autograd saved for backward; each is named by the module that ran it;
- **backward**: that pass differentiates (a saved tensor overwritten in place is
  refused, by the same version check autograd makes).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

# The same operations on the same weights in float32: in-place and out-of-place ReLUs
# give the same bits, so any difference is a real change in what is computed. (float64
# would add nothing but cost: turning VGG16's 138M weights to float64 and back took
# 3.6 s of a 10 s check, measured.)
OUTPUT_CHECK = "output values (against in-place off)"
TOLERANCE = 1e-6  # relative to the largest reference value (measured difference: 0.0)


@contextmanager
def out_of_place(model):
    """``model`` with every in-place flag off while the block runs (no copy: a copy of
    VGG's 138M weights costs seconds), restored after."""
    switched = [module for module in model.modules() if getattr(module, "inplace", False)]
    for module in switched:
        module.inplace = False
    try:
        yield model
    finally:
        for module in switched:
            module.inplace = True


def _difference(got, expected) -> float:
    finite = torch.isfinite(expected)
    if got.shape != expected.shape or not torch.equal(finite, torch.isfinite(got)):
        return float("inf")
    odd_got, odd_expected = got[~finite], expected[~finite]  # the same NaNs and infinities
    if not torch.equal(odd_got.isnan(), odd_expected.isnan()) or \
            not torch.equal(odd_got.nan_to_num(0.0), odd_expected.nan_to_num(0.0)):
        return float("inf")
    return float((got[finite] - expected[finite]).abs().max()) if finite.any() else 0.0


def _agrees(got, expected) -> bool:
    finite = expected[torch.isfinite(expected)]
    scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
    return _difference(got, expected) <= TOLERANCE * scale


def _run(model, example, seed: int):
    """One forward pass without autograd on a copy of ``example``, dropout seeded."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        return model(example.clone())


@contextmanager
def _recorded(model, paths, into: dict):
    """Each path's output, copied when its module returns."""
    handles = []
    for path in paths:
        def hook(_module, _inputs, output, path=path):
            into[path] = output.detach().clone()

        handles.append(model.get_submodule(path).register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def first_difference(model, paths, example, seed: int = 0) -> str:
    """The first node (in execution order) whose output differs between ``model`` as
    built and with every in-place flag off."""
    got, expected = {}, {}
    with _recorded(model, paths, got):
        _run(model, example, seed)
    with out_of_place(model), _recorded(model, paths, expected):
        _run(model, example, seed)
    for path in paths:
        if path in got and path in expected and not _agrees(got[path], expected[path]):
            return path
    return "output"


def _node_of(module_path: str, paths) -> str:
    """The analysed node a module belongs to (a folded act's ``conv1.act`` is ``conv1``)."""
    best = ""
    for path in paths:
        if (module_path == path or module_path.startswith(path + ".")) and \
                len(path) > len(best):
            best = path
    return best or module_path or "model"


class InPlaceWatch(TorchDispatchMode):
    """Records every operator's reads by (storage, version) and flags an in-place write
    to the network input, to a value another operator read, or to a saved value."""

    def __init__(self, model, example):
        super().__init__()
        self.state = {t.untyped_storage().data_ptr()
                      for t in list(model.parameters()) + list(model.buffers())}
        self.input = example.untyped_storage().data_ptr()
        self.reads: dict[tuple, set] = {}
        # every tensor read stays alive until the pass ends, so that no storage address
        # is reused by a later tensor and mistaken for the one read
        self.alive: list = []
        self.saved: set[tuple] = set()
        self.modules: list[str] = []  # the module running now, innermost last
        self.hazards: list[tuple[str, str]] = []  # (module path, what it overwrote)
        self.calls = 0

    @staticmethod
    def key(tensor) -> tuple:
        return tensor.untyped_storage().data_ptr(), tensor._version

    def pack(self, tensor):
        # A detached alias shares the storage and the version counter, not the autograd
        # history: packing the tensor itself would make a saved output refer to its own
        # grad_fn, a cycle through C++ that Python's collector cannot free.
        alias = tensor.detach()
        self.alive.append(alias)
        self.saved.add(self.key(alias))
        return alias, alias._version

    @staticmethod
    def unpack(packed):
        """Autograd's own check, which it leaves to the hooks while they are on: a saved
        tensor must be unchanged when backward uses it."""
        tensor, version = packed
        if tensor._version != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: a {list(tensor.shape)} tensor saved at version "
                f"{version} is at version {tensor._version}")
        return tensor

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.calls += 1
        written = []
        for index, argument in enumerate(func._schema.arguments):
            if argument.alias_info is not None and argument.alias_info.is_write:
                value = args[index] if index < len(args) else kwargs.get(argument.name)
                if isinstance(value, torch.Tensor):
                    written.append(value)
        for tensor in written:
            self._check_write(tensor)
        # a clone's result never reads its source again: autograd's own copy of an in-place
        # activation's input (hardtanh_, hardswish_, silu_ keep it) is no hazard
        if not func.is_view and func is not torch.ops.aten.clone.default:
            for value in tree_flatten((args, kwargs))[0]:
                if isinstance(value, torch.Tensor):
                    self.alive.append(value)
                    self.reads.setdefault(self.key(value), set()).add(self.calls)
        return func(*args, **kwargs)

    def _check_write(self, tensor) -> None:
        key = self.key(tensor)
        if key[0] in self.state:
            return  # BatchNorm's running statistics are updated in place by design
        where = self.modules[-1] if self.modules else ""
        if key[0] == self.input:
            self.hazards.append((where, "overwrites the network's input in place"))
        elif self.reads.get(key, set()) - {self.calls}:
            what = ("overwrites in place a tensor another operation read "
                    "(another path of a branch needs it)")
            self.hazards.append((where, what))
        elif key in self.saved:
            self.hazards.append((where, "overwrites in place a tensor saved for backward"))


@contextmanager
def watching(model, example):
    """An InPlaceWatch over one forward pass of ``model``, which modules it is in."""
    watch = InPlaceWatch(model, example)
    def enter(name):
        def hook(_module, _inputs):
            watch.modules.append(name)
        return hook

    def leave(_module, _inputs, _output):
        watch.modules.pop()  # a forward hook's return value would replace the output

    handles = []
    for name, module in model.named_modules():
        handles.append(module.register_forward_pre_hook(enter(name)))
        handles.append(module.register_forward_hook(leave))
    try:
        with torch.autograd.graph.saved_tensors_hooks(watch.pack, watch.unpack), \
                watch:
            yield watch
    finally:
        for handle in handles:
            handle.remove()


def value_checks(model, paths, input_shape, seed: int = 0):
    """The checks above for ``model`` (built from a spec whose node paths are ``paths``),
    in three passes: the built module watched (training mode, autograd on), the same with
    in-place flags off (no autograd), and the first pass's backward. ``model`` ends in
    training mode. Returns ``node_checks.Check`` rows."""
    from archcalc.verify.node_checks import Check

    paths = list(paths)
    model = model.train()
    example, given, got, watch = _watched_pass(model, input_shape, seed)
    with out_of_place(model):
        expected = _run(model, example, seed)
    unchanged = torch.equal(given, example)
    checks = [Check("input", "input unchanged by the forward pass", "unchanged",
                    "unchanged" if unchanged else "overwritten",
                    "ok" if unchanged else "mismatch")]
    if _agrees(got.detach(), expected):
        checks.append(Check("output", OUTPUT_CHECK, "equal", "equal", "ok"))
    else:
        node = first_difference(model, paths, example, seed)
        checks.append(Check(node, OUTPUT_CHECK, "equal",
                            f"differs by {_difference(got.detach(), expected):.3g}",
                            "mismatch"))
    for module_path, what in watch.hazards:
        checks.append(Check(_node_of(module_path, paths), "in-place hazard", "none", what,
                            "mismatch"))
    if not watch.hazards:
        checks.append(Check("model", "in-place hazard", "none", "none", "ok"))
    checks.append(_backward_check(got, watch, paths))
    return checks


def _watched_pass(model, input_shape, seed: int):
    """(example, the copy the model ran on, output, InPlaceWatch) of one watched pass at
    batch 1, or at batch 2 where BatchNorm in training mode sees one value per channel
    (a 1x1 map, a flat input)."""
    for batch in (1, 2):
        generator = torch.Generator().manual_seed(seed)
        example = torch.randn(batch, *input_shape, generator=generator)
        given = example.clone()
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                with watching(model, given) as watch:
                    return example, given, model(given), watch
        except ValueError as exc:
            if batch == 2 or "more than 1 value per channel" not in str(exc):
                raise
    raise AssertionError("unreachable")


def _backward_check(output, watch, paths):
    from archcalc.verify.node_checks import Check

    if not output.requires_grad:
        return Check("model", "backward (training mode)", "runs",
                     "nothing to differentiate (no parameters)", "ok")
    try:
        output.float().sum().backward()
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:200]
        node = _node_of(watch.hazards[0][0], paths) if watch.hazards else "model"
        return Check(node, "backward (training mode)", "runs", f"fails: {first}", "mismatch")
    return Check("model", "backward (training mode)", "runs", "runs", "ok")
