"""`archcalc sweep`: params, MACs and activation memory over square input sizes."""
from __future__ import annotations

import json
import re

import click

from archcalc.cli import console
from archcalc.cli.options import batch_option, dtype_option, format_option, spec_argument

DEFAULT_SIDES = (32, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512)
MAX_SIDES = 1000  # each size is one integer analysis; this bounds a run to seconds


def parse_sides(text: str | None, own_side: int) -> list[int]:
    """'32,64,128' -> [32, 64, 128]; none given: DEFAULT_SIDES plus the spec's own side."""
    from archcalc.spec.loader import MAX_INPUT_SIDE

    if text is None:
        return sorted(set(DEFAULT_SIDES) | {own_side})
    parts = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    try:
        sides = [int(part) for part in parts]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of sizes, "
                                 "e.g. 32,64,224", param_hint="--sizes") from None
    if not sides:
        raise click.BadParameter("give at least one size, e.g. 32,64,224",
                                 param_hint="--sizes")
    if any(not 1 <= side <= MAX_INPUT_SIDE for side in sides):
        raise click.BadParameter(f"sizes must be from 1 to {MAX_INPUT_SIDE}",
                                 param_hint="--sizes")
    if len(sides) > MAX_SIDES:
        raise click.BadParameter(f"at most {MAX_SIDES} sizes", param_hint="--sizes")
    return sides


@click.command("sweep")
@spec_argument
@click.option("--sizes", "sizes_text", metavar="S,S,...",
              help="square input sides to analyse (the spec's channels); default "
                   f"{','.join(map(str, DEFAULT_SIDES))} and the spec's own size")
@batch_option
@dtype_option
@format_option("rich", "json")
def command(spec, sizes_text, batch, dtype, fmt):
    """Params, MACs and activation memory of NAME|PATH at each input C x S x S, a
    mark on each size the architecture rejects (with the layer where the size
    collapses) and the smallest square input it accepts.

    Params change with the size when a flatten feeds a fully connected layer.
    """
    from archcalc.analysis.limits import smallest_square_side
    from archcalc.analysis.sweep import square_input, sweep
    from archcalc.spec.loader import load_spec

    loaded = load_spec(spec)
    square_input(loaded, 1)  # a clear error for a spec with a flat input
    points = sweep(loaded, parse_sides(sizes_text, loaded.input[1]), batch=batch, dtype=dtype)
    smallest = smallest_square_side(loaded)
    if fmt == "json":
        from archcalc.render.sweep import sweep_dict

        console.print_text(json.dumps(sweep_dict(loaded, points, smallest, dtype, batch),
                                      indent=2))
    else:
        from archcalc.render.sweep import sweep_table

        console.out().print(sweep_table(loaded, points, smallest, dtype, batch))
