"""`archcalc kinds`: the layer kinds of the registry and their parameters."""
from __future__ import annotations

import click

from archcalc.cli import console


@click.command("kinds")
def command():
    """Every layer kind with its parameters and defaults."""
    from rich.table import Table

    from archcalc.layers.registry import REQUIRED, all_kinds

    table = Table(title="layer kinds", header_style="bold", show_lines=True)
    table.add_column("kind")
    table.add_column("what it is")
    table.add_column("parameters (default)")
    for name, kind in all_kinds().items():
        params = ", ".join(
            p.name if p.default is REQUIRED else f"{p.name}={p.default}" for p in kind.params)
        table.add_row(name, kind.summary, params or "-")
    console.out().print(table)
