"""Read a file's `templates:` mapping (a spec's or a template library's) into Templates."""
from __future__ import annotations

from dataclasses import dataclass

from archcalc.errors import Location, SpecError
from archcalc.layers.registry import all_kinds, unknown_key_error
from archcalc.spec.yamlsource import YamlList, YamlMap

REQUIRED_ARG = "required"
TEMPLATE_KEYS = ("args", "body")


@dataclass(frozen=True)
class Template:
    """A named block: its arguments (name -> default or REQUIRED_ARG) and its body;
    ``where`` is the body's location, ``defined`` the name's (for the clash message)."""

    name: str
    args: dict
    body: YamlList
    where: Location
    defined: Location | None = None


def read_templates(document) -> dict[str, Template]:
    raw: YamlMap = document.get("templates") or YamlMap()
    if not isinstance(raw, dict):
        raise SpecError("`templates` must map template names to {args, body}",
                        where=document.where_of("templates"))
    return {name: read_template(name, definition, raw.where_of(name))
            for name, definition in raw.items()}


def read_template(name: str, definition: YamlMap, where: Location) -> Template:
    if name in all_kinds() or name in ("branch", "group"):
        raise SpecError(f"template name {name!r} hides the layer kind of that name",
                        where=where, hint="choose another template name")
    if not isinstance(definition, dict) or "body" not in definition:
        raise SpecError(f"template {name!r} needs `body:` (and optionally `args:`)",
                        where=where)
    for key in definition:
        if key not in TEMPLATE_KEYS:
            raise unknown_key_error(key, TEMPLATE_KEYS, f"template {name!r}",
                                    definition.where_of(key))
    args = definition.get("args") or {}
    if not isinstance(args, dict):
        raise SpecError(f"`args` of template {name!r} must map names to defaults "
                        f"(or `{REQUIRED_ARG}`)", where=definition.where_of("args"))
    body: YamlList = definition["body"]
    if not isinstance(body, list) or not body:
        raise SpecError(f"`body` of template {name!r} must be a non-empty list of layers",
                        where=definition.where_of("body"))
    return Template(name, dict(args), body, definition.where_of("body"), where)
