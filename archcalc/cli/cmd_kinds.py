"""`archcalc kinds`: the layer kinds of the registry and their parameters."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import format_option


@click.command("kinds")
@format_option("rich", "json")
def command(fmt):
    """Every layer kind with its parameters and defaults."""
    from archcalc.layers.registry import REQUIRED, all_kinds

    if fmt == "json":
        from archcalc.render.export import versioned

        kinds = [_kind_dict(name, kind, REQUIRED) for name, kind in all_kinds().items()]
        console.print_text(json.dumps(versioned("kinds", {"kinds": kinds}), indent=2))
        return
    from archcalc.render.rich_table import Table

    table = Table(title="layer kinds", header_style="bold", show_lines=True)
    table.add_column("kind")
    table.add_column("what it is")
    table.add_column("parameters (default)")
    for name, kind in all_kinds().items():
        params = ", ".join(
            p.name if p.default is REQUIRED else f"{p.name}={p.default}" for p in kind.params)
        table.add_row(name, kind.summary, params or "-")
    console.out().print(table)


def _kind_dict(name: str, kind, required) -> dict:
    return {"name": name, "summary": kind.summary,
            "params": [{"name": p.name, "type": p.type, "required": p.default is required,
                        "default": None if p.default is required else _plain(p.default),
                        "choices": [str(choice) for choice in p.choices], "help": p.help}
                       for p in kind.params]}


def _plain(value):
    """A default as JSON has it: tuples as lists, anything else unknown to JSON as text."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
