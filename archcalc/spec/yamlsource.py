"""Read a YAML spec safely, keeping where every value came from.

PyYAML's SafeLoader is used with three changes that specs need:
- duplicate keys are an error (YAML silently keeps the last one);
- scalars resolve as in YAML 1.2: ``1e-4`` is a float and only ``true``/``false``
  are booleans (YAML 1.1 reads ``1e-4`` as a string and ``off`` as false);
- nesting is capped, and so is what aliases add (an alias repeats the whole
  value it names, so a few nested aliases make an alias bomb); an alias inside
  the value it names is an error;
- the number of values is capped, and so are the digits of an integer (Python
  refuses to convert more than 4,300 with a ValueError, and none is needed).
The bounds are in spec/bounds.py.
Mappings come back as ``YamlMap`` and sequences as ``YamlList``, which carry the
Location of themselves, of each key's value and of each item.
"""
from __future__ import annotations

import re

import yaml

from archcalc.errors import Location, SpecError, shown
from archcalc.spec.bounds import (
    MAX_ALIAS_VALUES,
    MAX_INT_DIGITS,
    MAX_SPEC_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_VALUES,
)

MAX_DEPTH = MAX_YAML_DEPTH  # the name other modules and tests import


class YamlMap(dict):
    where: Location
    value_where: dict

    def where_of(self, key) -> Location:
        return self.value_where.get(key, self.where)


class YamlList(list):
    where: Location
    item_where: list

    def where_of(self, index: int) -> Location:
        if 0 <= index < len(self.item_where):
            return self.item_where[index]
        return self.where


class _Resolver(yaml.resolver.BaseResolver):
    pass


# YAML 1.2 core schema scalars (the subset specs use).
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$"),
    list("-+0123456789"))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _SpecLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                  yaml.composer.Composer, yaml.constructor.SafeConstructor, _Resolver):
    def __init__(self, stream, filename: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self.filename = filename
        self.open_anchors: list = []  # anchors of the collections being composed
        self.anchor_sizes: dict = {}  # anchor -> values in what it names
        self.size = 0  # values composed so far, aliases counted at their full size
        self.alias_values = 0

    def at(self, mark) -> Location:
        return Location(self.filename, mark.line + 1, mark.column + 1)

    def where(self, node) -> Location:
        return self.at(node.start_mark)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.events.AliasEvent):
            if event.anchor in self.open_anchors:
                raise SpecError(f"the alias *{event.anchor} is inside the value it names",
                                where=self.at(event.start_mark),
                                hint="a value cannot contain itself; use templates to reuse "
                                     "layers")
            added = self.anchor_sizes.get(event.anchor, 1)
            self.size += added
            self.alias_values += added
            if self.alias_values > MAX_ALIAS_VALUES:
                raise SpecError(f"YAML aliases repeat more than {MAX_ALIAS_VALUES} values",
                                where=self.at(event.start_mark),
                                hint="use templates and repeat instead of anchors and aliases")
            return super().compose_node(parent, index)
        if len(self.open_anchors) >= MAX_DEPTH:
            raise SpecError(f"YAML values nest deeper than {MAX_DEPTH} levels",
                            where=self.at(event.start_mark),
                            hint="a spec nests a few levels; use templates for structure")
        before = self.size
        self.size += 1
        if self.size > MAX_YAML_VALUES:
            raise SpecError(f"the spec holds more than {MAX_YAML_VALUES:,} YAML values",
                            where=self.at(event.start_mark),
                            hint="a spec is a short description of a network, not data; "
                                 "use templates and repeat for long structures")
        self.open_anchors.append(event.anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.open_anchors.pop()
        if event.anchor is not None:
            self.anchor_sizes[event.anchor] = self.size - before
        return node


def _construct_map(loader: _SpecLoader, node):
    result = YamlMap()
    result.where = loader.where(node)
    result.value_where = {}
    yield result
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) or key is None:
            raise SpecError("mapping keys must be plain names", where=loader.where(key_node))
        if key == "<<":
            raise SpecError("YAML merge keys (`<<`) are not supported",
                            where=loader.where(key_node),
                            hint="put shared arguments in `defaults:` or in a template")
        if key in result:
            raise SpecError(
                f"duplicate key {key!r}", where=loader.where(key_node),
                hint=f"{key!r} is already set at line {result.value_where[key].line}; "
                     "YAML would silently keep the last value")
        result[key] = loader.construct_object(value_node, deep=True)
        result.value_where[key] = loader.where(value_node)


def _construct_list(loader: _SpecLoader, node):
    result = YamlList()
    result.where = loader.where(node)
    result.item_where = [loader.where(item) for item in node.value]
    yield result
    result.extend(loader.construct_object(item, deep=True) for item in node.value)


