"""`build --layout original`: the module an imported spec came from (its `origin:`),
re-created to read the keys and shapes of its state dict.

Re-creating it runs the user's code (importing the module or file, calling the factory
with the recorded keywords): that is what the user asked for. It is built exactly as
`archcalc import` built it (archcalc/importer/sources.py: torchvision models on the
meta device, so no weights are allocated; a user's factory as it is), so the keys are
the ones the import saw. Whatever goes wrong is one ArchcalcError naming the source.

This lives in the CLI layer because torchgraph (which renames the tensors) may not
import the importer: they are sibling stages (pyproject.toml's import-linter contract).
"""
from __future__ import annotations

import json
from pathlib import Path

from archcalc.errors import ArchcalcError, Location

NO_ORIGIN_HINT = ("only a spec written by `archcalc import` (which records `origin:`) has "
                  "the original module's layout; import the model again, or use "
                  "--layout archcalc")


def require_origin(spec) -> None:
    """Refuse --layout original for a spec that records no `origin:`, before any work."""
    if spec.origin is None:
        raise ArchcalcError(f"{spec.name} records no `origin:` (the module it was imported "
                            "from), so it has no original layout", where=Location(spec.file),
                            hint=NO_ORIGIN_HINT)


def original_module(spec, spec_argument: str):
    """The module ``spec`` was imported from, re-created from its `origin:` (on the meta
    device for a torchvision source)."""
    from archcalc.importer.sources import resolve

    require_origin(spec)
    origin = spec.origin
    kwargs_json = None if origin.is_torchvision else json.dumps(origin.kwargs)
    try:
        return resolve(_located(origin.source, spec_argument), kwargs_json).module
    except ArchcalcError as exc:
        raise _cannot(spec, exc.message + (f" ({exc.where})" if exc.where else ""),
                      exc.hint) from None
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise _cannot(spec, f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}",
                      None) from None


def original_state(spec, spec_argument: str) -> dict:
    """The state dict of the module ``spec`` was imported from (``original_module``)."""
    return original_module(spec, spec_argument).state_dict()


def check_export(spec, original, model, exported: dict, shape: tuple) -> None:
    """``exported`` (``model``'s tensors under ``original``'s keys) loads strictly into
    ``original`` and makes it compute ``model``'s outputs on a random input.

    Positions identify tensors only when the original registers its modules in the
    order forward uses them: two layers of equal shapes registered the other way round
    would swap silently, which this check catches. A torchvision source is on the meta
    device (nothing to compute) and its order is the zoo's, tested model by model."""

    if spec.origin.is_torchvision:
        return
    try:
        original.load_state_dict(exported, strict=True)
        same = _same_outputs(original, model, shape)
    except Exception as exc:  # noqa: BLE001 - the user's forward may raise anything
        raise _cannot(spec, f"the exported tensors do not run in it ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:160]})", None) from None
    if not same:
        raise ArchcalcError(
            f"{spec.origin.source} computes other outputs than {spec.name} with the exported "
            "tensors: it registers layers of equal shapes in another order than its forward "
            "uses them, so their positions do not say which is which", where=spec.origin.where,
            hint="register the modules in __init__ in the order forward calls them, or save "
                 "with --layout archcalc")


def check_loaded(spec, spec_argument: str, weights_path, model, shape: tuple) -> None:
    """After ``build --weights FILE`` of an imported spec: where FILE is the original
    module's own state dict, the tensors mapped by position must make the built model
    compute what the original computes with FILE; else positions put them in the wrong
    places (layers of equal shapes registered in another order than forward uses them).
    Runs the user's code again (origin:), as ``--layout original`` does; a torchvision
    source is the zoo's order, tested model by model; a file of another layout is not the
    original's and is left to the mapping's own shape checks."""

    from archcalc.torchgraph.weights import read_state_dict

    if spec.origin is None or spec.origin.is_torchvision:
        return
    original = original_module(spec, spec_argument)
    try:
        original.load_state_dict(read_state_dict(weights_path), strict=True)
    except (RuntimeError, TypeError, ValueError, ArchcalcError):
        return  # not the original's layout
    try:
        same = _same_outputs(original, model, shape)
    except Exception:  # noqa: BLE001 - the user's forward may raise anything: not comparable
        return
    if not same:
        raise ArchcalcError(
            f"{weights_path} is the state dict of {spec.origin.source}, but loaded by position "
            f"into {spec.name} it computes other outputs: the module registers layers of equal "
            "shapes in another order than its forward uses them, so positions do not say "
            "which is which", where=spec.origin.where,
            hint="register the modules in __init__ in the order forward calls them, then "
                 "import the model again")


def _same_outputs(original, model, shape: tuple) -> bool:
    """Whether ``original`` and the spec-built ``model`` compute the same outputs on one
    seeded random batch of two images (evaluation mode, no gradients)."""
    import torch

    x = torch.randn((2, *shape), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs, ours = original.eval()(x), model.eval()(x)
    return isinstance(theirs, torch.Tensor) and theirs.shape == ours.shape and \
        torch.allclose(theirs, ours, rtol=1e-3, atol=1e-5 * max(1.0, float(ours.abs().max())))


def _located(source: str, spec_argument: str) -> str:
    """A file source's relative path, read from the spec's folder (as `use:` paths are);
    module and torchvision sources as they are."""
    from archcalc.spec import catalog
    from archcalc.spec.loader import STDIN

    if source.startswith("torchvision:"):
        return source
    target, _, attr = source.rpartition(":")
    is_file = target.endswith(".py") or "/" in target  # as importer/sources.py tells them
    path = Path(target).expanduser()
    if not is_file or path.is_absolute():
        return source
    folder = Path.cwd() if spec_argument == STDIN else catalog.resolve(spec_argument).parent
    return f"{folder / path}:{attr}"


def _cannot(spec, why: str, hint: str | None) -> ArchcalcError:
    return ArchcalcError(
        f"cannot re-create {spec.origin.source}, the module {spec.name} was imported from, "
        f"for --layout original: {why}", where=spec.origin.where,
        hint=hint or "fix the source so that it builds the same model, or save with "
                     "--layout archcalc")
