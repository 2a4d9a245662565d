"""Load and save state dicts, and map torchvision's (or, for an imported spec, the
original module's) onto spec-built modules and back.

A spec-built module registers its tensors in the same order as the
torchvision model it reproduces (paths in spec order, conv before its BN), so
a torchvision state dict maps onto it by position, each shape checked.

Reading (``read_torch_file``) is bounded and runs no code: the file must be the zip
archive ``torch.save`` has written since PyTorch 1.6, whose entries together may not
declare more bytes than the file holds (torch.save stores tensors uncompressed, so a
few-KB file that claims gigabytes is refused before anything is decoded; torch then
checks each tensor's storage against its entry), and it is unpickled with
``weights_only=True``. Any failure while decoding is one ArchcalcError naming the file.
Files are written atomically (archcalc/files.py).
"""
from __future__ import annotations

import os
import pickle
import pickletools
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError, Location
from archcalc.files import os_error, write_atomic

# Zip bookkeeping (local headers, central directory) is excluded from the declared
# contents, so contents can never exceed the archive; a little slack for safety.
DECLARED_SLACK_BYTES = 64 << 10


def check_archive(path, what: str = "weights file") -> None:
    """Refuse a file whose zip entries declare more contents than the file holds."""
    where = Location(str(path))
    try:
        size = os.path.getsize(path)
        with zipfile.ZipFile(path) as archive:
            declared = sum(entry.file_size for entry in archive.infolist())
    except zipfile.BadZipFile:
        raise _not_a_zip(path, what) from None
    except OSError as exc:
        raise os_error(exc, path, "read") from None
    except (ValueError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise ArchcalcError(f"cannot read this {_as_read(what)} ({_first_sentence(exc)})",
                            where=where, hint="the file may be truncated or damaged") from None
    if declared > size + DECLARED_SLACK_BYTES:
        raise ArchcalcError(
            f"the {what} declares {declared:,} bytes of contents but is only {size:,} bytes "
            "long: refused before decoding", where=where,
            hint="torch.save stores tensors uncompressed; this file is damaged or crafted")


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a pre-1.6 torch.save file


def _not_a_zip(path, what: str) -> ArchcalcError:
    """Why a file that is not a zip archive is refused, read without running anything:
    the opcodes of its first pickle, if it starts like one, are parsed, not executed."""
    where = Location(str(path))
    named, strings, first = None, [], None
    try:
        with open(path, "rb") as file:
            if file.read(1) != b"\x80":
                raise ValueError("not a pickle")
            file.seek(0)
            for opcode, argument, _ in pickletools.genops(file):
                if opcode.name == "GLOBAL":
                    named = argument.replace(" ", ".")
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    named = ".".join(strings[-2:])
                elif isinstance(argument, str):
                    strings.append(argument)
                if first is None and opcode.name not in ("PROTO", "FRAME"):
                    first = argument
                if named:
                    break
    except (ValueError, OSError, EOFError):
        named = None
    if named:
        return ArchcalcError(
            f"not a weights-only {'state dict' if what == 'weights file' else what} (a pickle that "
            f"constructs {named})", where=where,
            hint="save tensors only: torch.save(model.state_dict(), FILE); archcalc never "
                 "runs pickled code")
    if first == LEGACY_MAGIC:
        return ArchcalcError(
            f"cannot read this {_as_read(what)}: PyTorch's legacy (pre-1.6) format, whose "
            "sizes cannot be checked before loading", where=where,
            hint="re-save it with a current PyTorch: torch.save(torch.load(OLD), NEW)")
    return ArchcalcError(f"cannot read this {_as_read(what)}: not the zip archive torch.save "
                         "writes", where=where,
                         hint="the file may be truncated, damaged or of another kind")


def read_torch_file(path, what: str = "weights file", missing_hint: str | None = None):
    """``torch.load(path, weights_only=True)`` on CPU, bounded, every failure one error."""
    where = Location(str(path))
    path = Path(path)
    if not path.exists():
        raise ArchcalcError(f"no such {what}", where=where, hint=missing_hint)
    if not path.is_file():
        raise ArchcalcError(f"the {what} is not a file", where=where, hint=missing_hint)
    check_archive(path, what)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ArchcalcError(
            f"not a weights-only {what} ({_first_sentence(exc)})", where=where,
            hint="save tensors only: torch.save(model.state_dict(), FILE); archcalc never "
                 "runs pickled code") from None
    except OSError as exc:
        raise os_error(exc, path, "read") from None
    except Exception as exc:  # noqa: BLE001 - whatever decoding a damaged file raises
        raise ArchcalcError(f"cannot read this {_as_read(what)} ({_first_sentence(exc)})",
                            where=where,
                            hint="the file may be truncated or not a torch.save file") from None


def _as_read(what: str) -> str:
    return "file as PyTorch weights" if what == "weights file" else what


def read_state_dict(path) -> OrderedDict[str, torch.Tensor]:
    """Tensors from a state-dict file (or an archcalc checkpoint's ``model`` entry)."""
    where = Location(str(path))
    data = read_torch_file(path, "weights file")
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


def structural_order(state: dict) -> OrderedDict:
    """``state`` in the order its tensors are used, as archcalc's models list theirs: a
    tensor of the root module itself (no dot in its key) moves to after the tensors of the
    root's first child. PyTorch lists a module's own parameters before its children's, and
    torchvision's VisionTransformer keeps ``class_token`` on the root although it is used
    after ``conv_proj``; and CNBlock's ``layer_scale`` (``LATE_OWN_TENSORS``) moves to after
    its ``block``. archcalc's models hold no root tensors, so for them, and for every other
    torchvision model, the order is unchanged."""
    keys = list(state)
    roots = [key for key in keys if "." not in key]
    children = [key for key in keys if "." in key]
    if roots and children:
        first = children[0].split(".")[0] + "."
        end = next((i for i, key in enumerate(children) if not key.startswith(first)),
                   len(children))
        keys = children[:end] + roots + children[end:]
    keys = _late_own_tensors_moved(keys)
    return OrderedDict((key, state[key]) for key in keys)


# A nested module's own tensors that it uses after its first child: torchvision's CNBlock
# (ConvNeXt) keeps ``layer_scale`` on itself and multiplies it into ``block``'s output.
LATE_OWN_TENSORS = ("layer_scale",)


def _late_own_tensors_moved(keys: list) -> list:
    """Each late own tensor (``LATE_OWN_TENSORS``) moved to after the tensors of its
    module's first child; one whose module has no child tensors (archcalc's LayerScaleModule)
    stays where it is."""
    for key in [key for key in keys if key.rsplit(".", 1)[-1] in LATE_OWN_TENSORS]:
        parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
        children = [k for k in keys if k.startswith(parent) and "." in k[len(parent):]]
        if not children:
            continue
        first = parent + children[0][len(parent):].split(".")[0] + "."
        keys.remove(key)
        last = max(i for i, k in enumerate(keys) if k.startswith(first))
        keys.insert(last + 1, key)
    return keys


def map_by_structure(source: dict, model: torch.nn.Module, where=None,
                     adapt=None) -> OrderedDict:
    """``source`` renamed to ``model``'s keys by position, every shape checked.

    ``adapt(key, tensor, expected)`` may turn a tensor of another shape into one for
    ``key`` (fine-tuning: a new classifier, a stem for other channels, train/adapt.py)
    or return None; without it, or when it returns None, a shape that differs is an
    error naming both tensors."""
    target = model.state_dict()
    source = structural_order(source)
    if len(source) != len(target):
        raise ArchcalcError(f"the file has {len(source)} tensors, the model {len(target)}",
                            where=where, hint="the weights are for another architecture")
    pairs = list(zip(source.items(), target.items()))
    mapped = OrderedDict()
    for index, ((source_key, tensor), (target_key, expected)) in enumerate(pairs):
        fitted = tensor
        if tuple(tensor.shape) != tuple(expected.shape):
            fitted = adapt(target_key, tensor, expected) if adapt is not None else None
        if fitted is None:
            raise ArchcalcError(
                f"tensor {index} {source_key!r} has shape {list(tensor.shape)}, but "
                f"{target_key!r} needs {list(expected.shape)}", where=where,
                hint="the weights are for another architecture or input size")
        mapped[target_key] = fitted
    return mapped


def load_weights(model: torch.nn.Module, path) -> None:
    where = Location(str(path))
    mapped = map_by_structure(read_state_dict(path), model, where)
    try:
        model.load_state_dict(mapped, strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:  # e.g. a dtype that cannot be cast
        raise ArchcalcError(f"the tensors do not fit the model ({_first_sentence(exc)})",
                            where=where) from None


# torchvision builders whose auxiliary classifiers (training-only heads) the specs leave out.
AUX_HEAD_MODELS = ("googlenet", "inception_v3")


def torchvision_model(name: str, init_weights: bool = False) -> torch.nn.Module:
    """torchvision's model ``name``, untrained, as the zoo reproduces it: GoogLeNet and
    Inception-v3 without their auxiliary classifiers (torchvision adds them by default,
    the specs do not). ``init_weights``: their own truncated-normal initialisation, which
    is slow; torchvision's other models always initialise."""
    import torchvision

    kwargs = ({"aux_logits": False, "init_weights": init_weights}
              if name in AUX_HEAD_MODELS else {})
    return getattr(torchvision.models, name)(weights=None, **kwargs)


def torchvision_keys(name: str) -> list:
    return list(torchvision_model(name).state_dict())


LAYOUTS = ("archcalc", "torchvision", "original")


def to_layout(state: dict, spec, layout: str, reference: dict | None = None) -> OrderedDict:
    """Our state dict (``layout='archcalc'``), or renamed by position to a reference
    model's keys: torchvision's model (``'torchvision'``), or the module the spec was
    imported from (``'original'``): ``reference`` is then that module's state dict, made
    by the caller (re-creating it runs the user's code: cli/original.py), and every
    shape must match."""
    if layout == "archcalc":
        return OrderedDict(state)
    if layout == "torchvision":
        if not spec.torchvision:
            raise ArchcalcError(f"{spec.name} reproduces no torchvision model, so it has no "
                                "torchvision layout", hint="use --layout archcalc")
        return renamed_to(state, torchvision_model(spec.torchvision).state_dict(),
                          f"torchvision's {spec.torchvision}", shapes_checked=False,
                          hint="a changed head (--num-classes) still maps; a changed "
                               "structure does not")
    if layout == "original" and reference is not None:
        return renamed_to(state, reference, f"{spec.origin.source} (the module {spec.name} "
                          "was imported from)", shapes_checked=True,
                          where=spec.origin.where,
                          hint="its architecture changed since the import: import it again, "
                               "or save with --layout archcalc")
    raise ValueError(f"layout {layout!r} needs one of {LAYOUTS} (and 'original' a reference)")


def renamed_to(state: dict, reference: dict, named: str, *, shapes_checked: bool,
               hint: str, where=None) -> OrderedDict:
    """``state``'s tensors under ``reference``'s keys, by position in structural order
    (``structural_order``: the order both models use their tensors). ``named`` says what
    the reference is in messages. Without ``shapes_checked`` only the count must agree
    (torchvision's layout keeps a fine-tuned head of another width)."""
    keys = list(structural_order(reference))
    if len(keys) != len(state):
        raise ArchcalcError(f"{named} has {len(keys)} tensors, this model {len(state)}",
                            where=where, hint=hint)
    if shapes_checked:
        for index, ((key, expected), (ours, tensor)) in enumerate(
                zip(structural_order(reference).items(), state.items())):
            if tuple(expected.shape) != tuple(tensor.shape):
                raise ArchcalcError(
                    f"tensor {index} {key!r} of {named} has shape {list(expected.shape)}, "
                    f"but this model's {ours!r} has {list(tensor.shape)}", where=where,
                    hint=hint)
    exported = OrderedDict(zip(keys, state.values()))
    # the modules' versions travel with a state dict (``_metadata``): torchvision's MNASNet
    # loader refuses a dict without its version 2
    exported._metadata = getattr(reference, "_metadata", None)  # type: ignore[attr-defined]
    return exported


def save_atomic(obj, path) -> None:
    """torch.save to ``path`` without ever leaving a half-written file there (or a
    temporary one anywhere); a full disk is one error naming the file."""
    write_atomic(path, lambda file: torch.save(obj, file))
