"""Write an expanded spec back out as YAML: every node explicit, no templates.

The result loads to the same graph (same node paths, kinds and parameters), so
it is both a round-trip check of the expander and a way to see exactly what a
compact spec means. Repeat copies and multi-item template calls become
``group`` items; channel ratios stay expressions (``in/2``).
"""
from __future__ import annotations

import yaml

from archcalc.spec.expr import ChannelExpr
from archcalc.spec.model import Branch, Layer, Spec


def _value(value):
    if isinstance(value, (tuple, list)):  # YamlList included: plain lists for the dumper
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, ChannelExpr):
        return str(value)
    return value


def _local(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _item(node) -> dict:
    if isinstance(node, Layer):
        body = {key: _value(value) for key, value in node.params.items()}
        op = node.kind
    elif isinstance(node, Branch):
        body = {"merge": node.merge, **{k: _value(v) for k, v in node.merge_params.items()},
                "paths": {name: [_item(child) for child in path.children]
                          for name, path in node.paths}}
        op = "branch"
    else:
        body = {"layers": [_item(child) for child in node.children]}
        op = "group"
    body["name"] = _local(node.path)
    if node.expect is not None:
        body["expect"] = list(node.expect)
    if node.paper is not None:
        body["paper"] = _value(node.paper)
    return {op: body}


def to_document(spec: Spec) -> dict:
    document = {"archcalc": 1, "name": spec.name}
    for key in ("title", "source", "torchvision"):
        if getattr(spec, key):
            document[key] = getattr(spec, key)
    if spec.origin is not None:
        document["origin"] = _value(spec.origin.document())
    document["input"] = list(spec.input)
    document["layers"] = [_item(child) for child in spec.root.children]
    if spec.expect:
        document["expect"] = {k: _value(v) for k, v in spec.expect.items()}
    if spec.paper is not None:
        document["paper"] = _value(spec.paper)
    return document


def to_yaml(spec: Spec) -> str:
    return yaml.safe_dump(to_document(spec), sort_keys=False, default_flow_style=None,
                          width=100)
