"""Text from outside (spec names, titles, paths, option values) made safe to print.

A spec is any file a user was sent; its ``name:`` or ``title:`` may hold an ESC
sequence that recolours or clears the terminal, a ``\\r`` that overwrites what was
printed, NUL, the bidirectional overrides that reorder a line ("Trojan source"), or
an unpaired surrogate (YAML ``"\\ud800"``) that no encoder can write. ``safe`` shows
each as a visible escape; every console in archcalc/cli/console.py applies it.
"""
from __future__ import annotations

import re

# C0 controls except \n and \t, DEL, C1 controls, the bidirectional overrides and
# isolates, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_IN_CELL = re.compile(_UNSAFE.pattern[:-1] + "\n\t]")
_NAMED = {"\r": "\\r", "\b": "\\b", "\x00": "\\0", "\n": "\\n", "\t": "\\t", "\x1b": "\\x1b"}


def _escape(match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(text) -> str:
    """``text`` with every character that could move the cursor, recolour the terminal
    or fail to encode written as a visible escape; newlines and tabs are kept."""
    return _UNSAFE.sub(_escape, str(text))


def cell(text) -> str:
    """``safe`` for a table cell or a one-line name: newlines and tabs escaped too."""
    return _UNSAFE_IN_CELL.sub(_escape, str(text))
