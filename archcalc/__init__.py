"""archcalc: exact cost analysis of ConvNets from declarative specs.

The public API is small: ``load_spec``, ``analyze`` (an ``AnalysisReport``: the Report
with ``to_dict``, ``to_dataframe`` and notebook displays, archcalc/api.py), ``json_schema``
and (with torch installed) ``build_module``; ``__version__`` is the installed version.
Importing archcalc does not import torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import TYPE_CHECKING, Union

from archcalc.errors import ArchcalcError, SpecError

if TYPE_CHECKING:  # names for the annotations only: importing archcalc stays light
    from torch import nn

    from archcalc.api import AnalysisReport
    from archcalc.spec.model import Spec

__all__ = ["ArchcalcError", "SpecError", "__version__", "analyze", "build_module",
           "json_schema", "load_spec"]

__version__: str  # computed on first use (module __getattr__): importing stays light
_UNKNOWN_VERSION = "0+unknown"  # running from a source tree that was never installed


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("archcalc")
        except PackageNotFoundError:
            found = _UNKNOWN_VERSION
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module 'archcalc' has no attribute {name!r}")

# A bundled spec's name (``vgg16``) or the path of a YAML file.
SpecSource = Union[str, "PathLike[str]"]


def load_spec(name_or_path: SpecSource, input_shape: Sequence[int] | None = None) -> Spec:
    """A Spec from a bundled name (``vgg16``) or a path to a YAML file."""
    from archcalc.spec.loader import load_spec as _load

    return _load(name_or_path, input_shape)


def analyze(spec_or_name: Spec | SpecSource, input_shape: Sequence[int] | None = None, *,
            batch: int = 1, dtype: str = "fp32") -> AnalysisReport:
    """The per-layer Report of a Spec (or a name/path) at its input or ``input_shape``.

    Rows and ``totals`` are per image; ``batch_totals`` and ``row_per_batch`` give the
    figures for ``batch`` images (MACs, FLOPs, activations and their bytes at ``dtype``).
    ``to_dict()`` is the document `archcalc table --format json` prints for the same
    input, batch and dtype. A size that collapses names the smallest input that works.
    """
    from archcalc.analysis.limits import analyze_explained
    from archcalc.api import AnalysisReport
    from archcalc.spec.model import Spec

    spec = spec_or_name if isinstance(spec_or_name, Spec) else load_spec(spec_or_name)
    shape = tuple(input_shape) if input_shape is not None else None
    return AnalysisReport.of(analyze_explained(spec, shape, batch=batch, dtype=dtype), spec)


def json_schema() -> dict:
    """The JSON Schema (a dict) of every document archcalc prints with ``--format json``."""
    from archcalc.api import json_schema as _schema

    return _schema()


def build_module(spec_or_name: Spec | SpecSource,
                 input: Sequence[int] | None = None) -> nn.Module:
    """An ``nn.Module`` built from the spec (requires torch)."""
    from archcalc.torchgraph.builder import build_module as _build

    return _build(spec_or_name, input)
