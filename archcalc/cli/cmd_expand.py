"""`archcalc expand`: the spec with templates, repeats and defaults written out."""
from __future__ import annotations

import click

from archcalc.cli import console
from archcalc.cli.options import spec_argument


@click.command("expand")
@spec_argument
def command(spec):
    """Print NAME|PATH as an explicit spec: every node named, every parameter
    written, templates (the spec's own and those of the libraries in its `use:`)
    and repeats unrolled into `group` items. It needs no library and loads back
    to the same graph, so it shows exactly what a compact spec means."""
    from archcalc.spec.loader import load_spec
    from archcalc.spec.writer import to_yaml

    console.print_text(to_yaml(load_spec(spec)))
