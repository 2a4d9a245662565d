"""Every file a run writes, in one place, written only by the main process.

Under DistributedDataParallel every rank trains but only rank 0 writes: the runner
creates ``RunFiles(folder, is_main_process=rank == 0)`` and nothing else opens a file.

The folder holds config.json, checks.json, metrics.jsonl (one line per epoch),
curves.png, summary.json, last.pt (the latest state) and best.pt (the state with the
best validation accuracy).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class RunFiles:
    def __init__(self, folder, is_main_process: bool = True):
        self.folder = Path(folder)
        self.is_main_process = is_main_process
        if is_main_process:
            self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / name

    def write_json(self, name: str, data) -> None:
        if not self.is_main_process:
            return
        text = json.dumps(data, indent=2, default=_plain) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
        with os.fdopen(handle, "w") as file:
            file.write(text)
        _readable(temporary)
        os.replace(temporary, self.path(name))

    def append_metrics(self, record: dict) -> None:
        if self.is_main_process:
            with open(self.path("metrics.jsonl"), "a") as file:
                file.write(json.dumps(record, default=_plain) + "\n")

    def read_metrics(self) -> list[dict]:
        path = self.path("metrics.jsonl")
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def keep_metrics(self, epochs: int) -> None:
        """Drop records after ``epochs`` (a resumed run redoes the epochs after its
        checkpoint, which may have been written before later records)."""
        if self.is_main_process:
            records = [r for r in self.read_metrics() if r["epoch"] <= epochs]
            self.path("metrics.jsonl").write_text(
                "".join(json.dumps(r, default=_plain) + "\n" for r in records))

    def save_checkpoint(self, name: str, state: dict) -> None:
        if self.is_main_process:
            from archcalc.torchgraph.weights import save_atomic

            save_atomic(state, self.path(name))
            _readable(self.path(name))

    def plot(self, history: list[dict], step_losses: list) -> str:
        from archcalc.train.curves import diagnose, plot_curves

        if self.is_main_process and history:
            plot_curves(history, step_losses, self.path("curves.png"))
        return diagnose(history)


def _readable(path) -> None:
    """The permissions a plain open() would give (mkstemp makes files owner-only)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
