"""`archcalc explain`: each layer's arithmetic, the way the lecture writes it."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import format_option, input_option, parse_input, spec_argument


@click.command("explain")
@spec_argument
@click.option("--layer", "pattern", metavar="PATTERN",
              help="only layers whose path matches (a glob such as 'layer2.*' or a regex)")
@input_option
@format_option("rich", "json", "markdown")
def command(spec, pattern, input_text, fmt):
    """The derivation of every layer's output size, parameters, activation elements
    and MACs, with the numbers put in: (227 - 11)/4 + 1 = 55, 11*11*3*96 + 96 = 34,944.

    floor(...) or ceil(...) marks a division that does not come out exact.
    """
    from archcalc.analysis.explain import explain
    from archcalc.analysis.limits import analyze_explained
    from archcalc.spec.loader import load_spec

    loaded = load_spec(spec)
    shape = parse_input(input_text)
    analyze_explained(loaded, shape, check_expect=False)  # a clear error for a bad size
    rows = explain(loaded, shape, pattern)
    if pattern and not rows:
        raise click.BadParameter(f"no layer of {loaded.name} matches {pattern!r}",
                                 param_hint="--layer")
    if fmt == "json":
        console.print_text(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    lines = []
    for row in rows:
        heading = f"{row.path} ({row.kind})"
        lines.append(heading if fmt == "rich" else f"### {heading}")
        for axis, text in row.output.items():
            lines.append(f"  {axis:<11} {text}")
        params = row.params + (f"   [{' + '.join(row.params_terms)}]" if row.params_terms else "")
        lines.append(f"  {'params':<11} {params}")
        lines.append(f"  {'activations':<11} {row.activations}")
        lines.append(f"  {'MACs':<11} {row.macs}")
        lines.append("")
    console.print_text("\n".join(lines))
