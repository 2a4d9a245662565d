"""`archcalc plot`: per-layer bar charts of activation memory, params and MACs."""
from __future__ import annotations

import re

import click

from archcalc.cli import console
from archcalc.cli.options import dtype_option, input_option, parse_input, spec_argument


def parse_size(text: str | None):
    """'1600x900' -> (1600, 900) pixels; None stays None (a size from the row count)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[x,×]\s*(\d+)\s*", text)
    if not match or not all(100 <= int(v) <= 20000 for v in match.groups()):
        raise click.BadParameter(f"{text!r} is not WIDTHxHEIGHT in pixels from 100 to 20000, "
                                 "e.g. 1600x900", param_hint="--size")
    return int(match.group(1)), int(match.group(2))


@click.command("plot")
@spec_argument
@click.option("--out", "out_file", required=True, metavar="FILE.png",
              help="the image to write (.png; .svg and .pdf also work)")
@input_option
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="fold nested blocks deeper than N path components into one bar each")
@click.option("--size", "size_text", metavar="WxH",
              help="image size in pixels (default: wide enough for one labelled bar per row)")
@dtype_option
@click.option("--overwrite", is_flag=True, help="replace an existing FILE.png")
def command(spec, out_file, input_text, depth, size_text, dtype, overwrite):
    """Bar charts of NAME|PATH, one bar per row of `archcalc table` and three panels:
    activation memory, params and MACs. For VGG16 it shows the lecture's point at
    a glance: most memory in the early convolutions, most parameters in the late
    fully connected layers.
    """
    from archcalc.analysis.limits import analyze_explained
    from archcalc.render.plots import layer_figure, save
    from archcalc.spec.loader import load_spec

    size = parse_size(size_text)
    loaded = load_spec(spec)
    report = analyze_explained(loaded, parse_input(input_text), dtype=dtype).folded(depth)
    figure = layer_figure(report, width_px=size and size[0], height_px=size and size[1])
    width, height = save(figure, out_file, "--out", overwrite)
    console.out().print(f"wrote {out_file}: {len(report.rows)} bars per panel, "
                        f"{width}x{height} pixels", markup=False)
