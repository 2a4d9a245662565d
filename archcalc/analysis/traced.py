"""Integers that remember how they were computed, for `archcalc explain`.

A ``Traced`` is an ``int`` (so every rule, ``range`` and comparison works on it
unchanged) whose ``text`` is the arithmetic that produced it, written the way
the lecture writes it: ``(227 - 11)/4 + 1``. Running the ordinary layer rules
on Traced inputs gives the derivations; there is no second copy of any rule.

Terms that contribute nothing are left out of the text by value: ``x + 0``,
``x - 0``, ``x*1`` and ``x/1`` print as ``x``, so a dilation of 1 or a padding
of 0 does not clutter the formula. ``//`` prints as ``/`` when the division is
exact and as ``floor(a/b)`` when it is not.
"""
from __future__ import annotations

ATOM, PRODUCT, SUM = 3, 2, 1


class Traced(int):
    text: str
    level: int
    terms: tuple  # top-level summands, for showing e.g. weights + biases apart

    def __new__(cls, value, text: str | None = None, level: int = ATOM, terms: tuple = ()):
        self = super().__new__(cls, int(value))
        self.text = text if text is not None else f"{int(value)}"
        self.level = level
        self.terms = terms
        return self

    # -- helpers ---------------------------------------------------------------
    @staticmethod
    def lift(value) -> Traced:
        return value if isinstance(value, Traced) else Traced(value)

    def wrapped(self, level: int) -> str:
        return f"({self.text})" if self.level < level else self.text

    def _sum(self, other, sign: str, value: int) -> Traced:
        other = Traced.lift(other)
        if int(other) == 0:
            return Traced(value, self.text, self.level, self.terms)
        if int(self) == 0 and sign == "+":
            return Traced(value, other.text, other.level, other.terms)
        right = other.wrapped(PRODUCT) if sign == "-" else other.text
        left_terms = self.terms or (self,)
        return Traced(value, f"{self.text} {sign} {right}", SUM,
                      left_terms + ((other,) if sign == "+" else ()))

    # -- arithmetic ----------------------------------------------------------
    def __add__(self, other):
        return self._sum(other, "+", int(self) + int(other))

    def __radd__(self, other):
        return Traced.lift(other).__add__(self)

    def __sub__(self, other):
        return self._sum(other, "-", int(self) - int(other))

    def __rsub__(self, other):
        return Traced.lift(other).__sub__(self)

    def __mul__(self, other):
        other = Traced.lift(other)
        value = int(self) * int(other)
        if int(other) == 1:
            return Traced(value, self.text, self.level, self.terms)
        if int(self) == 1:
            return Traced(value, other.text, other.level, other.terms)
        return Traced(value, f"{self.wrapped(PRODUCT)}*{other.wrapped(ATOM)}", PRODUCT)

    def __rmul__(self, other):
        return Traced.lift(other).__mul__(self)

    def __floordiv__(self, other):
        other = Traced.lift(other)
        value = int(self) // int(other)
        if int(other) == 1 and self.level == ATOM:
            # "3/1" says nothing; "(27 - 5 + 2*2)/1 + 1" keeps the lecture's form
            return Traced(value, self.text, self.level, self.terms)
        quotient = f"{self.wrapped(PRODUCT)}/{other.wrapped(ATOM)}"
        if int(self) % int(other) == 0:
            return Traced(value, quotient, PRODUCT)
        return Traced(value, f"floor({quotient})", ATOM)

    def __rfloordiv__(self, other):
        return Traced.lift(other).__floordiv__(self)

    def ceildiv(self, other) -> Traced:
        other = Traced.lift(other)
        value = -((-int(self)) // int(other))
        if int(other) == 1:
            return Traced(value, self.text, self.level, self.terms)
        quotient = f"{self.wrapped(PRODUCT)}/{other.wrapped(ATOM)}"
        if int(self) % int(other) == 0:
            return Traced(value, quotient, PRODUCT)
        return Traced(value, f"ceil({quotient})", ATOM)

    def __neg__(self):
        return Traced(-int(self), f"-{self.wrapped(ATOM)}", ATOM)

    def __mod__(self, other):
        return int(self) % int(other)

    def __hash__(self):
        return int.__hash__(self)

    def __repr__(self):
        return f"Traced({int(self)}, {self.text!r})"


def leaf(value):
    """A fresh Traced whose text is just its value (ints only; others pass through)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return Traced(int(value))


def shown(value) -> str:
    """``text = value`` with the value grouped, or just the value for a leaf; ``?`` for
    a value no rule knows (an opaque node's MACs)."""
    if value is None:
        return "?"
    if isinstance(value, Traced) and value.text != str(int(value)):
        return f"{value.text} = {int(value):,}"
    return f"{int(value):,}"
