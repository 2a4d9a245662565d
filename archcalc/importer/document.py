"""The imported spec as a document: metadata, templates, layers and the facts measured
on the real module, then checked by loading it back through archcalc's own loader.

``expect:`` carries the output shape, params and buffers the module itself has, so
the spec proves itself on every later load (`archcalc check`); the import refuses to
write a spec whose analysis disagrees with the module, naming the module whose
weights forward never used when that is why.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
import yaml

from archcalc.importer.trace import ImportRefusal


def measured(module: torch.nn.Module, output) -> dict:
    return {"output": list(output.shape[1:]),
            "params": sum(p.numel() for p in module.parameters()),
            "buffers": sum(b.numel() for b in module.buffers())}


def spec_name(source) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", source.name).strip("_").lower()
    return name or "imported"


def source_text(source, input_shape) -> str:
    import torchvision

    module = type(source.module)
    versions = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    how = f"`archcalc import {source.text}`" if source.kind != "object" else \
        "archcalc.importer.import_module"
    text = f"imported by {how} from {module.__module__}.{module.__qualname__} ({versions})"
    if source.kind == "file":
        text += f", file sha256 {source.digest}"
    if source.kwargs:
        text += f" with {', '.join(f'{k}={v!r}' for k, v in source.kwargs.items())}"
    return text + f" at input {'x'.join(map(str, input_shape))}"


def origin(source) -> dict:
    """`origin:`, what `build --layout original` re-creates the module from
    (spec/origin.py): the SOURCE, a file's path made absolute so the spec can move; a
    torchvision source's keywords stay in its text."""
    text = source.text
    if source.kind == "file":
        target, _, attr = text.rpartition(":")
        text = f"{Path(target).expanduser().resolve()}:{attr}"
    kwargs = source.kwargs if source.kind != "torchvision" else {}
    return {"source": text, **({"kwargs": kwargs} if kwargs else {})}


LAST = ("repeat", "first", "when", "name")  # a layer's own parameters first, as specs read


def ordered(value):
    """Every item's keys in reading order: a layer's parameters in its kind's order, then
    repeat, first, when and name; a branch or group starts with its name."""
    from archcalc.layers.registry import all_kinds

    if isinstance(value, list):
        return [ordered(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and isinstance(next(iter(value.values())), dict):
        ((kind, body),) = value.items()
        if kind in ("branch", "group"):
            keys = ["name", "merge", "act", "when", "expect", "paths", "layers"]
        else:
            params = [p.name for p in getattr(all_kinds().get(kind), "params", ())]
            keys = params + [k for k in body if k not in params and k not in LAST] + list(LAST)
        keys += [k for k in body if k not in keys]
        return {kind: {k: ordered(body[k]) for k in keys if k in body}}
    return {k: ordered(v) for k, v in value.items()}


def document(source, input_shape, layers: list, templates: dict, facts: dict) -> dict:
    doc: dict = {"archcalc": 1, "name": spec_name(source),
                 "title": f"{source.name} (imported)"}
    if source.torchvision:
        doc["torchvision"] = source.torchvision
    if source.kind != "object":  # a module handed to import_module cannot be re-created
        doc["origin"] = origin(source)
    doc["source"] = source_text(source, input_shape)
    doc["input"] = list(input_shape)
    if templates:
        doc["templates"] = {name: {"args": t["args"], "body": ordered(t["body"])}
                            for name, t in templates.items()}
    doc["layers"] = ordered(layers)
    doc["expect"] = facts
    return doc


class _Dumper(yaml.SafeDumper):
    """Block style for containers, flow style for an item's parameters (one line per
    layer, as the hand-written specs read)."""


def _represent_dict(dumper, data):
    flow = all(not isinstance(v, (dict, list)) or (isinstance(v, list) and
               all(not isinstance(x, (dict, list)) for x in v)) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper, data):
    flow = all(not isinstance(x, (dict, list)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def to_yaml(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=False)


def check(text: str, name: str, module, calls: dict):
    """Load ``text`` as a spec and analyse it, expect: facts checked; an import whose
    facts fail is refused (the module's unused weights named where that is why)."""
    from archcalc.analysis.analyze import analyze
    from archcalc.errors import ArchcalcError
    from archcalc.spec.loader import parse_spec

    try:
        spec = parse_spec(text, f"{name}.yaml")
        return spec, analyze(spec)
    except ArchcalcError as exc:
        unused = [path for path, m in module.named_modules()
                  if m not in calls and any(True for _ in m.parameters(recurse=False))]
        if unused:
            raise ImportRefusal(unused[0], "holds weights that forward never uses "
                                           f"({len(unused)} such module(s))", None,
                                "remove the unused modules, or build the model without them "
                                "(torchvision:googlenet?aux_logits=False)") from None
        raise ImportRefusal("", f"archcalc's analysis refuses the spec written from this "
                                f"module ({exc.message})", None,
                            "a layer is used on a shape its archcalc kind does not take; "
                            "if the spec should hold, please report it with the source") \
            from None
