"""Template arguments and where each value was written: `$name` substitution, a `when`,
binding a call's arguments to a template, and a repeat copy's `first:`/`last:` overrides.
The expander (spec/expand.py) builds nodes from what these return."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from archcalc.errors import Location, SpecError, shown
from archcalc.layers.registry import did_you_mean
from archcalc.spec.expr import evaluate, references, whole
from archcalc.spec.params import YAML11_BOOLS
from archcalc.spec.templates import REQUIRED_ARG, Template
from archcalc.spec.yamlsource import YamlList, YamlMap

CONTROL_KEYS = ("name", "repeat", "first", "last", "when", "expect", "paper")


@dataclass(frozen=True)
class Scope:
    """Where expansion stands: the template arguments `$name` refers to, and the chain
    of template calls that led here (a template in it may not be called again)."""

    args: dict
    stack: tuple = ()


@dataclass(frozen=True)
class Item:
    """One node to make: its op, its non-control arguments as written (``given``), where
    each was written (``located.where_of(key)``), its path and its expect:/paper: facts."""

    op: str
    given: dict
    located: Any
    where: Location
    path: str
    expect: tuple | None = None
    paper: Any = None

    def where_of(self, key) -> Location:
        return self.located.where_of(key) if key is not None else self.where


def where_in(container, key, fallback: Location) -> Location:
    """Where ``container[key]`` was written, or ``fallback`` for a value built in code."""
    if isinstance(container, (YamlMap, YamlList)):
        return container.where_of(key)
    return fallback


def substitute(value, args: dict, where: Location, node: str):
    """Replace ``$name`` references by template arguments, recursively in lists."""
    if isinstance(value, list):
        return [substitute(item, args, where, node) for item in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    for ref in references(value):
        if ref not in args:
            hint = did_you_mean(ref, args) or (
                f"this template's arguments: {', '.join(args)}" if args
                else "`$name` works only inside a template body")
            raise SpecError(f"unknown template argument ${ref}", where=where, node=node,
                            hint=hint)
    whole_ref = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", value.strip())
    if whole_ref:
        return args[whole_ref.group(1)]
    if re.search(r"(?<!\$)\bin\b", value):
        # keep the input-channel expression, with the numbers put in
        return re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: f"({args[m.group(1)]})", value)
    try:
        return whole(evaluate(value, args), value)
    except SpecError as exc:
        raise exc.located(where, node) from None


def condition(value, args, where, node) -> bool:
    """The value of a `when`, which must come out true or false."""
    value = substitute(value, args, where, node)
    if not isinstance(value, bool):
        hint = "specs read YAML 1.2: write true or false" \
            if str(value).lower() in YAML11_BOOLS else None
        raise SpecError(f"`when` must be true or false, got {shown(value)}", where=where,
                        node=node, hint=hint)
    return value


def bind_arguments(template: Template, values: dict, item: Item) -> dict:
    """A call's arguments over the template's defaults; every argument known, none missing."""
    bound = {}
    for key, value in values.items():
        if key not in template.args:
            raise SpecError(
                f"template {template.name!r} has no argument {key!r}", where=item.where_of(key),
                node=item.path, hint=did_you_mean(key, template.args) or
                f"its arguments: {', '.join(template.args) or '(none)'}")
        bound[key] = value
    for key, default in template.args.items():
        if key not in bound:
            if default == REQUIRED_ARG:
                raise SpecError(f"template {template.name!r} needs argument {key!r}",
                                where=item.where, node=item.path,
                                hint=f"add `{key}: ...` to this call")
            bound[key] = default
    return bound


def repeat_overrides(body: YamlMap, path: str) -> dict:
    """A repeat's `first:` and `last:` mappings ({} where not given)."""
    overrides = {}
    for key in ("first", "last"):
        value = body.get(key) or {}
        if not isinstance(value, dict):
            raise SpecError(f"`{key}` must be a mapping of overrides, got {shown(value)}",
                            where=body.where_of(key), node=path)
        for name in value:
            if name in ("name", "repeat", "first", "last", "expect"):
                raise SpecError(f"`{name}` cannot be overridden in `{key}`",
                                where=body.where_of(key), node=path)
        overrides[key] = value
    return overrides


def copy_arguments(body: YamlMap, overrides: dict, first_last: tuple, where: Location):
    """One repeat copy's arguments: the item's, then `first:`/`last:` where they apply;
    and where each came from."""
    merged = {k: v for k, v in body.items() if k not in CONTROL_KEYS}
    source = {k: body for k in merged}
    for key, applies in zip(("first", "last"), first_last):
        if applies:
            merged.update(overrides[key])
            source.update({name: overrides[key] for name in overrides[key]})
    return merged, Sourced(source, where)


class Sourced:
    """Locations for a repeat copy whose arguments come from body or first/last."""

    def __init__(self, sources: dict, where: Location):
        self.sources, self.where = sources, where

    def where_of(self, key):
        source = self.sources.get(key)
        return where_in(source, key, self.where) if source is not None else self.where
