"""Where an in-place operation is safe: decided from the graph, before anything is built.

A node that overwrites its input (a ReLU layer, a pre-activation conv's ReLU without BN,
the act of a one-path add: each kind's ``writes_input`` rule) destroys the value it
read. That is safe only when nothing else needs that value:

- no other node reads it: a branch gives its input to every path, and an empty
  (identity) path hands it to the merge, so a path that starts with an in-place ReLU
  would change what the other paths and the merge see;
- no node saved it for backward: autograd keeps a tanh's output, a ReLU's output or a
  conv's input, and refuses to differentiate once it has been overwritten;
- it is not the network's input, which belongs to the caller.

A view (flatten, a stride-only pad_shortcut, dropout as the identity at inference)
hands on the same value, so the readers and savers of a view are those of the value.
Every writer found unsafe gets ``inplace: False`` in its parameters, and every rule
(activations, saved, inference temporaries, build) follows that flag, so the figures
describe what is built. The decision needs no second pass: an out-of-place writer
makes a new value instead of a new version of the old one, which changes nobody
else's readers or savers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from archcalc.layers.registry import UnknownCost
from archcalc.layers.saved import INPUT, OUTPUT
from archcalc.spec.model import Branch, Params, Sequence


@dataclass
class _Value:
    """One tensor value as the forward pass makes it (a view is the same value)."""

    external: bool = False  # the network's input: the caller's tensor
    readers: set = field(default_factory=set)  # paths of the nodes that read it
    saved: set = field(default_factory=set)  # paths of the nodes that keep it for backward


class _Walk:
    def __init__(self, calls: dict):
        self.calls = calls
        self.writers: list[tuple[str, _Value]] = []  # (path, the value it overwrites)

    def visit(self, node, value: _Value) -> _Value:
        if isinstance(node, Sequence):
            for child in node.children:
                value = self.visit(child, value)
            return value
        if isinstance(node, Branch):
            outputs = [self.visit(path, value) for _, path in node.paths]
            return self.apply(node.path, outputs)
        return self.apply(node.path, [value])

    def apply(self, path: str, inputs: list) -> _Value:
        kind, params, ins, out = self.calls[path]
        writes = kind.writes_input(params, ins, out)
        view = not writes and any(kind.shares_input(params, ins, out, training)
                                  for training in (True, False))
        if view:
            return inputs[0]  # reading a view is reading the value: not a reader itself
        for value in inputs:
            value.readers.add(path)
        output = _Value()
        for saved in _kept(kind, params, ins, out):
            if saved.tensor == "output":
                output.saved.add(path)
            elif saved.tensor == "input" and not writes:
                # a writer's saved "input" is the value after its own write
                inputs[0].saved.add(path)
        if writes:
            self.writers.append((path, inputs[0]))
        return output


def _kept(kind, params, ins, out):
    try:
        return kind.saved(params, ins, out)
    except UnknownCost:  # an opaque node: it may keep either, so neither is overwritten
        return (INPUT, OUTPUT)


def unsafe_writers(root, calls: dict) -> list[str]:
    """Paths of the nodes that would overwrite a value another node needs."""
    walk = _Walk(calls)
    walk.visit(root, _Value(external=True))
    return [path for path, value in walk.writers
            if value.external or value.readers != {path} or value.saved]


def settle_in_place(root, calls: dict, rows: list) -> list[str]:
    """Turn every unsafe writer out of place: its ``calls`` entry gets ``inplace: False``
    and its row the activations of the new tensor it now makes. Both are changed in
    place; returns the paths changed."""
    changed = unsafe_writers(root, calls)
    where = {row.path: index for index, row in enumerate(rows)} if changed else {}
    for path in changed:
        kind, params, ins, out = calls[path]
        params = Params({**params, "inplace": False})
        calls[path] = calls[path]._replace(params=params)
        index = where[path]
        rows[index] = replace(rows[index], activations=kind.activations(params, ins, out))
    return changed
