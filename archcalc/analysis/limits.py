"""The smallest input a spec accepts, found by trying concrete sizes.

Used to turn "the size collapses at pool3" into "... the smallest input that
works is 3x67x67". The search tries square sides in increasing order (each
try is one integer analysis, a millisecond or so), so it is exact for square
inputs, including specs whose valid sizes have gaps.
"""
from __future__ import annotations

from archcalc.errors import ShapeError

MAX_SIDE = 4096


def accepts(spec, shape) -> bool:
    from archcalc.analysis.analyze import analyze

    try:
        analyze(spec, shape, check_expect=False)
    except ShapeError:
        return False
    return True


def smallest_square_side(spec, channels: int | None = None, limit: int = MAX_SIDE) -> int | None:
    """The smallest S such that the spec accepts C x S x S, or None up to ``limit``."""
    channels = channels or spec.input[0]
    for side in range(1, limit + 1):
        if accepts(spec, (channels, side, side)):
            return side
    return None


def smallest_from_conditions(spec, channels: int) -> int | None:
    """The smallest square side from the symbolic conditions of every layer (sympy is
    imported only on this error path); the concrete search where sympy gives up on
    an unusual case split."""
    try:
        from archcalc.analysis.symbolic import analyze_symbolic, smallest_square_side as solve
        from archcalc.analysis.symbolic import symbol

        result = analyze_symbolic(spec, (channels, symbol("H"), symbol("W")))
        return solve(result)
    except (ArithmeticError, TypeError, ValueError, RecursionError):
        return smallest_square_side(spec, channels)


def analyze_explained(spec, input_shape=None, **options):
    """``analyze``, but a size that collapses names the smallest input that works."""
    from archcalc.analysis.analyze import analyze

    try:
        return analyze(spec, input_shape, **options)
    except ShapeError as exc:
        if input_shape is None or len(input_shape) != 3:
            raise
        side = smallest_from_conditions(spec, input_shape[0])
        if side is not None:
            exc.hint = (f"the smallest input that works is {input_shape[0]}x{side}x{side}"
                        + (f" ({exc.hint})" if exc.hint and "smallest" not in exc.hint else ""))
        raise
