"""Element-wise activations written as their own items."""
from __future__ import annotations

from archcalc.layers.arith import product
from archcalc.layers.registry import LayerKind, Param, register
from archcalc.layers.saved import OUTPUT


class _Activation(LayerKind):
    """FLOPs: 1 per element. Activations: 0 when in place (no new tensor)."""

    params = (Param("inplace", "bool", False),)

    def flops(self, p, ins, out):
        return product(out)

    def activations(self, p, ins, out):
        return 0 if p.get("inplace") else product(out)

    def saved(self, p, ins, out):
        return (OUTPUT,)  # relu, tanh and sigmoid differentiate from their output

    def shares_input(self, p, ins, out, training):
        return bool(p.get("inplace"))

    def writes_input(self, p, ins, out):
        return bool(p.get("inplace"))

    def build(self, p, ins, out):
        from archcalc.torchgraph.modules import make_activation

        return make_activation(self.name, inplace=bool(p.get("inplace")))


@register
class ReLU(_Activation):
    __doc__ = "Rectified linear unit (``nn.ReLU``). " + _Activation.__doc__
    name = "relu"
    summary = "ReLU (in place by default, as torchvision writes it)"
    params = (Param("inplace", "bool", True),)


@register
class Tanh(_Activation):
    __doc__ = "Hyperbolic tangent (``nn.Tanh``). " + _Activation.__doc__
    name = "tanh"
    summary = "tanh"
    params = ()


@register
class Sigmoid(_Activation):
    __doc__ = "Logistic sigmoid (``nn.Sigmoid``). " + _Activation.__doc__
    name = "sigmoid"
    summary = "sigmoid"
    params = ()
