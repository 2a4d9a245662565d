"""The parameter-free residual shortcut of the CIFAR ResNets (He et al. 2015, option A)."""
from __future__ import annotations

from archcalc.layers import parts
from archcalc.layers.arith import equal, require
from archcalc.layers.conv import spatial
from archcalc.layers.registry import LayerKind, Param, register


@register
class PadShortcut(LayerKind):
    """Option-A shortcut: subsample by the stride, then zero-pad the extra channels.

    He et al. 2015, section 3.3 option (A) and section 4.2: "the shortcut still
    performs identity mapping, with extra zero entries padded for increasing
    dimensions"; across feature maps of two sizes it is done with a stride of 2,
    i.e. ``x[:, :, ::stride, ::stride]``. The ``out - C`` zero channels are split
    evenly before and after the input's (the odd one after), as the widely used
    CIFAR ResNet code does (``F.pad(..., (0, 0, 0, 0, extra//2, extra - extra//2))``);
    where they go changes no count.

    Output: (out, (H-1)//stride + 1, (W-1)//stride + 1). Params, buffers, MACs: 0.
    FLOPs: 0 (a strided copy and a zero fill: no arithmetic).
    Activations: the output's elements (the padded tensor is new).
    """

    name = "pad_shortcut"
    summary = "parameter-free shortcut: stride subsampling and zero channels (ResNet option A)"
    params = (
        Param("out", "channels", help="output channels, at least the input's (or `in*2`)"),
        Param("stride", "pair", 1, minimum=1),
    )

    def output_shape(self, p, ins):
        channels, height, width = spatial(self.name, ins)
        require(p.out >= channels,
                f"pad_shortcut pads channels, but out={p.out} is less than the input's "
                f"{channels}", "use a 1x1 conv shortcut to reduce channels")
        return (p.out, (height - 1) // p.stride[0] + 1, (width - 1) // p.stride[1] + 1)

    def saved(self, p, ins, out):
        return ()  # slicing and constant padding need only shapes for backward

    def shares_input(self, p, ins, out, training):
        # without extra channels the output is a strided view of the input (or the input)
        return equal(p.out, ins[0][0])

    def rf_step(self, p, ins, out):
        # a 1x1 window moved by the stride, no padding
        return ((1, p.stride[0], 0), (1, p.stride[1], 0))

    def parts(self, p, ins, out):
        return parts.elementwise("data", ins, out)  # a subsampled, zero-padded copy

    def build(self, p, ins, out):
        from archcalc.nn import PadShortcutModule

        return PadShortcutModule(ins[0][0], p.out, tuple(p.stride))
