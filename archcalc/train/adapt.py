"""Fit a spec to the data: its stem to the data's channels, its head to the classes.

The spec itself is adapted, not the built module: the input becomes the data's
channels at the training size and the last layer with an ``out`` (the classifier)
gets the number of classes. The adapted spec is analysed like any other, so the
printed cost is the cost of the model that trains, and an impossible size fails
before anything is built, naming the smallest input that works.

Pretrained weights (``load_pretrained``) map by position with
``torchgraph.weights.map_by_structure``, as torchvision files do; two differences are
expected and handled: the classifier of another number of classes keeps its fresh
initialisation, and a stem convolution for another number of channels is converted
(summed over RGB for grey, repeated and scaled otherwise; timm's ``adapt_input_conv``
rule).
"""
from __future__ import annotations

from dataclasses import replace

from archcalc.errors import ArchcalcError, Location
from archcalc.spec.model import Layer, Params, children_of, map_layers

HEAD_KINDS = ("fc", "conv")


def head_layer(node) -> Layer | None:
    """The last layer (in execution order) that has an ``out``: the classifier."""
    if isinstance(node, Layer):
        return node if node.kind in HEAD_KINDS else None
    for child in reversed(children_of(node)):
        found = head_layer(child)
        if found is not None:
            return found
    return None


def _with_head(node, path: str, classes: int):
    def change(layer):
        if layer.path != path:
            return layer
        return replace(layer, params=Params({**layer.params, "out": classes}))

    return map_layers(node, change, drop_expect=True)


def spec_classes(spec) -> int | None:
    head = head_layer(spec.root)
    out = head.params.get("out") if head is not None else None
    return out if isinstance(out, int) else None


def adapt_spec(spec, input_shape, classes: int):
    """The spec at ``input_shape`` (C, H, W) with ``classes`` outputs, and its analysis."""
    from archcalc.analysis.limits import analyze_explained

    head = head_layer(spec.root)
    if head is None:
        raise ArchcalcError(f"{spec.name} has no fc or conv layer to serve as the classifier",
                            where=Location(spec.file))
    adapted = replace(spec, input=tuple(input_shape), expect={},
                      root=_with_head(spec.root, head.path, classes))
    report = analyze_explained(adapted, tuple(input_shape), check_expect=False)
    if tuple(report.output) != (classes,):
        raise ArchcalcError(
            f"{spec.name} outputs {list(report.output)}, not one score per class",
            where=head.where, node=head.path,
            hint="a classifier ends in `flatten` and an `fc`, or a conv to the classes "
                 "followed by a global pool and `flatten`")
    return adapted, report, head.path


def load_pretrained(model, path, head_path: str) -> list[str]:
    """Copy a state dict's tensors into ``model`` by position; returns what was adapted."""
    import torch

    from archcalc.torchgraph.weights import map_by_structure, read_state_dict

    notes: list[str] = []
    mapped = map_by_structure(read_state_dict(path), model, Location(str(path)),
                              adapt=_fine_tuning(model, head_path, notes))
    model.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v
                           for k, v in mapped.items()}, strict=True)
    return notes


def _fine_tuning(model, head_path: str, notes: list[str]):
    """The two shape changes fine-tuning expects, for ``map_by_structure``: the new
    classifier keeps its fresh initialisation; the stem (the first 4-d tensor) is
    converted to the data's channels. A note for each goes to ``notes``."""
    head_prefix = head_path + "."
    stem_key = next((key for key, tensor in model.state_dict().items() if tensor.dim() == 4),
                    None)

    def adapt(key, tensor, expected):
        if key.startswith(head_prefix):
            if key.endswith("weight"):
                notes.append(f"new classifier {head_path}: {tensor.shape[0]} -> "
                             f"{expected.shape[0]} classes, freshly initialised")
            return expected
        if key == stem_key and tensor.dim() == 4 and tensor.shape[0] == expected.shape[0] \
                and tensor.shape[2:] == expected.shape[2:]:
            notes.append(f"stem {key}: {tensor.shape[1]} -> {expected.shape[1]} input channels")
            return adapt_input_conv(tensor, expected.shape[1])
        return None

    return adapt


def adapt_input_conv(weight, channels: int):
    """RGB filters for grey input are summed (a grey pixel is R = G = B); otherwise the
    filters repeat over the new channels, scaled to keep the response's size."""
    old = weight.shape[1]
    if channels == 1:
        return weight.sum(1, keepdim=True)
    repeats = -(-channels // old)
    return weight.repeat(1, repeats, 1, 1)[:, :channels] * (old / channels)
