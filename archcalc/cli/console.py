"""The one owner of terminal output: every command prints through these."""
from __future__ import annotations

import os
import sys
from functools import lru_cache


def _width(stream) -> int | None:
    # Rich falls back to 80 columns when output is piped; tables of exact
    # integers need more, so pipes and files get 160 unless COLUMNS says otherwise.
    if stream.isatty() or os.environ.get("COLUMNS"):
        return None
    return 160


@lru_cache(maxsize=1)
def out():
    from rich.console import Console

    return Console(highlight=False, width=_width(sys.stdout))


@lru_cache(maxsize=1)
def err():
    from rich.console import Console

    return Console(stderr=True, highlight=False, width=_width(sys.stderr))


def print_text(text: str) -> None:
    """Plain text (JSON, CSV, Markdown) straight to stdout, no markup."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def error(message: str) -> None:
    err().print(message, markup=False, style="red", soft_wrap=True)
