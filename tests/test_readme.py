"""The README, run as a new user would: every `archcalc ...` command in its code blocks
(and every concrete one in its prose) is extracted; the fast ones run with the README's
placeholders replaced by data this test makes, and their exit status and the figures the
README prints next to them are checked; the slow ones (training, search) are parsed by the
real command line, so a renamed or removed option fails here. Every option a command
accepts must also be documented in the README."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from archcalc.cli.main import COMMANDS, main

README = Path(__file__).resolve().parent.parent / "README.md"

# Commands that analyse without training: run for real. Everything else (training,
# search, babysitting) is only parsed: minutes of CPU each.
RUN = {"list", "table", "explain", "check", "kinds", "expand", "plan", "compare", "sweep",
       "plot", "verify", "build"}
SLOW_OPTIONS = {"--train", "--all"}

# Figures the README's prose quotes for a command, which its output must contain.
QUOTED = {
    "archcalc table vgg16": ["138,357,544", "15,237,608", "3,211,264", "1,792"],
    "archcalc table resnet50 --input 3xHxW": ["floor"],
    "archcalc explain alexnet --layer conv1": ["(227 - 11)/4 + 1 = 55", "34,944"],
}

# Spans in prose that name a command without being one to run.
_PLACEHOLDER = re.compile(r"NAME|PATH|\[|\.\.\.|\|| A B|CxHxW|F\.png|FILE")


@dataclass
class Command:
    line: int
    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)[1:]

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.text}"


def _blocks(lines: list[str]):
    """(first line number, language, body lines) of each fenced or indented code block."""
    index = 0
    while index < len(lines):
        fence = re.match(r"^```(\w*)", lines[index])
        if fence:
            end = index + 1
            while not lines[end].startswith("```"):
                end += 1
            yield index + 2, fence.group(1), lines[index + 1:end]
            index = end + 1
            continue
        if lines[index].startswith("    $ ") and not lines[index - 1].strip():
            end = index
            while end < len(lines) and lines[end].startswith("    "):
                end += 1
            yield index + 1, "indented", [line[4:] for line in lines[index:end]]
            index = end
            continue
        index += 1


def _shell_commands(line: str) -> list[str]:
    """The archcalc invocations in one shell line: after `&&`, behind a venv path or
    `torchrun ... -m archcalc`, without a trailing comment."""
    line = re.sub(r"\s+#.*$", "", line)
    found = []
    for part in line.split("&&"):
        part = part.strip()
        part = re.sub(r"^\S*/bin/archcalc\b", "archcalc", part)
        part = re.sub(r"^torchrun\b.*?-m archcalc\b", "archcalc", part)
        if part.startswith("archcalc "):
            found.append(part)
    return found


def _joined(start: int, body: list[str]) -> list[tuple[int, str]]:
    """The block's lines with shell continuations (a trailing backslash) joined."""
    joined: list[tuple[int, str]] = []
    for offset, text in enumerate(body):
        if joined and joined[-1][1].endswith("\\"):
            joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + text.strip())
        else:
            joined.append((start + offset, text))
    return joined


def _block_commands(start: int, language: str, body: list[str]) -> list[Command]:
    """Commands of one code block: `$ `-prompted lines (the lines after one are its expected
    output) and, in bash blocks, every archcalc invocation."""
    commands: list[Command] = []
    current = None
    for number, text in _joined(start, body):
        if text.startswith("$ "):
            current = None
            for command in _shell_commands(text[2:]):
                current = Command(number, command)
                commands.append(current)
        elif language == "bash":
            commands += [Command(number, command) for command in _shell_commands(text)]
        elif current is not None and text.strip():
            current.expected.append(text)
    return commands


def _prose_commands(lines: list[str]) -> list[Command]:
    """Concrete commands quoted in prose; `archcalc plan` alone names a command, and spans
    with placeholders are synopses, not invocations."""
    return [Command(number, span) for number, text in enumerate(lines, 1)
            for span in re.findall(r"`([^`]+)`", text)
            if span.startswith("archcalc ") and len(span.split()) > 2
            and not _PLACEHOLDER.search(span)]


