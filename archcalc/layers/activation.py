"""Element-wise activations: one class per activation, the one home of all it knows.

Each class is a layer kind of its own (``- relu``) and the meaning of ``act: NAME`` folded
into a conv, an fc or a merge (layers/conv.py, linear.py, merge.py ask it through
``folded(p)``). What it declares:

- ``module``: the ``torch.nn`` class name it builds (``inplace=`` passed when it can run
  in place);
- ``can_run_in_place``: PyTorch can overwrite its input (``nn.ReLU(inplace=True)``); the
  in-place analysis (analysis/inplace.py) turns it out of place where that is unsafe;
- ``keeps``: what autograd keeps for its backward, its ``"output"`` (relu, tanh, sigmoid:
  their derivative is written with the result) or its ``"input"`` (GELU, hardtanh); run
  in place, one that keeps its input keeps a copy of it, which PyTorch takes before
  writing (measured with saved_tensors_hooks for ``hardtanh_``; tests/test_new_kind.py);
- ``flops_per_element``: FLOPs per element: one per arithmetic operation (max, min, + - *
  /) and per elementary function (sigmoid, tanh, erf) of its formula; relu, tanh, sigmoid 1.
- ``backward_flops_per_element``: the same count for the gradient of its input, on the
  formula of PyTorch's backward kernel (``threshold_backward`` for relu: 1, a compare and
  select); an activation that does not state it costs as much backward as forward.

Registering the class (``@register``) makes it a standalone kind and a choice of every
``act:`` at once (``act_choices``), so adding GELU is one class here.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, cast

from archcalc.layers.arith import product
from archcalc.layers.registry import (
    REGISTRY,
    Backward,
    LayerKind,
    Param,
    all_kinds,
    register,
)
from archcalc.layers.saved import INPUT, OUTPUT, Saved, internal

NONE = "none"  # ``act: none``: no activation


class Activation(LayerKind):
    """FLOPs: ``flops_per_element`` per element. Activations: 0 when in place.
    Backward: ``backward_flops_per_element`` per element when its input needs a gradient."""

    module: ClassVar[str]
    can_run_in_place: ClassVar[bool] = False
    keeps: ClassVar[str] = "output"
    flops_per_element: ClassVar[int] = 1
    backward_flops_per_element: ClassVar[int | None] = None  # None: flops_per_element

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # the `inplace` argument exists exactly where PyTorch's module has one; true means
        # "in place where safe" (analysis/inplace.py), as torchvision writes its ReLUs
        if "params" not in cls.__dict__:
            cls.params = (Param("inplace", "bool", True),) if cls.can_run_in_place else ()

    # --- what a folded act and the standalone kind share ---------------------------------
    def runs_in_place(self, p) -> bool:
        """Whether it overwrites its input: it can, and the analysis did not set
        ``inplace: False`` (analysis/inplace.py) in the node's parameters ``p``."""
        return self.can_run_in_place and p.get("inplace", True) is not False

    def kept(self, p, act_input: Saved, act_output: Saved, elements) -> tuple[Saved, ...]:
        """What autograd keeps for its backward, given the records of its input and output
        tensors (the same record when it runs in place) and their elements per sample."""
        if self.keeps == "output":
            return (act_output,)
        return (internal(elements),) if self.runs_in_place(p) else (act_input,)

    def flops_on(self, elements):
        return self.flops_per_element * elements

    def backward_on(self, elements):
        """FLOPs of the gradient of its input on ``elements`` elements."""
        per_element = self.backward_flops_per_element
        return (self.flops_per_element if per_element is None else per_element) * elements

    def make_module(self, in_place: bool):
        """The ``torch.nn`` module (imports torch)."""
        from torch import nn

        cls = getattr(nn, self.module)
        return cls(inplace=in_place) if self.can_run_in_place else cls()

    # --- the rules of the standalone kind ------------------------------------------------
    def flops(self, p, ins, out):
        return self.flops_on(product(out))

    def activations(self, p, ins, out):
        return 0 if self.runs_in_place(p) else product(out)

    def saved(self, p, ins, out):
        return self.kept(p, OUTPUT if self.runs_in_place(p) else INPUT, OUTPUT, product(out))

    def shares_input(self, p, ins, out, training):
        return self.runs_in_place(p)

    def writes_input(self, p, ins, out):
        return self.runs_in_place(p)

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, self.backward_on(product(out)) if input_grad else 0)

    def parts(self, p, ins, out) -> list:
        from archcalc.layers.parts import elementwise

        return elementwise(self.module, ins, out)

    def build(self, p, ins, out):
        return self.make_module(self.runs_in_place(p))


def folded(p) -> Activation | None:
    """The activation named by the ``act`` parameter in ``p``, or None for ``none``."""
    return None if p.act == NONE else cast(Activation, REGISTRY[p.act])  # act_choices validated it


class _ActChoices(Sequence):
    """``none`` and every registered activation, in registration order: the live choices
    of ``act:``, so an activation registered later (a test's) is accepted at once."""

    def _names(self) -> tuple:
        return (NONE,) + tuple(name for name, kind in all_kinds().items()
                               if isinstance(kind, Activation))

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


act_choices = _ActChoices()


def act_param(help_text: str = "") -> Param:
    """The ``act`` argument of a kind that folds an activation (conv, fc, merges)."""
    return Param("act", "choice", NONE, choices=act_choices, help=help_text)