_INT_FORMS = ((re.compile(r"[-+]?[0-9]+"), 10), (re.compile(r"0x[0-9a-fA-F]+"), 16),
              (re.compile(r"0o[0-7]+"), 8))


def _construct_int(loader: _SpecLoader, node):
    """A YAML 1.2 integer: PyYAML's own constructor follows YAML 1.1, where ``017`` is
    octal 15 and ``09`` raises a ValueError; here ``017`` is 17, as the resolver says."""
    text = node.value.strip()
    digits = text.lstrip("+-")
    if len(digits) > MAX_INT_DIGITS:
        raise SpecError(f"the number {shown(text, 30)} has {len(digits):,} digits, more "
                        f"than the {MAX_INT_DIGITS} this tool reads", where=loader.where(node),
                        hint="no layer size, count or figure needs a number that large")
    for form, base in _INT_FORMS:
        if form.fullmatch(text):
            return int(text if base == 10 else text[2:], base)
    raise SpecError(f"{shown(text)} is not a YAML 1.2 integer", where=loader.where(node),
                    hint="write digits, 0x... or 0o...")


def _checked(construct, what: str, hint: str):
    """PyYAML's scalar constructor, its own failures on an explicit tag (``!!float ''``:
    IndexError, ``!!bool maybe``: KeyError) turned into a SpecError at the value."""

    def construct_checked(loader: _SpecLoader, node):
        try:
            return construct(loader, node)
        except (ValueError, IndexError, KeyError, TypeError):
            raise SpecError(f"{shown(node.value)} is not {what}", where=loader.where(node),
                            hint=hint) from None

    return construct_checked


def _refuse(loader: _SpecLoader, node):
    raise SpecError(f"unsupported YAML value: the tag {shown(node.tag)}",
                    where=loader.where(node),
                    hint="specs use plain YAML values: numbers, strings, true/false, lists "
                         "and mappings")


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_SpecLoader.add_constructor("tag:yaml.org,2002:float", _checked(
    yaml.constructor.SafeConstructor.construct_yaml_float, "a number",
    "write a number such as 1e-4 or 0.5"))
_SpecLoader.add_constructor("tag:yaml.org,2002:bool", _checked(
    yaml.constructor.SafeConstructor.construct_yaml_bool, "true or false",
    "specs read YAML 1.2: write true or false"))
for _tag in ("binary", "timestamp", "set", "omap", "pairs"):
    _SpecLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)
_SpecLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_SpecLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)


def check_size(data, filename: str) -> None:
    """A SpecError naming the line where ``data`` (bytes or str) passes the size cap."""
    if isinstance(data, str):
        if len(data) <= MAX_SPEC_BYTES // 4:
            return
        data = data.encode("utf-8", "replace")
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"the spec is larger than {MAX_SPEC_BYTES // 1024} KiB; it passes that "
                        "size on this line", where=location_of(data, MAX_SPEC_BYTES, filename),
                        hint="a spec is a short description of a network, not data")


def location_of(text, index: int, filename: str) -> Location:
    """The Location of character (or byte) ``index`` of ``text``."""
    newline = "\n" if isinstance(text, str) else b"\n"
    start = text.rfind(newline, 0, index) + 1
    return Location(filename, text.count(newline, 0, index) + 1, index - start + 1)


def read_yaml(text: str, filename: str):
    """Parse one YAML document; every failure is a SpecError naming file and line."""
    check_size(text, filename)
    loader = None
    try:
        loader = _SpecLoader(text, filename)  # checks the characters at once
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        raise SpecError(f"the control character U+{exc.character:04X} is not allowed in YAML",
                        where=location_of(text, exc.position, filename),
                        hint="delete it, or write it as an escape inside double quotes") \
            from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, filename) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError, filename: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
    problem = exc.problem or exc.context or "cannot parse"
    if "single document" in str(exc.context):
        return SpecError("the file holds more than one YAML document", where=where,
                         hint="a spec is one document: remove the second `---`")
    if isinstance(exc, yaml.constructor.ConstructorError):
        return SpecError(f"unsupported YAML value: {problem}", where=where,
                         hint="specs use plain YAML values: no tags like `!!python/...`")
    if isinstance(exc, yaml.composer.ComposerError):
        return SpecError(f"invalid YAML: {problem}", where=where,
                         hint="define each anchor `&name` once, before its aliases `*name`")
    if exc.problem and exc.context and exc.context_mark and mark \
            and exc.context_mark.line != mark.line:
        problem += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
    return SpecError(f"invalid YAML: {problem}", where=where,
                     hint="check indentation, colons and brackets near this line")
