"""Template libraries (`use:`): a user's own file beside the spec, libraries using libraries,
and the errors whose place is inside a library file (the corpus in tests/bad_specs/ holds
those whose place is in the spec itself).

The oracle for a library call is the same block written inline in the spec: both must
give the same analysis, row for row.
"""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from archcalc.analysis.analyze import analyze
from archcalc.cli.main import main
from archcalc.errors import SpecError
from archcalc.spec import catalog
from archcalc.spec.bounds import MAX_LIBRARY_FILES
from archcalc.spec.loader import load_spec, parse_spec
from archcalc.spec.writer import to_yaml

BLOCK = """\
  block:
    args: {out: required, stride: 1}
    body:
      - conv: {out: $out, kernel: 3, stride: $stride, pad: 1, bn: true, act: relu}
      - conv: {out: $out, kernel: 1}
"""
LIBRARY = "archcalc: 1\ntemplates:\n" + BLOCK
LAYERS = """\
layers:
  - block: {out: 8, name: stem}
  - block: {out: 16, repeat: 2, first: {stride: 2}, name: stage}
  - avgpool: {global: true}
  - flatten
  - fc: {out: 10}
"""
HEAD = "archcalc: 1\nname: mine\ninput: [3, 16, 16]\n"


def rows(spec) -> list:
    return [(r.path, r.kind, r.output_shape, r.params, r.macs, r.activations)
            for r in analyze(spec).rows]


def write(folder, name: str, text: str):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(path) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(str(path))
    return caught.value


def test_user_library_beside_the_spec_equals_the_block_written_inline(tmp_path):
    write(tmp_path, "blocks/mine.yaml", LIBRARY)
    spec = write(tmp_path, "models/net.yaml", HEAD + "use: [../blocks/mine.yaml]\n" + LAYERS)
    inline = parse_spec(HEAD + "templates:\n" + BLOCK + LAYERS, "inline.yaml")
    assert rows(load_spec(str(spec))) == rows(inline)
    assert len(rows(inline)) == 1 + 2 + 4 + 3  # input, stem, stage copies, pool/flatten/fc


