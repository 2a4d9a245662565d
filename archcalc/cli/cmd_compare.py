"""`archcalc compare`: totals of several specs side by side, with ratios in words."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import (
    complete_spec,
    dtype_option,
    format_option,
    input_option,
    parse_input,
)


@click.command("compare")
@click.argument("specs", metavar="NAME|PATH NAME|PATH...", nargs=-1, required=True,
                shell_complete=complete_spec)
@input_option
@dtype_option
@format_option("rich", "json")
@click.option("--plot", "plot_file", metavar="FILE.png", default=None,
              help="also write a bar chart of the compared totals (needs matplotlib)")
@click.option("--overwrite", is_flag=True, help="replace an existing --plot file")
def command(specs, input_text, dtype, fmt, plot_file, overwrite):
    """Params, MACs, FLOPs, activation memory and depth (weight layers on the longest
    path) of each model, per image, with ratios to the first model in words:
    "googlenet: 8.91x fewer parameters, 1.39x more MACs ... than alexnet".

    --input analyses every model at that size instead of each spec's own.
    """
    from archcalc.analysis.side_by_side import model_totals
    from archcalc.spec.loader import load_spec

    if len(specs) < 2:
        raise click.UsageError("give at least two models to compare")
    shape = parse_input(input_text)
    models = [model_totals(load_spec(name), shape, dtype=dtype) for name in specs]
    if fmt == "json":
        from archcalc.render.export import versioned
        from archcalc.render.side_by_side import comparison_dict

        console.print_text(json.dumps(versioned("compare", comparison_dict(models, dtype)),
                                      indent=2))
    else:
        from archcalc.render.side_by_side import comparison_table, sentences

        console.out().print(comparison_table(models, dtype))
        for sentence in sentences(models):
            console.out().print(sentence, markup=False)
    if plot_file:
        from archcalc.render.plots import comparison_figure, save

        width, height = save(comparison_figure(models), plot_file, "--plot", overwrite)
        console.err().print(f"wrote {plot_file} ({width}x{height} pixels)", markup=False)
