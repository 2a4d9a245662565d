"""`archcalc table`: the per-layer table of one spec."""
from __future__ import annotations

import json
from dataclasses import dataclass

import click

from archcalc.analysis.conventions import NAMES as CONVENTION_NAMES
from archcalc.cli import console
from archcalc.cli.options import (
    dtype_option,
    format_option,
    parse_batch,
    parse_input,
    spec_argument,
)


@dataclass(frozen=True)
class TableOptions:
    """The command's options as given (sizes and batch still text: they may be symbols)."""

    input_text: str | None
    batch: str
    assume: tuple
    dtype: str
    depth: int | None
    fmt: str
    paper: bool
    convention: str = "archcalc"
    training_pass: str = "forward"
    freeze_until: str | None = None


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
@click.option("--paper", is_flag=True,
              help="the figures the spec's paper or lecture prints (`paper:`) next to the "
                   "computed values, flagging those outside the printed precision")
@click.option("--convention", type=click.Choice(CONVENTION_NAMES), default="archcalc",
              show_default=True,
              help="count as that tool prints it for the built module (which layers, MACs or "
                   "FLOPs, bias, norms, activations), beside archcalc's MACs")
@click.option("--pass", "training_pass", type=click.Choice(("forward", "backward", "step")),
              default="forward", show_default=True,
              help="forward: the forward pass; backward: each row's input-gradient, "
                   "weight-gradient and elementwise FLOPs; step: forward + backward FLOPs")
@click.option("--freeze-until", metavar="NODE", default=None,
              help="with --pass backward|step: NODE and every row before it keep their "
                   "weights fixed (fine-tuning what follows)")
def command(spec, input_text, batch, assume, dtype, depth, fmt, paper, convention,
            training_pass, freeze_until):
    """Per-layer output shape, activation elements and bytes, params, MACs and
    receptive field of NAME|PATH, with totals.

    Memory is forward activation memory per batch at --dtype (MB = 10^6 bytes).
    """
    from archcalc.analysis.shape_text import names_symbol
    from archcalc.spec.loader import load_spec

    options = TableOptions(input_text, batch, assume, dtype, depth, fmt, paper, convention,
                           training_pass, freeze_until)
    loaded = load_spec(spec)
    if training_pass != "forward" or freeze_until is not None:
        return _training(loaded, options)
    if convention != "archcalc":
        return _convention(loaded, options)
    if paper:
        return _paper(loaded, options)
    if names_symbol(input_text) or names_symbol(batch) or assume:
        return _symbolic(loaded, options)
    return _numeric(loaded, options)


def _title(loaded) -> str:
    return f"{loaded.name}: {loaded.title}" if loaded.title else loaded.name


def _numeric(loaded, options: TableOptions) -> None:
    from archcalc.analysis.limits import analyze_explained

    batch = parse_batch(options.batch)
    report = analyze_explained(loaded, parse_input(options.input_text), batch=batch,
                               dtype=options.dtype).folded(options.depth)
    if options.fmt == "json":
        from archcalc.render.export import report_dict

        console.print_text(json.dumps(report_dict(report, loaded), indent=2))
    elif options.fmt == "csv":
        from archcalc.render.export import report_csv

        console.print_text(report_csv(report))
    elif options.fmt == "markdown":
        from archcalc.render.tables import markdown_table

        console.print_text(markdown_table(report))
    else:
        from archcalc.render.tables import rich_table

        console.out().print(rich_table(report, _title(loaded)))
        if loaded.source:
            console.out().print(f"source: {loaded.source}", markup=False)


def _training(loaded, options: TableOptions) -> None:
    """--pass backward|step: the training step's FLOPs per row (analysis/backward.py)."""
    from archcalc.analysis.backward import folded_records, step_flops
    from archcalc.analysis.limits import analyze_explained
    from archcalc.analysis.shape_text import names_symbol
    from archcalc.render import export, tables

    if options.training_pass == "forward" or options.paper or options.assume or \
            options.convention != "archcalc" or names_symbol(options.input_text) or \
            names_symbol(options.batch):
        raise click.UsageError("--pass backward|step (and --freeze-until, which needs one) "
                               "counts numbers: give a numeric --input and --batch, without "
                               "--paper, --assume or --convention")
    report = analyze_explained(loaded, parse_input(options.input_text),
                               batch=parse_batch(options.batch), dtype=options.dtype)
    records = folded_records(step_flops(report, options.freeze_until), options.depth)
    report = report.folded(options.depth)
    if options.fmt == "json":
        console.print_text(json.dumps(export.step_report_dict(report, records, loaded),
                                      indent=2))
    elif options.fmt == "csv":
        console.print_text(export.step_report_csv(report, records))
    elif options.fmt == "markdown":
        console.print_text(tables.step_markdown_table(report, records, options.training_pass,
                                                      options.freeze_until))
    else:
        console.out().print(tables.step_rich_table(
            report, records, options.training_pass,
            f"{_title(loaded)}, {options.training_pass} pass", options.freeze_until))


