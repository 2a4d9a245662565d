"""`archcalc import --allow-opaque`: what would be refused, kept as an ``opaque`` node.

A traced call with no rule (or one its rule refuses) becomes one opaque node when it
takes one tensor from the data, returns one and reads no parameter; anything else
refused inside a module (a call reading weights, a graph archcalc cannot read, a forward
fx cannot trace) makes the innermost enclosing module that takes one tensor and returns
one an opaque node. Each keeps what was measured on the run: the per-image input and
output shapes, the module's own parameters and buffers (layers/opaque.py). A refusal no
module can cover (the model's own forward taking two tensors, weights used twice across
modules) stays refused.
"""
from __future__ import annotations

import torch

from archcalc.importer.modules import item


def _per_image(value) -> list | None:
    """A batch-of-one tensor's shape without the batch axis, or None."""
    if not isinstance(value, torch.Tensor) or value.dim() < 2 or value.shape[0] != 1:
        return None
    return list(value.shape[1:])


def _located(what: str, line: str | None) -> str:
    return f"{what} at {line}" if line else what


def module_item(module, path: str, args: tuple, output, what: str,
                line: str | None) -> dict | None:
    """``module`` as one opaque item, or None when it is not one tensor in and out."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if len(tensors) != 1 or len(tensors) != len(args):
        return None
    shape_in, shape_out = _per_image(tensors[0]), _per_image(output)
    if shape_in is None or shape_out is None:
        return None
    return item("opaque", input=shape_in, output=shape_out,
                params=sum(p.numel() for p in module.parameters()),
                buffers=sum(b.numel() for b in module.buffers()),
                module=path or "(the model itself)",
                op=_located(f"{type(module).__name__}: {what}", line))


def call_item(node, values, path: str, what: str, line: str | None) -> tuple | None:
    """A traced call as (its one data input, one opaque item), or None when it reads
    several data tensors, a parameter or a buffer (its module is kept instead)."""
    arguments = [*node.args, *node.kwargs.values()]
    if _reads_weights(arguments, values):
        return None
    tensors = list(dict.fromkeys(values.tensors_in(arguments)))
    if len(tensors) != 1:
        return None
    shape_in = _per_image(values.values.get(tensors[0]))
    shape_out = _per_image(values.values.get(node))
    if shape_in is None or shape_out is None:
        return None
    return tensors[0], item("opaque", input=shape_in, output=shape_out, module=path or
                            "(the model itself)", op=_located(what, line), name=node.name)


def _reads_weights(arguments, values) -> bool:
    """Whether the call reads a tensor that is not computed from the input (a parameter,
    a buffer, a constant, or a view of one): its count belongs to the module."""
    for argument in arguments:
        if isinstance(argument, (list, tuple)):
            if _reads_weights(argument, values):
                return True
        elif getattr(argument, "op", None) is not None and argument not in values.data and \
                isinstance(values.values.get(argument), torch.Tensor):
            return True
    return False
