"""The command line's conventions: spec names complete in the shell, ``-`` reads a spec
from standard input, ``--quiet`` leaves results and errors only, and under
``--format json`` every error (ours, click's, the last resort's) is one JSON object on
stderr with the parts of the text."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archcalc.cli.main import main
from archcalc.cli.problems import asks_for_json
from archcalc.spec.catalog import bundled

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "bad_specs"
VGG16 = ROOT / "specs" / "vgg16.yaml"
SLOW_BAD = {"alias_bomb", "alias_bomb_in_layer", "nested_repeat_explodes",
            "nesting_through_templates", "repeat_huge", "nested_too_deep",
            "expression_squares_through_templates", "when_false_items_multiply",
            "yaml_too_many_values", "yaml_mapping_nested_too_deep", "int_too_many_digits",
            "file_too_large"}


def invoke(*args, **options):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **options)


def completions(*words: str, shell: str = "bash") -> list[str]:
    """What click answers the shell for the last word of ``archcalc WORDS``."""
    env = {"_ARCHCALC_COMPLETE": f"{shell}_complete",
           "COMP_WORDS": " ".join(("archcalc", *words)), "COMP_CWORD": str(len(words))}
    result = CliRunner().invoke(main, [], env=env, prog_name="archcalc")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


# --- completion ----------------------------------------------------------------------

def test_spec_arguments_complete_bundled_names():
    expected = [f"plain,{name}" for name in bundled() if name.startswith("vgg1")]
    assert len(expected) >= 8
    assert completions("table", "vgg1") == expected
    assert completions("compare", "alexnet", "vgg1") == expected
    assert completions("check", "vgg1") == expected


def test_a_path_or_no_match_falls_back_to_the_shells_file_completion():
    assert completions("table", "specs/vg") == ["file,specs/vg"]
    assert completions("plan", "./my") == ["file,./my"]
    assert completions("table", "no_such_model_zz") == ["file,no_such_model_zz"]


def test_spec_files_of_the_current_folder_complete(tmp_path, monkeypatch):
    (tmp_path / "my_net.yaml").write_text("archcalc: 1\n")
    (tmp_path / "my_notes.txt").write_text("")
    monkeypatch.chdir(tmp_path)
    assert completions("table", "my_") == ["plain,my_net.yaml"]


def test_commands_and_options_complete():
    assert "plain,table" in completions("ta")
    assert "plain,--format" in completions("table", "vgg16", "--for")


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o nosort -F"),
                                          ("zsh", "#compdef archcalc"),
                                          ("fish", "complete --no-files --command archcalc")])
def test_each_shell_gets_its_script(shell, marker):
    result = CliRunner().invoke(main, [], env={"_ARCHCALC_COMPLETE": f"{shell}_source"},
                                prog_name="archcalc")
    assert result.exit_code == 0 and marker in result.stdout
    assert "_ARCHCALC_COMPLETE" in result.stdout


def test_bash_runs_the_script_and_offers_the_names(tmp_path):
    """The README's line, run by bash itself against the installed command."""
    bash = shutil.which("bash")
    command = shutil.which("archcalc", path=str(Path(sys.executable).parent))
    if bash is None or command is None:
        pytest.skip("needs bash and the installed archcalc command")
    script = ('eval "$(_ARCHCALC_COMPLETE=bash_source archcalc)"; '
              "COMP_WORDS=(archcalc table resnet1); COMP_CWORD=2; "
              '_archcalc_completion archcalc; printf "%s\\n" "${COMPREPLY[@]}"')
    env = {**os.environ, "PATH": f"{Path(command).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([bash, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [name for name in bundled() if name.startswith("resnet1")]


# --- standard input ------------------------------------------------------------------

def test_dash_reads_the_spec_from_standard_input():
    piped = invoke("table", "-", "--format", "json", input=VGG16.read_bytes())
    from_file = invoke("table", VGG16, "--format", "json")
    assert piped.exit_code == 0, piped.output
    piped_document, file_document = json.loads(piped.stdout), json.loads(from_file.stdout)
    assert piped_document.pop("file") == "<stdin>"
    file_document.pop("file")
    assert piped_document == file_document
    assert piped_document["totals"]["params"] == 138_357_544


def test_standard_input_is_read_up_to_the_size_cap_only():
    from archcalc.spec.yamlsource import MAX_SPEC_BYTES

    result = invoke("check", "-", input=b"# " + b"x" * (MAX_SPEC_BYTES * 3))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: <stdin>:1:") and "larger than" in result.stderr
    empty = invoke("table", "-", input=b"")
    assert empty.exit_code == 2 and "error: <stdin>:1:1: the spec is empty" in empty.stderr
    binary = invoke("table", "-", input=b"archcalc: 1\nname: \xff\n")
    assert binary.exit_code == 2 and "<stdin>:2:" in binary.stderr


CASES = [path for path in sorted(CORPUS.glob("*.yaml")) if path.stem not in SLOW_BAD]


def test_the_corpus_piped_in_fails_as_the_files_do(monkeypatch):
    """Every malformed spec gives the same error through `-` as by its name, with
    <stdin> for the file name (relative `use:` paths start in the current folder, here
    the corpus's)."""
    monkeypatch.chdir(CORPUS)
    # a spec that names its own file (`use: use_self.yaml`) is not that file when piped
    for path in [case for case in CASES if case.name not in case.read_text("latin-1")]:
        by_name = invoke("table", path.name)
        piped = invoke("table", "-", input=path.read_bytes())
        assert by_name.exit_code == piped.exit_code == 2, path.name
        expected = by_name.stderr.replace(path.name, "<stdin>")
        for file_words, stdin_words in STDIN_WORDING:
            expected = expected.replace(file_words, stdin_words)
        assert piped.stderr == expected, path.name


# The one message that names its source in words (tests/bad_specs/not_utf8.yaml).
STDIN_WORDING = [("the file is not valid UTF-8", "standard input is not valid UTF-8"),
                 ("save the spec as UTF-8", "pipe the spec in as UTF-8")]


# --- --quiet -------------------------------------------------------------------------

def test_quiet_leaves_results_and_errors(tmp_path):
    bad = CORPUS / "unknown_op_conv2d.yaml"
    loud = invoke("check", VGG16, bad)
    assert loud.stdout.startswith("ok  ") and loud.stderr.startswith("error: ")
    quiet = invoke("--quiet", "check", VGG16, bad)
    assert quiet.exit_code == 2
    assert quiet.stdout == "" and quiet.stderr == loud.stderr
    # a note (the file written) goes; the result stays; the next run is not quiet
    plot = tmp_path / "compare.png"
    quiet = invoke("-q", "compare", "lenet5", "alexnet", "--plot", plot)
    assert quiet.exit_code == 0 and plot.stat().st_size > 0
    assert quiet.stderr == "" and "alexnet" in quiet.stdout
    plot.unlink()
    loud = invoke("compare", "lenet5", "alexnet", "--plot", plot)
    # the note may wrap a long temporary path: compare without the line breaks
    assert "".join(loud.stderr.split()).startswith(f"wrote{plot}")
    assert loud.stdout == quiet.stdout


# --- errors as JSON --------------------------------------------------------------------

@pytest.fixture(scope="module")
def error_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/error"})


def json_error(result, validator) -> dict:
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    document = json.loads(lines[0])
    assert list(validator.iter_errors(document)) == []
    assert document["exit_status"] == result.exit_code
    return document


def test_a_spec_error_as_json_has_the_texts_parts(error_validator):
    text = invoke("table", "alexnet", "--input", "3x32x32")
    error = json_error(invoke("table", "alexnet", "--input", "3x32x32", "--format", "json"),
                       error_validator)
    assert (error["file"], error["line"], error["column"], error["node"]) == \
        ("specs/alexnet.yaml", 27, 5, "pool2")
    assert text.stderr == (f"error: specs/alexnet.yaml:27:5: in pool2: {error['message']}\n"
                           f"  hint: {error['hint']}\n")
    assert error["hint"].startswith("the smallest input that works is 3x67x67")


@pytest.mark.parametrize("args,says", [
    (("table", "--format", "json"), "Missing argument"),
    (("table", "vgg16", "--format", "json", "--depth", "0"), "--depth"),
    (("table", "vgg16", "--format=json", "--no-such-option"), "--no-such-option"),
    (("plan", "vgg16", "--format", "json", "--memory", "lots"), "lots"),
])
def test_usage_errors_as_json(error_validator, args, says):
    error = json_error(invoke(*args), error_validator)
    assert says in error["message"] and error["exit_status"] == 2
    assert error["file"] is None and error["hint"]


@pytest.mark.parametrize("raised,status,says", [
    (MemoryError(), 2, "out of memory"),
    (RuntimeError("boom"), 1, "internal error: RuntimeError: boom"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_the_last_resort_as_json(monkeypatch, error_validator, raised, status, says):
    import archcalc.spec.loader

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(archcalc.spec.loader, "load_spec", fail)
    monkeypatch.delenv("ARCHCALC_DEBUG", raising=False)
    text = invoke("table", "vgg16")
    error = json_error(invoke("table", "vgg16", "--format", "json"), error_validator)
    assert error["exit_status"] == status == text.exit_code
    assert says in error["message"] and says in text.stderr
    if error["hint"]:
        assert f"hint: {error['hint']}" in text.stderr


def test_only_a_json_format_makes_errors_json():
    assert asks_for_json(["table", "x", "--format", "json"])
    assert asks_for_json(["table", "x", "--format=json"])
    assert not asks_for_json(["table", "x", "--format", "csv"])
    assert not asks_for_json(["table", "x", "--", "--format", "json"])
    assert not asks_for_json(["table", "x", "--format"])
    assert invoke("table", "nosuch").stderr.startswith("error: unknown model")
