"""Find specs: bundled names (the zoo) and file paths.

The zoo lives in the repository's top-level ``specs/``; a wheel installs the
same files as the data folder ``archcalc/zoo`` (see setup.py; named apart from the
code package ``archcalc/spec``). Both places are looked at, installed copy first.
Template libraries (spec/library.py) are ``library/*.yaml`` in the same folders.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from archcalc.errors import Location, SpecError

_PACKAGE = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def spec_dirs() -> tuple[Path, ...]:
    candidates = [_PACKAGE / "zoo", _PACKAGE.parent / "specs"]
    return tuple(path for path in candidates if path.is_dir())


@lru_cache(maxsize=1)
def bundled() -> dict[str, Path]:
    """Bundled spec name -> file."""
    found: dict[str, Path] = {}
    for folder in spec_dirs():
        for file in sorted(folder.glob("*.yaml")):
            found.setdefault(file.stem, file)
    return dict(sorted(found.items()))


@lru_cache(maxsize=1)
def libraries() -> dict[str, Path]:
    """Shipped template library name -> file."""
    found: dict[str, Path] = {}
    for folder in spec_dirs():
        for file in sorted((folder / "library").glob("*.yaml")):
            found.setdefault(file.stem, file)
    return dict(sorted(found.items()))


def resolve(name_or_path: str) -> Path:
    """The file for a bundled name or a path; SpecError if neither exists."""
    looks_like_path = os.sep in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = Path(name_or_path)
        if not path.exists():
            raise SpecError("no such file", where=Location(name_or_path),
                            hint="give a path to a .yaml spec or a bundled name "
                                 "(`archcalc list`)")
        if path.is_dir():
            raise _folder_error(name_or_path)
        return path
    specs = bundled()
    if name_or_path in specs:
        return specs[name_or_path]
    if Path(name_or_path).is_dir():
        raise _folder_error(name_or_path)
    if Path(name_or_path).exists():  # a file, or a pipe or device the loader refuses
        return Path(name_or_path)
    import difflib

    close = difflib.get_close_matches(name_or_path, list(specs), n=3, cutoff=0.5)
    close.sort(key=lambda candidate: typo_distance(name_or_path, candidate))  # vgg61: vgg16
    hint = f"did you mean {', '.join(close)}?" if close else "run `archcalc list` for the zoo"
    raise SpecError(f"unknown model {name_or_path!r}: not a bundled spec or a file",
                    hint=hint)


def display_name(name_or_path: str, path: Path) -> str:
    """How messages name a spec file: a bundled one, given by name, as ``specs/NAME.yaml``
    (its place in the repository; `archcalc expand NAME` prints it), not the absolute
    path of wherever the package is installed; a file as the user gave it."""
    if bundled().get(name_or_path) == path:
        return f"specs/{name_or_path}.yaml"
    return str(path)


def _folder_error(name: str) -> SpecError:
    return SpecError("this is a folder, not a spec file", where=Location(name),
                     hint="give one .yaml file, e.g. specs/vgg16.yaml, or a bundled name")


def typo_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) that turn ``a`` into ``b``."""
    previous: list[int] = []  # no row before the first (read only from the second on)
    row = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        before, previous, row = previous, row, [i] + [0] * len(b)
        for j, other in enumerate(b, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (char != other))
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                row[j] = min(row[j], before[j - 2] + 1)
    return row[-1]
