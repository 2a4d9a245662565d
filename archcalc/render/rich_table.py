"""rich's Table for every table archcalc prints: a cell too wide for the terminal folds onto
the next line instead of ending in an ellipsis, so a narrow terminal can never show a
number cut short (``9,055,657…``) where the table meant 9,055,657,432."""
from __future__ import annotations

from rich.table import Table as RichTable


class Table(RichTable):
    def add_column(self, *args, overflow="fold", **kwargs) -> None:
        super().add_column(*args, overflow=overflow, **kwargs)
