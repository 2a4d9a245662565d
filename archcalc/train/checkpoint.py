"""Training checkpoints: the full state, written atomically, read without running code.

A checkpoint holds the model, optimizer and scheduler states, every random-number
generator the run draws from, the position in the run (epoch, batch within the
epoch, optimizer step, the epoch's running sums), the preprocessing (the training
mean) and the configuration, so ``--resume`` continues exactly where it stopped.
Files are written with ``save_atomic`` (a temporary file, fsync, then a rename) and read
with ``read_torch_file`` (bounded, ``weights_only=True``); a truncated, foreign or
non-fitting file is an ArchcalcError naming it.
"""
from __future__ import annotations

import random

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


def build_state(*, learner, position: dict, preprocess, config: dict) -> dict:
    """``learner``: a loop.Learner (model, optimizer, scheduler); ``position``: a
    loop.Position's state, whose explosion-guard and best-epoch figures are also kept
    apart under "guard" and "best"."""
    return {"format": FORMAT, "model": learner.model.state_dict(),
            "optimizer": learner.optimizer.state_dict(),
            "scheduler": learner.scheduler.state_dict(), "rng": rng_state(),
            "position": position, "preprocess": preprocess.state(), "config": config,
            "guard": {"initial_loss": position["initial_loss"]},
            "best": {"val_acc": position["best_val_acc"], "epoch": position["best_epoch"]}}


def load_checkpoint(path) -> dict:
    """The checkpoint at ``path``, read by ``read_torch_file`` (bounded, no code runs)."""
    from archcalc.torchgraph.weights import read_torch_file

    where = Location(str(path))
    state = read_torch_file(path, "checkpoint",
                            missing_hint="--resume DIR needs DIR/last.pt from an earlier "
                                         "--train run; best.pt in the same folder may still "
                                         "be whole")
    if not isinstance(state, dict) or state.get("format") != FORMAT or \
            any(key not in state for key in REQUIRED):
        raise ArchcalcError("not an archcalc training checkpoint", where=where,
                            hint=f"expected a file written by `archcalc build NAME --train` "
                                 f"(format {FORMAT})")
    if not isinstance(state["model"], dict) or \
            not all(isinstance(v, torch.Tensor) for v in state["model"].values()):
        raise ArchcalcError("the checkpoint's model entry is not a state dict", where=where)
    return state


def restore(path, state: dict, model, optimizer, scheduler) -> None:
    """Load a checkpoint's states into the run; anything that does not fit is one error
    naming the file (the tensor and both shapes when a model tensor differs)."""
    where = Location(str(path))
    expected = model.state_dict()
    saved = state["model"]
    if set(saved) != set(expected):
        missing, extra = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
        raise ArchcalcError(
            f"the checkpoint's model does not fit the spec: {len(missing)} tensors missing"
            f"{' (' + missing[0] + ', ...)' if missing else ''}, {len(extra)} unexpected"
            f"{' (' + extra[0] + ', ...)' if extra else ''}", where=where,
            hint="the spec file changed since the run started; restore it, or start a new run")
    for key, tensor in expected.items():
        if tuple(saved[key].shape) != tuple(tensor.shape):
            raise ArchcalcError(
                f"the checkpoint's {key!r} has shape {list(saved[key].shape)}, but the spec "
                f"builds {list(tensor.shape)}", where=where,
                hint="the spec file changed since the run started; restore it, or start a "
                     "new run")
    try:
        model.load_state_dict(saved)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
    except Exception as exc:  # noqa: BLE001 - torch's errors for a state that does not fit
        raise ArchcalcError(f"the checkpoint does not fit this run ({_first_line(exc)})",
                            where=where, hint="it was written by another run or version, "
                                              "or was edited") from None


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
