"""Template libraries: named blocks a spec takes from a file instead of copying them.

A spec (or a library) lists them at the top level::

    use: [resnet, ./my_blocks.yaml]

A plain name (letters, digits, _) is a library shipped with archcalc: the repository's
``specs/library/NAME.yaml``, installed as ``archcalc/zoo/library``. Anything else is a
path, relative to the folder of the file that names it. A library file is
``archcalc: 1``, an optional ``source:``, an optional ``use:`` and ``templates:``.

All templates a spec can call share one namespace: its own and every library's, the
libraries' own ``use:`` included. A name defined twice is an error (a spec's own
template does not silently hide a library's, nor one library another's), a library
that uses itself through others is an error, and a library reached twice (two libraries
using a third) is read once. Library files are read like specs: the same regular-file,
size, UTF-8 and YAML bounds, and at most MAX_LIBRARY_FILES of them per spec.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from archcalc.errors import Location, SpecError, shown
from archcalc.layers.registry import did_you_mean, unknown_key_error
from archcalc.spec import catalog
from archcalc.spec.bounds import MAX_LIBRARY_FILES
from archcalc.spec.reading import read_spec_text
from archcalc.spec.templates import Template, read_templates
from archcalc.spec.yamlsource import YamlMap, read_yaml

LIBRARY_KEYS = ("archcalc", "source", "use", "templates")
_LIBRARY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Origin:
    """A file that can name libraries: where it really is and how messages show it."""

    folder: Path
    shown_folder: str
    chain: tuple = ()  # (real path, shown name) of each file from the spec down to this one


@dataclass
class _Gathered:
    templates: dict = field(default_factory=dict)  # name -> Template
    files: set = field(default_factory=set)  # real paths already read


def gather_templates(document: YamlMap, origin: Origin) -> dict[str, Template]:
    """Every template ``document`` can call: those of the libraries it uses, then its own."""
    gathered = _Gathered()
    _use_libraries(document, origin, gathered)
    for template in read_templates(document).values():
        _add(gathered, template)
    return gathered.templates


def _add(gathered: _Gathered, template: Template) -> None:
    earlier = gathered.templates.get(template.name)
    if earlier is not None:
        raise SpecError(f"template {template.name!r} is defined twice: here and at "
                        f"{earlier.defined}", where=template.defined,
                        hint="template names share one namespace with every library in "
                             "`use`; rename one of them (or drop yours and use the library's)")
    gathered.templates[template.name] = template


def _use_libraries(document: YamlMap, origin: Origin, gathered: _Gathered) -> None:
    entries = document.get("use")
    if entries is None:
        return
    where = document.where_of("use")
    if not isinstance(entries, list):
        raise SpecError(f"`use` must be a list of libraries, got {shown(entries)}", where=where,
                        hint="for example `use: [resnet, ./my_blocks.yaml]`")
    for index, entry in enumerate(entries):
        entry_where = entries.where_of(index) if hasattr(entries, "where_of") else where
        path, shown_as = _resolve(entry, origin, entry_where)
        real = path.resolve()
        reals = [file for file, _ in origin.chain]
        if real in reals:
            names = [name for _, name in origin.chain[reals.index(real):]]
            cycle = " -> ".join(names + [shown_as])
            raise SpecError(f"library {shown_as} uses itself ({cycle})", where=entry_where,
                            hint="a library cannot use, directly or through others, a file "
                                 "that uses it; move the shared templates into a third file")
        if real in gathered.files:
            continue  # reached twice without a cycle: read once
        if len(gathered.files) >= MAX_LIBRARY_FILES:
            raise SpecError(f"the spec uses more than {MAX_LIBRARY_FILES} library files",
                            where=entry_where, hint="merge small libraries into one file")
        gathered.files.add(real)
        inner = Origin(path.parent, os.path.dirname(shown_as), origin.chain + ((real, shown_as),))
        library = read_library(path, shown_as)
        _use_libraries(library, inner, gathered)
        for template in read_templates(library).values():
            _add(gathered, template)


def _resolve(entry, origin: Origin, where: Location) -> tuple[Path, str]:
    """The file a `use` entry names, and how messages show it."""
    if not isinstance(entry, str) or not entry.strip():
        raise SpecError(f"a `use` entry must be a library name or a relative path, got "
                        f"{shown(entry)}", where=where,
                        hint="for example `use: [resnet, ./my_blocks.yaml]`")
    if _LIBRARY_NAME.match(entry):
        libraries = catalog.libraries()
        if entry not in libraries:
            raise SpecError(f"no library named {entry!r} ships with archcalc", where=where,
                            hint=did_you_mean(entry, libraries) or
                            f"the libraries: {', '.join(libraries) or '(none)'}; a file of "
                            "your own is a path: `./my_blocks.yaml`")
        return libraries[entry], f"specs/library/{entry}.yaml"
    path = origin.folder / entry
    shown_as = os.path.normpath(os.path.join(origin.shown_folder, entry))
    if not path.exists():
        raise SpecError(f"no library file {shown_as}", where=where,
                        hint="a path in `use` is relative to the folder of the file that "
                             "names it")
    if not path.is_file():
        raise SpecError(f"the library {shown_as} is not a regular file", where=where,
                        hint="a library is a .yaml file of templates")
    return path, shown_as


def read_library(path: Path, shown_as: str) -> YamlMap:
    """The checked top level of a library file. Parsed once per process while the file
    stays the same (a search or sweep loads its spec many times; reading resnet.yaml
    costs as much as expanding resnet50). Expansion never changes what it reads."""
    status = os.stat(path)
    return _read_library(str(path.resolve()), shown_as, status.st_mtime_ns, status.st_size)


@lru_cache(maxsize=64)
def _read_library(path: str, shown_as: str, _mtime_ns: int, _size: int) -> YamlMap:
    document = read_yaml(read_spec_text(path, shown_as), shown_as)
    start = "a library is `archcalc: 1` and `templates:` (optionally `source:` and `use:`)"
    if not isinstance(document, YamlMap):
        raise SpecError("a template library must be a mapping at the top level",
                        where=getattr(document, "where", None) or Location(shown_as),
                        hint=start)
    for key in document:
        if key not in LIBRARY_KEYS:
            raise unknown_key_error(key, LIBRARY_KEYS, "a template library",
                                    document.where_of(key))
    if type(document.get("archcalc")) is not int or document["archcalc"] != 1:
        raise SpecError(f"a template library needs `archcalc: 1`, got "
                        f"{shown(document.get('archcalc'))}",
                        where=document.where_of("archcalc"), hint=start)
    if not isinstance(document.get("templates"), dict) or not document["templates"]:
        raise SpecError("a template library needs `templates:` with at least one template",
                        where=document.where_of("templates"), hint=start)
    return document
