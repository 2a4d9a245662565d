"""`archcalc calibrate`: measure this machine's matmul, convolution and memory rates and
save them as a device profile for `roofline` and `build --train`."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import expand_path, format_option, require_torch


@click.command("calibrate")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="what to measure")
@click.option("--seconds", type=click.FloatRange(min=0.1, max=600), default=4.0,
              show_default=True, help="about how long the measurements take")
@click.option("--out", "out_file", metavar="FILE.yaml", default=None,
              help="where to save the profile [$XDG_CONFIG_HOME/archcalc/profile-DEVICE.yaml, "
                   "default ~/.config/archcalc/], where `build --train` and `roofline "
                   "--device cpu|cuda` look")
@click.option("--overwrite", is_flag=True, help="replace an existing profile file")
@click.option("--no-save", "no_save", is_flag=True, help="measure and print, save nothing")
@format_option("rich", "json")
def command(device, seconds, out_file, overwrite, no_save, fmt):
    """Measure the matmul FLOP/s, the FLOP/s of a 3x3, a depthwise and a 1x1 convolution
    (forward and backward), the memory bandwidth (a copy; BatchNorm and ReLU; max
    pool) and, on a CPU, the cost of freshly mapped memory, with torch's current
    threads, and save them as a device profile (never over an existing file without
    --overwrite)."""
    from archcalc.analysis.devices import default_profile_path
    from archcalc.files import refuse_existing

    require_torch()
    target = expand_path(out_file) if out_file else default_profile_path(device)
    if not (no_save or overwrite):
        refuse_existing(target, "calibrate --out")  # before measuring, not after
    from archcalc.train.calibrate import calibrate, save_profile

    profile = calibrate(device, seconds)
    if not no_save:
        save_profile(profile, target, overwrite=overwrite)
    if fmt == "json":
        console.print_text(json.dumps({**profile.as_dict(),
                                       "saved_to": None if no_save else str(target)}, indent=2))
        return
    from archcalc.render.roofline import rate

    for label, rates in (("matmul", profile.peak_flops), ("conv 3x3", profile.conv_flops),
                         ("depthwise 3x3", profile.depthwise_flops),
                         ("pointwise 1x1", profile.pointwise_flops)):
        figures = ", ".join(f"{dtype} {rate(value)}" for dtype, value in rates.items())
        console.out().print(f"{label:14} {figures}", markup=False)
    console.out().print(f"{'memory':14} {profile.memory_bandwidth / 1e9:.1f} GB/s copy, "
                        f"{profile.bandwidth('elementwise') / 1e9:.1f} GB/s BatchNorm and ReLU, "
                        f"{profile.bandwidth('pool') / 1e9:.1f} GB/s max pool (training)",
                        markup=False)
    if profile.fresh_page_bandwidth:
        console.out().print(f"{'fresh memory':14} {profile.fresh_page_bandwidth / 1e9:.2f} GB/s "
                            "extra for tensors above "
                            f"{(profile.fresh_threshold or 0) / 2**20:.0f} MiB (mapped fresh "
                            "by the allocator, a page fault per page)", markup=False)
    console.out().print(f"{profile.name}; {'not saved' if no_save else f'saved to {target}'}",
                        markup=False)