def readme_commands() -> list[Command]:
    lines = README.read_text(encoding="utf-8").splitlines()
    commands = [command for start, language, body in _blocks(lines)
                if language not in ("yaml", "python")
                for command in _block_commands(start, language, body)]
    commands += _prose_commands(lines)
    for command in commands:
        command.expected += QUOTED.get(command.text, [])
    return commands


def _runs(command: Command) -> bool:
    argv = command.argv
    return bool(argv) and argv[0] in RUN and not SLOW_OPTIONS & set(argv)


COMMANDS_IN_README = readme_commands()


# The model the README's "Adding a model" steps describe: library blocks and expect: facts.
MYNET = """\
archcalc: 1
name: mynet
title: A small ResNet written as the README says
source: the README's "Adding a model" section.
use: [resnet]
input: [3, 64, 64]
defaults:
  conv: {bias: false, bn: true, act: relu}
layers:
  - conv: {out: 64, kernel: 7, stride: 2, pad: 3, name: conv1, expect: [64, 32, 32]}
  - bottleneck: {mid: 64, out: 256, repeat: 3, first: {project: true}, name: layer1}
  - bottleneck: {mid: 128, out: 512, repeat: 2, first: {stride: 2, project: true}, name: layer2,
                 expect: [512, 16, 16]}
  - avgpool: {global: true, name: avgpool}
  - flatten
  - fc: {out: 10, name: fc}
expect: {output: [10]}
"""


@pytest.fixture
def user_home(tmp_path, monkeypatch):
    """A home folder and working directory holding what the README's placeholders name."""
    home = tmp_path / "home"
    (home / "cifar-10-batches-py").mkdir(parents=True)
    for label in ("a", "b"):
        (home / "flowers" / label).mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    (work / "resnet50_tv.pt").write_bytes(b"")
    (work / "specs").mkdir()
    (work / "specs" / "mynet.yaml").write_text(MYNET)  # the README's "Adding a model"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(work)
    from archcalc.cli import console

    console.out.cache_clear()
    console.err.cache_clear()
    yield work
    console.out.cache_clear()
    console.err.cache_clear()


def _normal(text: str) -> str:
    """Whitespace collapsed and rich's table borders (box-drawing characters) dropped, so a
    README line quoting a table row matches the row."""
    return " ".join(re.sub("[\u2500-\u257f]", " ", text).split())


def test_the_readme_has_commands_of_every_kind():
    named = {command.argv[0] for command in COMMANDS_IN_README if command.argv}
    assert {"table", "explain", "plan", "compare", "build", "search"} <= named
    assert any(command.expected for command in COMMANDS_IN_README)


@pytest.mark.parametrize("command", [c for c in COMMANDS_IN_README if _runs(c)], ids=str)
def test_fast_command_runs_as_written(command, user_home):
    from click.testing import CliRunner

    result = CliRunner().invoke(main, command.argv, catch_exceptions=False)
    output = _normal(result.output)
    if command.expected and command.expected[0].startswith("error:"):
        assert result.exit_code == 2, result.output
    else:
        assert result.exit_code == 0, f"{command}\n{result.output}"
    for line in command.expected:
        for piece in line.split("..."):
            assert _normal(piece) in output, f"{command}: {piece.strip()!r} not in\n{result.output}"


@pytest.mark.parametrize("command", [c for c in COMMANDS_IN_README if not _runs(c)], ids=str)
def test_slow_command_parses(command, user_home):
    name, *rest = command.argv
    parent = click.Context(main, info_name="archcalc")
    sub = main.get_command(parent, name)
    assert sub is not None, f"{command}: no command {name!r}"
    with sub.make_context(name, rest, parent=parent) as context:
        assert context.params is not None


# Commands whose options are documented in a section of their own rather than in a synopsis.
OPTION_SECTIONS = {"build": "## Training", "babysit": "## Training",
                   "search": "## Hyperparameter search"}


