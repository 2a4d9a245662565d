"""`archcalc table`: the per-layer table of one spec."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import (batch_option, dtype_option, format_option, input_option,
                                  parse_input, spec_argument)


@click.command("table")
@spec_argument
@input_option
@batch_option
@dtype_option
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="fold nested blocks deeper than N path components into one row each")
@format_option("rich", "json", "csv", "markdown")
def command(spec, input_text, batch, dtype, depth, fmt):
    """Per-layer output shape, activation elements and bytes, params, MACs and
    receptive field of NAME|PATH, with totals.

    Memory is forward activation memory per batch at --dtype (MB = 10^6 bytes).
    """
    from archcalc.analysis.limits import analyze_explained
    from archcalc.spec.loader import load_spec

    loaded = load_spec(spec)
    report = analyze_explained(loaded, parse_input(input_text), batch=batch,
                               dtype=dtype).folded(depth)
    if fmt == "json":
        from archcalc.render.export import report_dict

        console.print_text(json.dumps(report_dict(report, loaded), indent=2))
    elif fmt == "csv":
        from archcalc.render.export import report_csv

        console.print_text(report_csv(report))
    elif fmt == "markdown":
        from archcalc.render.tables import markdown_table

        console.print_text(markdown_table(report))
    else:
        from archcalc.render.tables import rich_table

        title = f"{loaded.name}: {loaded.title}" if loaded.title else loaded.name
        console.out().print(rich_table(report, title))
        if loaded.source:
            console.out().print(f"source: {loaded.source}", markup=False)
