"""Exact arithmetic expressions in spec values: ``$growth*4``, ``in/2``.

A string value that mentions ``$name``, the input channels ``in`` or the one
function ``divisible`` is an expression over numbers with + - * / and
parentheses. Division is exact (fractions); a result that is not a whole number
is an error, never rounded. Decimal numbers (a width multiplier, ``0.75``) stand
for the float Python reads, exactly. Only arithmetic and ``divisible`` are
allowed: no other calls, attributes or names.

``divisible(v, d)`` and ``divisible(v, d, min)`` are torchvision's channel
rounding ``_make_divisible(v, divisor, min_value=None)`` (torchvision/models/
_utils.py; MobileNet V2/V3, EfficientNet; MNASNet's ``_round_to_multiple_of`` is
the same rule): ``v`` to the nearest multiple of ``d``, at least ``min`` (default
``d``), bumped up by ``d`` where rounding lost more than 10%. torchvision
computes it in floats, so it is computed here on ``float(v)`` with the same
float operations: equal to torchvision's wherever ``v`` is the float it passes,
which holds when ``v`` is one product of a whole number and a decimal
(``32*0.75``), as in every torchvision builder. Every
intermediate value is bounded (spec/bounds.py): template arguments can multiply
through nested templates, and unbounded integers would take minutes and
gigabytes before any later check saw them.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from archcalc.errors import SpecError, shown
from archcalc.spec.bounds import MAX_CHANNELS, MAX_EXPRESSION, MAX_EXPRESSION_VALUE

_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_FUNCTION = "divisible"  # the one function of the language
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: Fraction(a) / Fraction(b)}


def references(text: str) -> list[str]:
    return _REF.findall(text)


def is_expression(value) -> bool:
    return isinstance(value, str) and (
        "$" in value or re.search(rf"\bin\b|\b{_FUNCTION}\s*\(", value) is not None)


def make_divisible(v: Fraction, divisor: int, minimum: int | None = None) -> int:
    """torchvision's ``_make_divisible``, line for line, on the float of ``v``."""
    value = float(v)
    rounded = max(divisor if minimum is None else minimum,
                  int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # rounding down lost more than 10%
        rounded += divisor
    return rounded


def _number(value, text: str) -> Fraction:
    """A numeric constant: an int, or a float as the exact value Python reads."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"expression {shown(text)} has a number that is not finite")
    return _bounded(Fraction(value), text)


def _divisible(arguments: list, text: str) -> Fraction:
    if len(arguments) not in (2, 3):
        raise SpecError(f"{_FUNCTION}() takes 2 or 3 arguments (v, d[, min]), got "
                        f"{len(arguments)} in expression {shown(text)}",
                        hint="write divisible(v, d) or divisible(v, d, min), as torchvision's "
                             "_make_divisible(v, divisor, min_value)")
    v, divisor, *minimum = arguments
    for name, value, least in (("d", divisor, 1),) + tuple(("min", m, 0) for m in minimum):
        if value.denominator != 1 or value < least:
            raise SpecError(f"{_FUNCTION}(): `{name}` is {value}, not a whole number >= {least}, "
                            f"in expression {shown(text)}",
                            hint="the divisor and the minimum are channel counts, e.g. 8")
    return Fraction(make_divisible(v, int(divisor), *(int(m) for m in minimum)))


# A decimal is a binary fraction (0.01 has denominator 2**59): the magnitude is bounded by
# MAX_EXPRESSION_VALUE and the denominator by its square, so the exact numbers stay small.
_MAX_DENOMINATOR = MAX_EXPRESSION_VALUE ** 2


def _bounded(value: Fraction, text: str) -> Fraction:
    if abs(value) > MAX_EXPRESSION_VALUE:
        raise SpecError(f"the expression {shown(text, 40)} reaches a value beyond "
                        f"2**{MAX_EXPRESSION_VALUE.bit_length() - 1}",
                        hint="check template arguments that multiply through nested templates")
    if value.denominator > _MAX_DENOMINATOR:
        raise SpecError(f"the expression {shown(text, 40)} needs a fraction finer than "
                        f"2**-{_MAX_DENOMINATOR.bit_length() - 1}",
                        hint="multiply by one decimal at most (32*0.75), as torchvision does")
    return value


def _call(node: ast.Call, walk, text: str) -> Fraction:
    """``divisible(...)``, the one call the language has."""
    if not (isinstance(node.func, ast.Name) and node.func.id == _FUNCTION):
        raise SpecError(f"expression {shown(text)} calls a function other than "
                        f"{_FUNCTION}()", hint="the only function is divisible(v, d[, min])")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise SpecError(f"{_FUNCTION}() takes positional arguments only, in expression "
                        f"{shown(text)}", hint="write divisible(v, d) or divisible(v, d, min)")
    return _bounded(_divisible([walk(a) for a in node.args], text), text)


def _name(identifier: str, names: dict, text: str) -> Fraction:
    """The value of ``in`` or of a ``$argument`` (parsed as ``in_``, ``arg_NAME``)."""
    key = "in" if identifier == "in_" else identifier.removeprefix("arg_")
    if key not in names:
        raise SpecError(f"unknown name {shown(key)} in expression {shown(text)}")
    value = names[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise SpecError(f"{shown(key)} is {shown(value)}, not a number, in expression "
                        f"{shown(text)}")
    return _number(value, text)


def evaluate(text: str, names: dict) -> Fraction:
    """Evaluate ``text`` (``$x`` written as ``x``) with the given integer names."""
    if len(text) > MAX_EXPRESSION:
        raise SpecError(f"the expression {shown(text, 40)} is longer than {MAX_EXPRESSION} "
                        "characters", hint="write a shorter expression, or the number itself")
    source = _REF.sub(lambda m: f"arg_{m.group(1)}", re.sub(r"(?<!\$)\bin\b", "in_", text))
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise SpecError(f"cannot read the expression {shown(text)}",
                        hint="use numbers, $arguments, `in`, + - * /, parentheses and "
                             "divisible(v, d[, min])") from None

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return _number(node.value, text)
        if isinstance(node, ast.Call):
            return _call(node, walk, text)
        if isinstance(node, ast.Name):
            return _name(node.id, names, text)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            right = walk(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise SpecError(f"division by zero in expression {shown(text)}")
            return _bounded(_BINARY[type(node.op)](walk(node.left), right), text)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        raise SpecError(f"expression {shown(text)} may only use numbers, $arguments, `in`, "
                        f"+ - * /, parentheses and {_FUNCTION}()")

    return walk(tree)


def whole(value: Fraction, text: str) -> int:
    if value.denominator != 1:
        raise SpecError(f"{shown(text)} gives {value}, not a whole number",
                        hint="channel counts must divide exactly")
    return int(value)


@dataclass(frozen=True)
class ChannelExpr:
    """A channel count (or index) that depends on the input channels, e.g. ``in/2``."""

    text: str
    minimum: int = 1  # 0 for a channel index (channel_slice's start)

    def resolve(self, in_channels) -> int:
        if not isinstance(in_channels, int):
            return self._resolve_symbolic(in_channels)
        channels = whole(evaluate(self.text, {"in": in_channels}), self.text)
        if not self.minimum <= channels <= MAX_CHANNELS:
            raise SpecError(f"{shown(self.text)} gives {channels} channels for {in_channels} "
                            "input channels",
                            hint=f"a channel count must be from {self.minimum} to "
                                 f"{MAX_CHANNELS:,}")
        return channels

    def _resolve_symbolic(self, in_channels):
        """``in`` is a symbol (``--input Cx224x224``): the expression is linear in it,
        and being a whole number becomes a condition on the input."""
        from archcalc.layers.arith import equal, require

        if re.search(rf"\b{_FUNCTION}\s*\(", self.text):
            # a rounding is no line: three points would fit one through it by chance
            raise SpecError(f"{self.text!r} rounds with {_FUNCTION}(), so it needs a number "
                            "of input channels, not a symbol",
                            hint="give the channels as a number: --input 3xHxW")
        at = [evaluate(self.text, {"in": n}) for n in (0, 1, 2)]
        slope, intercept = at[1] - at[0], at[0]
        if at[2] != intercept + 2 * slope:
            raise SpecError(f"{self.text!r} is not linear in `in`, which symbolic channels need")
        import sympy

        value = sympy.Rational(slope.numerator, slope.denominator) * in_channels + \
            sympy.Rational(intercept.numerator, intercept.denominator)
        require(equal(sympy.floor(value), value), f"{self.text!r} must give whole channels")
        return value

    def __str__(self) -> str:
        return self.text
