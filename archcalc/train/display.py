"""What a run tells the person watching it. ``Display`` says nothing (the Python API's
default); ``RichDisplay`` prints to a rich Console the CLI hands it, with a progress
bar per epoch showing loss, accuracy, images/s and the time left."""
from __future__ import annotations

from archcalc.render import units


class Display:
    def message(self, text: str) -> None:
        pass

    def checks(self, results) -> None:
        pass

    def epoch_start(self, epoch: int, epochs: int, batches: int, done: int) -> None:
        pass

    def step(self, loss: float, accuracy: float, images_per_s: float) -> None:
        pass

    def epoch_end(self, record: dict) -> None:
        pass

    def close(self) -> None:
        pass


STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def checks_table(results):
    from rich.text import Text

    from archcalc.render.rich_table import Table

    table = Table(title="babysitting checks", title_justify="left")
    for column in ("check", "observed", "expected", "status"):
        table.add_column(column, overflow="fold")
    for result in results:
        style = STATUS_STYLE[result.status]
        table.add_row(result.title, result.observed + (f"\n{result.detail}" if result.detail
                                                       else ""),
                      result.expected, Text(result.status, style=style))
    return table


class RichDisplay(Display):
    def __init__(self, console):
        self.console = console
        self.progress = None
        self.task = None

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, soft_wrap=True)

    def checks(self, results) -> None:
        self.console.print(checks_table(results))

    def epoch_start(self, epoch, epochs, batches, done):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.close()
        if not self.console.is_terminal:
            return  # bars only where they redraw in place; logs get the epoch lines
        self.progress = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=self.console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("train", total=batches, completed=done, stats="")

    def step(self, loss, accuracy, images_per_s):
        if self.progress is not None:
            self.progress.update(self.task, advance=1,
                                 stats=f"loss {loss:.4f} acc {accuracy:.1%} "
                                       f"{units.throughput(images_per_s)} img/s")

    def epoch_end(self, record):
        self.close()
        self.console.print(
            f"epoch {record['epoch']}{' (partial)' if record.get('partial') else ''}: "
            f"train loss {record['train_loss']:.4f} acc {record['train_acc']:.1%}, "
            f"val loss {record['val_loss']:.4f} acc {record['val_acc']:.1%}, "
            f"lr {record['lr']:.3g}, {units.throughput(record['images_per_s'])} img/s, "
            f"{record['seconds']:.1f} s", markup=False, soft_wrap=True)

    def close(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