def _convention(loaded, options: TableOptions) -> None:
    """--convention TOOL: each node as TOOL counts it (analysis/conventions/)."""
    from archcalc.analysis.conventions import apply
    from archcalc.analysis.limits import analyze_explained
    from archcalc.analysis.shape_text import names_symbol
    from archcalc.render import conventions as render

    if options.paper or options.assume or names_symbol(options.input_text) \
            or names_symbol(options.batch):
        raise click.UsageError("--convention counts numbers: give a numeric --input and "
                               "--batch, without --paper or --assume")
    report = analyze_explained(loaded, parse_input(options.input_text),
                               batch=parse_batch(options.batch), dtype=options.dtype)
    result = apply(report, options.convention).folded(options.depth)
    if options.fmt == "json":
        console.print_text(json.dumps(render.convention_dict(result, loaded), indent=2))
    elif options.fmt == "csv":
        console.print_text(render.convention_csv(result))
    elif options.fmt == "markdown":
        console.print_text(render.convention_markdown(result))
    else:
        console.out().print(render.convention_rich(
            result, f"{_title(loaded)}, counted as {options.convention}"))


def _symbolic(loaded, options: TableOptions) -> None:
    from archcalc.analysis.shape_text import parse_dimension, parse_symbolic_shape
    from archcalc.analysis.symbolic import analyze_symbolic
    from archcalc.render.symbolic import symbolic_dict, symbolic_rich

    shape = parse_symbolic_shape(options.input_text) if options.input_text else loaded.input
    result = analyze_symbolic(loaded, shape, batch=parse_dimension(options.batch),
                              dtype=options.dtype, assume=options.assume)
    if options.depth:
        result.report = result.report.folded(options.depth)
    if options.fmt == "json":
        console.print_text(json.dumps(symbolic_dict(result, loaded), indent=2))
    elif options.fmt in ("csv", "markdown"):
        raise click.UsageError("symbolic input supports --format rich or json")
    else:
        console.out().print(symbolic_rich(result, f"{loaded.name} at "
                                                  f"{' x '.join(map(str, shape))}"))


def _paper_refused(loaded, options: TableOptions) -> bool:
    return bool(options.depth or options.assume or str(options.batch) != "1"
                or options.fmt not in ("rich", "json")
                or (options.input_text is not None
                    and parse_input(options.input_text) != loaded.input))


def _paper(loaded, options: TableOptions) -> None:
    """--paper: published figures beside computed ones (format: archcalc/spec/published.py)."""
    from archcalc.analysis.analyze import analyze
    from archcalc.analysis.published_check import compare_with_paper

    if _paper_refused(loaded, options):
        raise click.UsageError("--paper compares per image at the spec's own input: use it "
                               "with --format rich or json, without --input, --batch, "
                               "--assume or --depth")
    report = analyze(loaded, dtype=options.dtype)
    comparison = compare_with_paper(loaded, report)
    if not comparison.checks:
        from archcalc.errors import ArchcalcError

        raise ArchcalcError(f"{loaded.name} carries no published figures (`paper:`)",
                            hint="add e.g. `paper: {params: 138M}` at the top level or on a "
                                 "layer; the format is in archcalc/spec/published.py")
    if options.fmt == "json":
        from archcalc.render.export import report_dict
        from archcalc.render.published_check import add_paper

        data = add_paper(report_dict(comparison.report, loaded), comparison)
        console.print_text(json.dumps(data, indent=2))
    else:
        from archcalc.render.published_check import paper_table

        console.out().print(paper_table(comparison, report,
                                        f"{_title(loaded)}, against the paper"))
