"""The CLI's last resort (archcalc/cli/failures.py): no failure shows a traceback.

Failures of the machine or the environment (memory, recursion, a full disk, a
permission, an encoding) are one ``error:`` message and exit status 2; a bug in
archcalc is one ``internal error:`` line and exit status 1, with the traceback only
under ARCHCALC_DEBUG=1; a reader that goes away (``| head``) ends quietly with 141.
The faults are injected where a command really calls out (loading the spec), and
the real ones (/dev/full, a closed pipe, a read-only folder) run in a subprocess.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archcalc.cli.main import main

REPO = Path(__file__).resolve().parent.parent


def run_with_fault(monkeypatch, fault: BaseException, *args, debug: bool = False):
    """Run `archcalc check vgg16` (or ``args``) with load_spec raising ``fault``."""
    import archcalc.spec.loader

    def broken(*_args, **_kwargs):
        raise fault

    monkeypatch.setattr(archcalc.spec.loader, "load_spec", broken)
    if debug:
        monkeypatch.setenv("ARCHCALC_DEBUG", "1")
    else:
        monkeypatch.delenv("ARCHCALC_DEBUG", raising=False)
    return CliRunner().invoke(main, list(args) or ["table", "vgg16"])


def one_message(result, status: int, start: str) -> str:
    assert result.exit_code == status, (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(start), result.stderr
    lines = result.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("  hint: ")), lines
    assert result.stdout == ""
    return result.stderr


@pytest.mark.parametrize("fault, wanted", [
    (MemoryError(), "error: out of memory"),
    (RecursionError("maximum recursion depth exceeded"), "error: the input nests too deeply"),
    (OSError(errno.ENOSPC, "No space left on device", "out.json"),
     "error: out.json: No space left on device\n  hint: the disk is full"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x.yaml"),
     "error: /root/x.yaml: Permission denied\n  hint: check the permissions"),
    (OSError(errno.EROFS, "Read-only file system"), "error: Read-only file system\n  hint:"),
    (UnicodeEncodeError("ascii", "\u00e9", 0, 1, "ordinal not in range(128)"),
     "error: cannot write the character '\\xe9' in the ascii encoding"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
     "error: a file is not valid utf-8 text"),
    (ModuleNotFoundError("No module named 'optuna'", name="optuna.storages"),
     "error: this command needs the Python package 'optuna', which is not installed\n"
     "  hint: pip install 'archcalc[train]'"),
])
def test_environment_failures_are_one_message_and_status_2(monkeypatch, fault, wanted):
    message = one_message(run_with_fault(monkeypatch, fault), 2, "error: ")
    assert message.startswith(wanted), message


@pytest.mark.parametrize("fault", [KeyError("layer"), ZeroDivisionError("division by zero"),
                                   AttributeError("'NoneType' object has no attribute 'x'"),
                                   ValueError("bad \x1b[31m value")])
def test_a_bug_is_one_internal_error_line_and_status_1(monkeypatch, fault):
    message = one_message(run_with_fault(monkeypatch, fault), 1, "internal error: ")
    assert type(fault).__name__ in message
    assert "please report" in message and "ARCHCALC_DEBUG=1" in message
    assert "\x1b" not in message  # the exception's text is escaped like any other


def test_debug_variable_shows_the_traceback(monkeypatch):
    fault = KeyError("layer")
    result = run_with_fault(monkeypatch, fault, debug=True)
    assert result.exception is fault  # raised through: click's runner keeps it


def test_interrupt_is_still_130(monkeypatch):
    result = run_with_fault(monkeypatch, KeyboardInterrupt())
    assert result.exit_code == 130 and result.stderr == "interrupted\n"


def test_usage_errors_still_belong_to_click():
    result = CliRunner().invoke(main, ["table", "vgg16", "--batch", "0"])
    assert result.exit_code == 2 and "Usage:" in result.stderr


def run_archcalc(*args, stdout=subprocess.PIPE, env=None):
    return subprocess.run([sys.executable, "-m", "archcalc", *args], cwd=REPO, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("fmt", ["rich", "json"])
def test_full_disk_when_writing_output(fmt):
    with open("/dev/full", "w") as full:
        done = run_archcalc("table", "vgg16", "--format", fmt, stdout=full)
    assert done.returncode == 2, done.stderr
    if fmt == "json":  # under --format json the error is a JSON object with the same parts
        error = json.loads(done.stderr)
        assert (error["message"], error["exit_status"]) == ("No space left on device", 2)
        assert error["hint"].startswith("the disk is full")
    else:
        assert done.stderr.startswith("error: No space left on device\n  hint: the disk is full")
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


@pytest.mark.parametrize("fmt", ["rich", "json"])
def test_closed_pipe_ends_quietly_with_141(fmt):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first write: `| head -0`
    try:
        done = run_archcalc("table", "resnet50", "--format", fmt, stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_spec(tmp_path):
    spec = tmp_path / "secret.yaml"
    spec.write_text((REPO / "specs" / "vgg16.yaml").read_text())
    spec.chmod(0)
    done = run_archcalc("check", str(spec))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {spec}: cannot read the file: Permission denied")
