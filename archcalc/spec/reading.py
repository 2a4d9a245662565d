"""Read the text of a spec or template-library file: a regular file, bounded, UTF-8."""
from __future__ import annotations

import os
import stat

from archcalc.errors import Location, SpecError
from archcalc.spec.yamlsource import MAX_SPEC_BYTES, check_size, location_of

STDIN_NAME = "<stdin>"  # how messages name a spec read from standard input


def read_spec_text(path, shown_as: str) -> str:
    """The file's text; SpecError (naming ``shown_as``) for anything but a regular UTF-8
    file of at most MAX_SPEC_BYTES."""
    return _spec_text(read_spec_bytes(path, shown_as), shown_as, "the file",
                      "save the spec as UTF-8")


def read_stdin() -> str:
    """The spec on standard input: at most MAX_SPEC_BYTES + 1 bytes are read, so an
    endless stream (``yes |``) is refused at the cap like a huge file, not read to the
    end; UTF-8 as a spec file."""
    import sys

    where = Location(STDIN_NAME)
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    if stream is None:
        raise SpecError("there is no standard input to read the spec from", where=where,
                        hint="pipe a spec in (`archcalc table - < spec.yaml`) or give a path")
    try:
        data = stream.read(MAX_SPEC_BYTES + 1)
    except (OSError, ValueError) as exc:  # closed, or not readable
        raise SpecError(f"cannot read standard input: {exc}", where=where) from None
    if isinstance(data, str):  # a text stream without a binary buffer
        data = data.encode("utf-8", "surrogateescape")
    return _spec_text(data, STDIN_NAME, "standard input", "pipe the spec in as UTF-8")


def _spec_text(data: bytes, shown_as: str, what: str, hint: str) -> str:
    """At most MAX_SPEC_BYTES of UTF-8, decoded; else a SpecError at the first bad byte."""
    check_size(data, shown_as)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{what} is not valid UTF-8 text (byte {data[exc.start]:#04x})",
                        where=location_of(data, exc.start, shown_as), hint=hint) from None


def _not_regular(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def read_spec_bytes(path, shown_as: str) -> bytes:
    """At most MAX_SPEC_BYTES + 1 bytes of a regular file, without ever blocking.

    A FIFO would block ``open`` until a writer comes, and a device (/dev/zero, a
    terminal) never ends; so the file is opened non-blocking and refused unless
    fstat says it is a regular file (checked on the open descriptor: no race).
    """
    where = Location(shown_as)
    descriptor: int | None = None
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror}", where=where,
                        hint="check the path and its permissions") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise SpecError(f"this is {_not_regular(mode)}, not a spec file", where=where,
                            hint="give a regular .yaml file (save piped output to a file first)")
        with os.fdopen(descriptor, "rb", closefd=True) as file:
            descriptor = None
            return file.read(MAX_SPEC_BYTES + 1)  # no more: the file may be huge
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", where=where) from None
    finally:
        if descriptor is not None:
            os.close(descriptor)
