"""The arithmetic every layer rule uses, so one rule serves integers and symbols.

Rules never write ``if`` on a size: they call ``require`` for a condition the
input must meet and ``select`` for a size-dependent choice (PyTorch's ceil-mode
correction). On plain integers these act at once; when sizes are symbols the
symbolic analysis installs a collector that records the conditions instead.
"""
from __future__ import annotations

import contextvars

from archcalc.errors import ShapeError

# When set, a callable(condition, message, hint) that records a symbolic condition.
condition_collector: contextvars.ContextVar = contextvars.ContextVar(
    "condition_collector", default=None)


def is_concrete(value) -> bool:
    return isinstance(value, (bool, int))


def _truth(condition):
    """True/False when decidable now (ints, or a symbolic condition sympy settles), else None."""
    if isinstance(condition, bool):
        return condition
    try:
        return bool(condition)
    except TypeError:  # a sympy relation that depends on the symbols
        return None


def require(condition, message: str, hint: str | None = None) -> None:
    """Demand that ``condition`` holds for this input, or fail with a ShapeError."""
    truth = _truth(condition)
    if truth is not None:
        if not truth:
            raise ShapeError(message, hint=hint)
        return
    collector = condition_collector.get()
    if collector is None:
        raise TypeError(f"symbolic condition {condition!r} with no collector installed")
    collector(condition, message, hint)


def select(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false`` (symbolic: Piecewise)."""
    truth = _truth(condition)
    if truth is not None:
        return if_true if truth else if_false
    import sympy

    return sympy.Piecewise((if_true, condition), (if_false, True))


def ceildiv(numerator, denominator):
    """Division rounded up: plain ints, traced ints (which print ceil) and symbols."""
    if hasattr(numerator, "ceildiv"):
        return numerator.ceildiv(denominator)
    if isinstance(numerator, int) and isinstance(denominator, int):
        return -((-numerator) // denominator)
    import sympy

    return sympy.ceiling(sympy.sympify(numerator) / denominator)


def equal(a, b):
    """``a == b`` as a condition: a bool for ints, a sympy equation for symbols.

    Symbolic sides are compared by their difference, which sympy's automatic
    evaluation cancels when the two are written alike (every merge in the zoo); a
    constant difference decides at once. Otherwise the equation is recorded
    unevaluated: ``sympy.simplify`` on nested floors from chained ceil-mode pools
    took minutes, and an equation that always holds is a harmless condition.
    """
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    import sympy

    difference = sympy.sympify(a) - sympy.sympify(b)
    if difference.is_number:
        return bool(difference == 0)
    return sympy.Eq(a, b, evaluate=False)


def divides(divisor, value):
    """``value % divisor == 0`` as a condition (a sympy equation for symbols)."""
    if isinstance(value, int) and isinstance(divisor, int):
        return value % divisor == 0
    if divisor == 1:
        return True
    import sympy

    return sympy.Eq(sympy.Mod(value, divisor), 0)


def product(values) -> int:
    result = 1
    for value in values:
        result = result * value
    return result
