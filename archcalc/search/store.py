"""The study store: any SQLAlchemy URL opened as an Optuna RDB storage, safely.

What the bare ``optuna.storages.RDBStorage`` leaves to its caller:

- Creation is serialised. Two processes creating the tables of a new SQLite file at
  once collide ("table ... already exists", "database is locked"); a lock on the
  database's folder orders them. Servers (PostgreSQL) are shared across machines, where
  no file lock reaches: a creation that lost the race is retried instead.
- Heartbeats are on: a running trial records one every ``HEARTBEAT_INTERVAL`` seconds,
  and a trial silent for ``GRACE_PERIOD`` seconds belongs to a dead process; it is
  failed (``optuna.storages.fail_stale_trials``) and a later trial replaces it.
- Every failure of the store itself (a file that is not a database, a read-only file or
  folder, a bad URL, a missing driver, an unreachable server) becomes one ArchcalcError
  naming the store, with the password hidden.
"""
from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from archcalc.errors import ArchcalcError

HEARTBEAT_INTERVAL = 10  # seconds between a running trial's heartbeats
# Optuna's default grace is two intervals; six tolerate a busy database or machine.
GRACE_PERIOD = 60
CREATE_ATTEMPTS = 5      # tries at creating the schema on a server, racing other processes


def storage_url(storage: str | None, out_dir) -> str:
    if storage:
        return storage
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchcalcError(f"cannot create the run folder {out_dir}: "
                            f"{exc.strerror or type(exc).__name__}",
                            hint="give another --out, or --storage") from None
    return f"sqlite:///{Path(out_dir).resolve() / 'search.db'}"


def shown_url(url: str) -> str:
    """The URL as it may be printed: the password, if any, masked."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparseable: its own error names it; print it as given
        return url


def _sqlite_folder(url: str) -> Path | None:
    """The folder of an SQLite database file (None for other databases or memory)."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database.startswith("file:"):  # an SQLite URI (uri=true): file:PATH?...
        database = database.removeprefix("file:").split("?")[0]
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser().resolve().parent


@contextmanager
def creation_lock(url: str):
    """Hold an exclusive lock on an SQLite database's folder while its schema and study
    are created. Locking the folder itself needs no extra file and works where the
    folder is read-only (opening the store will then say why it cannot write)."""
    folder = _sqlite_folder(url)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): creation races are retried as on servers
        fcntl = None
    if folder is None or fcntl is None:
        yield
        return
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise ArchcalcError(f"cannot open the folder of the store {shown_url(url)}: "
                            f"{exc.strerror}",
                            hint="create the folder, or give another --storage or --out") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


@contextmanager
def store_errors(url: str, opening: bool = False):
    """Turn a failure of the store (not of archcalc) into one ArchcalcError; while
    ``opening`` it, a failed import is the database driver SQLAlchemy imports."""
    import sqlalchemy.exc
    from optuna.exceptions import StorageInternalError

    try:
        yield
    except ArchcalcError:
        raise
    except ImportError as exc:
        if not opening:
            raise
        driver = f" {exc.name!r}" if exc.name else ""
        raise ArchcalcError(f"cannot open the store {shown_url(url)}: its database driver"
                            f"{driver} is not installed",
                            hint="for PostgreSQL: pip install 'archcalc[postgres]' and "
                                 "write postgresql+psycopg://...; for another database, "
                                 "its SQLAlchemy driver") from None
    except (sqlalchemy.exc.SQLAlchemyError, StorageInternalError) as exc:
        reason = _reason(exc)
        raise ArchcalcError(f"the store {shown_url(url)} failed: {reason}",
                            hint=_hint(exc, reason)) from None


def _reason(exc: BaseException) -> str:
    # Optuna wraps SQLAlchemy's error, which wraps the driver's: the driver says it best.
    while exc.__cause__ is not None and not hasattr(exc, "orig"):
        exc = exc.__cause__
    original = getattr(exc, "orig", None) or exc
    lines = [line for line in str(original).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


_HINTS = (
    (("no such table", 'relation "studies"', 'relation "trials"'),
     "no search was ever stored there: check the --storage URL (and --out)"),
    (("readonly", "read-only", "permission denied", "unable to open"),
     ("the store must be writable (the file and its folder): fix the permissions, or give "
      "another --storage or --out")),
    (("not a database", "file is encrypted", "malformed"),
     ("that file is not an SQLite database: give a new file, or the search.db of an "
      "earlier search")),
    (("could not connect", "connection refused", "connection failed", "timeout", "timed out",
      "could not translate host", "no such host", "name or service not known",
      "authentication failed", "does not exist"),
     ("is the database server running and reachable? check host, port, user, password "
      "and database name in the URL")),
)


def _hint(exc: BaseException, reason: str) -> str:
    import sqlalchemy.exc

    if isinstance(exc, (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError)):
        return ("write an SQLAlchemy URL, e.g. sqlite:///runs/search.db or "
                "postgresql://user:password@host:5432/database")
    lowered = reason.lower()
    for words, hint in _HINTS:
        if any(word in lowered for word in words):
            return hint
    return "check the --storage URL and the database behind it"


@cache
def open_storage(url: str, create: bool = True):
    """One RDB storage per URL and process (each holds an engine and its connections)."""
    import optuna
    import sqlalchemy.exc

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with store_errors(url, opening=True), warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine,
                                                  heartbeat_interval=HEARTBEAT_INTERVAL,
                                                  grace_period=GRACE_PERIOD,
                                                  skip_table_creation=not create)
        except ArchcalcError as error:
            # A server's schema created by another process at this moment: try again.
            raced = isinstance(error.__context__, (sqlalchemy.exc.IntegrityError,
                                                   sqlalchemy.exc.ProgrammingError))
            if not raced or attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
        except RuntimeError as exc:  # Optuna's schema-version check
            raise ArchcalcError(f"the store {shown_url(url)} cannot be used: {exc}",
                                hint="run `optuna storage upgrade --storage URL`, or give "
                                     "a new store") from None
    raise AssertionError("unreachable")
