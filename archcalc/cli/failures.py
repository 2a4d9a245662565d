"""The CLI's last resort: what a failure that is not an ArchcalcError becomes.

Every boundary where the outside world enters (spec files, data, stores, options)
turns bad input into an ArchcalcError. What still reaches the top is one of two
things, and the user sees one line either way, never a traceback:

- the machine or the environment failing (out of memory, too deep a recursion, a
  full disk, a file without permission, a terminal that cannot show a character,
  an optional package not installed):
  ``error: ...`` with a hint, exit status 2, like any other input the user can fix;
- a bug in archcalc: ``internal error: ...`` asking for a report, exit status 1 (it
  is not the user's fault). ``ARCHCALC_DEBUG=1`` shows the traceback instead.

A closed pipe (``archcalc table resnet152 | head``) is not a failure: the reader
has what it wanted, so archcalc stops quietly with 141, the status a shell reports
for a tool stopped by SIGPIPE.
"""
from __future__ import annotations

import errno
import os
import sys

from archcalc.files import os_hint
from archcalc.render.safe_text import cell

BUG_EXIT = 1
ENVIRONMENT_EXIT = 2
BROKEN_PIPE_EXIT = 128 + 13  # 128 + SIGPIPE
DEBUG_VARIABLE = "ARCHCALC_DEBUG"


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def describe(exc: BaseException) -> tuple[int, str]:
    """(exit status, message) for a failure that is not an ArchcalcError."""
    if isinstance(exc, MemoryError):
        return ENVIRONMENT_EXIT, ("error: out of memory\n  hint: the spec, the input size or "
                                  "the batch asks for more memory than this machine has; try "
                                  "a smaller --input or --batch")
    if isinstance(exc, RecursionError):
        return ENVIRONMENT_EXIT, ("error: the input nests too deeply to follow (Python's "
                                  "recursion limit)\n  hint: flatten the structure: a network "
                                  "nests a few levels")
    if isinstance(exc, UnicodeEncodeError):
        char = exc.object[exc.start:exc.end]
        return ENVIRONMENT_EXIT, (f"error: cannot write the character {char!a} in the "
                                  f"{exc.encoding} encoding\n  hint: use a UTF-8 terminal or "
                                  "set PYTHONIOENCODING=utf-8")
    if isinstance(exc, UnicodeDecodeError):
        return ENVIRONMENT_EXIT, (f"error: a file is not valid {exc.encoding} text (byte "
                                  f"{exc.object[exc.start:exc.start + 1]!a} at offset "
                                  f"{exc.start})\n  hint: check that the file is the one meant")
    if isinstance(exc, OSError):
        return ENVIRONMENT_EXIT, _os_message(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        package = exc.name.split(".")[0]
        return ENVIRONMENT_EXIT, (f"error: this command needs the Python package "
                                  f"{cell(package)!r}, which is not installed\n  hint: pip "
                                  "install 'archcalc[train]' installs every optional package")
    text = cell(str(exc))[:200]
    return BUG_EXIT, (f"internal error: {type(exc).__name__}{': ' + text if text else ''} "
                      f"(please report; run with {DEBUG_VARIABLE}=1 for the traceback)")


def _os_message(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    name = exc.filename if exc.filename is not None else None
    head = f"error: {cell(name)}: {cell(what)}" if name is not None else f"error: {cell(what)}"
    hint = os_hint(exc)
    return head + (f"\n  hint: {hint}" if hint else "")


def is_broken_pipe(exc: BaseException) -> bool:
    """A write to stdout or stderr whose reader has gone (``| head``), not a socket
    or a pipe archcalc opened itself: that one is a real failure."""
    if not isinstance(exc, BrokenPipeError) and not (
            isinstance(exc, OSError) and exc.errno == errno.EPIPE):
        return False
    return any(_reader_gone(stream) for stream in (sys.stdout, sys.stderr))


def _reader_gone(stream) -> bool:
    try:
        import select

        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no real descriptor (a test runner)
        return True


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not complain
    ("Exception ignored ... BrokenPipeError") after the reader has gone."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass
