"""The roofline estimate of a training step, said before training, and the measured step
and model FLOPs utilisation (MFU), said after.

The device profile is the one `archcalc calibrate` saved for this device type
($XDG_CONFIG_HOME/archcalc/profile-cpu.yaml or profile-cuda.yaml) or, on CUDA without
one, the bundled datasheet figures of the card when the table has it. Without either,
the estimate is skipped with a line saying how to get one.

The estimate's dtype is bf16 under autocast (--amp) and fp32 otherwise; MFU is the
step's model FLOPs (forward and backward, as analysis/roofline.py counts them) divided
by the measured time of a step and by the profile's best rate for that dtype (its
matmul peak, or its convolution rate where a CPU's convolutions run faster).
"""
from __future__ import annotations

import torch

from archcalc.analysis.devices import DeviceProfile, datasheet_for, default_profile_path
from archcalc.render.roofline import rate, seconds


def device_profile(device: torch.device) -> DeviceProfile | None:
    """This device's calibrated profile, else (CUDA) its datasheet figures, else None."""
    from archcalc.analysis.devices import load_profile

    path = default_profile_path(device.type)
    if path.exists():
        return load_profile(path)
    if device.type == "cuda":
        return datasheet_for(torch.cuda.get_device_name(device))
    return None


def estimate(prepared):
    """The roofline estimate of one step of the run being prepared, or None."""
    from archcalc.analysis.roofline import estimate_step

    profile = device_profile(prepared.device)
    if profile is None:
        return None
    optimizer = "adam" if prepared.config.optimizer == "adam" else "sgd-momentum"
    return estimate_step(prepared.report, profile, batch=prepared.batch_size,
                         dtype="bf16" if prepared.amp else "fp32", optimizer=optimizer,
                         frozen_until=_frozen_until(prepared))


def _frozen_until(prepared) -> str | None:
    """With --finetune head, the last row before the head: it and all before it stay."""
    if prepared.config.finetune_mode != "head":
        return None
    head = prepared.head_path
    before = None
    for row in prepared.report.layers:
        if row.path == head or row.path.startswith(head + "."):
            return before
        before = row.path
    return None


def before_line(prepared, measured_per_image: float) -> str:
    """The estimate next to the step time just measured."""
    step = estimate(prepared)
    if step is None:
        how = "archcalc calibrate" if prepared.device.type == "cpu" else \
            "archcalc calibrate --device cuda"
        return f"no device profile for this {prepared.device.type}: `{how}` measures one " \
               "for a roofline estimate of each step"
    measured = measured_per_image * prepared.batch_size
    threads = torch.get_num_threads()
    note = f" (the profile was measured with {step.profile.threads} threads, this run has " \
           f"{threads})" if prepared.device.type == "cpu" and step.profile.threads \
        not in (None, threads) else ""
    return (f"roofline estimate on {step.profile.name}: {seconds(step.step_seconds)} per step "
            f"of {step.batch} ({step.dtype}; forward {seconds(step.forward_seconds)}, backward "
            f"{seconds(step.backward_seconds)}); measured {seconds(measured)}: estimate/measured"
            f" {step.step_seconds / measured:.2f}{note}")


def after_line(prepared, history: list) -> str | None:
    """The measured time per step of the last epoch and the MFU it means."""
    if not history or not history[-1].get("images_per_s"):
        return None
    measured = prepared.batch_size / history[-1]["images_per_s"]
    step = estimate(prepared)
    text = f"measured {seconds(measured)} per training step of {prepared.batch_size} " \
           f"(epoch {history[-1]['epoch']})"
    if step is None:
        return text
    return (f"{text}; estimated {seconds(step.step_seconds)}; model FLOPs utilisation "
            f"{step.utilisation(measured):.1%} ({step.model_flops / 1e9:.3g} GFLOPs per step "
            f"over the best {step.dtype} rate {rate(step.profile.best(step.dtype))} of "
            f"{step.profile.name})")
