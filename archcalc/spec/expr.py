"""Exact arithmetic expressions in spec values: ``$growth*4``, ``in/2``.

A string value that mentions ``$name`` or the input channels ``in`` is an
expression over integers with + - * / and parentheses. Division is exact
(fractions); a result that is not a whole number is an error, never rounded.
Only arithmetic is allowed: no calls, attributes or other names. Every
intermediate value is bounded (spec/bounds.py): template arguments can multiply
through nested templates, and unbounded integers would take minutes and
gigabytes before any later check saw them.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

from archcalc.errors import SpecError, shown
from archcalc.spec.bounds import MAX_CHANNELS, MAX_EXPRESSION, MAX_EXPRESSION_VALUE

_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: Fraction(a) / Fraction(b)}


def references(text: str) -> list[str]:
    return _REF.findall(text)


def is_expression(value) -> bool:
    return isinstance(value, str) and ("$" in value or re.search(r"\bin\b", value) is not None)


def _bounded(value: Fraction, text: str) -> Fraction:
    if abs(value.numerator) > MAX_EXPRESSION_VALUE or value.denominator > MAX_EXPRESSION_VALUE:
        raise SpecError(f"the expression {shown(text, 40)} reaches a value beyond "
                        f"2**{MAX_EXPRESSION_VALUE.bit_length() - 1}",
                        hint="check template arguments that multiply through nested templates")
    return value


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
                        hint="use numbers, $arguments, `in`, + - * / and parentheses") from None

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int) \
                and not isinstance(node.value, bool):
            return _bounded(Fraction(node.value), text)
        if isinstance(node, ast.Name):
            key = "in" if node.id == "in_" else node.id.removeprefix("arg_")
            if key not in names:
                raise SpecError(f"unknown name {shown(key)} in expression {shown(text)}")
            value = names[key]
            if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
                raise SpecError(f"{shown(key)} is {shown(value)}, not a number, in expression "
                                f"{shown(text)}")
            return _bounded(Fraction(value), text)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            right = walk(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise SpecError(f"division by zero in expression {shown(text)}")
            return _bounded(_BINARY[type(node.op)](walk(node.left), right), text)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        raise SpecError(f"expression {shown(text)} may only use numbers, $arguments, `in`, "
                        "+ - * / and parentheses")

    return walk(tree)


def whole(value: Fraction, text: str) -> int:
    if value.denominator != 1:
        raise SpecError(f"{shown(text)} gives {value}, not a whole number",
                        hint="channel counts must divide exactly")
    return int(value)


@dataclass(frozen=True)
class ChannelExpr:
    """A channel count that depends on the input channels, e.g. ``in/2``."""

    text: str

    def resolve(self, in_channels) -> int:
        if not isinstance(in_channels, int):
            return self._resolve_symbolic(in_channels)
        channels = whole(evaluate(self.text, {"in": in_channels}), self.text)
        if not 1 <= channels <= MAX_CHANNELS:
            raise SpecError(f"{shown(self.text)} gives {channels} channels for {in_channels} "
                            "input channels",
                            hint=f"a channel count must be from 1 to {MAX_CHANNELS:,}")
        return channels

    def _resolve_symbolic(self, in_channels):
        """``in`` is a symbol (``--input Cx224x224``): the expression is linear in it,
        and being a whole number becomes a condition on the input."""
        from archcalc.layers.arith import equal, require

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
