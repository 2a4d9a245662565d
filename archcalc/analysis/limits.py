"""The smallest input a spec accepts: the one place that computes it.

Used to turn "the size collapses at pool3" into "... the smallest input that
works is 3x67x67", by `sweep`, and by the symbolic table's validity facts. The
search runs the ordinary integer rules on square sides in increasing order
(each try is one integer analysis, a millisecond or so, and a size that
collapses fails early), so it is exact for square inputs, including specs whose
valid sizes have gaps (an add that needs equal shapes from a pool and a strided
conv). It is bounded twice: sides up to ``MAX_SIDE`` and ``SEARCH_SECONDS`` of
wall time; a search that stops says so instead of guessing.

The symbolic conditions (analysis/symbolic.py) agree with it: tests/test_symbolic.py
checks for every zoo spec that they hold at the side found here and fail one below.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from archcalc.errors import ShapeError

MAX_SIDE = 4096
SEARCH_SECONDS = 5.0


def accepts(spec, shape) -> bool:
    from archcalc.analysis.analyze import analyze

    try:
        analyze(spec, shape, check_expect=False)
    except ShapeError:
        return False
    return True


@dataclass(frozen=True)
class SmallestSearch:
    """The outcome of the search: ``side`` (None when none was found), the last side
    tried, and whether the time bound stopped it before ``limit``."""

    side: int | None
    tried_up_to: int
    timed_out: bool

    def describe(self, channels) -> str:
        if self.side is not None:
            return f"the smallest input that works is {channels}x{self.side}x{self.side}"
        if self.timed_out:
            return (f"the smallest input could not be derived: no square input up to "
                    f"{channels}x{self.tried_up_to}x{self.tried_up_to} works and the search "
                    f"stops after {SEARCH_SECONDS:g} s")
        return f"no square input up to {channels}x{self.tried_up_to}x{self.tried_up_to} works"


def search_smallest_square(spec, channels: int | None = None, limit: int = MAX_SIDE,
                           allowed: Callable[[int], bool] | None = None,
                           seconds: float = SEARCH_SECONDS) -> SmallestSearch:
    """The smallest S (with ``allowed(S)``, e.g. a multiple the user assumed) such that
    the spec accepts C x S x S, trying S = 1, 2, ... up to ``limit`` or ``seconds``."""
    channels = channels or spec.input[0]
    deadline = time.monotonic() + seconds
    side = 0
    for side in range(1, limit + 1):
        if allowed is not None and not allowed(side):
            continue
        if accepts(spec, (channels, side, side)):
            return SmallestSearch(side, side, False)
        if time.monotonic() > deadline:
            return SmallestSearch(None, side, True)
    return SmallestSearch(None, side, False)


def smallest_square_side(spec, channels: int | None = None, limit: int = MAX_SIDE,
                         allowed: Callable[[int], bool] | None = None) -> int | None:
    """The smallest S such that the spec accepts C x S x S, or None (see the bounds)."""
    return search_smallest_square(spec, channels, limit, allowed).side


def analyze_explained(spec, input_shape=None, **options):
    """``analyze``, but a size that collapses names the smallest input that works."""
    from archcalc.analysis.analyze import analyze

    try:
        return analyze(spec, input_shape, **options)
    except ShapeError as exc:
        if input_shape is None or len(input_shape) != 3:
            raise
        found = search_smallest_square(spec, input_shape[0])
        if found.side is not None or found.timed_out:
            exc.hint = (found.describe(input_shape[0])
                        + (f" ({exc.hint})" if exc.hint and "smallest" not in exc.hint else ""))
        raise