@register
class ReLU(Activation):
    __doc__ = ("Rectified linear unit (``nn.ReLU``). Backward: 1 per element "
               "(threshold_backward: ``y <= 0 ? 0 : g``). " + (Activation.__doc__ or ""))
    name = "relu"
    summary = "ReLU (in place by default, as torchvision writes it)"
    module = "ReLU"
    can_run_in_place = True
    backward_flops_per_element = 1


@register
class Tanh(Activation):
    __doc__ = ("Hyperbolic tangent (``nn.Tanh``). Backward: 3 per element "
               "(tanh_backward: ``g * (1 - y*y)``). " + (Activation.__doc__ or ""))
    name = "tanh"
    summary = "tanh"
    module = "Tanh"
    backward_flops_per_element = 3


@register
class Sigmoid(Activation):
    __doc__ = ("Logistic sigmoid (``nn.Sigmoid``). Backward: 3 per element "
               "(sigmoid_backward: ``g * (1 - y) * y``). " + (Activation.__doc__ or ""))
    name = "sigmoid"
    summary = "sigmoid"
    module = "Sigmoid"
    backward_flops_per_element = 3


# --- the activations of 2017-2021 networks ------------------------------------------------
# FLOPs rule for these (and consistent with relu = max(x, 0) = 1, tanh = 1, sigmoid = 1):
# one FLOP per arithmetic operation (+ - * /, max, min) of the formula PyTorch documents,
# and one per elementary function applied (sigmoid, tanh, erf), never their expansions.
# What autograd keeps was measured with saved_tensors_hooks (torch 2.x): each of these five
# keeps its input; run in place (all but GELU can), PyTorch keeps a copy of the input taken
# before writing, which ``Activation.kept`` counts as an internal tensor.


@register
class ReLU6(Activation):
    """ReLU6, ``min(max(x, 0), 6)`` (``nn.ReLU6``; MobileNetV2 writes it in place).

    FLOPs: 2 per element (a max and a min). Autograd keeps its input (hardtanh's backward
    reads it); in place, a copy of the input. Activations: 0 when in place.
    Backward: 2 per element (hardtanh_backward: ``x <= 0 || x >= 6 ? 0 : g``, two compares).
    """

    name = "relu6"
    summary = "ReLU6: clamp to [0, 6] (in place by default, as torchvision writes it)"
    module = "ReLU6"
    can_run_in_place = True
    keeps = "input"
    flops_per_element = 2
    backward_flops_per_element = 2


@register
class Hardsigmoid(Activation):
    """Hard sigmoid, ``min(max(x/6 + 1/2, 0), 1)`` (``nn.Hardsigmoid``; MobileNetV3's SE gate).

    FLOPs: 4 per element (divide, add, max, min). Autograd keeps its input; in place, a
    copy of the input. Activations: 0 when in place.
    Backward: 3 per element (hardsigmoid_backward: ``-3 < x < 3 ? g / 6 : 0``: two
    compares, a divide).
    """

    name = "hardsigmoid"
    summary = "hard sigmoid: relu6(x + 3) / 6 (in place by default)"
    module = "Hardsigmoid"
    can_run_in_place = True
    keeps = "input"
    flops_per_element = 4
    backward_flops_per_element = 3


@register
class Hardswish(Activation):
    """Hard swish, ``x * relu6(x + 3) / 6`` (``nn.Hardswish``; MobileNetV3 writes it in place).

    FLOPs: 5 per element (add, max, min, multiply, divide). Autograd keeps its input; in
    place, a copy of the input. Activations: 0 when in place.
    Backward: 5 per element (hardswish_backward: ``x < -3 ? 0 : x <= 3 ? g * (x/3 + 0.5)
    : g``: two compares, divide, add, multiply).
    """

    name = "hardswish"
    summary = "hard swish: x * relu6(x + 3) / 6 (in place by default)"
    module = "Hardswish"
    can_run_in_place = True
    keeps = "input"
    flops_per_element = 5
    backward_flops_per_element = 5


@register
class SiLU(Activation):
    """SiLU (swish), ``x * sigmoid(x)`` (``nn.SiLU``; EfficientNet writes it in place).

    FLOPs: 2 per element (the sigmoid, the multiply). Autograd keeps its input; in place,
    a copy of the input. Activations: 0 when in place.
    Backward: 6 per element (silu_backward: ``g * s * (1 + x * (1 - s))``, s = sigmoid(x):
    the sigmoid, a subtract, three multiplies, an add).
    """

    name = "silu"
    summary = "SiLU (swish): x * sigmoid(x) (in place by default)"
    module = "SiLU"
    can_run_in_place = True
    keeps = "input"
    flops_per_element = 2
    backward_flops_per_element = 6


@register
class GELU(Activation):
    """GELU, exact form ``x * 0.5 * (1 + erf(x / sqrt(2)))`` (``nn.GELU()``, approximate
    ``none``). FLOPs: 5 per element (divide, erf, add, two multiplies). Autograd keeps its
    input. PyTorch's module has no in-place form: always a new tensor.
    Backward: 11 per element (gelu_backward: ``g * (cdf + x * pdf)`` with ``cdf = 0.5 * (1 +
    erf(x / sqrt 2))`` (4) and ``pdf = exp(-0.5 * x * x) / sqrt(2 pi)`` (4): then a
    multiply, an add, a multiply).
    """

    name = "gelu"
    summary = "GELU (exact erf form; never in place)"
    module = "GELU"
    keeps = "input"
    flops_per_element = 5
    backward_flops_per_element = 11
