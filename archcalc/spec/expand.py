"""Expand a spec's items (templates, repeat, first/last, when, branches) into nodes.

Naming: a node's local name is its ``name:`` or, if none, the op plus a
counter within its container (``conv1``, ``conv2``, ``maxpool1``); repeat
copies are ``0..n-1``. A template call whose body is a single unnamed item
becomes that item (so ``layer1.0`` *is* the residual branch); otherwise the
call is a container of the body's nodes.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import cast

from archcalc.errors import Location, SpecError, shown
from archcalc.layers.registry import (
    all_kinds,
    did_you_mean,
    get_kind,
    unknown_key_error,
)
from archcalc.spec import params as param_check
from archcalc.spec.arguments import (
    CONTROL_KEYS,
    Item,
    Scope,
    bind_arguments,
    condition,
    copy_arguments,
    repeat_overrides,
    substitute,
    where_in,
)
from archcalc.spec.bounds import (
    MAX_EXPANSION_ITEMS,
    MAX_NESTING,
    MAX_NODES,
    MAX_REPEAT,
    MAX_TEMPLATE_DEPTH,
)
from archcalc.spec.model import Branch, Layer, Sequence
from archcalc.spec.templates import REQUIRED_ARG, Template
from archcalc.spec.yamlsource import YamlMap

BRANCH_KEYS = ("paths", "merge", "act")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A node may also be named by a number, as nn.Sequential names its children
# (torchvision's `features.0`, and the copies of a repeat).
_NODE_NAME = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")
__all__ = ["REQUIRED_ARG", "Expander", "Scope", "Template"]


class Expander:
    def __init__(self, file: str, defaults: dict, templates: dict[str, Template]):
        self.file = file
        self.defaults = defaults  # op -> YamlMap of defaults
        self.templates = templates
        self.node_count = 0
        self.items_visited = 0  # items and repeat copies looked at, `when: false` ones too
        self.depth = 0  # expand_one calls in progress

    # --- items -------------------------------------------------------------
    def parse_item(self, item, where: Location, container: str):
        if isinstance(item, str):
            return item, YamlMap()
        if isinstance(item, dict) and len(item) == 1:
            op, body = next(iter(item.items()))
            if body is None:
                body = YamlMap()
            if not isinstance(body, dict):
                raise SpecError(f"the arguments of `{op}` must be a mapping, got {shown(body)}",
                                where=where, node=container or None,
                                hint=f"write `- {op}: {{key: value, ...}}`")
            if not isinstance(body, YamlMap):
                body = YamlMap(body)
            if not hasattr(body, "where"):
                body.where, body.value_where = where, {}
            return str(op), body
        raise SpecError(
            f"a layer item must be an op name or a one-key mapping, got {shown(item)}",
            where=where, node=container or None,
            hint="write `- conv: {out: 64, kernel: 3}`; put repeat/name inside the arguments")

    def expand_root(self, layers, where: Location) -> list:
        """The top level's nodes: `layers:` is a list of items, or one template call
        (``layers: {cifar_resnet: {blocks: 3}}``) whose body items become the top level
        itself, named as if written there (``conv1``, ``layer1``, not ``cifar_resnet1.conv1``)."""
        if not isinstance(layers, dict):
            return self.expand_items(layers, where, "", Scope({}))
        if len(layers) != 1 or next(iter(layers)) not in self.templates:
            raise SpecError(f"expected a list of layers (or one template call), got "
                            f"{shown(layers)}", where=where,
                            hint="start each layer with `- `, or call one template: "
                                 "`layers: {cifar_resnet: {blocks: 3}}`")
        op, body = self.parse_item(layers, where, "")
        for key in CONTROL_KEYS:
            if key in body:
                raise SpecError(f"`{key}` does not apply to a whole-model template call",
                                where=body.where_of(key),
                                hint="put it on the items of the template's body")
        template = self.templates[op]
        values = {k: substitute(v, {}, body.where_of(k), "") for k, v in body.items()}
        inner = Scope(bind_arguments(template, values, Item(op, body, body, where, "")), (op,))
        return self.expand_items(template.body, template.where, "", inner)

    def expand_items(self, items, where: Location, prefix: str, scope: Scope):
        if items is None:
            return []
        if not isinstance(items, list):
            raise SpecError(f"expected a list of layers, got {shown(items)}", where=where,
                            node=prefix or None, hint="start each layer with `- `")
        nodes: list = []
        names: dict[str, Location] = {}  # local name -> where it was first given
        counters: dict[str, int] = {}  # op -> copies named so far (conv1, conv2, ...)
        for index, item in enumerate(items):
            item_where = where_in(items, index, where)
            self.visit(item_where, prefix)
            op, body = self.parse_item(item, item_where, prefix)
            if "when" in body and not condition(body["when"], scope.args,
                                                     body.where_of("when"), prefix or None):
                continue
            if "name" in body:
                local = self.node_name(body, scope, prefix)
            else:
                counters[op] = counters.get(op, 0) + 1
                local = f"{op}{counters[op]}"
            if local in names:
                raise SpecError(f"two nodes named {local!r} in {prefix or 'the top level'}",
                                where=item_where, node=prefix or None,
                                hint=f"the first is at line {names[local].line}; give one a "
                                     "different `name`")
            names[local] = item_where
            path = f"{prefix}.{local}" if prefix else local
            nodes.append(self.expand_named(op, body, item_where, path, scope))
        return nodes

    def node_name(self, body: YamlMap, scope: Scope, prefix: str) -> str:
        local = substitute(body["name"], scope.args, body.where_of("name"), prefix)
        if isinstance(local, int) and not isinstance(local, bool) and local >= 0:
            local = str(local)
        if not isinstance(local, str) or not _NODE_NAME.match(local):
            raise SpecError(f"bad node name {shown(local)}", where=body.where_of("name"),
                            node=prefix or None,
                            hint="names are letters, digits and _ (not starting with a "
                                 "digit) or a plain number; dots come from nesting")
        return local

    def expand_named(self, op, body: YamlMap, where, path, scope: Scope):
        """One item, already named and past its `when`; handles `repeat`."""
        expect = self.read_expect(body, scope.args, path)
        if "repeat" not in body:
            for key in ("first", "last"):
                if key in body:
                    raise SpecError(f"`{key}` only makes sense with `repeat`",
                                    where=body.where_of(key), node=path,
                                    hint=f"add `repeat: N`, or move the arguments out of `{key}`")
            plain = {k: v for k, v in body.items() if k not in CONTROL_KEYS}
            return self.expand_one(Item(op, plain, body, where, path, expect, body.get("paper")),
                                   scope)
        count = self.repeat_count(body, scope.args, path)
        overrides = repeat_overrides(body, path)
        droppable = sum(1 for value in overrides.values() if "when" in value)
        self.reserve(count - droppable, 1, body.where_of("repeat"), path)
        children, before_copy_1 = [], 0
        for copy in range(count):
            self.visit(where, path)
            if copy == 2 and count > 3:
                # copies 1..count-2 have the same arguments, so the same size: check
                # what the rest will add before expanding them (repeats multiply)
                self.reserve(count - 3, self.node_count - before_copy_1, body.where_of("repeat"),
                             path)
            if copy == 1:
                before_copy_1 = self.node_count
            merged, located = copy_arguments(body, overrides, (copy == 0, copy == count - 1),
                                              where)
            if "when" in merged and not condition(
                    merged.pop("when"), scope.args, located.where_of("when"), path):
                continue
            children.append(self.expand_one(Item(op, merged, located, where, f"{path}.{copy}"),
                                            scope))
        return Sequence(path, tuple(children), where, expect, body.get("paper"))

    def repeat_count(self, body: YamlMap, args: dict, path: str) -> int:
        count = substitute(body["repeat"], args, body.where_of("repeat"), path)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_REPEAT:
            raise SpecError(f"`repeat` must be a whole number from 1 to {MAX_REPEAT}, "
                            f"got {shown(count)}", where=body.where_of("repeat"), node=path,
                            hint="`repeat` makes that many copies of this item")
        return count

    def read_expect(self, body, args, path):
        if "expect" not in body:
            return None
        value = substitute(body["expect"], args, body.where_of("expect"), path)
        if not isinstance(value, list) or not value or \
                not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            raise SpecError(f"`expect` must be an output shape like [64, 56, 56], "
                            f"got {shown(value)}",
                            where=body.where_of("expect"), node=path)
        return tuple(value)

    def visit(self, where, path):
        """Bound the work of expansion, not only its result: items a `when` drops make
        no node but still cost (a template of 2,000 dropped items called 9,000 times)."""
        self.items_visited += 1
        if self.items_visited > MAX_EXPANSION_ITEMS:
            raise SpecError(f"expanding the spec looks at more than {MAX_EXPANSION_ITEMS:,} "
                            "items (repeat copies and template bodies, `when: false` ones "
                            "included)", where=where, node=path or None,
                            hint="check `repeat` counts and nested templates: they multiply")

    def reserve(self, copies: int, nodes_each: int, where, path):
        """Fail before expanding ``copies`` more copies of ``nodes_each`` nodes when they
        would pass MAX_NODES."""
        if self.node_count + copies * nodes_each > MAX_NODES:
            raise SpecError(f"the spec expands to more than {MAX_NODES} nodes: this repeat "
                            f"adds {copies:,} more copies of {nodes_each:,} node(s) to "
                            f"{self.node_count:,} so far", where=where, node=path,
                            hint="check `repeat` counts and nested templates: they multiply")

    def count_node(self, where, path):
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise SpecError(f"the spec expands to more than {MAX_NODES} nodes", where=where,
                            node=path, hint="check `repeat` counts and nested templates")

    def expand_one(self, item: Item, scope: Scope):
        """A single node from op and its (non-control) arguments."""
        self.count_node(item.where, item.path)
        if self.depth >= MAX_NESTING:
            raise SpecError(f"nodes nest deeper than {MAX_NESTING} levels", where=item.where,
                            node=item.path,
                            hint="flatten the structure: a network nests a few levels")
        self.depth += 1
        try:
            return self.expand_node(item, scope)
        finally:
            self.depth -= 1

    def expand_node(self, item: Item, scope: Scope):
        """expand_one's work: a branch, a template call or a layer."""
        op, path = item.op, item.path
        nested = {"branch": "paths", "group": "layers"}.get(op)
        values = {k: substitute(v, scope.args, item.where_of(k), path)
                  for k, v in item.given.items() if k != nested}
        if op == "group":
            return self.expand_group(item, values, scope)
        if op == "branch":
            return self.expand_branch(item, values, scope)
        if op in self.templates:
            return self.expand_call(self.templates[op], item, values, scope)
        return self.expand_layer(item, values)

    def expand_layer(self, item: Item, values: dict) -> Layer:
        op, where, path = item.op, item.where, item.path
        kind = get_kind(op)
        if kind is not None and kind.arity != "one":
            raise SpecError(f"`{op}` joins the paths of a branch and is not a layer of its own",
                            where=where, node=path,
                            hint=f"write `- branch: {{merge: {op}, paths: {{...}}}}`")
        if kind is None:
            options = [k for k, v in all_kinds().items() if v.arity == "one"]
            options += list(self.templates) + ["branch", "group"]
            raise SpecError(f"unknown op {shown(op)}", where=where, node=path,
                            hint=did_you_mean(op, options) or
                            "run `archcalc kinds` to list the layer kinds")
        defaults = self.defaults.get(op, {})
        merged = dict(defaults)
        merged.update(values)

        def where_param(key):
            if key is None or key in values:
                return item.where_of(key)
            return where_in(defaults, key, where)

        return Layer(path, op, param_check.validate(kind, merged, where_param, path), where,
                     item.expect, item.paper)

    def expand_group(self, item: Item, values: dict, scope: Scope) -> Sequence:
        """``- group: {name: layer1, layers: [...]}``: a named container of layers, the
        explicit form of what a repeat or a multi-item template call produces."""
        for key in values:
            raise unknown_key_error(key, ("layers",) + CONTROL_KEYS, "`group`",
                                    item.where_of(key)).located(None, item.path)
        if "layers" not in item.given:
            raise SpecError("`group` needs `layers`: a list of layers", where=item.where,
                            node=item.path)
        children = self.expand_items(item.given["layers"], item.where_of("layers"), item.path,
                                     scope)
        return Sequence(item.path, tuple(children), item.where, item.expect, item.paper)

    def expand_branch(self, item: Item, values: dict, scope: Scope) -> Branch:
        given, where_of, where, path = item.given, item.where_of, item.where, item.path
        for key in values:
            if key not in BRANCH_KEYS:
                raise unknown_key_error(key, BRANCH_KEYS + CONTROL_KEYS, "`branch`",
                                        where_of(key)).located(None, path)
        merge = values.get("merge")
        merge_kind = get_kind(merge) if isinstance(merge, str) else None
        if merge_kind is None or merge_kind.arity != "many":
            merges = [k for k, v in all_kinds().items() if v.arity == "many"]
            raise SpecError(f"`branch` needs `merge: {' | '.join(merges)}`, got {shown(merge)}",
                            where=where_of("merge" if "merge" in values else None), node=path,
                            hint=(did_you_mean(merge, merges) if merge is not None else None)
                            or "`add` sums the paths (residual), `concat` stacks their channels")
        merge_params = param_check.validate(
            merge_kind, {k: v for k, v in values.items() if k == "act"}, where_of, path)
        raw_paths = given.get("paths")
        if not isinstance(raw_paths, dict) or not raw_paths:
            raise SpecError("`branch` needs `paths`: a mapping of path name to a list of layers",
                            where=where_of("paths" if "paths" in given else None), node=path,
                            hint="an empty list is the identity path")
        paths = []
        for name, items in raw_paths.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise SpecError(f"bad path name {shown(name)}", where=where_of("paths"),
                                node=path, hint="path names are letters, digits and _")
            sub = f"{path}.{name}"
            item_where = where_in(raw_paths, name, where)
            children = self.expand_items(items if items is not None else [], item_where, sub,
                                         scope)
            paths.append((name, Sequence(sub, tuple(children), item_where)))
        return Branch(path, tuple(paths), cast(str, merge), merge_params, where, item.expect,
                      item.paper)

    def expand_call(self, template: Template, item: Item, values: dict, scope: Scope):
        where, path, stack, expect, paper = (item.where, item.path, scope.stack, item.expect,
                                             item.paper)
        if template.name in stack:
            chain = " -> ".join(stack + (template.name,))
            raise SpecError(f"template {template.name!r} calls itself ({chain})", where=where,
                            node=path, hint="templates cannot be recursive; use `repeat`")
        if len(stack) >= MAX_TEMPLATE_DEPTH:
            raise SpecError(f"templates nest deeper than {MAX_TEMPLATE_DEPTH}", where=where,
                            node=path)
        inner = Scope(bind_arguments(template, values, item), stack + (template.name,))
        body = template.body
        if len(body) == 1:
            op, only = self.parse_item(body[0], body.where_of(0), path)
            if "name" not in only:
                if "when" in only:
                    if not condition(only["when"], inner.args, only.where_of("when"), path):
                        return Sequence(path, (), where, expect, paper)
                    only = _without(only, "when")
                node = self.expand_named(op, only, body.where_of(0), path, inner)
                return _with_expect(node, expect, paper)
        children = self.expand_items(body, template.where, path, inner)
        return Sequence(path, tuple(children), where, expect, paper)


def _without(body: YamlMap, key) -> YamlMap:
    copy = YamlMap((k, v) for k, v in body.items() if k != key)
    copy.where, copy.value_where = body.where, body.value_where
    return copy


def _with_expect(node, expect, paper):
    if expect is None and paper is None:
        return node
    return replace(node, expect=expect or node.expect, paper=paper or node.paper)
