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


def require(condition, message: str, hint: str | None = None) -> None:
    """Demand that ``condition`` holds for this input, or fail with a ShapeError."""
    if isinstance(condition, bool):
        if not condition:
            raise ShapeError(message, hint=hint)
        return
    collector = condition_collector.get()
    if collector is None:
        raise TypeError(f"symbolic condition {condition!r} with no collector installed")
    collector(condition, message, hint)


def select(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false`` (symbolic: Piecewise)."""
    if isinstance(condition, bool):
        return if_true if condition else if_false
    import sympy

    return sympy.Piecewise((if_true, condition), (if_false, True))


def ceildiv(numerator, denominator):
    return -((-numerator) // denominator)


def product(values) -> int:
    result = 1
    for value in values:
        result = result * value
    return result
