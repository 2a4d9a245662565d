"""The expanded layer graph: what a spec becomes after templates and repeats.

Three node types, all frozen. ``path`` is the dotted PyTorch module path the
builder creates for the node (``layer2.0.main.conv2``); the root's path is "".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archcalc.errors import Location

if TYPE_CHECKING:
    from archcalc.spec.origin import ImportOrigin


@dataclass(frozen=True)
class Layer:
    """One layer of a registered kind, with validated parameters."""

    path: str
    kind: str
    params: Params
    where: Location
    expect: tuple | None = None
    paper: Any = None


@dataclass(frozen=True)
class Sequence:
    """Children run one after another (``nn.Sequential``-like container)."""

    path: str
    children: tuple
    where: Location
    expect: tuple | None = None
    paper: Any = None


@dataclass(frozen=True)
class Branch:
    """Parallel paths from one input, joined by a merge kind (``add``/``concat``).

    An empty path is the identity. ``merge_params`` holds the merge's own
    parameters (the activation after the merge).
    """

    path: str
    paths: tuple  # ((name, Sequence), ...)
    merge: str
    merge_params: Params
    where: Location
    expect: tuple | None = None
    paper: Any = None


Node = Layer | Sequence | Branch


def children_of(node) -> tuple:
    """A node's direct sub-nodes in execution order (a branch's path sequences)."""
    if isinstance(node, Sequence):
        return node.children
    if isinstance(node, Branch):
        return tuple(path for _, path in node.paths)
    return ()


def map_layers(node, change, *, drop_expect: bool = False):
    """The graph with every Layer replaced by ``change(layer)``; containers are rebuilt
    around the results. ``drop_expect`` clears the expect: facts a change may break."""
    from dataclasses import replace

    extra: dict[str, Any] = {"expect": None} if drop_expect else {}
    if isinstance(node, Layer):
        return replace(change(node), **extra)
    if isinstance(node, Sequence):
        return replace(node, children=tuple(map_layers(c, change, drop_expect=drop_expect)
                                            for c in node.children), **extra)
    return replace(node, paths=tuple((name, map_layers(p, change, drop_expect=drop_expect))
                                     for name, p in node.paths), **extra)


class Params(dict):
    """Validated layer parameters; read as attributes (``p.kernel``) in rules."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __hash__(self) -> int:  # type: ignore[override]  # dict's is None: unhashable
        return hash(tuple(sorted((k, repr(v)) for k, v in self.items())))


@dataclass(frozen=True)
class Spec:
    """A loaded spec: metadata, the input shape and the expanded graph."""

    name: str
    source: str
    input: tuple
    root: Sequence
    file: str
    title: str = ""
    torchvision: str | None = None  # the torchvision builder whose structure this reproduces
    origin: ImportOrigin | None = None  # the module it was imported from (spec/origin.py)
    expect: dict = field(default_factory=dict)
    paper: Any = None
    raw: Any = None  # the YAML document, for writing the spec back out