def _documentation(name: str) -> str:
    """The README text that documents command ``name``: its synopses (code spans starting
    `archcalc NAME`) and, for the training commands, their section."""
    text = README.read_text(encoding="utf-8")
    spans = [span for line in text.splitlines() if not line.startswith("```")
             for span in re.findall(r"`([^`]+)`", line)
             if span.split()[:2] == ["archcalc", name]]
    heading = OPTION_SECTIONS.get(name)
    if heading:
        section = text.split(heading, 1)[1]
        spans.append(re.split(r"\n## ", section, maxsplit=1)[0])
    return "\n".join(spans)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_documented(name):
    text = _documentation(name)
    command = main.get_command(click.Context(main), name)
    missing = [option for param in command.params if isinstance(param, click.Option)
               for option in param.opts + param.secondary_opts
               if option.startswith("--") and option != "--help"
               and not re.search(re.escape(option) + r"(?![\w-])", text)]
    assert not missing, f"`archcalc {name}` options absent from its README synopsis: {missing}"


def _spec_blocks() -> list[tuple[int, str]]:
    lines = README.read_text(encoding="utf-8").splitlines()
    return [(start, "\n".join(body)) for start, language, body in _blocks(lines)
            if language == "yaml" and body and body[0].startswith("archcalc:")]


@pytest.mark.parametrize("start,text", _spec_blocks(), ids=lambda v: str(v)[:20])
def test_whole_spec_in_the_readme_checks_and_equals_the_bundled_one(start, text):
    """A spec the README prints whole must check as written; where it has a zoo spec's name,
    it must be that spec: the same node paths, shapes and totals."""
    from archcalc.analysis.analyze import analyze
    from archcalc.spec.catalog import bundled
    from archcalc.spec.loader import load_spec, parse_spec

    spec = parse_spec(text, f"README.md:{start}")
    report = analyze(spec)
    if spec.name in bundled():
        bundled = analyze(load_spec(spec.name))
        assert [(r.path, r.output_shape) for r in report.layers] == \
            [(r.path, r.output_shape) for r in bundled.layers]
        assert report.totals == bundled.totals


def _write_cifar(folder: Path, per_batch: int = 8) -> None:
    """CIFAR-10's python batches in miniature: random images, labels 0..9."""
    import pickle

    np = pytest.importorskip("numpy")
    generator = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = generator.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in generator.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as file:
            pickle.dump({b"labels": labels, b"data": data}, file)


def test_the_cifar_training_command_runs_with_a_home_folder(user_home):
    """The README's `--data cifar10:~/...` command as written (the `~` is archcalc's to expand:
    no shell expands it after `cifar10:`), cut to one step, on batches the test writes."""
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib", reason="a training run writes curves.png")
    from click.testing import CliRunner

    (command,) = [c for c in COMMANDS_IN_README if "cifar10:~/" in c.text]
    _write_cifar(Path.home() / "cifar-10-batches-py")
    argv = command.argv + ["--max-steps", "1", "--epochs", "1", "--no-checks", "--lr", "0.01",
                           "--out", "run"]
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert result.exit_code == 0, f"{command}\n{result.output}"
    assert (user_home / "run" / "last.pt").is_file()


def _python_blocks() -> list[tuple[int, str]]:
    lines = README.read_text(encoding="utf-8").splitlines()
    return [(start, "\n".join(body)) for start, language, body in _blocks(lines)
            if language == "python"]


# What a README snippet needs beyond the base install, by what it uses.
SNIPPET_NEEDS = {"archcalc.train": ("torch", "sklearn", "matplotlib"), "build_module": ("torch",),
                 "Activation": ("torch",), "hypothesis": ("hypothesis",)}


@pytest.mark.parametrize("start,code", _python_blocks(), ids=lambda v: str(v)[:12])
def test_python_snippet_runs_as_written(start, code, tmp_path):
    """Every Python block in the README is complete: it runs as written in a fresh process
    (its own registry, a scratch working folder for what it writes)."""
    import os
    import subprocess
    import sys

    for marker, modules in SNIPPET_NEEDS.items():
        if marker in code:
            for module in modules:
                pytest.importorskip(module)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"README.md:{start}\n{result.stderr[-3000:]}"
