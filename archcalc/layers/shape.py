"""Layers that move or mask data without arithmetic: flatten, dropout, stochastic depth."""
from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.layers import parts
from archcalc.layers.arith import product
from archcalc.layers.registry import Backward, LayerKind, Param, View, register
from archcalc.layers.saved import Saved, dropout_mask


@register
class Flatten(View):
    """Flatten C x H x W to one axis (``nn.Flatten``). A view: no new elements.

    Receptive field: what follows sees the whole map, so it acts as an H x W window.
    """

    name = "flatten"
    summary = "flatten to one axis (a view: no activation memory)"

    def output_shape(self, p, ins):
        # H*W*C, the lecture's order (7*7*512); the same number as torch's C*H*W
        return (product(tuple(ins[0][1:]) + tuple(ins[0][:1])),)

    def rf_step(self, p, ins, out):
        if len(ins[0]) != 3:
            return None
        return ((ins[0][1], 1, 0), (ins[0][2], 1, 0))

    def parts(self, p, ins, out):
        return parts.elementwise("Flatten", ins, out)

    def build(self, p, ins, out):
        from torch import nn

        return nn.Flatten()


def check_probability(value, name: str = "p") -> None:
    """A dropout probability must lie in [0, 1] (``nn.Dropout`` raises otherwise, and
    accepts NaN, which would train on NaN): refused at analysis, so `check` says it."""
    if not (isinstance(value, (int, float)) and 0 <= value <= 1):
        raise SpecError(f"dropout probability {name}={value!r} is not between 0 and 1",
                        hint="a dropout probability is the fraction of elements zeroed, "
                             "e.g. 0.5")


class _DropsInTraining(LayerKind):
    """A kind that drops values with probability ``p`` in training and is the identity at
    inference (dropout, stochastic depth): no new elements in the table, and its input's
    storage handed on at inference and, with p = 0, in training too."""

    def output_shape(self, p, ins):
        check_probability(p.p)
        return ins[0]

    def activations(self, p, ins, out):
        return 0

    def shares_input(self, p, ins, out, training):
        # otherwise a new (masked or zeroed) tensor in training
        return not training or p.p == 0

    def backward(self, p, ins, out, input_grad, weight_grad):
        # the output's gradient times the kept mask or noise, 1 per element (p = 0: none)
        return Backward(0, 0, product(out) if input_grad and p.p != 0 else 0)


@register
class Dropout(_DropsInTraining):
    """Dropout (``nn.Dropout``). Identity at inference: 0 FLOPs, 0 activations.
    Backward: 1 per element (the gradient times the mask) when p > 0.

    In training (measured with ``saved_tensors_hooks``, as tests/test_plan.py does):
    p = 0 returns the input itself and saves nothing; p = 1 multiplies by a zero
    scalar, making a new tensor and saving that one-element zero; in between, a mask
    (a dtype-sized noise tensor on the CPU, CUDA's bool mask, ``saved.MASK``).
    """

    name = "dropout"
    summary = "dropout (identity at inference)"
    params = (Param("p", "float", 0.5),)

    def saved(self, p, ins, out):
        if p.p == 0:
            return ()
        if p.p == 1:
            # PyTorch's _dropout_impl: input * zeros({}), whose backward keeps the zero
            return (Saved("internal", 1, None, per_sample=False),)
        return (dropout_mask(product(out)),)

    def parts(self, p, ins, out):
        return parts.elementwise("Dropout", ins, out)

    def build(self, p, ins, out):
        from torch import nn

        return nn.Dropout(p.p)


@register
class StochasticDepth(_DropsInTraining):
    """Stochastic depth (Huang et al. 2016) as ``torchvision.ops.StochasticDepth``: drops
    the whole residual branch of a sample (``row``) or of the batch (``batch``).

    Identity at inference: 0 FLOPs, 0 activations, nothing made. In training (torchvision's
    ``stochastic_depth``): ``input * noise`` with a Bernoulli(1-p)/(1-p) noise of shape
    [N, 1, 1, 1] (row) or [1, 1, 1, 1] (batch), a new tensor; autograd keeps the noise
    only (measured with saved_tensors_hooks: the input gets no gradient from it), one
    element per sample (row) or one in all (batch). p = 0 returns the input itself.
    Backward: 1 per element (the gradient times the noise) when p > 0.
    """

    name = "stochastic_depth"
    summary = "stochastic depth: drop a sample's residual branch (identity at inference)"
    params = (Param("p", "float", help="probability of dropping, e.g. 0.2"),
              Param("mode", "choice", "row", choices=("row", "batch")))

    def saved(self, p, ins, out):
        if p.p == 0:
            return ()
        return (Saved("internal", 1, None, per_sample=p.mode == "row"),)

    def parts(self, p, ins, out):
        return parts.elementwise("StochasticDepth", ins, out)  # the identity at inference

    def build(self, p, ins, out):
        from torchvision.ops import StochasticDepth as TorchvisionStochasticDepth

        return TorchvisionStochasticDepth(p.p, p.mode)
