"""`archcalc build`: the spec as a PyTorch module; load, save and (with --train) train it."""
from __future__ import annotations

import click

from archcalc.cli import console
from archcalc.cli.options import input_option, parse_input, require_torch, spec_argument
from archcalc.cli.training import (
    BuildRequest,
    expand_path_option,
    given,
    run_training,
    train_options,
    weights_option,
)


@click.command("build")
@spec_argument
@input_option
@weights_option("load a state dict: archcalc's own, torchvision's or, for an imported spec, "
                "the original module's (mapped by structure)")
@click.option("--save", type=click.Path(dir_okay=False), default=None,
              callback=expand_path_option,
              help="write the model's state dict here (atomically; an existing file needs "
                   "--overwrite)")
@click.option("--overwrite", is_flag=True,
              help="let --save replace an existing file, and a new --train run replace the "
                   "files of an earlier run in --out")
@click.option("--layout", type=click.Choice(["archcalc", "torchvision", "original"]),
              default="archcalc", show_default=True,
              help="key names of the saved file; torchvision's loads into its model, "
                   "original (an imported spec) into the module it was imported from, "
                   "re-created from its origin:, with strict=True")
@train_options
def command(spec, input_text, weights, save, layout, overwrite, train, **options):
    """Build NAME|PATH as an nn.Module and print its summary (params, MACs,
    activation memory from the analysis); optionally load weights and save them.

    With --train, train it: analysed cost and time per epoch, the babysitting checks
    (see `archcalc babysit`), then epochs with progress bars, an explosion guard,
    checkpoints (last.pt, best.pt), metrics.jsonl, curves.png and summary.json in
    the run folder. --weights is then the starting point for fine-tuning and --save
    writes the trained weights. Exit status: 0 trained; 1 a check failed or the
    explosion guard stopped training; 2 bad input; 130 interrupted (checkpoint saved).
    """
    request = BuildRequest(spec, input_text, weights, save, layout, overwrite, options)
    require_torch()
    if train:
        return run_training(request)
    return _build(request)


def _build(request: BuildRequest) -> None:
    """Build (and load, and save) without training."""
    if given(request.options):
        names = ", ".join("--" + name.replace("_", "-") for name in given(request.options))
        raise click.UsageError(f"{names} only apply with --train")
    if request.save and not request.overwrite:
        from archcalc.files import refuse_existing

        refuse_existing(request.save, "--save")
    from archcalc.analysis.analyze import analyze
    from archcalc.render import units
    from archcalc.spec.loader import load_spec
    from archcalc.torchgraph.builder import build_module
    from archcalc.torchgraph.weights import load_weights, save_atomic, to_layout

    loaded = load_spec(request.spec)
    original = None
    if request.layout == "original":  # the original module re-created before any work
        from archcalc.cli.original import check_export, original_module, require_origin

        require_origin(loaded)
        original = original_module(loaded, request.spec) if request.save else None
    shape = parse_input(request.input_text)
    report = analyze(loaded, shape)
    model = build_module(loaded, shape)
    totals = report.totals
    console.out().print(
        f"built {loaded.name} for input {units.shape(report.input)}: "
        f"{units.grouped(totals['params'])} params, {units.grouped(totals['buffers'])} buffers, "
        f"{units.si(totals['macs'])} MACs, {units.size_bytes(totals['activation_bytes'])} "
        f"activations per image (fp32), {sum(1 for _ in model.modules())} modules",
        markup=False)
    if request.weights:
        load_weights(model, request.weights)
        if loaded.origin is not None:  # an imported spec: positions checked by values
            from archcalc.cli.original import check_loaded

            check_loaded(loaded, request.spec, request.weights, model, report.input)
        console.out().print(f"loaded {request.weights}", markup=False)
    if request.save:
        reference = original.state_dict() if original is not None else None
        exported = to_layout(model.state_dict(), loaded, request.layout, reference)
        if original is not None:
            check_export(loaded, original, model, exported, report.input)
        save_atomic(exported, request.save)
        console.out().print(f"saved {request.save} ({request.layout} layout)", markup=False)
