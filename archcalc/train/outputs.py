"""Every file a run writes, in one place, written only by the main process.

Under DistributedDataParallel every rank trains but only rank 0 writes: the runner
creates ``RunFiles(folder, is_main_process=rank == 0)`` and nothing else opens a file.

The folder holds config.json, checks.json, metrics.jsonl (one line per epoch),
curves.png, summary.json, last.pt (the latest state) and best.pt (the state with the
best validation accuracy).

Nothing is lost: a new run refuses a folder that already holds files (``--resume``
continues that run, ``--overwrite`` replaces its files); every file but metrics.jsonl
is replaced atomically (archcalc/files.py); metrics.jsonl is append-only, one fsynced
line per epoch, so a crash leaves at most a torn last line, which a resumed run drops
(with a note) when it rewrites the file, atomically, up to its checkpoint.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

from archcalc.errors import ArchcalcError, Location
from archcalc.files import append_line, os_error, write_atomic, write_text_atomic

RUN_FILES = ("config.json", "checks.json", "metrics.jsonl", "curves.png", "summary.json",
             "last.pt", "best.pt")


def folder_in_use(folder) -> ArchcalcError | None:
    """Why a new run may not start in ``folder`` (None when it may): it holds files."""
    folder = Path(folder)
    if not folder.exists():
        return None
    where = Location(str(folder))
    if not folder.is_dir():
        return ArchcalcError("--out names a file, not a folder", where=where)
    try:
        held = sorted(path.name for path in folder.iterdir())
    except OSError as exc:
        return os_error(exc, folder, "list")
    if not held:
        return None
    shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
    return ArchcalcError(
        f"the run folder already holds {len(held)} file{'s' if len(held) != 1 else ''} "
        f"({shown}); a new run would replace them", where=where,
        hint=f"--resume {folder} continues that run; --overwrite replaces its files; or "
             "choose another --out")


class RunFiles:
    def __init__(self, folder, is_main_process: bool = True, overwrite: bool = False):
        """``overwrite``: a new run in a used folder; the old run's files are removed
        first (only those, so nothing of the old run mixes into the new one)."""
        self.folder = Path(folder)
        self.is_main_process = is_main_process
        self.notes: list[str] = []  # what reading the metrics had to repair
        if not is_main_process:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if overwrite:
                for name in RUN_FILES:
                    self.path(name).unlink(missing_ok=True)
        except OSError as exc:
            raise os_error(exc, self.folder, "create or clear") from None

    def path(self, name: str) -> Path:
        return self.folder / name

    def write_json(self, name: str, data) -> None:
        if self.is_main_process:
            write_text_atomic(self.path(name), json.dumps(data, indent=2, default=_plain) + "\n")

    def append_metrics(self, record: dict) -> None:
        if self.is_main_process:
            append_line(self.path("metrics.jsonl"), json.dumps(record, default=_plain))

    def read_metrics(self) -> list[dict]:
        """The records; a torn last line (a crash while appending) is dropped with a note
        in ``self.notes``; a damaged line before it is an error (it is the user's data)."""
        path = self.path("metrics.jsonl")
        if not path.is_file():
            return []
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        except OSError as exc:
            raise os_error(exc, path, "read") from None
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
                    record = None
            except ValueError:
                record = None
            if record is None:
                if all(not rest.strip() for rest in lines[number:]):
                    self.notes.append(f"{path}: dropped a torn last line (line {number}), "
                                      "left by a run that stopped while writing it")
                    break
                raise ArchcalcError("not an epoch record (one JSON object per line)",
                                    where=Location(str(path), number),
                                    hint="restore the file or remove that line")
            records.append(record)
        return records

    def keep_metrics(self, epochs: int) -> None:
        """Drop records after ``epochs`` (a resumed run redoes the epochs after its
        checkpoint, which may have been written before later records), and a torn last
        line; the file is replaced atomically, so a crash here loses nothing."""
        if self.is_main_process:
            records = [r for r in self.read_metrics() if r["epoch"] <= epochs]
            write_text_atomic(self.path("metrics.jsonl"),
                              "".join(json.dumps(r, default=_plain) + "\n" for r in records))

    def save_checkpoint(self, name: str, state: dict) -> None:
        if self.is_main_process:
            from archcalc.torchgraph.weights import save_atomic

            save_atomic(state, self.path(name))

    def plot(self, history: list[dict], step_losses: list) -> str:
        from archcalc.train.curves import diagnose, plot_curves

        if self.is_main_process and history:
            image = io.BytesIO()
            plot_curves(history, step_losses, image)
            write_atomic(self.path("curves.png"), lambda file: file.write(image.getvalue()))
        return diagnose(history)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
