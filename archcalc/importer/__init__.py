"""`archcalc import`: a PyTorch module -> an archcalc spec (imports torch).

    sources.py   SOURCE -> nn.Module (torchvision on the meta device, module:attr, file.py:attr)
    trace.py     torch.fx, one module at a time, children as leaves; shapes from one run
    modules.py   rules per module class      functions.py  rules per traced call
    dense.py     DenseNet's blocks           structure.py  dataflow -> sequences and branches
    fuse.py      conv+bn+act, merge+act      repeats.py    repeated blocks -> templates
    document.py  metadata, measured expect: facts, YAML, the check by loading it back

    opaque.py    --allow-opaque: a refused call or module kept as a measured ``opaque`` node

Everything that cannot be expressed is an ArchcalcError naming the module path, the op
and the source line (exit 2); nothing is written then. With ``allow_opaque`` it is kept
instead as an ``opaque`` node whose shapes and counts are measured and whose MACs and
FLOPs are unknown (``Imported.opaque`` lists them).
"""
from __future__ import annotations

from dataclasses import dataclass

from archcalc.errors import ArchcalcError, Location


@dataclass
class Imported:
    text: str  # the spec as YAML
    spec: object  # the loaded Spec
    report: object  # its analysis
    facts: dict  # measured on the module: output, params, buffers

    @property
    def opaque(self) -> list[tuple[str, str, str]]:
        """(spec node, module path, what could not be expressed) of each opaque node."""
        return [(path, call.params["module"], call.params["op"])
                for path, call in self.report.calls.items() if call.kind.name == "opaque"]


def import_source(text: str, input_shape: tuple | None = None,
                  kwargs_json: str | None = None, allow_opaque: bool = False) -> Imported:
    """``archcalc import SOURCE``: resolve SOURCE (sources.py), then import the module;
    ``allow_opaque``: keep what archcalc cannot express as ``opaque`` nodes."""
    from archcalc.importer import sources

    return _imported(sources.resolve(text, kwargs_json), input_shape, allow_opaque)


def import_module(module, input_shape: tuple, name: str = "model",
                  allow_opaque: bool = False) -> Imported:
    """An ``nn.Module`` already in hand (the Python API; put into eval mode)."""
    from archcalc.importer.sources import Source

    return _imported(Source(f"<{type(module).__name__} object>", module, name, "object"),
                     input_shape, allow_opaque)


def _imported(source, input_shape, allow_opaque: bool = False) -> Imported:
    import torch

    from archcalc.importer import document, repeats
    from archcalc.importer.convert import Converter
    from archcalc.importer.trace import ImportRefusal, record_calls, user_line

    text = source.text
    module = source.module.eval()  # training-only branches (aux heads) are not traced
    shape = tuple(input_shape or source.input_shape or (3, 224, 224))
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    try:
        example = torch.zeros((1, *shape), device=device)
        calls = record_calls(module, example)
    except Exception as exc:  # noqa: BLE001 - the user's forward may raise anything
        line = user_line(exc)
        raise ArchcalcError(f"{type(source.module).__name__} does not run on a "
                            f"{'x'.join(map(str, shape))} input ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:160]})",
                            where=Location(line) if line else None,
                            hint="give the input size it expects with --input CxHxW") from None
    output = calls[module][1]
    if not isinstance(output, torch.Tensor):
        raise ArchcalcError(f"{type(module).__name__}.forward returns "
                            f"{type(output).__name__}, not one tensor",
                            hint="import a module whose forward returns the logits")
    try:
        layers = _named_root(Converter(module, calls, allow_opaque).body(module, ""))
        layers, templates = repeats.templated(layers)
        facts = document.measured(module, output)
        doc = document.document(source, shape, layers, templates, facts)
        yaml_text = document.to_yaml(doc)
        spec, report = document.check(yaml_text, doc["name"], module, calls)
    except ImportRefusal as refusal:
        raise _refused(refusal, text) from None
    return Imported(yaml_text, spec, report, facts)


def _named_root(layers: list) -> list:
    """The root's own items need names too (a module with a rule imported alone)."""
    from archcalc.importer.trace import ImportRefusal

    if not layers:
        raise ImportRefusal("", "forward computes nothing archcalc counts (the identity)", None,
                            "import a model with at least one layer")
    for entry in layers:
        ((kind, body),) = entry.items()
        body.setdefault("name", kind)
    return layers


def _refused(refusal, text: str) -> ArchcalcError:
    at = f" (source line {refusal.line})" if refusal.line else ""
    return ArchcalcError(f"cannot import {text}: {refusal.what}{at}",
                         node=refusal.path or "(the model itself)", hint=refusal.hint)
