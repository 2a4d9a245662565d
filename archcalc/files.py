"""Writing the user's files so that nothing is lost.

Every record goes through ``write_atomic``: the bytes go to a temporary file in the
same folder (so the rename cannot cross file systems), are flushed and fsynced, and
only then replace the target with ``os.replace``; the folder is fsynced so the rename
itself survives a crash. On any failure the temporary file is removed and the old
target is untouched. Operating-system failures (disk full, permission denied, a
read-only file system) become one ArchcalcError naming the file.

No torch import here: the analysis path may use it.
"""
from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from archcalc.errors import ArchcalcError, Location

TEMPORARY_SUFFIX = ".tmp"

# What an operating-system failure means, and what to do about it: the one table for
# files written here and for failures that reach the command line (cli/failures.py).
OS_FAILURES = {
    errno.ENOSPC: ("disk full", "the disk is full: free some space or write somewhere else"),
    errno.EDQUOT: ("disk quota exceeded",
                   "the disk quota is used up: free some space or write somewhere else"),
    errno.EACCES: ("permission denied", "check the permissions of the file and of its folder"),
    errno.EPERM: ("permission denied", "check the permissions of the file and of its folder"),
    errno.EROFS: ("read-only file system", "the file system is read-only: write somewhere else"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.EISDIR: ("is a folder", "give a file, not a folder"),
    errno.ENAMETOOLONG: ("file name too long", "choose a shorter name"),
    errno.EMFILE: ("too many open files",
                   "too many open files: raise `ulimit -n` or close other programs"),
}


def os_hint(exc: OSError) -> str | None:
    """What to do about ``exc``, where the table knows."""
    known = OS_FAILURES.get(exc.errno) if exc.errno is not None else None
    return known[1] if known else None


def os_error(exc: OSError, path, doing: str = "write") -> ArchcalcError:
    """One clear message for an operating-system failure on ``path``."""
    known = OS_FAILURES.get(exc.errno) if exc.errno is not None else None
    reason = known[0] if known else exc.strerror or type(exc).__name__
    hint = os_hint(exc)
    if hint and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint += "; the previous file, if any, is unchanged"
    return ArchcalcError(f"{reason}: cannot {doing} this file", where=Location(str(path)),
                         hint=hint)


def write_atomic(path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a temporary file, then atomically put it at ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX,
                                             dir=path.parent)
    except OSError as exc:
        raise os_error(exc, path) from None
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        _plain_permissions(temporary)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise os_error(exc, path) from None
        raise
    _sync_folder(path.parent)


def write_text_atomic(path, text: str) -> None:
    write_atomic(path, lambda file: file.write(text.encode("utf-8")))


def append_line(path, line: str) -> None:
    """Append one line and make it durable: a crash leaves at most a torn last line,
    which the reader drops (see archcalc/train/outputs.py)."""
    try:
        with open(path, "ab") as file:
            file.write((line.rstrip("\n") + "\n").encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        raise os_error(exc, path) from None


def refuse_existing(path, option: str) -> None:
    """No silent overwrite: an existing file at ``path`` needs ``--overwrite``."""
    if Path(path).exists():
        raise ArchcalcError(f"{option}: the file already exists", where=Location(str(path)),
                            hint="add --overwrite to replace it, or choose another name")


def _plain_permissions(path) -> None:
    """The permissions a plain open() would give (mkstemp makes files owner-only)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _sync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every file system lets a folder be opened; the data is synced
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
