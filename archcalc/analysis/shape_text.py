"""Input sizes written as text (``3x224x224``, ``3xHxW``, ``--batch 8``): the one parser.

Used by the command line (`--input`, a symbolic `--batch`) and by the search's trials.
Sizes are held to the spec's own bounds (spec/bounds.py): at most ``MAX_INT_DIGITS``
digits (``int()`` itself refuses 4,300 with a ValueError of its own) and at most
``MAX_SPATIAL`` for each of C, H and W, as a spec's ``input:``. Letters are sympy
symbols, made only when a size names one, so the numeric path never imports sympy.
"""
from __future__ import annotations

import re

from archcalc.errors import ArchcalcError, shown
from archcalc.spec.bounds import MAX_INT_DIGITS, MAX_SPATIAL

SEPARATOR = re.compile(r"[x,×]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SYMBOL_LETTER = re.compile(r"[A-Za-wyz_]")  # any letter but the separator x


class ShapeTextError(ArchcalcError):
    """A size written as text that is not one."""


def names_symbol(text) -> bool:
    """True when a size or batch names a symbol (a letter other than the x separator)."""
    return text is not None and _SYMBOL_LETTER.search(str(text)) is not None


def _too_large(text: str) -> ShapeTextError:
    return ShapeTextError(f"{text} is larger than this tool accepts: at most "
                          f"{MAX_SPATIAL:,} for each of C, H and W")


def parse_numeric_shape(text: str) -> tuple[int, ...]:
    """'3x224x224' -> (3, 224, 224), '784' -> (784,): whole positive numbers only."""
    parts = SEPARATOR.split(text.strip().lower())
    try:  # the digit cap first
        values = tuple(int(part) for part in parts if len(part) <= MAX_INT_DIGITS)
    except ValueError:
        values = ()
    if len(values) != len(parts) or len(values) not in (1, 3) or any(v < 1 for v in values):
        raise ShapeTextError(f"{shown(text, 40)} is not CxHxW with positive sizes, "
                             "e.g. 3x224x224")
    if any(v > MAX_SPATIAL for v in values):  # as a spec's `input:` (spec/loader.py)
        raise _too_large(shown(text, 40))
    return values


def parse_dimension(text: str):
    """'224' -> 224, 'H' -> Symbol H (a positive integer)."""
    text = text.strip()
    if text.isdigit():
        if len(text) > MAX_INT_DIGITS:
            raise ShapeTextError(f"size {shown(text, 40)} has more than {MAX_INT_DIGITS} "
                                 "digits", hint="sizes and batches are counts: 3x224x224, "
                                                "--batch 8")
        if int(text) < 1:
            raise ShapeTextError(f"size {text!r} must be at least 1",
                                 hint="sizes and batches are positive: 3x224x224, --batch 8")
        return int(text)
    if _NAME.match(text):
        from archcalc.analysis.symbolic import symbol

        return symbol(text)
    raise ShapeTextError(f"{shown(text, 40)} is neither a size nor a symbol name",
                         hint="write sizes like 3x224x224 or 3xHxW")


def parse_symbolic_shape(text: str) -> tuple:
    """'3xHxW' -> (3, H, W): each part a number (bounded as above) or a symbol."""
    shape = tuple(parse_dimension(part) for part in SEPARATOR.split(text.strip()))
    for value in shape:
        if isinstance(value, int) and value > MAX_SPATIAL:
            raise _too_large(f"size {value:,}")
    return shape
