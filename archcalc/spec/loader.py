"""Load a spec by name or path: read YAML, check the top level, expand the graph."""
from __future__ import annotations

import os
from pathlib import Path

from archcalc.errors import Location, SpecError, shown
from archcalc.layers.registry import all_kinds, did_you_mean, unknown_key_error
from archcalc.spec import catalog
from archcalc.spec.bounds import MAX_SPATIAL
from archcalc.spec.expand import Expander
from archcalc.spec.library import Origin, gather_templates
from archcalc.spec.model import Spec
from archcalc.spec.names import check_module_names
from archcalc.spec.origin import read_origin
from archcalc.spec.published import check_paper
from archcalc.spec.reading import STDIN_NAME, read_spec_text, read_stdin
from archcalc.spec.yamlsource import YamlMap, read_yaml

TOP_KEYS = ("archcalc", "name", "title", "source", "torchvision", "origin", "input", "defaults",
            "use", "templates", "layers", "expect", "paper")
EXPECT_KEYS = ("output", "params", "buffers", "macs", "flops", "activations")
FORMAT_VERSION = 1
MAX_INPUT_SIDE = MAX_SPATIAL  # the name cmd_sweep imports
STDIN = "-"  # the name that reads the spec from standard input


def load_spec(name_or_path, input_shape=None) -> Spec:
    """A Spec from a bundled name (``vgg16``), a YAML file path, or ``-``: standard input
    (relative `use:` paths then start in the current folder).

    ``input_shape`` (C, H, W) replaces the spec's own input.
    """
    if str(name_or_path) == STDIN:
        return parse_spec(read_stdin(), STDIN_NAME, input_shape, folder=Path.cwd())
    path = catalog.resolve(str(name_or_path))
    shown_as = catalog.display_name(str(name_or_path), path)
    return parse_spec(read_spec_text(path, shown_as), shown_as, input_shape,
                      folder=path.parent)


def parse_spec(text: str, filename: str, input_shape=None, *, folder=None) -> Spec:
    """A Spec from YAML text; ``filename`` names it in messages. ``folder`` is where
    relative `use:` paths start (default: ``filename``'s folder)."""
    document = read_yaml(text, filename)
    start = "start with `archcalc: 1`, `name:`, `input:` and `layers:`"
    if document is None:
        raise SpecError("the spec is empty", where=Location(filename, 1, 1), hint=start)
    if not isinstance(document, YamlMap):
        where = getattr(document, "where", None) or _first_value(text, filename)
        raise SpecError(f"the spec must be a mapping at the top level, got a "
                        f"{_kind_name(document)}", where=where, hint=start)
    for key in document:
        if key not in TOP_KEYS:
            raise unknown_key_error(key, TOP_KEYS, "a spec", document.where_of(key))
    if "templates" in document and "layers" not in document and "name" not in document:
        start = ("this looks like a template library (`archcalc: 1` and `templates:`): "
                 "check a spec that names it in `use:`")
    for key in ("archcalc", "name", "input", "layers"):
        if key not in document:
            raise SpecError(f"the spec needs a top-level `{key}`", where=document.where,
                            hint=start)
    version = document["archcalc"]
    if type(version) is not int or version != FORMAT_VERSION:
        raise SpecError(f"unsupported spec format version {shown(version)}",
                        where=document.where_of("archcalc"),
                        hint=f"this archcalc reads `archcalc: {FORMAT_VERSION}`")
    name = document["name"]
    if not isinstance(name, str) or not name:
        raise SpecError("`name` must be a non-empty string", where=document.where_of("name"))
    shape = read_input(list(input_shape), Location(filename)) if input_shape is not None \
        else read_input(document["input"], document.where_of("input"))
    origin = Origin(Path(folder) if folder is not None else Path(filename).parent,
                    os.path.dirname(filename), ((_real(folder, filename), filename),))
    expander = Expander(filename, read_defaults(document), gather_templates(document, origin))
    root_items = document["layers"]
    children = expander.expand_root(root_items, document.where_of("layers"))
    if not children:
        raise SpecError("`layers` is empty", where=document.where_of("layers"))
    from archcalc.spec.model import Sequence

    torchvision = document.get("torchvision")
    if torchvision is not None and not isinstance(torchvision, str):
        raise SpecError("`torchvision` names the torchvision model this spec reproduces, "
                        "e.g. `torchvision: resnet50`", where=document.where_of("torchvision"))
    imported_from = read_origin(document)  # form only: nothing runs (spec/origin.py)
    root = Sequence("", tuple(children), document.where_of("layers"))
    check_paper(document, root)  # published figures (`paper:`), see spec/published.py
    check_module_names(root)  # names a built module can register, see spec/names.py
    return Spec(name=name, source=str(document.get("source", "")), input=shape,
                torchvision=torchvision, origin=imported_from, root=root, file=filename,
                title=str(document.get("title", "")), expect=read_file_expect(document),
                paper=document.get("paper"), raw=document)


def _kind_name(value) -> str:
    for cls, name in ((bool, "boolean"), (list, "list"), (str, "string"), (int, "number"),
                      (float, "number")):
        if isinstance(value, cls):
            return name
    return type(value).__name__


def _first_value(text: str, filename: str) -> Location:
    """Where the first line that is not blank or a comment starts."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith(("#", "---", "%")):
            return Location(filename, number, len(line) - len(line.lstrip()) + 1)
    return Location(filename, 1, 1)


def _real(folder, filename: str) -> Path:
    """The spec file's real path, so a library that uses the spec is a cycle."""
    if folder is None:
        return Path(filename).resolve()
    return (Path(folder) / os.path.basename(filename)).resolve()


def read_input(value, where) -> tuple:
    if not isinstance(value, list) or len(value) not in (1, 3) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise SpecError(f"`input` must be [C, H, W] (or [features]), got {shown(value)}",
                        where=where, hint="for example `input: [3, 224, 224]`")
    if any(v < 1 for v in value):
        raise SpecError(f"`input` sizes must be positive, got {value!r}", where=where,
                        hint="for example `input: [3, 224, 224]`")
    if any(v > MAX_INPUT_SIDE for v in value):
        raise SpecError(f"`input` sizes above {MAX_INPUT_SIDE} are not supported", where=where)
    return tuple(value)


def read_defaults(document) -> dict:
    defaults: YamlMap = document.get("defaults") or YamlMap()
    if not isinstance(defaults, dict):
        raise SpecError("`defaults` must map op names to their default arguments",
                        where=document.where_of("defaults"))
    kinds = all_kinds()
    for op, values in defaults.items():
        if op not in kinds:
            raise SpecError(f"`defaults` names unknown op {op!r}", where=defaults.where_of(op),
                            hint=did_you_mean(op, kinds))
        if not isinstance(values, dict):
            raise SpecError(f"defaults for `{op}` must be a mapping", where=defaults.where_of(op))
    return dict(defaults)


def read_file_expect(document) -> dict:
    expect: YamlMap = document.get("expect") or YamlMap()
    if not isinstance(expect, dict):
        raise SpecError("`expect` must be a mapping like {output: [1000], params: 123}",
                        where=document.where_of("expect"))
    for key, value in expect.items():
        if key not in EXPECT_KEYS:
            raise unknown_key_error(key, EXPECT_KEYS, "`expect`", expect.where_of(key))
        ok = (isinstance(value, list) and all(isinstance(v, int) for v in value)) \
            if key == "output" else (isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise SpecError(f"`expect.{key}` has the wrong form: {shown(value)}",
                            where=expect.where_of(key),
                            hint="output is a shape list; the others are whole numbers")
    return dict(expect)
