"""A module tree -> spec items, child by child.

A module whose class has a rule (modules.py) becomes that rule's items; a plain
``nn.Sequential`` its children in order; any other module is traced (trace.py) with
its children as leaves, each call mapped by functions.py, and the graph read as
sequences and branches (structure.py). A child's items take the child's attribute
name (one item is renamed, several become a group), so node paths follow the
module's own names. Every refusal is located: module path, op and source line.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from archcalc.importer import dense, opaque
from archcalc.importer.functions import Op, function_rule, op_name
from archcalc.importer.fuse import fold
from archcalc.importer.modules import Refusal, module_rule
from archcalc.importer.structure import SeriesParallel
from archcalc.importer.trace import ImportRefusal, node_line, trace
from archcalc.spec.names import module_name_problem


class Converter:
    def __init__(self, root: nn.Module, calls: dict, allow_opaque: bool = False):
        self.root, self.calls = root, calls
        self.rank = {id(p): i for i, p in enumerate(root.parameters())}
        self.converted: set = set()
        # --allow-opaque: what would be refused becomes an opaque node (importer/opaque.py)
        self.allow_opaque = allow_opaque

    def body(self, module: nn.Module, path: str) -> list:
        """The items of ``module``'s forward; with --allow-opaque, a refused module that
        takes one tensor and returns one is kept as an opaque node."""
        try:
            return self._body(module, path)
        except ImportRefusal as refusal:
            kept = self._opaque_module(module, path, refusal)
            if kept is None:
                raise
            return kept

    def _opaque_module(self, module, path: str, refusal) -> list | None:
        if not self.allow_opaque or module not in self.calls:
            return None
        args, output, count = self.calls[module]
        kept = opaque.module_item(module, path, args, output, refusal.what,
                                  refusal.line) if count == 1 else None
        return None if kept is None else [kept]

    def _body(self, module: nn.Module, path: str) -> list:
        self.converted.add(module)
        if module not in self.calls:
            return []
        args, output, count = self.calls[module]
        if count > 1 and any(True for _ in module.parameters()):
            raise ImportRefusal(path, f"{type(module).__name__} is called {count} times with "
                                      "the same weights (archcalc gives each layer its own)",
                                None, "archcalc has no shared weights: give each use its "
                                      "own module")
        rule = module_rule(module)
        if rule is not None:
            try:
                return rule(module, [_shape(a) for a in args], _shape(output))
            except Refusal as refusal:
                raise ImportRefusal(path, str(refusal), None) from None
        special = dense.rule(module)
        if special is not None:
            return special(self, module, path)
        if type(module).forward is nn.Sequential.forward:
            return fold([entry for name, child in module.named_children()
                         for entry in self.named(child, _join(path, name), name)])
        return self._traced(module, path, args)

    def named(self, child: nn.Module, path: str, name: str) -> list:
        """``child``'s items under ``name``: one item renamed, several in a group."""
        items = self.body(child, path)
        name = safe_name(name)
        if len(items) == 1:
            ((kind, body),) = items[0].items()
            entry = {kind: {**body, "name": name}}
        else:
            entry = {"group": {"name": name, "layers": items}}
        if not items:
            return []
        if next(iter(entry)) in ("branch", "group") and \
                not type(child).__module__.startswith("torch.nn"):
            next(iter(entry.values()))["_class"] = type(child).__name__  # repeats.py
        return [entry]

    def _traced(self, module, path: str, args: tuple) -> list:
        graph, values = trace(module, path, args, self.calls)
        order = [n for n in graph.nodes if n in values.data and n.op != "placeholder"]
        ops = {}
        inputs = [n for n in graph.nodes if n.op == "placeholder" and n in values.data]
        if len(inputs) != 1:
            raise ImportRefusal(path, f"forward takes {len(inputs)} tensors (archcalc "
                                      "models take one)", None)
        ops[inputs[0]] = Op([])
        for node in order:
            ops[node] = self._op(module, path, node, values)
        output = next(n for n in graph.nodes if n.op == "output").args[0]
        if output not in values.data or isinstance(values.values[output], (tuple, list)):
            raise ImportRefusal(path, f"{type(module).__name__}.forward returns "
                                      f"{type(values.values.get(output)).__name__}, not "
                                      "one tensor", None)
        items_of = {}
        taken = {safe_name(name) for name, _ in module.named_children()}
        for node in order:
            items_of[node] = self._items(module, path, node, ops[node], taken)
        self._module_of = lambda node: module.get_submodule(node.target)
        walk = SeriesParallel([inputs[0], *order], ops, items_of.__getitem__, self._rank)
        walk.name_of = lambda node: _unique(safe_name(node.name), taken)
        try:
            items = walk.path(inputs[0], output)
        except Refusal as refusal:
            raise ImportRefusal(path, str(refusal), None) from None
        try:
            return fold(items)
        except Refusal as refusal:
            raise ImportRefusal(path, str(refusal), None) from None

    def _op(self, module, path: str, node, values) -> Op:
        if node.op == "call_module":
            tensors = list(dict.fromkeys(values.tensors_in(list(node.args) +
                                                           list(node.kwargs.values()))))
            if len(tensors) != 1:
                raise ImportRefusal(_join(path, node.target), f"{node.target} is called "
                                    f"with {len(tensors)} tensors", node_line(node))
            return Op(tensors)
        name, rule = function_rule(node)
        if rule is None:
            return self._opaque_call(path, node, values, f"no archcalc rule for {name}")
        try:
            return rule(node, values)
        except (Refusal, TypeError, ValueError, IndexError, KeyError) as exc:
            return self._opaque_call(path, node, values, f"{op_name(node)}: {exc}")

    def _opaque_call(self, path: str, node, values, what: str) -> Op:
        """The refusal of one call, or with --allow-opaque the call as an opaque node."""
        kept = opaque.call_item(node, values, path, what, node_line(node)) \
            if self.allow_opaque else None
        if kept is None:
            raise ImportRefusal(path, what, node_line(node))
        tensor, entry = kept
        return Op([tensor], [entry])

    def _items(self, module, path: str, node, op: Op, taken: set) -> list:
        if node.op != "call_module":
            return [_named(entry, taken) for entry in op.items]
        child = module.get_submodule(node.target)
        return self.named(child, _join(path, node.target), str(node.target).replace(".", "_"))

    def _rank(self, nodes: list) -> float:
        """Where the first weight the traced ``nodes`` call is registered in the root."""
        ranks = [self.rank.get(id(p), float("inf")) for node in nodes
                 if node.op == "call_module" for p in self._module_of(node).parameters()]
        return min(ranks, default=float("inf"))


def _named(entry: dict, taken: set) -> dict:
    """A functional call's item, named after its kind (``flatten``, ``select_token``) or
    the tensor it uses; ``_1``, ``_2``... where a module's graph has several."""
    ((kind, body),) = entry.items()
    return {kind: {**body, "name": _unique(safe_name(body.get("name", kind.lstrip("_"))),
                                           taken)}}


def _unique(base: str, taken: set) -> str:
    name, counter = base, 1
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    taken.add(name)
    return name


def _shape(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _join(path: str, name) -> str:
    return f"{path}.{name}" if path else str(name)


def safe_name(name: str) -> str:
    """A module name the built module can register (spec/names.py)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(name))  # RegNet's "block1-0"
    return name if module_name_problem(name) is None else name.strip("_") + "_layer"
