"""Repeated blocks -> templates, and runs of copies -> ``repeat:``.

Every instance of one traced module class (``Bottleneck``, ``InvertedResidual``) is
anti-unified with the others (Plotkin's least general generalisation, on the item
trees): what all instances share stays literal, a value that differs becomes an
argument (``$conv2_stride``), and an item only some instances have (ResNet's
``downsample``) is kept with ``when: $downsample``. Arguments whose values agree in every
instance are one argument. A group whose children are calls of one template named
0..N-1, equal after the first, becomes ``- template: {repeat: N, first: {...}}``: a
ResNet stage reads as the hand-written one. Instances that do not unify (a different
layer order) stay as they are.
"""
from __future__ import annotations

import re

from archcalc.layers.registry import all_kinds

CLASS = "_class"  # set by convert.py on a traced module's items; removed here


class _Hole:
    def __init__(self, values: list):
        self.values = values
        self.arg = ""


class _Mismatch(Exception):
    pass


def _defaults(kind: str) -> dict:
    if kind == "branch":
        return {"act": "none"}
    found = all_kinds().get(kind)
    return {p.name: p.default for p in getattr(found, "params", ())} if found else {}


def _unify(values: list, holes: list, where: tuple):
    first = values[0]
    if all(_same(v, first) for v in values):
        return first
    if all(isinstance(v, dict) for v in values):
        return _unify_dicts(values, holes, where)
    if all(isinstance(v, list) and v and all(isinstance(x, dict) for x in v) or v == []
           for v in values) and any(v for v in values):
        return _unify_items(values, holes, where)
    if any(isinstance(v, dict) or isinstance(v, list) and
           any(isinstance(x, (dict, list)) for x in v) for v in values):
        raise _Mismatch()
    hole = _Hole(values)  # scalars, or pairs such as a kernel [1, 7]
    hole.arg = "_".join(where)
    holes.append(hole)
    return hole


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _is_item(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and \
        isinstance(next(iter(value.values())), dict)


def _unify_dicts(values: list, holes: list, where: tuple) -> dict:
    if all(_is_item(v) for v in values):
        kinds = {next(iter(v)) for v in values}
        if len(kinds) != 1:
            raise _Mismatch()
        (kind,) = kinds
        defaults = _defaults(kind)
        bodies = [v[kind] for v in values]
        keys = list(dict.fromkeys(k for b in bodies for k in b))
        if any(k not in b and k not in defaults for b in bodies for k in keys):
            raise _Mismatch()
        filled = [{k: b.get(k, defaults.get(k)) for k in keys} for b in bodies]
        named = str(bodies[0].get("name", ""))
        # an item named by position (a Sequential's "1") is named by kind and position
        inner = where + ((f"{kind}{named}" if named.isdigit() else named),) \
            if named and kind not in ("group", "branch") else where  # layers name arguments
        return {kind: {k: _unify([f[k] for f in filled], holes,
                                 inner if k in ("paths", "layers") else inner + (k,))
                       for k in keys}}
    keys = list(values[0])
    if any(list(v) != keys for v in values):
        raise _Mismatch()
    return {k: _unify([v[k] for v in values], holes, where) for k in keys}


def _item_name(entry: dict) -> str:
    (body,) = entry.values()
    return str(body.get("name", "")) if isinstance(body, dict) else ""


def _unify_items(lists: list, holes: list, where: tuple) -> list:
    order: list = []
    for items in lists:
        names = [_item_name(e) for e in items]
        if len(set(names)) != len(names) or "" in names:
            raise _Mismatch()
        for name in names:
            if name not in order:
                order.append(name)
    if len({len(items) for items in lists}) > 1 and any(name.isdigit() for name in order):
        raise _Mismatch()  # positions are not names: "1" of a shorter list is another layer
    for items in lists:  # every instance keeps the union's order
        positions = [order.index(_item_name(e)) for e in items]
        if positions != sorted(positions):
            raise _Mismatch()
    out = []
    for name in order:
        present = [next((e for e in items if _item_name(e) == name), None) for items in lists]
        found = [e for e in present if e is not None]
        unified = _unify(found, holes, where) if len(found) > 1 else found[0]
        if len(found) < len(lists):
            unified = _with_holes_filled(unified, present)
            hole = _Hole([e is not None for e in present])
            hole.arg = "_".join(where + (name,)) if where else name
            holes.append(hole)
            ((kind, body),) = unified.items()
            unified = {kind: {**body, "when": hole}}
        out.append(unified)
    return out


def _with_holes_filled(unified, present: list):
    """An optional item's holes have values only where it is present; elsewhere the
    value is never used (None: any value will do, see _arguments)."""
    if isinstance(unified, _Hole):
        values = iter(unified.values)
        unified.values = [next(values) if entry is not None else None for entry in present]
        return unified
    if isinstance(unified, dict):
        return {k: _with_holes_filled(v, present) for k, v in unified.items()}
    if isinstance(unified, list):
        return [_with_holes_filled(v, present) for v in unified]
    return unified


def _collect(items: list, found: dict, depth: dict, level: int = 0) -> None:
    for entry in items:
        ((kind, body),) = entry.items()
        if not isinstance(body, dict):
            continue
        if body.get(CLASS):
            found.setdefault(body[CLASS], []).append(entry)
            depth[body[CLASS]] = max(depth.get(body[CLASS], 0), level)
        for path in body.get("paths", {}).values():
            _collect(path, found, depth, level + 1)
        _collect(body.get("layers", []), found, depth, level + 1)


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != CLASS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def templated(layers: list) -> tuple[list, dict]:
    """``layers`` with repeated blocks as template calls, and the templates."""
    found: dict = {}
    depth: dict = {}
    _collect(layers, found, depth)
    templates: dict = {}
    calls: dict = {}  # id(entry) -> call item
    # the innermost classes first, so an outer template's body calls the inner ones
    for cls in sorted(found, key=lambda c: -depth[c]):
        for entries in _partition(found[cls], calls):
            if len(entries) < 2:
                continue
            stripped = [_strip(_replace([e], calls, top=False)[0]) for e in entries]
            _template(cls, stripped, entries, templates, calls)
    replaced = _strip(_replace(layers, calls))
    return _compact(replaced, templates), templates


def _partition(entries: list, calls: dict) -> list:
    """The instances of one class in groups that unify (MobileNet's InvertedResidual with
    and without its residual add are two templates), in order of first appearance."""
    groups: list = []
    for entry in entries:
        plain = _strip(_replace([entry], calls, top=False)[0])
        for group in groups:
            try:
                _unify([_unnamed(e) for e in group[1] + [plain]], [], ())
            except _Mismatch:
                continue
            group[0].append(entry)
            group[1].append(plain)
            break
        else:
            groups.append(([entry], [plain]))
    return [group[0] for group in groups]


def _unnamed(entry: dict) -> dict:
    return {k: {kk: vv for kk, vv in v.items() if kk != "name"} for k, v in entry.items()}


def _template(cls: str, stripped: list, entries: list, templates: dict, calls: dict) -> None:
    holes: list = []
    names = [_item_name(e) for e in stripped]
    body = _unify([_unnamed(e) for e in stripped], holes, ())
    values = _arguments(holes)  # argument -> its value in each instance
    args = list(values)
    name = _template_name(cls, templates)
    filled = _fill(body)
    if "group" in filled and "name" not in filled["group"]:
        body_items = filled["group"]["layers"]  # a call of several items is a group itself
    else:
        body_items = [filled]
    templates[name] = {"args": {arg: "required" for arg in args}, "body": body_items}
    for index, entry in enumerate(entries):
        calls[id(entry)] = {name: {**{a: values[a][index] for a in args}, "name": names[index]}}


def _agree(a: list, b: list) -> bool:
    return all(x is None or y is None or _same(x, y) for x, y in zip(a, b))


def _arguments(holes: list) -> dict:
    """One argument per vector of values (conv1's and conv2's widths agree in every
    bottleneck: one argument; a value an instance never uses, None, agrees with any),
    named after the first hole that needs it. Unused values are then filled with the
    most common value, so copies of a stage stay equal for ``repeat:``."""
    merged: list = []  # (arg, values)
    for hole in holes:
        match = next((m for m in merged if _agree(m[1], hole.values)), None)
        if match is None:
            arg = re.sub(r"\W", "_", hole.arg) or "value"
            arg = arg if not arg[0].isdigit() else "x" + arg
            base, counter = arg, 2
            while any(arg == m[0] for m in merged):
                arg, counter = f"{base}_{counter}", counter + 1
            match = (arg, list(hole.values))
            merged.append(match)
        else:
            match[1][:] = [x if x is not None else y for x, y in zip(match[1], hole.values)]
        hole.arg = match[0]
    for _, values in merged:
        known = [v for v in values if v is not None]
        common = max(known, key=lambda v: sum(_same(v, w) for w in known)) if known else 0
        values[:] = [common if v is None else v for v in values]
    return dict(merged)


def _fill(value):
    if isinstance(value, _Hole):
        return f"${value.arg}"
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    return value


def _template_name(cls: str, templates: dict) -> str:
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls)
    base = re.sub(r"\W", "_", base).lower().strip("_") or "block"
    name, counter = base, 2
    while name in templates or name in all_kinds() or name in ("branch", "group"):
        name, counter = f"{base}_{counter}", counter + 1
    return name


