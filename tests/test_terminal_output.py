"""Names and titles from a spec print as text, never as terminal commands or markup.

A spec's ``name``, ``title`` and ``source`` (and the path a user gives) may hold ESC
sequences, \\r, \\b, NUL, bidi overrides, unpaired surrogates, rich markup
(``[red]``) or emoji codes (``:100:``). Every command that prints them must show a
visible escape (``\\x1b``), keep markup and emoji codes literal, write no raw control
byte, and never fail to encode, with stdout in UTF-8 or in ASCII.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archcalc.cli.main import main
from archcalc.render.safe_text import cell, safe

REPO = Path(__file__).resolve().parent.parent
# YAML double-quoted escapes: \e is ESC, \0 NUL, \a BEL, \u202e a right-to-left override
NAME = r"evil\e[31m\r\b\0[red]x:100:"
TITLE = r"T\u00e9 \u00d7 \ud800 [bold]b[/bold] :100: \e]0;pwn\a \u202eabc"
SPEC = f"""archcalc: 1
name: "{NAME}"
title: "{TITLE}"
source: "src \\e[2J"
input: [3, 32, 32]
layers:
  - conv: {{out: 8, kernel: 3}}
  - maxpool: {{kernel: 2}}
  - flatten
  - fc: {{out: 10}}
