"""Layers that move or mask data without arithmetic: flatten and dropout."""
from __future__ import annotations

from archcalc.layers.arith import product
from archcalc.layers.registry import LayerKind, Param, register
from archcalc.layers.saved import dropout_mask


@register
class Flatten(LayerKind):
    """Flatten C x H x W to one axis (``nn.Flatten``). A view: no new elements.

    Receptive field: what follows sees the whole map, so it acts as an H x W window.
    """

    name = "flatten"
    summary = "flatten to one axis (a view: no activation memory)"

    def output_shape(self, p, ins):
        # H*W*C, the lecture's order (7*7*512); the same number as torch's C*H*W
        return (product(tuple(ins[0][1:]) + tuple(ins[0][:1])),)

    def activations(self, p, ins, out):
        return 0

    def saved(self, p, ins, out):
        return ()

    def shares_input(self, p, ins, out, training):
        return True  # a view

    def rf_step(self, p, ins, out):
        if len(ins[0]) != 3:
            return None
        return ((ins[0][1], 1, 0), (ins[0][2], 1, 0))

    def build(self, p, ins, out):
        from torch import nn

        return nn.Flatten()


@register
class Dropout(LayerKind):
    """Dropout (``nn.Dropout``). Identity at inference: 0 FLOPs, 0 activations."""

    name = "dropout"
    summary = "dropout (identity at inference)"
    params = (Param("p", "float", 0.5),)

    def activations(self, p, ins, out):
        return 0

    def saved(self, p, ins, out):
        return (dropout_mask(product(out)),)

    def shares_input(self, p, ins, out, training):
        return not training  # the identity at inference; a new, masked tensor in training

    def build(self, p, ins, out):
        from torch import nn

        return nn.Dropout(p.p)
