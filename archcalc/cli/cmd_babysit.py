"""`archcalc babysit`: the lecture's babysitting checks, without training."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import (
    format_option,
    input_option,
    parse_input,
    require_torch,
    spec_argument,
)
from archcalc.cli.training import babysit_options, make_config, weights_option


@click.command("babysit")
@spec_argument
@input_option
@weights_option("start from this state dict (spec or torchvision layout)")
@babysit_options
@format_option("rich", "json")
def command(spec, input_text, weights, fmt, **options):
    """Run the four checks of "Babysitting the learning process" on NAME|PATH with the
    training data: (1) the initial loss with regularisation off against ln(classes);
    (2) turning regularisation up raises the loss; (3) 20 examples are overfit to 100%
    training accuracy (no regularisation, plain SGD); (4) a learning-rate probe over
    1e-6..10 that marks rates too low (loss barely changing) or too high (NaN, inf or
    above 3x the original) and suggests a range.

    Exit status 0 when every check passes, 1 otherwise, 2 for bad input.
    """
    require_torch()
    from archcalc.train.display import Display, RichDisplay
    from archcalc.train.runner import babysit

    config = make_config(spec, parse_input(input_text), weights, options)
    display = RichDisplay(console.out()) if fmt == "rich" else Display()
    results, picked = babysit(config, display)
    passed = all(result.status == "pass" for result in results)
    if fmt == "json":
        console.print_text(json.dumps({"ok": passed, "suggested_lr": picked,
                                       "checks": [r.as_dict() for r in results]}, indent=2))
    elif picked is not None:
        console.out().print(f"suggested learning rate: {picked:g}", markup=False)
    if not passed:
        raise click.exceptions.Exit(1)