def _replace(items: list, calls: dict, top: bool = True) -> list:
    out = []
    for entry in items:
        if id(entry) in calls and top:
            out.append(calls[id(entry)])
            continue
        ((kind, body),) = entry.items()
        if isinstance(body, dict) and "paths" in body:
            body = {**body, "paths": {k: _replace(v, calls) for k, v in body["paths"].items()}}
        if isinstance(body, dict) and "layers" in body:
            body = {**body, "layers": _replace(body["layers"], calls)}
        out.append({kind: body})
    return out


def _compact(items: list, templates: dict) -> list:
    """A group of one template's calls named 0..N-1, equal after the first, as one call
    with ``repeat: N`` and the first copy's differences under ``first:``."""
    out = []
    for entry in items:
        ((kind, body),) = entry.items()
        if kind == "group":
            body = {**body, "layers": _compact(body["layers"], templates)}
            entry = _as_repeat(body, templates) or {kind: body}
        elif kind == "branch":
            entry = {kind: {**body, "paths": {k: _compact(v, templates)
                                              for k, v in body["paths"].items()}}}
        out.append(entry)
    return out


def _as_repeat(group: dict, templates: dict):
    layers = group["layers"]
    kinds = {next(iter(e)) for e in layers}
    if len(layers) < 2 or len(kinds) != 1:
        return None
    (kind,) = kinds
    bodies = [e[kind] for e in layers]
    if [b.get("name") for b in bodies] != [str(i) for i in range(len(bodies))] or \
            kind not in templates:
        return None
    rest = [{k: v for k, v in b.items() if k != "name"} for b in bodies[1:]]
    if any(r != rest[0] for r in rest):
        return None
    first = {k: v for k, v in bodies[0].items() if k != "name" and rest[0].get(k) != v}
    call = {**rest[0], "repeat": len(bodies)}
    if first:
        call["first"] = first
    call["name"] = group["name"]
    if "expect" in group:
        call["expect"] = group["expect"]
    return {kind: call}
