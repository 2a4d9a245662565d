"""archcalc: exact cost analysis of ConvNets from declarative specs.

The public API is small: ``load_spec``, ``analyze`` and (with torch installed)
``build_module``. Importing archcalc does not import torch.
"""
from __future__ import annotations

__all__ = ["load_spec", "analyze", "build_module", "ArchcalcError", "SpecError"]

from archcalc.errors import ArchcalcError, SpecError


def load_spec(name_or_path, input_shape=None):
    """A Spec from a bundled name (``vgg16``) or a path to a YAML file."""
    from archcalc.spec.loader import load_spec as _load

    return _load(name_or_path, input_shape)


def analyze(spec_or_name, input_shape=None, *, batch: int = 1, dtype: str = "fp32"):
    """The per-layer Report of a Spec (or a name/path) at its input or ``input_shape``."""
    from archcalc.analysis.analyze import analyze as _analyze

    spec = spec_or_name if hasattr(spec_or_name, "root") else load_spec(spec_or_name)
    return _analyze(spec, input_shape, batch=batch, dtype=dtype)


def build_module(spec_or_name, input=None):
    """An ``nn.Module`` built from the spec (requires torch)."""
    from archcalc.torchgraph.builder import build_module as _build

    return _build(spec_or_name, input)
