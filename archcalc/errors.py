"""The one error type users see: every bad input ends in an ArchcalcError.

The CLI prints ``str(error)`` and exits with status 2; nothing else is shown,
so the message itself must carry the location and a hint.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a value came from: file, 1-based line and column."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


class ArchcalcError(Exception):
    """Bad input: a malformed spec, an impossible shape, a missing file.

    ``where`` is a Location (or None), ``node`` the expanded node path (for
    example ``layer2.0.main.conv2``), ``hint`` one sentence on how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: Location | None = None,
                 node: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.node = node
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.where}: " if self.where else ""
        if self.node:
            head += f"in {self.node}: "
        text = f"error: {head}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def located(self, where: Location | None, node: str | None) -> ArchcalcError:
        """Fill in location and node path when a deeper layer did not know them."""
        if self.where is None:
            self.where = where
        if self.node is None:
            self.node = node
        return self


class SpecError(ArchcalcError):
    """A spec file that cannot be read, expanded or analysed."""


class ShapeError(SpecError):
    """A layer cannot take the shape it receives (size collapses, shapes differ)."""


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for quoting bad input in a message."""
    if isinstance(value, int) and value.bit_length() > 64:
        # repr of an int over 4,300 digits raises ValueError, and a long one is unreadable
        return f"a number of {value.bit_length():,} bits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
