"""Tensor layouts beyond C x H x W: channels-last maps and the kinds that act on the last axis.

A per-sample shape stays a tuple; its rank says what it is: (F,) features, (L, D) tokens,
(C, H, W) a map. A rank-3 shape made by ``permute: {order: [1, 2, 0]}`` is a channels-last
map (H, W, C), marked by the tuple subclass ``ChannelsLast`` (equal to the plain tuple of
the same sizes), so that a kind on the last axis (``fc``, ``layernorm``) can tell it from a
C x H x W map, where acting on the width is almost always a missing ``flatten``.
"""
from __future__ import annotations

from archcalc.layers.arith import require


class ChannelsLast(tuple):
    """An (H, W, C) shape: a map whose channels are the last axis."""

    __slots__ = ()


def same_layout(like, sizes) -> tuple:
    """``sizes`` as a shape of the same layout as ``like`` (a rule keeps the marker)."""
    return ChannelsLast(sizes) if isinstance(like, ChannelsLast) else tuple(sizes)


def last_axis_input(kind: str, ins, wanted: str = "a flat input"):
    """The one input of a kind on the last axis: features, tokens or a channels-last map;
    a C x H x W map is refused (the usual cause: a missing ``flatten``)."""
    shape = ins[0]
    channels_first = len(shape) >= 3 and not isinstance(shape, ChannelsLast)
    require(not channels_first,
            f"{kind} needs {wanted}, got {list(shape)}: a C x H x W map ({kind} acts on the "
            f"last axis: features, tokens L x D, or a channels-last map after `permute`)",
            "add `flatten` (or a global pool and `flatten`) before this layer, or "
            "`permute: {order: [1, 2, 0]}` to act on the channels")
    return shape


def layernorm_examples(shape):
    """``archcalc.testing`` strategy for ``layernorm``: on features after ``flatten``."""
    from hypothesis import strategies as st

    @st.composite
    def items(draw):
        flat = (shape[0] * shape[1] * shape[2],)
        eps = draw(st.sampled_from([1e-5, 1e-6]))
        return ["flatten", {"layernorm": {"eps": eps}}], flat

    return items()
