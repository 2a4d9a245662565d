"""`archcalc table`: the per-layer table of one spec."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import (dtype_option, format_option, is_symbolic_text, parse_batch,
                                  parse_input, spec_argument)


@click.command("table")
@spec_argument
@click.option("--input", "input_text", metavar="CxHxW",
              help="analyse at this size instead of the spec's; letters are symbols "
                   "(3xHxW gives formulas of H and W)")
@click.option("--batch", default="1", show_default=True, metavar="N",
              help="images per batch (a number or a symbol); scales MACs, FLOPs and memory")
@click.option("--assume", multiple=True, metavar="FACT",
              help="with symbols: H=W, H%32==0, H=224 (repeat or comma-separate)")
@dtype_option
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="fold nested blocks deeper than N path components into one row each")
@format_option("rich", "json", "csv", "markdown")
def command(spec, input_text, batch, assume, dtype, depth, fmt):
    """Per-layer output shape, activation elements and bytes, params, MACs and
    receptive field of NAME|PATH, with totals.

    Memory is forward activation memory per batch at --dtype (MB = 10^6 bytes).
    """
    from archcalc.analysis.limits import analyze_explained
    from archcalc.spec.loader import load_spec

    loaded = load_spec(spec)
    if is_symbolic_text(input_text) or is_symbolic_text(batch) or assume:
        return _symbolic(loaded, input_text, batch, assume, dtype, depth, fmt)
    batch = parse_batch(batch)
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


def _symbolic(loaded, input_text, batch, assume, dtype, depth, fmt):
    from archcalc.analysis.symbolic import analyze_symbolic, parse_dimension, parse_shape
    from archcalc.render.symbolic import symbolic_dict, symbolic_rich

    shape = parse_shape(input_text) if input_text else loaded.input
    result = analyze_symbolic(loaded, shape, batch=parse_dimension(batch), dtype=dtype,
                              assume=assume)
    if depth:
        result.report = result.report.folded(depth)
    if fmt == "json":
        console.print_text(json.dumps(symbolic_dict(result, loaded), indent=2))
    elif fmt in ("csv", "markdown"):
        raise click.UsageError("symbolic input supports --format rich or json")
    else:
        console.out().print(symbolic_rich(result, f"{loaded.name} at "
                                                  f"{' x '.join(map(str, shape))}"))
