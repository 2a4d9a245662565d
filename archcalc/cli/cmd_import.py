"""`archcalc import`: a PyTorch module (torchvision, module:attr, file.py:attr) -> a spec."""
from __future__ import annotations

import click

from archcalc.cli import console
from archcalc.cli.options import parse_input, require_torch
from archcalc.cli.training import expand_path_option


@click.command("import")
@click.argument("source")
@click.option("--input", "input_text", metavar="CxHxW",
              help="trace at this input size (the spec's input:); default: the size a "
                   "torchvision model's weights were made for, else 3x224x224")
@click.option("--kwargs", "kwargs_json", default=None, metavar="JSON",
              help="keyword arguments for a module:attr or file.py:attr factory, as a JSON "
                   "object")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              callback=expand_path_option,
              help="write the spec here (atomically; an existing file needs --overwrite); "
                   "default: print it")
@click.option("--overwrite", is_flag=True, help="let --out replace an existing file")
@click.option("--allow-opaque", is_flag=True,
              help="keep a call or module archcalc cannot express as an `opaque` node: "
                   "shapes, params and buffers measured, MACs and FLOPs unknown (never 0); "
                   "each is named in a note")
def command(source, input_text, kwargs_json, out, overwrite, allow_opaque):
    """Import SOURCE as an archcalc spec: torchvision:NAME[?key=value&...] (a
    torchvision.models classification model, built on the meta device: no weights),
    package.module:attr or path/to/file.py:attr (a factory or class, called with
    --kwargs). The module is traced with torch.fx, mapped onto archcalc's layer kinds,
    repeated blocks become templates, and expect: facts (output, params, buffers) are
    measured on the module. Anything archcalc cannot express is refused naming the
    module path, the op and the source line (exit 2); nothing is written then, unless
    --allow-opaque keeps it as an opaque node (a forward that takes or returns more than
    one tensor stays refused).
    """
    require_torch()
    from archcalc.files import refuse_existing, write_text_atomic
    from archcalc.importer import import_source
    from archcalc.render import units

    if out and not overwrite:
        refuse_existing(out, "--out")  # before any work: nothing the user had is lost
    shape = parse_input(input_text) if input_text else None
    imported = import_source(source, shape, kwargs_json, allow_opaque)
    totals = imported.report.totals
    macs = units.si(totals["macs"])
    summary = (f"imported {source}: {units.grouped(totals['params'])} params, "
               f"{units.grouped(totals['buffers'])} buffers, "
               f"{'at least ' + macs if imported.opaque else macs} MACs")
    for node, module_path, what in imported.opaque:
        console.note(f"note: opaque node {node} (module {module_path}): {what}; its MACs and "
                     "FLOPs are unknown, totals are lower bounds")
    if out:
        write_text_atomic(out, imported.text)
        console.out().print(f"{summary}; wrote {out}", markup=False)
    else:
        console.out().print(imported.text, markup=False, end="", soft_wrap=True)
