"""One registry of layer kinds: everything about a layer type lives in one class.

Contract (each rule receives the validated parameters ``p`` and the per-sample
input shapes ``ins``, a list of tuples without the batch axis; ``out`` is the
shape ``output_shape`` returned):

===========================  ====================================================
``output_shape``             per-sample output shape; calls ``arith.require`` for
                             every condition the input must meet
``param_count``              trainable parameters
``buffer_count``             non-trainable buffers (BN running stats and counter)
``macs``                     conv/linear multiply-accumulates, bias excluded
``flops``                    all forward FLOPs, by the rule in the kind's
                             docstring
``activations``              output elements this node keeps (0 for in-place and
                             views)
``rf_step``                  per spatial axis (kernel_extent, stride, padding),
                             or None when the layer does not move the receptive
                             field
``buffer_bytes``             bytes of the buffers, given a float element's size
``saved``                    what autograd keeps for backward (``saved.Saved``)
``saved_at_batch_one``       what autograd keeps besides ``saved`` when the batch
                             is 1 (a reshape PyTorch can view only then)
``inference_temporaries``    tensors made inside the node, alive with its input
                             and output in an inference pass
``inference_moments``        the tensors alive beyond the input after each of the
                             node's allocations (default: the output and the
                             temporaries at once); records with ``per_sample``
                             False are tensors of the batch (a gathered bias)
``shares_input``             whether the output is the input's storage (a view,
                             an in-place op), in training or at inference
``writes_input``             whether the node, as ``p`` asks, overwrites its first
                             input in place (a ReLU on its input); the analysis
                             (analysis/inplace.py) sets ``p["inplace"] = False``
                             where another reader or a saved tensor needs the
                             input, and every rule then follows that flag
``build``                    a ``torch.nn.Module`` (imports torch and archcalc.nn
                             inside the function, never at module level)
``parts``                    the modules and operations the built node runs, as
                             other counting tools see them (layers/parts.py;
                             --convention)
``own_modules``              the parts of the built module that are this node's
                             own, for verify's per-node counts (a merge: the act
                             after it, not the paths its branch module holds)
``backward``                 the backward pass's work (``Backward``): input-gradient
                             and weight-gradient MACs (the matmul-type work a
                             FlopCounterMode sees) and elementwise FLOPs, given
                             whether the node's input needs a gradient and
                             whether its weights train (analysis/backward.py)
===========================  ====================================================

An activation is one class in layers/activation.py (``Activation``): the standalone
kind and every folded ``act:`` read it. README "Adding a layer kind" walks through a
new kind; tests/test_new_kind.py registers one from a single class and runs the whole
contract suite (tests/test_registry_contract.py) on it.

Rules use only + - * // and the helpers in ``arith`` so that the same rule
evaluates on integers and on symbols.
"""
from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from archcalc.errors import SpecError
from archcalc.layers.saved import INPUT

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One argument of a layer kind, as written in YAML.

    ``type`` is one of: ``int`` (>= 0), ``positive`` (>= 1), ``pair`` (an int or
    [h, w], each >= ``minimum``), ``float``, ``bool``, ``choice``, ``channels``
    (a positive int, or an exact expression of the input channels ``in``), ``index``
    (the same from 0: a channel position), ``shape`` (a list of positive ints),
    ``count`` (an int >= 0 beyond the channel bound: a module's parameters), ``text``.
    """

    name: str
    type: str
    default: Any = REQUIRED
    choices: Sequence = ()  # a tuple, or a live view (activation.act_choices)
    minimum: int = 0
    help: str = ""


class Backward(NamedTuple):
    """One node's backward pass, per image: the MACs of the gradient of its input (and of
    every tensor inside the node on the way to it) and of its weights, both matmul-type
    (conv, linear, attention products: FlopCounterMode's ops, 2 FLOPs per MAC), and the
    elementwise FLOPs beside them (activations, norms, pools, bias sums), each kind's
    rule stated in its docstring."""

    input_macs: Any = 0
    weight_macs: Any = 0
    elementwise_flops: Any = 0


NO_BACKWARD = Backward()


class UnknownCost(SpecError):
    """A rule whose value archcalc does not know (an ``opaque`` node's MACs, FLOPs, saved
    tensors): the analysis records it as unknown (None, shown ``?``), never as zero; any
    other caller of the rule gets this error, so no figure is silently a lower bound."""


class LayerKind:
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    arity: ClassVar[str] = "one"  # "one" input, or "many" (merges)
    # For archcalc.testing.KIND_STRATEGIES: a function of the input (C, H, W) returning a
    # hypothesis strategy of (spec items using the kind, their output shape). The built-in
    # kinds have theirs in archcalc.testing and activations derive one; a kind defined
    # elsewhere (a test's) brings its own here, so that it stays one class.
    examples: ClassVar[Any] = None
    # False for a kind whose spec does not say what it computes (``opaque``): ``build``
    # refuses it, and the contract suite checks that refusal instead of a built module.
    buildable: ClassVar[bool] = True

    # --- rules -------------------------------------------------------------
    def output_shape(self, p, ins):
        return ins[0]

    def param_count(self, p, ins, out):
        return 0

    def buffer_count(self, p, ins, out):
        return 0

    def macs(self, p, ins, out):
        return 0

    def flops(self, p, ins, out):
        return 0

    def activations(self, p, ins, out):
        from archcalc.layers.arith import product

        # H*W*C, the order the lecture multiplies in (224*224*64)
        return product(tuple(out[1:]) + tuple(out[:1]))

    def rf_step(self, p, ins, out):
        return None

    def buffer_bytes(self, p, ins, out, itemsize):
        # float buffers at the model's element size; kinds with integer buffers override
        return self.buffer_count(p, ins, out) * itemsize

    def saved(self, p, ins, out):
        # most layers need their input for the gradient of their weights or input
        return (INPUT,)

    def saved_at_batch_one(self, p, ins, out):
        return ()

    def inference_temporaries(self, p, ins, out):
        return ()

    def inference_moments(self, p, ins, out, batch_one: bool = False):
        from archcalc.layers.arith import product
        from archcalc.layers.saved import internal

        made = tuple(self.inference_temporaries(p, ins, out))
        if self.shares_input(p, ins, out, False):
            return (made,)
        return ((internal(product(out)), *made),)

    def shares_input(self, p, ins, out, training: bool):
        return False

    def writes_input(self, p, ins, out) -> bool:
        return False

    def parts(self, p, ins, out) -> list:
        """The modules and operations the built node runs, as other counting tools see
        them (layers/parts.py); a kind without this rule is refused under --convention."""
        from archcalc.layers.parts import UnknownKind

        raise UnknownKind(f"the counting conventions do not know layer kind {self.name!r}",
                          hint="give the kind a `parts` rule listing the modules its "
                               "build() makes (layers/parts.py)")

    def build(self, p, ins, out):
        raise NotImplementedError(f"layer kind {self.name!r} has no PyTorch builder yet")

    def own_modules(self, module) -> list:
        return [module]

    def backward(self, p, ins, out, input_grad: bool, weight_grad: bool) -> Backward:
        """The backward pass when the node's input needs a gradient (``input_grad``: not
        the images, nor anything computed from frozen layers only) and when its weights
        train (``weight_grad``). A kind without its own rule: each gradient costs what the
        forward pass does (the MACs once for the input's gradient, once for the weights',
        and the forward's other FLOPs for the input's gradient)."""
        macs = self.macs(p, ins, out)
        return Backward(macs if input_grad else 0, macs if weight_grad else 0,
                        self.flops(p, ins, out) - 2 * macs if input_grad else 0)

    # --- schema ------------------------------------------------------------
    def param(self, name: str) -> Param | None:
        for param in self.params:
            if param.name == name:
                return param
        return None


class View(LayerKind):
    """A kind whose output is a view of its input (flatten, a slice, a permute, a token
    selection): it makes no tensor and keeps nothing for backward, in training or not."""

    def activations(self, p, ins, out):
        return 0

    def saved(self, p, ins, out):
        return ()

    def shares_input(self, p, ins, out, training: bool):
        return True

    def backward(self, p, ins, out, input_grad, weight_grad):
        # the gradient of a view is the output's gradient, laid out as the input
        return NO_BACKWARD

    def parts(self, p, ins, out) -> list:
        from archcalc.layers.parts import elementwise

        return elementwise("data", ins, out)  # a view: no arithmetic in any tool


REGISTRY: dict[str, LayerKind] = {}


def register(cls: type[LayerKind]) -> type[LayerKind]:
    if cls.name in REGISTRY:
        raise RuntimeError(f"layer kind {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls()
    return cls


@contextlib.contextmanager
def registered(cls: type[LayerKind]) -> Iterator[LayerKind]:
    """``cls`` registered for the duration of a ``with`` block, then removed: a kind
    defined outside archcalc (a test's) joins every lookup, ``act:`` choices included."""
    all_kinds()  # the built-in kinds first, so a lookup does not mistake them for loaded
    register(cls)
    try:
        yield REGISTRY[cls.name]
    finally:
        del REGISTRY[cls.name]


_loaded = False


def _load_all() -> None:
    # Importing the family modules fills REGISTRY through @register. A flag, not an empty
    # REGISTRY, says whether that happened: importing one family (activation.py) first
    # registers only its own kinds.
    global _loaded
    if _loaded:
        return
    _loaded = True
    from archcalc.layers import (  # noqa: F401
        activation,
        channels,
        conv,
        excitation,
        layout,
        linear,
        merge,
        norm,
        opaque,
        pool,
        shape,
        shortcut,
        tokens,
        window_attention,
        windows,
    )


def get_kind(name: str) -> LayerKind | None:
    _load_all()
    return REGISTRY.get(name)


def all_kinds() -> dict[str, LayerKind]:
    _load_all()
    return dict(REGISTRY)


def did_you_mean(word: str, candidates) -> str | None:
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def unknown_key_error(key, known, what: str, where) -> SpecError:
    known = sorted(known)
    hint = did_you_mean(key, known) or f"known keys: {', '.join(known)}"
    return SpecError(f"unknown key {key!r} for {what}", where=where, hint=hint)