"""
# What each must look like once printed.
ESCAPED = ["evil\\x1b[31m\\r\\b\\0[red]x:100:", "\\x1b]0;pwn\\x07", "\\u202eabc"]
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@pytest.fixture()
def evil_spec(tmp_path) -> Path:
    path = tmp_path / "evil.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


def assert_printed_safely(output: str, escaped=ESCAPED) -> None:
    assert not RAW_CONTROL.search(output), repr(RAW_CONTROL.search(output).group())
    for text in escaped:
        assert text in output, f"{text!r} not in\n{output}"


@pytest.mark.parametrize("args", [["table"], ["table", "--format", "markdown"],
                                  ["table", "--input", "3xHxW"], ["sweep", "--sizes", "32,64"],
                                  ["compare"], ["plan", "--batch", "2"]])
def test_tables_show_names_and_titles_escaped(evil_spec, args):
    command, *options = args
    spec_args = [evil_spec, evil_spec] if command == "compare" else [evil_spec]
    code, output = run(command, *spec_args, *options)
    assert code == 0, output
    assert not RAW_CONTROL.search(output), repr(output)
    assert "evil\\x1b[31m\\r\\b\\0[red]x:100:" in output or command == "plan", output
    assert "\U0001f4af" not in output  # :100: stays text, not the emoji


def test_rich_table_keeps_markup_and_emoji_codes_literal(evil_spec):
    code, output = run("table", evil_spec)
    assert code == 0
    assert_printed_safely(output)
    assert "[bold]b[/bold]" in " ".join(output.split())  # the title's text, unstyled
    assert "src \\x1b[2J" in output


def test_machine_formats_stay_exact(evil_spec):
    """JSON keeps the exact strings (escaped by JSON itself); CSV has no names in it."""
    code, output = run("table", evil_spec, "--format", "json")
    assert code == 0 and not RAW_CONTROL.search(output)
    data = json.loads(output)
    assert data["name"] == "evil\x1b[31m\r\b\x00[red]x:100:"
    assert data["title"].startswith("T\u00e9 \u00d7 \ud800 [bold]b[/bold] :100: \x1b]0;pwn\x07")


def test_expand_and_explain(evil_spec):
    code, output = run("expand", evil_spec)
    assert code == 0 and not RAW_CONTROL.search(output)
    assert "name: \"evil\\e[31m\\r\\b\\0[red]x:100:\"" in output  # YAML's own escapes
    code, output = run("explain", evil_spec, "--format", "markdown")
    assert code == 0 and not RAW_CONTROL.search(output)


def test_paths_and_error_messages_are_escaped(tmp_path, evil_spec):
    odd = tmp_path / "x\x1b[31my\r.yaml"
    odd.write_text(SPEC, encoding="utf-8")
    code, output = run("check", odd)
    assert code == 0
    assert_printed_safely(output, ["x\\x1b[31my\\r.yaml"])
    broken = tmp_path / "broken.yaml"
    broken.write_text(SPEC.replace("- flatten", '- "\\e[2J[red]:100:": {}'), encoding="utf-8")
    code, output = run("table", broken)
    assert code == 2
    assert_printed_safely(output, ["\\x1b[2J[red]:100:"])
    code, output = run("table", tmp_path / "no\x1b[2Jsuch.yaml")
    assert code == 2
    assert_printed_safely(output, ["no\\x1b[2Jsuch.yaml"])


@pytest.mark.parametrize("command", ["table", "check", "explain"])
def test_ascii_terminal_never_fails_to_encode(evil_spec, command):
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    env.pop("COLUMNS", None)
    done = subprocess.run([sys.executable, "-m", "archcalc", command, str(evil_spec)], cwd=REPO,
                          env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode("ascii", "replace")
    output = (done.stdout + done.stderr).decode("ascii")  # every byte is ASCII
    assert "Traceback" not in output and not RAW_CONTROL.search(output)
    if command == "table":
        assert_printed_safely(output)
        assert "T\\xe9 \\xd7 \\ud800" in output  # what ASCII cannot show, as escapes


def test_safe_escapes_exactly_the_unsafe_characters():
    for code in list(range(0x3000)) + [0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFEFF, 0x1F4AF]:
        char = chr(code)
        printed = safe(char)
        if RAW_CONTROL.match(char) and char not in "\n\t":
            assert printed.startswith("\\") and printed.isascii() and len(printed) > 1, code
        else:
            assert printed == char, code
    assert safe("a\nb\tc") == "a\nb\tc" and cell("a\nb\tc") == "a\\nb\\tc"
    assert safe(safe("\x1b\ud800")) == safe("\x1b\ud800") == "\\x1b\\ud800"


def test_text_built_directly_is_escaped_too():
    """A rich Text made by code (it skips render_str) is escaped as it is written; a
    style stays a style."""
    import io

    from rich.text import Text

    from archcalc.cli import console

    saved = sys.stdout
    sys.stdout = buffer = io.StringIO()
    try:
        console.out().print(Text("a\x1b[31mb \ud800"), console.styled("ok\r", "green"))
    finally:
        sys.stdout = saved
    assert buffer.getvalue() == "a\\x1b[31mb \\ud800 ok\\r\n"


@pytest.mark.parametrize("columns", ["60", "100", "160"])
@pytest.mark.parametrize("args, shown", [
    (["swin_t", "--pass", "step"], ("params", "step_flops")),
    (["vit_b_16", "--convention", "fvcore"], ("macs",)),
    (["preact_resnet1001", "--depth", "2"], ("params", "macs")),
    (["resnet50", "--batch", "64"], ("params", "macs", "activations")),
])
def test_a_narrow_terminal_folds_numbers_never_cuts_them(monkeypatch, args, shown, columns):
    """Long node names (Swin's) in a narrow terminal: every figure of the JSON totals is
    still in the text, digits folded over lines at worst, and no cell ends in an ellipsis."""
    import json
    import re

    from click.testing import CliRunner

    from archcalc.cli import console
    from archcalc.cli.main import main

    monkeypatch.setenv("COLUMNS", columns)
    console.out.cache_clear()
    try:
        text = CliRunner().invoke(main, ["table", *args]).output
        data = json.loads(CliRunner().invoke(main, ["table", *args, "--format", "json"]).output)
    finally:
        console.out.cache_clear()
    assert "…" not in text
    # the totals (the footer, after the last rule) and the lines they fold onto, borders and
    # spaces removed, cell by cell
    lines = text.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith(("├", "┡"))) + 1
    block = []
    for line in lines[start:]:
        if line.startswith(("└", "╰")):
            break
        block.append([cell.strip() for cell in re.split(r"[│┃|]", line)])
    cells = ["".join(parts) for parts in zip(*block)]
    for key in shown:
        assert f"{data['totals'][key]:,}" in cells, (key, cells)
