"""Functional rules: one traced call (``F.relu``, ``torch.cat``, ``x.flatten(1)``,
``x + y``) -> an ``Op``, the table fvcore keeps as ``_jit_handles``, keyed here by the
call's name.

An Op is unary (one tensor in, ``items`` applied in order; no items is the identity)
or a merge (``add``/``concat`` of several tensors: a branch). Rules see the node, the
values the traced run produced (``Values``), and which nodes carry the data; a call
they cannot express raises ``Refusal`` with the op named.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch

from archcalc.importer.modules import (
    Refusal,
    activation_kinds,
    adaptive_avg,
    compact,
    item,
    permute,
)


@dataclass
class Op:
    inputs: list
    items: list = field(default_factory=list)
    merge: str | None = None


class Values:
    """What the traced run produced at each node, and which nodes are data (tensors
    computed from the input, as opposed to parameters, sizes and constants)."""

    def __init__(self, values: dict, data: set):
        self.values, self.data = values, data

    def shape(self, node) -> tuple:
        return tuple(self.values[node].shape)

    def tensors_in(self, args) -> list:
        found = []
        for arg in args:
            if isinstance(arg, (list, tuple)):
                found += self.tensors_in(arg)
            elif arg in self.data:
                found.append(arg)
        return found


def op_name(node) -> str:
    target = node.target
    if node.op == "call_method":
        return f"Tensor.{target}"
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__name__", str(target))
    return f"{module}.{name}".replace("torch.nn.functional.", "F.").replace("_operator.", "")


def _arg(node, index: int, key: str, default=None):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


def _unary(kind_items):
    return lambda node, values: Op(values.tensors_in(node.args[:1]), kind_items(node, values))


def _activation(kind: str):
    return _unary(lambda node, values: [item(kind)])


def _add(node, values):
    tensors = values.tensors_in(node.args[:2])
    if len(tensors) == 2:
        return Op(tensors, merge="add")
    constant = next((a for a in node.args[:2] if a not in tensors), None)
    if tensors and getattr(constant, "op", None) == "get_attr":
        shape = tuple(values.values[constant].shape)
        if len(shape) == 3 and shape[0] == 1 and shape[1:] == values.shape(tensors[0])[1:]:
            return Op(tensors, [item("position_embedding", length=shape[1],
                                     name=_attribute(constant))])
    raise Refusal("adding a constant or a parameter that is not a (1, L, D) position embedding")


def _mul(node, values):
    tensors = values.tensors_in(node.args[:2])
    constant = next((a for a in node.args[:2] if a not in tensors), None)
    if len(tensors) == 1 and getattr(constant, "op", None) == "get_attr":
        shape = tuple(values.values[constant].shape)
        if len(shape) == 3 and shape[1:] == (1, 1):
            return Op(tensors, [item("layer_scale", name=_attribute(constant))])
    raise Refusal("a product of tensors (archcalc multiplies only inside `se` and "
                  "`layer_scale`)")


def _cat(node, values):
    parts = list(_arg(node, 0, "tensors"))
    dim = _arg(node, 1, "dim", 0)
    rank = len(values.shape(node))
    dim = dim + rank if dim < 0 else dim
    tensors = values.tensors_in(parts)
    if dim == 1 and rank == 3 and len(parts) == 2 and len(tensors) == 1 and \
            parts[1] is tensors[0] and _is_parameter(parts[0]):
        return Op(tensors, [item("class_token", name=_attribute(_parameter(parts[0])))])
    if dim != 1 or rank != 4 or len(tensors) != len(parts):
        raise Refusal(f"concatenation on axis {dim} of a rank-{rank} tensor (archcalc "
                      "concatenates the channels of maps)")
    return Op(tensors, merge="concat")


def _parameter(node):
    """The get_attr node under a chain of calls on it (``class_token.expand(n, -1, -1)``)."""
    while getattr(node, "op", None) in ("call_method", "call_function"):
        node = node.args[0]
    return node


def _is_parameter(node) -> bool:
    return getattr(_parameter(node), "op", None) == "get_attr"


def _attribute(node) -> str:
    """A parameter's own name (``encoder.pos_embedding`` -> ``pos_embedding``): the node
    is named after the tensor it holds, as hand-written specs name it."""
    return str(node.target).rsplit(".", 1)[-1]


def _flatten(node, values):
    start = _arg(node, 1, "start_dim", 0)
    end = _arg(node, 2, "end_dim", -1)
    source = values.tensors_in(node.args[:1])
    return _reshaped(node, values, source) if (start, end) != (1, -1) else \
        Op(source, [item("flatten")])


def _reshape(node, values):
    return _reshaped(node, values, values.tensors_in(node.args[:1]))


def _reshaped(node, values, source):
    """A reshape archcalc can name: everything after the batch into one axis (flatten),
    or a map's H and W into one (the first half of ViT's patches-to-tokens)."""
    before, after = values.shape(source[0]), values.shape(node)
    if before == after:
        return Op(source)
    if len(after) == 2 and after[0] == before[0]:
        return Op(source, [item("flatten")])
    if len(before) == 4 and after == (before[0], before[1], before[2] * before[3]):
        return Op(source, [item("_rows", name="tokens")])
    raise Refusal(f"reshape {list(before)} -> {list(after)}")


def _permute(node, values):
    dims = node.args[1:] if node.op == "call_method" else _arg(node, 1, "dims")
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    return Op(values.tensors_in(node.args[:1]), permute(dims))


def _getitem(node, values):
    source, index = node.args
    if source not in values.data:
        raise Refusal("indexing")
    if getattr(source, "op", None) == "call_module" or isinstance(values.values[source], tuple):
        if getattr(source, "target", None) in ("chunk", torch.chunk):
            return _chunk_slice(source, index, values)
        if index == 0:  # MultiheadAttention's (output, weights): the output
            return Op([source])
    if index == (slice(None), 0) or index == (slice(None, None, None), 0):
        return Op([source], [item("select_token")])
    raise Refusal(f"indexing with {index!r}")


def _chunk_slice(source, index, values):
    chunks = _arg(source, 1, "chunks")
    channels = values.shape(source.args[0])[1]
    if _arg(source, 2, "dim", 0) != 1 or channels % chunks:
        raise Refusal("chunk on an axis other than the channels, or into unequal parts")
    width = channels // chunks
    return Op([source], [item("channel_slice", start=index * width, stop=(index + 1) * width)])


def _chunk(node, values):
    return Op(values.tensors_in(node.args[:1]))


def _mean(node, values):
    dims = _arg(node, 1, "dim")
    keep = _arg(node, 2, "keepdim", False)
    rank = len(values.shape(node.args[0]))
    if rank == 4 and sorted(d % 4 for d in dims) == [2, 3]:
        return Op([node.args[0]], adaptive_avg(1) + ([] if keep else [item("flatten")]))
    raise Refusal(f"mean over axes {list(dims)}")


# F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices) and
# F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
POOL_ARGUMENTS = {"maxpool": ("dilation", 4, 1), "avgpool": ("count_include_pad", 5, True)}


def _pool(kind: str):
    def rule(node, values):
        kernel = compact(_arg(node, 1, "kernel_size"))
        stride = compact(_arg(node, 2, "stride") or kernel)
        pad = compact(_arg(node, 3, "padding", 0))
        ceil = _arg(node, 5 if kind == "maxpool" else 4, "ceil_mode", False)
        params = {"kernel": kernel}
        if stride != kernel:
            params["stride"] = stride
        if pad:
            params["pad"] = pad
        if ceil:
            params["ceil"] = True
        key, index, default = POOL_ARGUMENTS[kind]
        value = _arg(node, index, key, default)
        if compact(value) != default:
            params[key] = compact(value)
        if _arg(node, 6, "return_indices" if kind == "maxpool" else "divisor_override", None):
            raise Refusal(f"{kind} with return_indices or divisor_override")
        return Op([node.args[0]], [item(kind, **params)])
    return rule


def _gelu(node, values):
    if _arg(node, 1, "approximate", "none") != "none":
        raise Refusal("gelu(approximate='tanh') (archcalc's gelu is the exact erf form)")
    return Op([node.args[0]], [item("gelu")])


def _dropout(node, values):
    p = _arg(node, 1, "p", 0.5)
    return Op([node.args[0]], [item("dropout", **({"p": p} if p != 0.5 else {}))])


def _adaptive(node, values):
    return Op([node.args[0]], adaptive_avg(_arg(node, 1, "output_size")))


def _identity(node, values):
    return Op(values.tensors_in(node.args[:1]))


def _channel_shuffle(node, values):
    return Op([node.args[0]], [item("channel_shuffle", groups=_arg(node, 1, "groups"))])


def _functional_activations() -> dict:
    rules = {}
    for kind in activation_kinds().values():
        for name in (f"F.{kind}", f"torch.{kind}", f"Tensor.{kind}", f"Tensor.{kind}_",
                     f"F.{kind}_", kind):
            rules[name] = _activation(kind)
    return rules


FUNCTION_RULES = {
    **_functional_activations(),
    "add": _add, "iadd": _add, "torch.add": _add, "Tensor.add": _add, "Tensor.add_": _add,
    "mul": _mul, "imul": _mul, "torch.mul": _mul, "Tensor.mul": _mul,
    "torch.cat": _cat, "torch.concat": _cat,
    "torch.flatten": _flatten, "Tensor.flatten": _flatten,
    "torch.reshape": _reshape, "Tensor.reshape": _reshape, "Tensor.view": _reshape,
    "torch.permute": _permute, "Tensor.permute": _permute,
    "getitem": _getitem, "Tensor.chunk": _chunk, "torch.chunk": _chunk,
    "Tensor.mean": _mean, "torch.mean": _mean,
    "F.max_pool2d": _pool("maxpool"), "F._max_pool2d": _pool("maxpool"),
    "F.avg_pool2d": _pool("avgpool"), "torch._C._nn.avg_pool2d": _pool("avgpool"),
    "F.adaptive_avg_pool2d": _adaptive, "torch._C._nn.adaptive_avg_pool2d": _adaptive,
    "F.dropout": _dropout, "Tensor.contiguous": _identity,
    "torch._C._nn.gelu": _gelu, "F.gelu": _gelu,
    "torchvision.models.shufflenetv2.channel_shuffle": _channel_shuffle,
}
OPERATORS = {operator.add: "add", operator.iadd: "iadd", operator.mul: "mul",
             operator.imul: "imul", operator.getitem: "getitem"}


def function_rule(node):
    name = OPERATORS.get(node.target) if node.op == "call_function" else None
    name = name or op_name(node)
    return name, FUNCTION_RULES.get(name)
