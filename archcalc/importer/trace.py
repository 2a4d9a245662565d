"""Symbolic tracing, one module at a time.

Each module whose class has no rule (modules.py) is traced with torch.fx with every
submodule it calls kept as a leaf, so the spec follows the module tree: a child
becomes a node (or a group) under its own attribute name. The traced graph is then
run once on the recorded input (meta tensors for torchvision: no memory, no
arithmetic) to learn every intermediate shape and which nodes carry data.

Where fx cannot trace (data-dependent control flow, iterating a proxy), the error
names the module path, fx's reason and the line of the module's source it stopped at.
"""
from __future__ import annotations

import traceback

import torch
from torch import fx

from archcalc.importer.functions import Values
from archcalc.importer.modules import Refusal

NO_KIND = ("archcalc writes only what its layer kinds compute exactly (`archcalc kinds`); "
           "this op has no kind")
UNTRACEABLE = ("torch.fx traces forward without data: branch on shapes or module settings, "
               "not on tensor values, or import the parts that trace")


class ImportRefusal(Exception):
    """A refusal located: module path, op and source line, with what to do about it."""

    def __init__(self, path: str, what: str, line: str | None, hint: str = NO_KIND):
        super().__init__(what)
        self.path, self.what, self.line, self.hint = path, what, line, hint


class _ChildrenAsLeaves(fx.Tracer):
    def __init__(self):
        super().__init__(autowrap_functions=_wrapped_functions())
        self.record_stack_traces = True

    def is_leaf_module(self, module, qualified_name):
        return True


def _wrapped_functions() -> tuple:
    """Helpers traced as one call, because a kind names them (ShuffleNet's shuffle)."""
    try:
        from torchvision.models.shufflenetv2 import channel_shuffle
    except ImportError:
        return ()
    return (channel_shuffle,)


def record_calls(model: torch.nn.Module, example) -> dict:
    """One forward pass with hooks: module -> (inputs, output, calls) of its first call."""
    seen: dict = {}

    def hook(module, args, output):
        first = seen.get(module)
        seen[module] = (args, output, 1) if first is None else (*first[:2], first[2] + 1)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def trace(module: torch.nn.Module, path: str, inputs: tuple, calls: dict):
    """``module``'s forward as an fx graph with its children as leaves, and the values
    each node takes on ``inputs`` (a child called once gives the output recorded by
    ``record_calls``, so no subtree runs twice)."""
    try:
        graph = _ChildrenAsLeaves().trace(module)
    except Exception as exc:  # noqa: BLE001 - fx raises many types for untraceable code
        raise ImportRefusal(path, f"torch.fx cannot trace {type(module).__name__}.forward "
                                  f"({_first_line(exc)})", user_line(exc), UNTRACEABLE) from None
    graph_module = fx.GraphModule(module, graph)
    values = _run(graph_module, path, inputs, calls)
    return graph, values


def _run(graph_module, path: str, inputs: tuple, calls: dict) -> Values:
    recorded: dict = {}

    class Recorder(fx.Interpreter):
        def run_node(self, node):
            result = super().run_node(node)
            recorded[node] = result
            return result

        def call_module(self, target, args, kwargs):
            known = calls.get(self.fetch_attr(target))
            if known is not None and known[2] == 1:
                return known[1]
            return super().call_module(target, args, kwargs)

    try:
        with torch.no_grad():
            Recorder(graph_module).run(*inputs)
    except Exception as exc:  # noqa: BLE001
        raise ImportRefusal(path, f"the traced graph does not run ({_first_line(exc)})",
                            user_line(exc), UNTRACEABLE) from None
    return Values(recorded, _data_nodes(graph_module.graph, recorded))


def _carries_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value)


def _data_nodes(graph, recorded) -> set:
    data: set = set()
    for node in graph.nodes:
        if node.op == "placeholder":
            if _carries_tensor(recorded.get(node)):
                data.add(node)
        elif node.op != "output" and _carries_tensor(recorded.get(node)) and \
                any(arg in data for arg in _flat(node.args) + _flat(node.kwargs.values())):
            data.add(node)
    return data


def _flat(args) -> list:
    found = []
    for arg in args:
        if isinstance(arg, (list, tuple)):
            found += _flat(arg)
        elif isinstance(arg, fx.Node):
            found.append(arg)
    return found


def node_line(node) -> str | None:
    """The source line fx recorded for ``node`` (the last frame of its stack trace)."""
    trace_text = getattr(node, "stack_trace", None) or ""
    lines = [line.strip() for line in trace_text.splitlines()
             if line.strip().startswith("File") and "/torch/" not in line]
    if not lines:
        return None
    parts = lines[-1].split(", ")
    file = parts[0][len('File "'):-1] if parts[0].startswith('File "') else parts[0]
    number = parts[1].replace("line ", "") if len(parts) > 1 else "?"
    return f"{file}:{number}"


def user_line(exc: BaseException) -> str | None:
    """The innermost frame of an exception outside torch and archcalc: the user's line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "/torch/" not in f.filename and "/archcalc/importer/" not in f.filename]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


__all__ = ["ImportRefusal", "Refusal", "node_line", "record_calls", "trace", "user_line"]
