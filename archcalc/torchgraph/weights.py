"""Load and save state dicts, and map torchvision's onto spec-built modules.

A spec-built module registers its tensors in the same order as the
torchvision model it reproduces (paths in spec order, conv before its BN), so
a torchvision state dict maps onto it by position, each shape checked. Files
are read with ``weights_only=True`` (no pickled code runs) and written
atomically (a temporary file in the same folder, then a rename).
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError, Location


def read_state_dict(path) -> "OrderedDict[str, torch.Tensor]":
    """Tensors from a state-dict file (or an archcalc checkpoint's ``model`` entry)."""
    where = Location(str(path))
    if not Path(path).is_file():
        raise ArchcalcError("no such weights file", where=where)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ArchcalcError(
            f"not a weights-only state dict ({_first_sentence(exc)})", where=where,
            hint="save tensors only: torch.save(model.state_dict(), FILE); archcalc never "
                 "runs pickled code") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchcalcError(f"cannot read this file as PyTorch weights ({_first_sentence(exc)})",
                            where=where, hint="the file may be truncated or not a torch.save "
                                              "file") from None
    if isinstance(data, dict) and "model" in data and isinstance(data["model"], dict):
        data = data["model"]
    if not isinstance(data, dict) or not data or \
            not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ArchcalcError("the file holds no state dict (a mapping of names to tensors)",
                            where=where, hint="save it with torch.save(model.state_dict(), FILE)")
    return OrderedDict(data)


def _first_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.split(". ")[0][:160]


def map_by_structure(source: dict, model: torch.nn.Module, where=None) -> "OrderedDict":
    """``source`` renamed to ``model``'s keys by position, every shape checked."""
    target = model.state_dict()
    if len(source) != len(target):
        raise ArchcalcError(f"the file has {len(source)} tensors, the model {len(target)}",
                            where=where, hint="the weights are for another architecture")
    pairs = list(zip(source.items(), target.items()))
    mapped = OrderedDict()
    for index, ((source_key, tensor), (target_key, expected)) in enumerate(pairs):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise ArchcalcError(
                f"tensor {index} {source_key!r} has shape {list(tensor.shape)}, but "
                f"{target_key!r} needs {list(expected.shape)}", where=where,
                hint="the weights are for another architecture or input size")
        mapped[target_key] = tensor
    return mapped


def load_weights(model: torch.nn.Module, path) -> None:
    source = read_state_dict(path)
    model.load_state_dict(map_by_structure(source, model, Location(str(path))), strict=True)


def torchvision_keys(name: str) -> list:
    import torchvision

    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return list(getattr(torchvision.models, name)(weights=None, **kwargs).state_dict())


def to_layout(state: dict, spec, layout: str) -> "OrderedDict":
    """Our state dict, or renamed to the torchvision model's keys (``layout='torchvision'``)."""
    if layout == "archcalc":
        return OrderedDict(state)
    if not spec.torchvision:
        raise ArchcalcError(f"{spec.name} reproduces no torchvision model, so it has no "
                            "torchvision layout", hint="use --layout archcalc")
    keys = torchvision_keys(spec.torchvision)
    if len(keys) != len(state):
        raise ArchcalcError(f"torchvision's {spec.torchvision} has {len(keys)} tensors, this "
                            f"model {len(state)}",
                            hint="a changed head (--num-classes) still maps; a changed "
                                 "structure does not")
    return OrderedDict(zip(keys, state.values()))


def save_atomic(obj, path) -> None:
    """torch.save to ``path`` without ever leaving a half-written file there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
