"""Read a YAML spec safely, keeping where every value came from.

PyYAML's SafeLoader is used with three changes that specs need:
- duplicate keys are an error (YAML silently keeps the last one);
- scalars resolve as in YAML 1.2: ``1e-4`` is a float and only ``true``/``false``
  are booleans (YAML 1.1 reads ``1e-4`` as a string and ``off`` as false);
- aliases are capped, so an alias bomb cannot blow up the expansion.
Mappings come back as ``YamlMap`` and sequences as ``YamlList``, which carry the
Location of themselves, of each key's value and of each item.
"""
from __future__ import annotations

import re

import yaml

from archcalc.errors import Location, SpecError

MAX_SPEC_BYTES = 1 << 20
MAX_ALIASES = 64


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
        self.alias_count = 0

    def where(self, node) -> Location:
        mark = node.start_mark
        return Location(self.filename, mark.line + 1, mark.column + 1)

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                event = self.peek_event()
                raise SpecError(
                    f"more than {MAX_ALIASES} YAML aliases",
                    where=Location(self.filename, event.start_mark.line + 1,
                                   event.start_mark.column + 1),
                    hint="use templates and repeat instead of anchors and aliases")
        return super().compose_node(parent, index)


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


_SpecLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_SpecLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)


def read_yaml(text: str, filename: str):
    """Parse one YAML document; every failure is a SpecError naming file and line."""
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise SpecError(f"spec is larger than {MAX_SPEC_BYTES // 1024} KiB",
                        where=Location(filename), hint="a spec is a short description, not data")
    loader = _SpecLoader(text, filename)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {problem}", where=where,
                        hint="check indentation, colons and brackets near this line") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {exc}", where=Location(filename)) from None
    except RecursionError:
        raise SpecError("YAML nesting is too deep", where=Location(filename)) from None
    finally:
        loader.dispose()
