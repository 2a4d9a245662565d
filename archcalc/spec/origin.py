"""`origin:`, where an imported spec came from: the SOURCE `archcalc import` was given and
the keyword arguments its factory was called with.

    origin: {source: "mypackage.models:Net", kwargs: {num_classes: 10}}
    origin: {source: "/home/me/nets.py:Net"}
    origin: {source: "torchvision:resnet18?num_classes=10"}

`archcalc build --layout original` re-creates that module to name the saved tensors after
its keys. Reading the key runs nothing: here it is only checked for form, so a spec that
names a source which no longer imports still loads, analyses and builds; only the
export that needs the module says so. A file source's relative path starts in the
spec's folder (as `use:` paths do); the import writes an absolute one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archcalc.errors import Location, SpecError, shown
from archcalc.layers.registry import unknown_key_error
from archcalc.spec.yamlsource import YamlList, YamlMap

ORIGIN_KEYS = ("source", "kwargs")
FORM_HINT = ("write `origin: {source: \"package.module:attr\", kwargs: {...}}`, "
             "`{source: \"path/to/file.py:attr\"}` or `{source: \"torchvision:NAME\"}`")


@dataclass(frozen=True)
class ImportOrigin:
    """The module a spec was imported from: ``source`` as `archcalc import` reads it, and
    the keyword arguments for a module:attr or file.py:attr factory."""

    source: str
    kwargs: dict = field(default_factory=dict)
    where: Location | None = None  # the `origin:` value, for messages about it

    @property
    def is_torchvision(self) -> bool:
        return self.source.startswith("torchvision:")

    def document(self) -> dict:
        """The `origin:` mapping as written (no kwargs key when there are none)."""
        return {"source": self.source, **({"kwargs": self.kwargs} if self.kwargs else {})}


def read_origin(document) -> ImportOrigin | None:
    """The spec's `origin:` (None without one), its form checked with located errors."""
    if "origin" not in document:
        return None
    value, where = document["origin"], document.where_of("origin")
    if not isinstance(value, YamlMap):
        raise SpecError(f"`origin` must be a mapping, got {shown(value)}", where=where,
                        hint=FORM_HINT)
    for key in value:
        if key not in ORIGIN_KEYS:
            raise unknown_key_error(key, ORIGIN_KEYS, "`origin`", value.where_of(key))
    if "source" not in value:
        raise SpecError("`origin` needs `source`, the SOURCE the spec was imported from",
                        where=where, hint=FORM_HINT)
    source = value["source"]
    if not _is_source(source):
        raise SpecError(f"`origin.source` must be torchvision:NAME, package.module:attr or "
                        f"path/to/file.py:attr, got {shown(source)}",
                        where=value.where_of("source"), hint=FORM_HINT)
    kwargs = value.get("kwargs", YamlMap())
    if not isinstance(kwargs, YamlMap) or not all(isinstance(k, str) for k in kwargs):
        raise SpecError(f"`origin.kwargs` must map keyword names to values, got {shown(kwargs)}",
                        where=value.where_of("kwargs"),
                        hint="for example `kwargs: {num_classes: 10}`")
    if kwargs and source.startswith("torchvision:"):
        raise SpecError("`origin.kwargs` is for module:attr and file.py:attr sources",
                        where=value.where_of("kwargs"),
                        hint="give torchvision keywords after the name: "
                             "torchvision:resnet50?num_classes=10")
    return ImportOrigin(source, _plain(kwargs), where)


def _is_source(source) -> bool:
    if not isinstance(source, str):
        return False
    if source.startswith("torchvision:"):
        return bool(source[len("torchvision:"):].partition("?")[0])
    target, _, attr = source.rpartition(":")
    return bool(target) and attr.isidentifier()


def _plain(value):
    """YAML's located containers as plain dicts and lists, for the factory's call."""
    if isinstance(value, (YamlMap, dict)):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (YamlList, list)):
        return [_plain(v) for v in value]
    return value
