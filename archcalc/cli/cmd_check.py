"""`archcalc check`: validate specs and verify their expect: facts."""
from __future__ import annotations

import click

from archcalc.cli import console
from archcalc.errors import ArchcalcError


@click.command("check")
@click.argument("specs", metavar="PATH...", nargs=-1, required=True)
def command(specs):
    """Load each spec, analyse it at its own input and verify every `expect:`
    fact (node output shapes; file-level output, params, MACs...).

    Exit status 0 when all pass, 2 when any spec is invalid.
    """
    from archcalc.analysis.analyze import analyze
    from archcalc.render import units
    from archcalc.spec.loader import load_spec

    failed = 0
    for name in specs:
        try:
            spec = load_spec(name)
            report = analyze(spec, check_expect=True)
        except ArchcalcError as exc:
            failed += 1
            console.error(str(exc))
            continue
        facts = len(spec.expect) + _count_node_expects(spec.root)
        console.out().print(
            f"ok  {name}: {facts} expect fact(s) hold; {units.grouped(report.totals['params'])} "
            f"params, {units.grouped(report.totals['macs'])} MACs", markup=False,
            soft_wrap=True)  # one line per spec, whatever the path's length
    if failed:
        raise click.exceptions.Exit(2)


def _count_node_expects(node) -> int:
    from archcalc.spec.model import children_of

    own = 1 if node.expect is not None else 0
    return own + sum(_count_node_expects(child) for child in children_of(node))
