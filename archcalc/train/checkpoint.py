"""Training checkpoints: the full state, written atomically, read without running code.

A checkpoint holds the model, optimizer and scheduler states, every random-number
generator the run draws from, the position in the run (epoch, batch within the
epoch, optimizer step, the epoch's running sums), the preprocessing (the training
mean) and the configuration, so ``--resume`` continues exactly where it stopped.
Files are written with ``save_atomic`` (a temporary file, then a rename) and read
with ``weights_only=True``; a truncated or foreign file is an ArchcalcError.
"""
from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError, Location

FORMAT = "archcalc-train-1"
REQUIRED = ("format", "model", "optimizer", "scheduler", "rng", "position", "preprocess",
            "config")


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value):
    # random.setstate wants tuples; a round trip through torch.save keeps them, but a
    # list is accepted too.
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def build_state(*, model, optimizer, scheduler, position: dict, preprocess, config: dict,
                guard: dict, best: dict) -> dict:
    return {"format": FORMAT, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": rng_state(), "position": position,
            "preprocess": preprocess.state(), "config": config, "guard": guard, "best": best}


def load_checkpoint(path) -> dict:
    path = Path(path)
    where = Location(str(path))
    if not path.is_file():
        raise ArchcalcError("no such checkpoint", where=where,
                            hint="--resume DIR needs DIR/last.pt from an earlier --train run")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ArchcalcError(f"not a weights-only checkpoint ({_first_line(exc)})", where=where,
                            hint="archcalc never runs pickled code") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchcalcError(f"cannot read this checkpoint ({_first_line(exc)})", where=where,
                            hint="the file is truncated or damaged; best.pt in the same "
                                 "folder may still be whole") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or \
            any(key not in state for key in REQUIRED):
        raise ArchcalcError("not an archcalc training checkpoint", where=where,
                            hint=f"expected a file written by `archcalc build NAME --train` "
                                 f"(format {FORMAT})")
    return state


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
