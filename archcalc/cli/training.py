"""Options shared by `build --train` and `babysit`, and the glue to the runner.

Every option defaults to None (or off), so only what the user typed reaches the
TrainConfig: its defaults live in one place (archcalc/train/config.py), and a
resumed run can tell a changed option from an untouched one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import click

from archcalc.cli import console
from archcalc.cli.options import expand_path, parse_input

PATH_SOURCES = ("cifar10", "folder")  # --data kinds whose argument is a path


class FiniteFloat(click.FloatRange):
    """A float range that refuses NaN and infinities: NaN passes every comparison of
    click.FloatRange, and either one trains to NaN weights."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


def expand_path_option(ctx, param, value):
    """click callback: ``~`` and ``$VARS`` expanded in a path option."""
    return expand_path(value)


def expand_data_source(source):
    """``cifar10:~/cifar`` -> ``cifar10:/home/me/cifar``: the path part of a --data
    source expanded like any path option; other sources unchanged."""
    if source is None:
        return None
    kind, colon, argument = str(source).partition(":")
    if kind in PATH_SOURCES and colon:
        return f"{kind}:{expand_path(argument)}"
    return source


def _options(*decorators):
    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


_MODEL_AND_DATA = (
    click.option("--data", default=None, metavar="SOURCE",
                 callback=lambda ctx, param, value: expand_data_source(value),
                 help="digits (default, bundled with scikit-learn), cifar10:DIR, folder:DIR "
                      "or synthetic"),
    click.option("--batch-size", type=click.IntRange(min=1), default=None,
                 help="images per step [128, fewer for a costly model on CPU]"),
    click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=None,
                 help="learning rate [picked by the learning-rate probe; 0.01 with "
                      "--no-checks]"),
    click.option("--momentum", type=FiniteFloat(0, 1, max_open=True), default=None,
                 help="SGD momentum [0.9]"),
    click.option("--weight-decay", type=FiniteFloat(min=0), default=None,
                 help="L2 weight decay [5e-4]"),
    click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default=None,
                 help="update rule [sgd]"),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
                 help="where to train [auto: cuda if available]"),
    click.option("--amp/--no-amp", default=None, help="bf16 autocast [on for cuda]"),
    click.option("--channels-last/--no-channels-last", default=None,
                 help="NHWC memory layout [on for cuda]"),
    click.option("--seed", type=int, default=None, help="random seed [0]"),
    click.option("--deterministic", is_flag=True, default=None,
                 help="deterministic algorithms only (bit-for-bit repeatable runs)"),
    click.option("--num-classes", type=click.IntRange(min=1), default=None,
                 help="classifier outputs [the data's classes]; replaces the head"),
    click.option("--finetune", type=click.Choice(["head", "all"]), default=None,
                 help="with --weights: train only the new head [head], or all with the "
                      "backbone at lr/10"),
    click.option("--mean", type=click.Choice(["channel", "image"]), default=None,
                 help="subtract the per-channel mean (VGG) or the mean image (AlexNet) "
                      "[channel]"),
    click.option("--check-seconds", type=FiniteFloat(min=0), default=None,
                 help="time budget of the overfit check and the rate probe [60]"),
)

train_options = _options(
    click.option("--train", "train", is_flag=True,
                 help="train the model (with babysitting checks first); see options below"),
    *_MODEL_AND_DATA,
    click.option("--epochs", type=click.IntRange(min=1), default=None, help="epochs [30]"),
    click.option("--max-steps", type=click.IntRange(min=1), default=None,
                 help="stop after this many optimizer steps"),
    click.option("--schedule", type=click.Choice(["plateau", "step", "cosine"]), default=None,
                 help="lr/10 when validation accuracy plateaus [plateau], every third of "
                      "the run, or cosine"),
    click.option("--compile", "compile", is_flag=True, default=None, help="torch.compile"),
    click.option("--augment/--no-augment", default=None,
                 help="random crop (and flip where it fits) [on]"),
    click.option("--workers", type=click.IntRange(min=0), default=None,
                 help="data-loading processes for folder data [0]"),
    click.option("--out", type=click.Path(file_okay=False), default=None,
                 callback=expand_path_option,
                 help="run folder [runs/NAME-TIMESTAMP]; a new run refuses a folder that "
                      "holds files (see --overwrite)"),
    click.option("--resume", type=click.Path(file_okay=False), default=None,
                 callback=expand_path_option,
                 help="continue the run in this folder from its last.pt"),
    click.option("--no-checks", "no_checks", is_flag=True, default=None,
                 help="skip the babysitting checks"),
)

