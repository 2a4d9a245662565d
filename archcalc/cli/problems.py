"""Errors as JSON objects (``--format json``): the same parts the text shows.

The text ``error: FILE:LINE:COLUMN: in NODE: MESSAGE`` / ``  hint: HINT`` becomes
``{"file", "line", "column", "node", "message", "hint"}`` (null where a part is not
known), with the exit status; schema/report.schema.json describes it (``problem`` and
``error``).
"""
from __future__ import annotations

from archcalc.errors import ArchcalcError

_HINT = "\n  hint: "


def problem(exc: ArchcalcError) -> dict:
    """The parts of an ArchcalcError's text."""
    where = exc.where
    return {"message": exc.message,
            "file": where.file if where else None,
            "line": (where.line or None) if where else None,
            "column": (where.column or None) if where else None,
            "node": exc.node, "hint": exc.hint}


def problem_from_text(text: str) -> dict:
    """The parts of a message that exists only as text (click's usage errors, the last
    resort's descriptions in cli/failures.py): the message and the hint, no location."""
    message, _, hint = text.partition(_HINT)
    if message.startswith("error: "):
        message = message[len("error: "):]
    return {"message": message, "file": None, "line": None, "column": None, "node": None,
            "hint": hint or None}


def error_document(parts: dict, exit_status: int) -> dict:
    from archcalc.render.export import schema_id

    return {"schema": schema_id("error"), **parts, "exit_status": exit_status}


def asks_for_json(args: list[str]) -> bool:
    """Whether a command line asks for ``--format json`` (before a ``--``): read from the
    words themselves, so that an error in parsing the other options is JSON too."""
    for index, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--format=json" or (arg == "--format" and args[index + 1:index + 2] == ["json"]):
            return True
    return False
