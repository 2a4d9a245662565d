"""Load a spec by name or path: read YAML, check the top level, expand the graph."""
from __future__ import annotations


from archcalc.errors import Location, SpecError, shown
from archcalc.layers.registry import all_kinds, did_you_mean, unknown_key_error
from archcalc.spec import catalog
from archcalc.spec.bounds import MAX_SPATIAL
from archcalc.spec.expand import REQUIRED_ARG, Expander, Template
from archcalc.spec.model import Spec
from archcalc.spec.names import check_module_names
from archcalc.spec.paper import check_paper
from archcalc.spec.yamlsource import MAX_SPEC_BYTES, YamlMap, check_size, location_of, read_yaml

TOP_KEYS = ("archcalc", "name", "title", "source", "torchvision", "input", "defaults",
            "templates", "layers", "expect", "paper")
EXPECT_KEYS = ("output", "params", "buffers", "macs", "flops", "activations")
FORMAT_VERSION = 1
MAX_INPUT_SIDE = MAX_SPATIAL  # the name cmd_sweep imports


def load_spec(name_or_path, input_shape=None) -> Spec:
    """A Spec from a bundled name (``vgg16``) or a YAML file path.

    ``input_shape`` (C, H, W) replaces the spec's own input.
    """
    path = catalog.resolve(str(name_or_path))
    shown_as = catalog.display_name(str(name_or_path), path)
    data = read_spec_bytes(path, shown_as)
    check_size(data, shown_as)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"the file is not valid UTF-8 text (byte {data[exc.start]:#04x})",
                        where=location_of(data, exc.start, shown_as),
                        hint="save the spec as UTF-8") from None
    return parse_spec(text, shown_as, input_shape)


def read_spec_bytes(path, shown_as: str) -> bytes:
    """At most MAX_SPEC_BYTES + 1 bytes of a regular file, without ever blocking.

    A FIFO would block ``open`` until a writer comes, and a device (/dev/zero, a
    terminal) never ends; so the file is opened non-blocking and refused unless
    fstat says it is a regular file (checked on the open descriptor: no race).
    """
    import os
    import stat

    where = Location(shown_as)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror}", where=where,
                        hint="check the path and its permissions") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else \
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else \
                "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
            raise SpecError(f"this is {kind}, not a spec file", where=where,
                            hint="give a regular .yaml file (save piped output to a file first)")
        with os.fdopen(descriptor, "rb", closefd=True) as file:
            descriptor = None
            return file.read(MAX_SPEC_BYTES + 1)  # no more: the file may be huge
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", where=where) from None
    finally:
        if descriptor is not None:
            os.close(descriptor)


def parse_spec(text: str, filename: str, input_shape=None) -> Spec:
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
    expander = Expander(filename, read_defaults(document), read_templates(document))
    root_items = document["layers"]
    children = expander.expand_items(root_items, document.where_of("layers"), "", {}, ())
    if not children:
        raise SpecError("`layers` is empty", where=document.where_of("layers"))
    from archcalc.spec.model import Sequence

    torchvision = document.get("torchvision")
    if torchvision is not None and not isinstance(torchvision, str):
        raise SpecError("`torchvision` names the torchvision model this spec reproduces, "
                        "e.g. `torchvision: resnet50`", where=document.where_of("torchvision"))
    root = Sequence("", tuple(children), document.where_of("layers"))
    check_paper(document, root)  # published figures (`paper:`), see spec/paper.py
    check_module_names(root)  # names a built module can register, see spec/names.py
    return Spec(name=name, source=str(document.get("source", "")), input=shape,
                torchvision=torchvision, root=root, file=filename,
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
    defaults = document.get("defaults") or YamlMap()
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


def read_templates(document) -> dict:
    raw = document.get("templates") or YamlMap()
    if not isinstance(raw, dict):
        raise SpecError("`templates` must map template names to {args, body}",
                        where=document.where_of("templates"))
    kinds = all_kinds()
    templates = {}
    for name, definition in raw.items():
        where = raw.where_of(name)
        if name in kinds or name in ("branch", "group"):
            raise SpecError(f"template name {name!r} hides the layer kind of that name",
                            where=where, hint="choose another template name")
        if not isinstance(definition, dict) or "body" not in definition:
            raise SpecError(f"template {name!r} needs `body:` (and optionally `args:`)",
                            where=where)
        for key in definition:
            if key not in ("args", "body"):
                raise unknown_key_error(key, ("args", "body"), f"template {name!r}",
                                        definition.where_of(key))
        args = definition.get("args") or {}
        if not isinstance(args, dict):
            raise SpecError(f"`args` of template {name!r} must map names to defaults "
                            f"(or `{REQUIRED_ARG}`)", where=definition.where_of("args"))
        body = definition["body"]
        if not isinstance(body, list) or not body:
            raise SpecError(f"`body` of template {name!r} must be a non-empty list of layers",
                            where=definition.where_of("body"))
        templates[name] = Template(name, dict(args), body, definition.where_of("body"))
    return templates


def read_file_expect(document) -> dict:
    expect = document.get("expect") or {}
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
