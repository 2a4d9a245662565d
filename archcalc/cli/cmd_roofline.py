"""`archcalc roofline`: a training step's roofline estimate, per layer, and its plot."""
from __future__ import annotations

import json
from dataclasses import dataclass

import click

from archcalc.cli import console
from archcalc.cli.options import format_option, input_option, parse_input, spec_argument


@dataclass(frozen=True)
class RooflineOptions:
    """The command's options, grouped."""

    device: str
    out_file: str | None
    batch: int
    dtype: str
    optimizer: str
    images: int | None
    input_text: str | None
    fmt: str
    overwrite: bool = False


@click.command("roofline")
@spec_argument
@click.option("--device", "device", required=True, metavar="PROFILE",
              help="a bundled datasheet profile (a100-sxm-80gb, h100-sxm, h200-sxm, "
                   "v100-sxm2, t4, l4, rtx-4090), `cpu` or `cuda` for the profile "
                   "`archcalc calibrate` saved, or a profile YAML file")
@click.option("--out", "out_file", metavar="FILE.png",
              help="draw each layer on the roofline into this image (.png, .svg, .pdf)")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="images per training step")
@click.option("--dtype", type=click.Choice(["fp32", "tf32", "bf16", "fp16"]), default="fp32",
              show_default=True, help="arithmetic dtype (tf32: fp32 tensors on tensor cores)")
@click.option("--optimizer", type=click.Choice(["sgd", "sgd-momentum", "adam"]),
              default="sgd-momentum", show_default=True,
              help="its state per weight, read and written each step")
@click.option("--images", type=click.IntRange(min=1), default=None,
              help="training images per epoch: also estimate an epoch")
@input_option
@format_option("rich", "json")
@click.option("--overwrite", is_flag=True, help="replace an existing --out image")
def command(spec, device, out_file, batch, dtype, optimizer, images, input_text, fmt,
            overwrite):
    """Estimate one training step of NAME|PATH on a device: each layer's FLOPs and
    bytes moved (forward and backward), its arithmetic intensity and its time
    max(FLOPs / peak, bytes / bandwidth); the step, and with --images the epoch.
    """
    _roofline(spec, RooflineOptions(device, out_file, batch, dtype, optimizer, images,
                                    input_text, fmt, overwrite))


def load_device(device: str):
    """A profile by name or path; `cpu` and `cuda` name the calibrated profile."""
    from archcalc.analysis.devices import default_profile_path, find_profile
    from archcalc.errors import ArchcalcError

    if device in ("cpu", "cuda"):
        path = default_profile_path(device)
        if not path.exists():
            raise ArchcalcError(f"no calibrated {device} profile at {path}",
                                hint=f"run `archcalc calibrate --device {device}` first, or "
                                     "give a bundled profile or a YAML file")
        return find_profile(str(path))
    return find_profile(device)


def _roofline(spec, options: RooflineOptions) -> None:
    from archcalc.analysis.limits import analyze_explained
    from archcalc.analysis.roofline import estimate_step
    from archcalc.spec.loader import load_spec

    profile = load_device(options.device)
    loaded = load_spec(spec)
    report = analyze_explained(loaded, parse_input(options.input_text), check_expect=False)
    estimate = estimate_step(report, profile, batch=options.batch, dtype=options.dtype,
                             optimizer=options.optimizer)
    if options.fmt == "json":
        data = estimate.as_dict()
        if options.images:
            data["epoch_images"] = options.images
            data["epoch_seconds"] = estimate.epoch_seconds(options.images)
        console.print_text(json.dumps(data, indent=2))
    else:
        from archcalc.render.roofline import summary_lines

        for line in summary_lines(estimate, options.images):
            console.out().print(line, markup=False)
    if options.out_file:
        from archcalc.render.plots import save
        from archcalc.render.roofline import roofline_figure

        width, height = save(roofline_figure(estimate), options.out_file, "--out",
                             options.overwrite)
        console.err().print(f"wrote {options.out_file}: {len(estimate.layers)} layers, "
                            f"{width}x{height} pixels", markup=False)
