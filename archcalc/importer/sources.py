"""What `archcalc import SOURCE` names, resolved to an ``nn.Module``.

Three forms: ``torchvision:NAME[?key=value&...]`` (a classification model of
``torchvision.models``, built on the meta device: no weights are allocated, so
vit_h_14 costs nothing), ``package.module:attr`` (an importable factory or class) and
``path/to/file.py:attr``. Whatever the user's code raises while it is imported or
called becomes one ArchcalcError naming the source and the line that raised.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import json
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from torch.overrides import TorchFunctionMode

from archcalc.errors import ArchcalcError, Location

# torchvision builders whose training-only auxiliary heads the zoo leaves out
# (torchgraph/weights.py: AUX_HEAD_MODELS); the import leaves them out the same way
# unless the source says otherwise, because forward in eval mode never calls them.
AUX_HEAD_DEFAULTS = {"googlenet": {"aux_logits": False, "init_weights": False},
                     "inception_v3": {"aux_logits": False, "init_weights": False}}


@dataclass
class Source:
    """A resolved SOURCE: the module, what to call it, and how it was made."""

    text: str
    module: torch.nn.Module
    name: str
    kind: str  # "torchvision", "module" or "file"
    kwargs: dict = field(default_factory=dict)
    torchvision: str | None = None  # the builder, when the import reproduces one exactly
    input_shape: tuple | None = None  # the size the source's weights were made for
    digest: str = ""  # a file source's sha256: which version of the file was imported


class _MetaFactories(TorchFunctionMode):
    """Puts new tensors of the shape-taking factories on the meta device. Unlike
    ``torch.device("meta")`` it leaves ``torch.arange``, ``torch.tensor`` and the maths
    on them on the CPU, so builders that compute widths with tensors (RegNet's
    ``.tolist()``) still work."""

    FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.FACTORIES and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def resolve(text: str, kwargs_json: str | None = None) -> Source:
    if text.startswith("torchvision:"):
        if kwargs_json is not None:
            raise ArchcalcError("--kwargs is for module:attr and file.py:attr sources",
                                hint="give torchvision keywords after the name: "
                                     "torchvision:resnet50?num_classes=10")
        return _torchvision(text)
    target, _, attr = text.rpartition(":")
    if not target or not attr or not attr.isidentifier():
        raise ArchcalcError(f"cannot read the source {text!r}",
                            hint="give torchvision:NAME, package.module:attr or "
                                 "path/to/file.py:attr")
    kwargs = _kwargs(kwargs_json)
    is_file = target.endswith(".py") or "/" in target
    namespace = _load_file(target) if is_file else _load_module(target)
    if not hasattr(namespace, attr):
        raise ArchcalcError(f"{target} has no attribute {attr!r}",
                            where=Location(target) if is_file else None,
                            hint=_close(attr, [n for n in dir(namespace)
                                               if not n.startswith("_")]))
    made = _call(getattr(namespace, attr), kwargs, f"{target}:{attr}")
    digest = hashlib.sha256(Path(target).expanduser().read_bytes()).hexdigest() if is_file \
        else ""
    return Source(text, made, attr, "file" if is_file else "module", kwargs, digest=digest)


def _torchvision(text: str) -> Source:
    import torchvision

    name, _, query = text[len("torchvision:"):].partition("?")
    names = torchvision.models.list_models(module=torchvision.models)
    if name not in names:
        raise ArchcalcError(f"torchvision has no classification model {name!r}",
                            hint=_close(name, names) or "see torchvision.models.list_models()")
    given = _query(query, text)
    kwargs = {**AUX_HEAD_DEFAULTS.get(name, {}), **given}
    model = _call(lambda: _on_meta(lambda: torchvision.models.get_model(
        name, weights=None, **kwargs)), {}, text)
    weights = torchvision.models.get_model_weights(name).DEFAULT
    # the size its weights were made for, unless the model fixes one (ViT's image_size)
    crop = getattr(model, "image_size", None) or \
        getattr(weights.transforms, "keywords", {}).get("crop_size", 224)
    reproduces = name if not given else None  # other keywords: not the builder's default
    return Source(text, model, name, "torchvision", kwargs, reproduces, (3, crop, crop))


def _on_meta(build):
    """``build()`` with every tensor on the meta device, or, where the builder computes
    with tensors (RegNet's widths), with only the shape-taking factories there."""
    try:
        with torch.device("meta"):
            return build()
    except NotImplementedError:
        with _MetaFactories():
            return build()


def _query(query: str, text: str) -> dict:
    kwargs = {}
    for part in filter(None, query.split("&")):
        key, equals, value = part.partition("=")
        if not equals or not key.isidentifier():
            raise ArchcalcError(f"cannot read {part!r} in {text!r}",
                                hint="write keywords as NAME=VALUE joined by &: "
                                     "torchvision:resnet50?num_classes=10")
        try:
            kwargs[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            kwargs[key] = value
    return kwargs


def _kwargs(kwargs_json: str | None) -> dict:
    if kwargs_json is None:
        return {}
    try:
        kwargs = json.loads(kwargs_json)
    except json.JSONDecodeError as exc:
        raise ArchcalcError(f"--kwargs is not JSON ({exc.msg} at character {exc.pos})",
                            hint='give an object: --kwargs \'{"num_classes": 10}\'') from None
    if not isinstance(kwargs, dict):
        raise ArchcalcError("--kwargs must be a JSON object of keyword arguments",
                            hint='for example --kwargs \'{"num_classes": 10}\'')
    return kwargs


def _load_module(target: str):
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name) or exc.name == target:
            raise ArchcalcError(f"no module named {target!r} can be imported",
                                hint="check the name and that its package is installed "
                                     "(or give path/to/file.py:attr)") from None
        raise _raised(exc, f"importing {target}") from None
    except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _raised(exc, f"importing {target}") from None


def _load_file(target: str):
    path = Path(target).expanduser()
    if not path.is_file():
        raise ArchcalcError("no such Python file", where=Location(target),
                            hint="give path/to/file.py:attr with an existing file")
    name = f"archcalc_import_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ArchcalcError("cannot load this file as Python", where=Location(target))
    namespace = importlib.util.module_from_spec(spec)
    sys.modules[name] = namespace  # dataclasses and pickling look themselves up here
    sys.path.insert(0, str(path.parent))  # so the file's own sibling imports work
    try:
        spec.loader.exec_module(namespace)
    except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _raised(exc, f"importing {target}") from None
    finally:
        sys.path.remove(str(path.parent))
    return namespace


def _call(factory, kwargs: dict, what: str) -> torch.nn.Module:
    if isinstance(factory, torch.nn.Module):
        made = factory
    elif not callable(factory):
        raise ArchcalcError(f"{what} is a {type(factory).__name__}, not a module, a class or "
                            "a factory", hint="name an nn.Module subclass or a function that "
                                              "returns one")
    else:
        try:
            made = factory(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise _raised(exc, f"calling {what}") from None
    if not isinstance(made, torch.nn.Module):
        raise ArchcalcError(f"{what} returned a {type(made).__name__}, not an nn.Module",
                            hint="the factory must return the model (an nn.Module)")
    return made


def _raised(exc: BaseException, doing: str) -> ArchcalcError:
    """The user's exception as one message: its type, text and the innermost line of the
    user's code (not of archcalc) in the traceback."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if "/archcalc/importer/" not in frame.filename
              and "/importlib/" not in frame.filename and "<frozen" not in frame.filename]
    at = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    text = " ".join(str(exc).split())[:200]
    return ArchcalcError(f"{doing} raised {type(exc).__name__}" + (f": {text}" if text else "")
                         + at, hint="fix the source so that it builds the model")


def _close(name: str, names) -> str | None:
    matches = difflib.get_close_matches(name, list(names), n=3)
    return f"did you mean {', '.join(matches)}?" if matches else None
