"""`archcalc list`: the bundled zoo with each spec's totals."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import format_option


@click.command("list")
@format_option("rich", "json")
def command(fmt):
    """Every bundled spec with its title, input, params and MACs."""
    from archcalc.analysis.analyze import analyze
    from archcalc.render import units
    from archcalc.spec.catalog import bundled
    from archcalc.spec.loader import load_spec

    entries = []
    for name in bundled():
        spec = load_spec(name)
        totals = analyze(spec).totals
        entries.append({"name": name, "title": spec.title, "input": list(spec.input),
                        "params": totals["params"], "macs": totals["macs"],
                        "source": spec.source})
    if fmt == "json":
        from archcalc.render.export import versioned

        console.print_text(json.dumps(versioned("list", {"specs": entries}), indent=2))
        return
    from archcalc.render.rich_table import Table

    table = Table(title="archcalc zoo", header_style="bold")
    for header in ("name", "title", "input", "params", "MACs"):
        table.add_column(header, justify="right" if header in ("params", "MACs") else "left")
    for entry in entries:
        table.add_row(entry["name"], entry["title"], units.shape(entry["input"]),
                      units.grouped(entry["params"]), units.si(entry["macs"]))
    console.out().print(table)