babysit_options = _options(*_MODEL_AND_DATA)


def given(options: dict) -> dict:
    """The options the user typed (None and unset flags dropped)."""
    return {name: value for name, value in options.items() if value is not None}


def make_config(spec: str, input_shape, weights, options: dict):
    from archcalc.train.config import TrainConfig

    values = given(options)
    if values.pop("no_checks", None):
        values["checks"] = False
    if input_shape is not None:
        if len(input_shape) != 3:
            raise click.BadParameter("training needs CxHxW", param_hint="--input")
        values["input"] = input_shape
    if weights:
        values["weights"] = weights
    return TrainConfig(spec=spec, **values)


def weights_option(help_text: str):
    return click.option("--weights", type=click.Path(dir_okay=False), default=None,
                        callback=expand_path_option, help=help_text)


@dataclass(frozen=True)
class BuildRequest:
    """What `archcalc build` was asked, grouped from click's one parameter per option."""

    spec: str
    input_text: str | None           # --input as typed (parsed where it is used)
    weights: str | None
    save: str | None                 # where the (trained) weights go
    layout: str                      # archcalc | torchvision | original key names for --save
    overwrite: bool
    options: dict                    # the training options (None where not typed)


def run_training(request: BuildRequest) -> None:
    from archcalc.errors import ArchcalcError
    from archcalc.train.display import RichDisplay
    from archcalc.train.runner import resume_config, train

    options = dict(request.options)
    folder = options.pop("resume", None)
    input_shape = parse_input(request.input_text)
    if folder:
        changes = given(options)
        if input_shape is not None or request.weights:
            raise ArchcalcError("--input and --weights come from the run being resumed")
        if request.overwrite:
            raise click.UsageError("--resume continues a run and --overwrite starts a new "
                                   "one: give one of them")
        config = resume_config(folder, spec=request.spec, **changes)
    else:
        config = make_config(request.spec, input_shape, request.weights,
                             {**options, "overwrite": request.overwrite})
    if request.save and not request.overwrite:  # refused now, not after the training
        from archcalc.files import refuse_existing

        refuse_existing(request.save, "--save")
    reference = _original_reference(config.spec, request)  # also refused now, not after
    result = train(config, display=RichDisplay(console.out()))
    if request.save and result.status != "check_failed":
        _save_trained(result.out_dir, config.spec, request.save, request.layout, reference)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


def _original_reference(spec, request: BuildRequest):
    """--layout original: the imported module's state dict (cli/original.py), else None."""
    if request.layout != "original":
        return None
    from archcalc.cli.original import original_state, require_origin
    from archcalc.spec.loader import load_spec

    loaded = load_spec(spec)
    require_origin(loaded)
    return original_state(loaded, spec) if request.save else None


def _save_trained(folder, spec, save, layout, reference=None) -> None:
    from pathlib import Path

    from archcalc.spec.loader import load_spec
    from archcalc.torchgraph.weights import save_atomic, to_layout
    from archcalc.train.checkpoint import load_checkpoint

    state = load_checkpoint(Path(folder) / "last.pt")["model"]
    save_atomic(to_layout(state, load_spec(spec), layout, reference), save)
    console.out().print(f"saved the trained weights to {save} ({layout} layout)", markup=False)
