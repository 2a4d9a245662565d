"""Channel shuffle and channel slicing: ShuffleNet V2's data movement (Ma et al. 2018)."""
from __future__ import annotations

from archcalc.layers import parts
from archcalc.layers.arith import divides, equal, require, select
from archcalc.layers.conv import spatial
from archcalc.layers.registry import LayerKind, Param, View, register


def _shuffle_is_a_view(p, ins):
    # with 1 group or C groups the transposed view is contiguous already: no copy
    return p.groups == 1 or equal(p.groups, ins[0][0])


@register
class ChannelShuffle(LayerKind):
    """ShuffleNet's channel shuffle: view as (groups, C/groups), transpose, flatten back
    (torchvision's ``shufflenetv2.channel_shuffle``, which the built module copies).

    Params, MACs, FLOPs: 0 (data movement). Activations: C*H*W, the copy ``contiguous``
    makes (0 with 1 or C groups: then the result is a view). Saved for backward: nothing
    (views and copies need only shapes).
    """

    name = "channel_shuffle"
    summary = "channel shuffle (ShuffleNet): reshape, transpose, reshape (a copy)"
    params = (Param("groups", "positive", help="groups to interleave, e.g. 2"),)

    def output_shape(self, p, ins):
        channels, _, _ = spatial(self.name, ins)
        require(divides(p.groups, channels),
                f"input channels {channels} are not divisible by groups={p.groups}")
        return ins[0]

    def activations(self, p, ins, out):
        return select(_shuffle_is_a_view(p, ins), 0, super().activations(p, ins, out))

    def saved(self, p, ins, out):
        return ()

    def shares_input(self, p, ins, out, training):
        return _shuffle_is_a_view(p, ins)

    def parts(self, p, ins, out):
        return parts.elementwise("data", ins, out)  # a shuffling copy: no arithmetic

    def build(self, p, ins, out):
        from archcalc.nn import ChannelShuffleModule

        return ChannelShuffleModule(p.groups)


@register
class ChannelSlice(View):
    """Channels [start, stop) of the input, ``x[:, start:stop]`` (a view; ShuffleNet's
    ``x.chunk(2, dim=1)`` is a branch whose paths slice each half).

    ``start`` and ``stop`` are whole numbers or exact expressions of the input channels
    ``in`` (``in/2``), with 0 <= start < stop <= C. Params, MACs, FLOPs, activations: 0.
    Saved: nothing. A layer after it that keeps its input keeps the sliced tensor's whole
    storage, as autograd does (analysis/memory.py follows views to their storage).
    """

    name = "channel_slice"
    summary = "channels [start, stop) of the input (a view)"
    params = (Param("start", "index", help="first channel, e.g. 0 or `in/2`"),
              Param("stop", "index", help="one past the last channel, e.g. `in/2` or `in`"))

    def output_shape(self, p, ins):
        channels = ins[0][0]
        require(0 <= p.start, f"channel_slice start {p.start} is negative")
        require(p.start < p.stop, f"channel_slice start {p.start} is not below stop {p.stop}",
                "the slice [start, stop) must hold at least one channel")
        require(p.stop <= channels, f"channel_slice stop {p.stop} is beyond the input's "
                                    f"{channels} channels", "write `stop: in` for the last")
        return (p.stop - p.start,) + tuple(ins[0][1:])

    def build(self, p, ins, out):
        from archcalc.nn import ChannelSliceModule

        return ChannelSliceModule(p.start, p.stop)
