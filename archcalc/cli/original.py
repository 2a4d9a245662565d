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


def original_state(spec, spec_argument: str) -> dict:
    """The state dict of the module ``spec`` was imported from (tensors on the meta
    device for a torchvision source), re-created from its `origin:`."""
    from archcalc.importer.sources import resolve

    require_origin(spec)
    origin = spec.origin
    kwargs_json = None if origin.is_torchvision else json.dumps(origin.kwargs)
    try:
        made = resolve(_located(origin.source, spec_argument), kwargs_json)
    except ArchcalcError as exc:
        raise _cannot(spec, exc.message + (f" ({exc.where})" if exc.where else ""),
                      exc.hint) from None
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise _cannot(spec, f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}",
                      None) from None
    return made.module.state_dict()  # resolve refused anything but an nn.Module


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
