"""DenseNet's blocks, which no tracer reads as branches.

torchvision's ``_DenseBlock`` keeps a list of every feature map so far and hands the
whole list to each ``_DenseLayer``, which concatenates it first; a traced graph of
that reuses each tensor after its "branch" has merged. The same arithmetic, written
as archcalc writes DenseNet (specs/library/densenet.yaml), is one concat branch per
layer: the features so far (an empty path) beside the layer's new features, in that
channel order. The weights keep torchvision's order (norm1, conv1, norm2, conv2).
"""
from __future__ import annotations

from torch import nn

from archcalc.importer.modules import item


def rule(module):
    name = type(module).__module__ + "." + type(module).__name__
    return {"torchvision.models.densenet._DenseBlock": _block,
            "torchvision.models.densenet._DenseLayer": _layer}.get(name)


def _block(converter, module, path: str) -> list:
    items = []
    for name, layer in module.items():
        converter.converted.add(layer)
        new = _layer(converter, layer, f"{path}.{name}")
        items.append({"branch": {"merge": "concat", "paths": {"features": [], "new": new},
                                 "name": name}})
    return items


def _layer(converter, layer, path: str) -> list:
    parts = dict(layer.named_children())
    expected = {"norm1": nn.BatchNorm2d, "relu1": nn.ReLU, "conv1": nn.Conv2d,
                "norm2": nn.BatchNorm2d, "relu2": nn.ReLU, "conv2": nn.Conv2d}
    if set(parts) != set(expected) or \
            not all(isinstance(parts[k], cls) for k, cls in expected.items()):
        from archcalc.importer.trace import ImportRefusal

        raise ImportRefusal(path, "a _DenseLayer whose parts are not torchvision's", None)
    items = []
    for name in expected:
        part = parts[name]
        converter.converted.add(part)
        if isinstance(part, nn.Conv2d):
            body = {"out": part.out_channels, "kernel": part.kernel_size[0]}
            if part.padding[0]:
                body["pad"] = part.padding[0]
            items.append(item("conv", **body, bias=False, name=name))
        elif isinstance(part, nn.BatchNorm2d):
            items.append(item("bn", **({"eps": part.eps} if part.eps != 1e-5 else {}),
                              name=name))
        else:
            items.append(item("relu", name=name))
    if layer.drop_rate > 0:
        items.append(item("dropout", p=float(layer.drop_rate), name="dropout"))
    return items
