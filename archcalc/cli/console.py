"""The one owner of terminal output: every command prints through these.

Names, titles, paths and values come from spec files and options, so they are
printed as text, never interpreted:
- ``safe`` (render/safe_text.py) writes control characters (ESC sequences, \\r,
  \\b, NUL, C1, bidi overrides) and unpaired surrogates as visible escapes
  (``\\x1b``, ``\\ud800``); the consoles apply it to every string they render,
  table cells and titles included (``_SafeConsole.render_str``), as do
  ``print_text`` and ``error``;
- the consoles read no markup and no emoji codes: ``[bold]`` in a title stays
  ``[bold]``, and ``--param lr=0.000466:100:log`` keeps its ``:100:``. Code that
  wants a style says so with ``styled`` (a rich Text), never with markup in a
  string that may carry a user's value;
- ``protect_streams`` makes stdout and stderr write characters the terminal's
  encoding lacks as backslash escapes (PYTHONIOENCODING=ascii) instead of raising
  UnicodeEncodeError.

What goes where: results on stdout (``out``, ``print_text``); notes and progress on
stderr (``err``, ``note``), which ``archcalc --quiet`` silences; errors on stderr
(``error``, or ``error_json`` under ``--format json``), never silenced.
"""
from __future__ import annotations

import errno
import json
import os
import sys
from functools import lru_cache

from archcalc.render.safe_text import cell, safe

__all__ = ["cell", "err", "error", "error_json", "is_quiet", "note", "out", "print_text",
           "protect_streams", "safe", "set_quiet", "styled"]

_quiet = False  # set for each run by the group's --quiet (cli/main.py)


def styled(text, style: str):
    """A rich Text in ``style`` (for example "red"), its content escaped: the way to
    colour a value without markup."""
    from rich.text import Text

    return Text(safe(text), style=style)


def _width(stream) -> int | None:
    # Rich falls back to 80 columns when output is piped; tables of exact
    # integers need more, so pipes and files get 160 unless COLUMNS says otherwise.
    if stream.isatty() or os.environ.get("COLUMNS"):
        return None
    return 160


def _console(stderr: bool):
    from rich.console import Console

    class _SafeConsole(Console):
        """Every string rich turns into text (print, table cells, titles, captions,
        progress descriptions) passes through ``safe`` first."""

        def render_str(self, text, **options):
            return super().render_str(safe(text), **options)

        def _render_buffer(self, buffer):
            # The last line of defence, for a rich Text built directly (it never passes
            # render_str): every segment that is text, not a cursor control of a progress
            # display, is escaped just before it is written. A private method of rich
            # (in every version since 10), so it is overridden only where it exists.
            from rich.segment import Segment

            return super()._render_buffer(
                Segment(safe(text), style, control) if control is None else
                Segment(text, style, control) for text, style, control in buffer)

        if not hasattr(Console, "_render_buffer"):
            del _render_buffer

        def on_broken_pipe(self):
            # rich exits 1 here; the CLI's boundary (cli/failures.py) decides instead,
            # so that every closed pipe ends the same way
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "the reader of the output has gone")

    stream = sys.stderr if stderr else sys.stdout
    return _SafeConsole(stderr=stderr, highlight=False, markup=False, emoji=False,
                        width=_width(stream))


@lru_cache(maxsize=1)
def out():
    return _console(stderr=False)


@lru_cache(maxsize=1)
def err():
    """Notes and progress on stderr: silent under --quiet."""
    console = _console(stderr=True)
    console.quiet = _quiet
    return console


@lru_cache(maxsize=1)
def _errors():
    """Errors on stderr: never silenced."""
    return _console(stderr=True)


def set_quiet(quiet: bool) -> None:
    """--quiet: no notes, no progress; results and errors as ever."""
    global _quiet
    _quiet = quiet
    err().quiet = quiet


def is_quiet() -> bool:
    return _quiet


def note(text: str) -> None:
    """A remark that is not the result (a file written, a step done): stderr, unless
    --quiet."""
    err().print(text, markup=False, soft_wrap=True)


def protect_streams() -> None:
    """Characters stdout/stderr cannot encode become backslash escapes, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or detached stream: nothing to protect
                pass


def print_text(text: str) -> None:
    """Plain text (JSON, CSV, Markdown, YAML) straight to stdout, no markup."""
    text = safe(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


MAX_MESSAGE_LINE = 1000  # characters: a message quoting a 1 MB key must stay readable


def _clip(line: str) -> str:
    """The start and the end of a long line (the reason is usually at the end)."""
    if len(line) <= MAX_MESSAGE_LINE:
        return line
    head, tail = MAX_MESSAGE_LINE * 2 // 3, MAX_MESSAGE_LINE // 3 - 40
    return f"{line[:head]} ...({len(line) - head - tail:,} characters cut)... {line[-tail:]}"


def error(message: str) -> None:
    lines = [_clip(line) for line in safe(message).split("\n")]
    _errors().print("\n".join(lines), style="red", soft_wrap=True)


def error_json(document: dict) -> None:
    """An error as one line of JSON on stderr (``--format json``). JSON's ASCII escapes
    keep control characters from the spec inert, as ``safe`` does for text."""
    clipped = {key: _clip(value) if isinstance(value, str) else value
               for key, value in document.items()}
    sys.stderr.write(json.dumps(clipped, ensure_ascii=True) + "\n")
    sys.stderr.flush()
