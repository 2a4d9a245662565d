"""archcalc: exact cost analysis of ConvNets from declarative specs.

The public API is small: ``load_spec``, ``analyze`` and (with torch installed)
``build_module``. Importing archcalc does not import torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import TYPE_CHECKING, Union

from archcalc.errors import ArchcalcError, SpecError

if TYPE_CHECKING:  # names for the annotations only: importing archcalc stays light
    from torch import nn

    from archcalc.analysis.report import Report
    from archcalc.spec.model import Spec

__all__ = ["ArchcalcError", "SpecError", "analyze", "build_module", "load_spec"]

# A bundled spec's name (``vgg16``) or the path of a YAML file.
SpecSource = Union[str, "PathLike[str]"]


def load_spec(name_or_path: SpecSource, input_shape: Sequence[int] | None = None) -> Spec:
    """A Spec from a bundled name (``vgg16``) or a path to a YAML file."""
    from archcalc.spec.loader import load_spec as _load

    return _load(name_or_path, input_shape)


def analyze(spec_or_name: Spec | SpecSource, input_shape: Sequence[int] | None = None, *,
            batch: int = 1, dtype: str = "fp32") -> Report:
    """The per-layer Report of a Spec (or a name/path) at its input or ``input_shape``.

    Rows and ``totals`` are per image; ``batch_totals`` and ``row_per_batch`` give the
    figures for ``batch`` images (MACs, FLOPs, activations and their bytes at ``dtype``).
    """
    from archcalc.analysis.analyze import analyze as _analyze
    from archcalc.spec.model import Spec

    spec = spec_or_name if isinstance(spec_or_name, Spec) else load_spec(spec_or_name)
    return _analyze(spec, input_shape, batch=batch, dtype=dtype)


def build_module(spec_or_name: Spec | SpecSource,
                 input: Sequence[int] | None = None) -> nn.Module:
    """An ``nn.Module`` built from the spec (requires torch)."""
    from archcalc.torchgraph.builder import build_module as _build

    return _build(spec_or_name, input)