def test_relative_paths_start_at_the_naming_file_not_the_working_folder(tmp_path, monkeypatch):
    write(tmp_path, "a/blocks.yaml", LIBRARY)
    spec = write(tmp_path, "a/net.yaml", HEAD + "use: [./blocks.yaml]\n" + LAYERS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_spec(str(spec)).name == "mine"
    # parse_spec of text read elsewhere: `folder` says where its relative paths start
    assert parse_spec(spec.read_text(), "shown.yaml", folder=spec.parent).name == "mine"


def test_libraries_use_libraries_and_one_reached_twice_is_read_once(tmp_path):
    write(tmp_path, "base.yaml", LIBRARY)
    write(tmp_path, "left.yaml", "archcalc: 1\nuse: [./base.yaml]\ntemplates:\n"
          "  left: {body: [{block: {out: 8}}]}\n")
    write(tmp_path, "right.yaml", "archcalc: 1\nuse: [./base.yaml]\ntemplates:\n"
          "  right: {body: [{block: {out: 8}}]}\n")
    spec = write(tmp_path, "net.yaml", HEAD + "use: [./left.yaml, ./right.yaml]\n"
                 "layers:\n  - left\n  - right\n")
    assert [row.path for row in analyze(load_spec(str(spec))).rows][1:] == \
        ["left1.conv1", "left1.conv2", "right1.conv1", "right1.conv2"]


def test_a_cycle_between_libraries_names_the_closing_use_and_the_chain(tmp_path):
    write(tmp_path, "a.yaml", "archcalc: 1\nuse: [./b.yaml]\ntemplates:\n" + BLOCK)
    write(tmp_path, "b.yaml", "archcalc: 1\ntemplates:\n  other: {body: [relu]}\nuse: [./a.yaml]\n")
    spec = write(tmp_path, "net.yaml", HEAD + "use: [./a.yaml]\n" + LAYERS)
    message = str(error_of(spec))
    assert f"{tmp_path / 'b.yaml'}:4:7:" in message
    assert "uses itself" in message and "a.yaml -> " in message and "b.yaml -> " in message
    assert "hint:" in message


@pytest.mark.parametrize("text, wanted, line", [
    (HEAD + "layers: [relu]\n", "unknown key 'name' for a template library", 2),
    ("archcalc: 2\ntemplates:\n" + BLOCK, "needs `archcalc: 1`", 1),
    ("archcalc: 1\n", "needs `templates:`", 1),
    ("- just a list\n", "must be a mapping at the top level", 1),
    ("archcalc: 1\ntemplates:\n  conv: {body: [relu]}\n", "hides the layer kind", 3),
    ("archcalc: 1\ntemplates:\n  b: {body: [relu]}\n  b: {body: [relu]}\n", "duplicate key", 4),
])
def test_malformed_library_is_located_in_the_library(tmp_path, text, wanted, line):
    write(tmp_path, "lib.yaml", text)
    spec = write(tmp_path, "net.yaml", HEAD + "use: [./lib.yaml]\nlayers: [relu]\n")
    message = str(error_of(spec))
    assert wanted in message and f"{tmp_path / 'lib.yaml'}:{line}:" in message, message


def test_an_error_inside_a_library_template_names_the_library_line_and_the_node(tmp_path):
    write(tmp_path, "lib.yaml", "archcalc: 1\ntemplates:\n  bad:\n    body:\n"
          "      - conv: {out: 8, kernel: 0}\n")
    spec = write(tmp_path, "net.yaml", HEAD + "use: [./lib.yaml]\nlayers:\n  - bad: {name: b}\n")
    message = str(error_of(spec))
    assert f"{tmp_path / 'lib.yaml'}:5:" in message and "in b:" in message, message


def test_library_files_are_held_to_the_spec_reading_bounds(tmp_path):
    write(tmp_path, "bomb.yaml", "archcalc: 1\ntemplates:\n  t:\n    body: [relu]\n"
          "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
          "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
          "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n")
    (tmp_path / "latin1.yaml").write_bytes(b"archcalc: 1\n# caf\xe9\n")
    (tmp_path / "huge.yaml").write_text("archcalc: 1\n" + "# padding\n" * 120_000)
    os.mkdir(tmp_path / "folder.yaml")
    for name, wanted in (("bomb", "alias"), ("latin1", "not valid UTF-8"),
                         ("huge", "larger than"), ("folder", "not a regular file")):
        spec = write(tmp_path, f"net_{name}.yaml", HEAD + f"use: [./{name}.yaml]\nlayers: [relu]\n")
        message = str(error_of(spec))
        assert wanted in message and f"{name}.yaml" in message, message


def test_the_number_of_library_files_is_bounded(tmp_path):
    count = MAX_LIBRARY_FILES + 1
    for index in range(count):
        following = f"use: [./lib{index + 1}.yaml]\n" if index + 1 < count else ""
        write(tmp_path, f"lib{index}.yaml",
              f"archcalc: 1\n{following}templates:\n  t{index}: {{body: [relu]}}\n")
    spec = write(tmp_path, "net.yaml", HEAD + "use: [./lib0.yaml]\nlayers: [t0]\n")
    assert f"more than {MAX_LIBRARY_FILES} library files" in str(error_of(spec))
    write(tmp_path, f"lib{count - 2}.yaml", f"archcalc: 1\ntemplates:\n  t{count - 2}: "
          "{body: [relu]}\n")  # one fewer file: within the bound
    assert load_spec(str(spec)).name == "mine"


def test_expand_writes_a_spec_that_needs_no_library(tmp_path):
    write(tmp_path, "lib/mine.yaml", LIBRARY)
    spec = write(tmp_path, "net.yaml", HEAD + "use: [./lib/mine.yaml]\n" + LAYERS)
    result = CliRunner().invoke(main, ["expand", str(spec)])
    assert result.exit_code == 0, result.output
    assert "use:" not in result.output and "block" not in result.output
    alone = tmp_path / "alone"
    alone.mkdir()
    expanded = write(alone, "expanded.yaml", result.output)
    assert rows(load_spec(str(expanded))) == rows(load_spec(str(spec)))


@pytest.mark.parametrize("name", ["resnet20", "resnet50", "densenet121"])
def test_zoo_models_on_the_library_expand_and_load_back(name):
    spec = load_spec(name)
    assert rows(parse_spec(to_yaml(spec), f"{name}-expanded.yaml")) == rows(spec)


def test_every_shipped_library_template_is_used_by_the_zoo():
    """A library template no model calls is untested weight; the next issue's blocks come
    with the models that use them."""
    from archcalc.spec.library import read_library
    from archcalc.spec.templates import read_templates

    shipped = set()
    for name, path in catalog.libraries().items():
        shipped |= set(read_templates(read_library(path, name)))
    zoo_text = "\n".join(path.read_text() for path in catalog.bundled().values())
    library_text = "\n".join(path.read_text() for path in catalog.libraries().values())
    for template in shipped:
        assert f"{template}:" in zoo_text or f"- {template}:" in library_text, template


def test_an_edited_library_is_read_again(tmp_path):
    """Libraries are parsed once per process while their file stays the same; an edit
    (new size or modification time) takes effect at the next load."""
    library = write(tmp_path, "lib.yaml", LIBRARY)
    spec = write(tmp_path, "net.yaml", HEAD + "use: [./lib.yaml]\n" + LAYERS)
    before = rows(load_spec(str(spec)))
    library.write_text(LIBRARY.replace("kernel: 1}", "kernel: 1, bias: false}"))
    after = rows(load_spec(str(spec)))
    assert [row[3] for row in after] != [row[3] for row in before]  # params: no conv2 bias
    assert sum(row[3] for row in before) - sum(row[3] for row in after) == 8 + 16 + 16
