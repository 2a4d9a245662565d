"""A traced dataflow graph -> archcalc's series-parallel items.

archcalc writes a network as sequences and branches (parallel paths from one tensor,
joined by ``add`` or ``concat``). Walking back from the output, a unary op is one more
item of the current sequence; a merge becomes a branch whose fork is the merge's
immediate dominator, each path read back from the merge's input to the fork. A graph
that is not series-parallel (a tensor used again after its branch has merged, as a
DenseNet block keeps its features) places some node twice or never: refused, naming
the tensor. Add paths are put in the order the module registers their weights, so a
state dict maps onto the built module by position (torchgraph/weights.py); concat
paths keep their order, which is the channels' order.
"""
from __future__ import annotations

import re

from archcalc.importer.functions import Op
from archcalc.importer.modules import Refusal


def dominators(order: list, ops: dict) -> dict:
    """Immediate dominators in a DAG given in topological order (Cooper et al. 2001)."""
    index = {node: i for i, node in enumerate(order)}
    idom = {order[0]: order[0]}

    def intersect(a, b):
        while a is not b:
            while index[a] > index[b]:
                a = idom[a]
            while index[b] > index[a]:
                b = idom[b]
        return a

    for node in order[1:]:
        preds = [p for p in ops[node].inputs if p in idom]
        if not preds:
            raise Refusal(f"{node.name} does not depend on the input")
        current = preds[0]
        for other in preds[1:]:
            current = intersect(current, other)
        idom[node] = current
    return idom


class SeriesParallel:
    def __init__(self, order: list, ops: dict, items_of, weight_rank):
        """``items_of(node)``: the items of a unary node; ``weight_rank(nodes)``: where
        the first weight the nodes use is registered (for the order of add paths)."""
        self.ops, self.items_of, self.weight_rank = ops, items_of, weight_rank
        self.idom = dominators(order, ops)
        self.name_of = lambda node: node.name  # convert.py names merges uniquely
        self.placed: dict = {}

    def path(self, start, end) -> list:
        return self._path(start, end)[0]

    def _path(self, start, end) -> tuple[list, list]:
        items: list = []
        nodes: list = []
        current = end
        while current is not start:
            if current in self.placed:
                raise Refusal(f"the tensor {current.name} is used by two paths (the graph is "
                              "not a nest of branches)")
            self.placed[current] = True
            nodes.append(current)
            op: Op = self.ops[current]
            if op.merge is None:
                items[:0] = self.items_of(current)
                current = op.inputs[0]
                continue
            fork = self.idom[current]
            walked = [self._path(fork, source) for source in op.inputs]
            nodes += [node for _, inner in walked for node in inner]
            items.insert(0, self._branch(current, op.merge, walked))
            current = fork
        return items, nodes

    def _branch(self, node, merge: str, walked: list) -> dict:
        if merge == "add":
            walked = sorted(walked, key=lambda pair: self.weight_rank(pair[1]))
        paths = [items for items, _ in walked]
        names = path_names(merge, paths)
        return {"branch": {"merge": merge, "paths": dict(zip(names, paths)),
                           "name": self.name_of(node)}}


def path_names(merge: str, paths: list) -> list:
    """``main``/``shortcut`` for a residual add; otherwise each path after its first
    node's name without a trailing index (``branch3x3_1`` -> ``branch3x3``)."""
    if merge == "add" and len(paths) == 2 and len(paths[0]) != len(paths[1]):
        # a residual block: the longer path is the block, the other its shortcut
        longer = 0 if len(paths[0]) > len(paths[1]) else 1
        return ["main" if i == longer else "shortcut" for i in range(2)]
    names: list = []
    for index, path in enumerate(paths):
        name = re.sub(r"_\d+[a-z]?$", "", item_name(path[0])) if path else "identity"
        if not name or name in names or name[0].isdigit():
            name = f"path{index}"
        names.append(name)
    return names


def item_name(entry: dict) -> str:
    (body,) = entry.values()
    return str(body.get("name", "")) if isinstance(body, dict) else ""
