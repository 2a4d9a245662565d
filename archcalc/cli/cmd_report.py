"""`archcalc report`: one HTML page that works offline (graph, table, derivations, charts)."""
from __future__ import annotations

from pathlib import Path

import click

from archcalc.cli import console
from archcalc.cli.options import (
    complete_spec,
    dtype_option,
    expand_path,
    parse_batch,
    parse_input,
)

COST_CHOICES = ("macs", "params", "memory", "saved")


@click.command("report")
@click.argument("specs", metavar="NAME|PATH...", nargs=-1, required=True,
                shell_complete=complete_spec)
@click.option("--out", "out_file", required=True, metavar="FILE.html",
              type=click.Path(dir_okay=False), help="the page to write (.html or .htm)")
@click.option("--input", "input_text", metavar="CxHxW",
              help="analyse at this size; letters (3xHxW) keep the spec's own size for the "
                   "numbers and add each node's formulas in H and W")
@click.option("--assume", multiple=True, metavar="FACT",
              help="with letters in --input: H=W, H%32==0 (repeat or comma-separate)")
@click.option("--batch", default="1", show_default=True, metavar="N",
              help="images per batch (scales MACs and memory, as in `table`)")
@dtype_option
@click.option("--cost", type=click.Choice(COST_CHOICES), default="macs", show_default=True,
              help="what colours the graph's nodes at first (the page can switch): MACs, "
                   "params, activation memory or bytes saved for backward")
@click.option("--overwrite", is_flag=True, help="replace FILE.html if it exists")
def command(specs, out_file, input_text, assume, batch, dtype, cost, overwrite):
    """One self-contained HTML page of NAME|PATH: the network as a graph (branches side
    by side, merges as joins, repeated blocks collapsible, nodes coloured by a cost),
    the per-layer table of `archcalc table` (sortable, filterable), each node's
    derivation as `archcalc explain` writes it, and the per-layer and cumulative
    memory charts. Two or more specs add the side-by-side comparison of `archcalc
    compare`. Nothing is fetched when the page opens.
    """
    from archcalc.files import refuse_existing, write_text_atomic
    from archcalc.render.html_report import ReportOptions, report_html
    from archcalc.spec.loader import load_spec

    target = Path(expand_path(out_file))
    if target.suffix.lower() not in (".html", ".htm"):
        raise click.BadParameter(f"{out_file!r} does not end in .html or .htm",
                                 param_hint="--out")
    if not overwrite:
        refuse_existing(target, "--out")
    shape, symbolic = _shapes(input_text, assume)
    loaded = [load_spec(name) for name in specs]
    page = report_html(loaded, ReportOptions(shape, symbolic, parse_batch(batch), dtype,
                                             tuple(assume), cost))
    write_text_atomic(target, page)
    console.out().print(f"wrote {out_file}: {len(loaded)} model(s), "
                        f"{len(page.encode('utf-8')) / 1e3:,.0f} KB", markup=False)


def _shapes(input_text, assume):
    """(numeric shape or None, symbolic shape or None) from --input."""
    from archcalc.analysis.shape_text import names_symbol, parse_symbolic_shape

    if input_text is not None and names_symbol(input_text):
        return None, parse_symbolic_shape(input_text)
    if assume:
        raise click.UsageError("--assume needs letters in --input (3xHxW)")
    return parse_input(input_text), None
