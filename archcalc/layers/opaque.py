"""A node archcalc cannot express, kept by `archcalc import --allow-opaque`: ``opaque``.

What the import measured on the module is all the spec knows: the per-image input and
output shapes (forward hooks on one run), the parameters and buffers the module holds.
What it computes is not written anywhere, so its MACs, FLOPs, receptive field, saved
tensors and backward are unknown (``UnknownCost``), never zero, and it cannot be built.
"""
from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.layers.arith import product
from archcalc.layers.layout import new_tensor_like
from archcalc.layers.registry import LayerKind, Param, UnknownCost, register

UNKNOWN_HINT = ("an opaque node keeps only what `archcalc import --allow-opaque` measured; "
                "write the part with archcalc's kinds (`archcalc kinds`) to count it")


def described(p) -> str:
    return f"the opaque node for {p.module} ({p.op})"


def _examples(shape):
    """For archcalc.testing: an opaque node on ``shape`` with a drawn output and counts
    (hypothesis is imported here: the analysis path never needs it)."""
    from hypothesis import strategies as st

    @st.composite
    def drawn(draw):
        output = draw(st.lists(st.integers(1, 16), min_size=1, max_size=3))
        body = {"input": list(shape), "output": output,
                "params": draw(st.integers(0, 1000)), "buffers": draw(st.integers(0, 10)),
                "module": "features.3", "op": "no archcalc rule for torch.erf at net.py:12"}
        return [{"opaque": body}], tuple(output)

    return drawn()


@register
class Opaque(LayerKind):
    """A module or call archcalc has no kind for, as measured by `archcalc import
    --allow-opaque`, per image.

    Output: ``output``, on the measured ``input`` only (another input is refused: the shape
    was measured at one size), in the input's layout when the rank is the same (a
    channels-last map stays channels-last). Params and buffers: the measured counts.
    Activations: the output's elements (a tensor it makes). MACs, FLOPs, receptive field,
    saved-for-backward, inference temporaries and backward: unknown (``UnknownCost``; the
    table shows ``?`` and totals are lower bounds). Not buildable: the spec does not say
    what it computes.
    """

    name = "opaque"
    summary = "a measured node archcalc cannot count (archcalc import --allow-opaque)"
    buildable = False
    examples = staticmethod(_examples)
    params = (
        Param("input", "shape", help="the per-image input shape measured on the module"),
        Param("output", "shape", help="the per-image output shape measured on the module"),
        Param("params", "count", 0, help="trainable parameters the module holds"),
        Param("buffers", "count", 0, help="buffers the module holds"),
        Param("module", "text", help="the module path in the original model"),
        Param("op", "text", help="what archcalc could not express, with its source line"),
    )

    def output_shape(self, p, ins):
        given = tuple(ins[0])
        if not all(isinstance(size, int) for size in given):
            raise SpecError(f"{described(p)} was measured at input {list(p.input)} only; "
                            "its output at a symbolic size is unknown",
                            hint="analyse the spec at its own input; " + UNKNOWN_HINT)
        if given != tuple(p.input):
            raise SpecError(f"{described(p)} was measured on input {list(p.input)}, "
                            f"it gets {list(given)}",
                            hint="import the model again at this input size (--input)")
        # a map in channels-last order stays so when the rank does (Swin's attention
        # between permutes): the measured sizes do not say the order, the graph does
        if len(p.output) == len(given):
            return new_tensor_like(ins[0], p.output)
        return tuple(p.output)

    def param_count(self, p, ins, out):
        return p.params

    def buffer_count(self, p, ins, out):
        return p.buffers

    def activations(self, p, ins, out):
        return product(out)

    def _unknown(self, p, what: str):
        raise UnknownCost(f"the {what} of {described(p)} are unknown", hint=UNKNOWN_HINT)

    def macs(self, p, ins, out):
        self._unknown(p, "MACs")

    def flops(self, p, ins, out):
        self._unknown(p, "FLOPs")

    def rf_step(self, p, ins, out):
        self._unknown(p, "receptive-field steps")

    def saved(self, p, ins, out):
        self._unknown(p, "tensors saved for backward")

    def inference_temporaries(self, p, ins, out):
        self._unknown(p, "inference temporaries")

    def inference_moments(self, p, ins, out, batch_one: bool = False):
        self._unknown(p, "inference temporaries")

    def backward(self, p, ins, out, input_grad, weight_grad):
        self._unknown(p, "backward FLOPs")

    def build(self, p, ins, out):
        raise SpecError(f"cannot build {described(p)}: the spec records its shapes and "
                        "counts, not what it computes",
                        hint="build the original PyTorch model, or replace the node with "
                             "archcalc layers")
