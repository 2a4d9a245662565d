"""What a run will cost, said before it starts: batch size, analysed cost, time per epoch.

(``archcalc plan``, the training-memory breakdown, is archcalc/analysis/memory.py; this
module uses it to size the batch on a GPU.)

The batch size, when not given, is the lecture's AlexNet 128, halved while one
training step would be too much for the device: on a CPU while a step's analysed
work (3 x forward MACs per image: forward, and backward for inputs and weights)
exceeds 100 GMACs, about a few seconds on a laptop; on a GPU while the batch is
above the largest one whose training memory, as ``archcalc plan`` computes it
(weights, buffers, gradients, optimizer state and the activations autograd saves,
in bf16 under autocast, else fp32), fits in half the device memory.
"""
from __future__ import annotations

import copy
import time

import torch

from archcalc.analysis.report import DTYPE_BYTES
from archcalc.render import units

DEFAULT_BATCH = 128
CPU_STEP_MACS = 100e9
TRAIN_MACS_PER_FORWARD = 3
# Nominal training speeds that plan the checks' steps: a modest CPU (this project's
# 2-core test machine reaches 15-90 GMAC/s depending on the model) and a data-centre GPU
# at a small fraction of its bf16 peak. A plan from the analysis, not from a timing,
# gives the same checks on a busy machine as on an idle one.
NOMINAL_MACS_PER_S = {"cpu": 20e9, "cuda": 20e12}


def auto_batch_size(report, device: torch.device, amp: bool, spec=None,
                    optimizer: str = "sgd-momentum") -> int:
    """128, halved until a step fits: on CUDA, the training memory `archcalc plan`
    computes (saved activations, gradients, optimizer state) within half the card;
    on CPU, a step's work within CPU_STEP_MACS."""
    per_image_macs = report.totals["macs"]  # totals are per image
    batch = DEFAULT_BATCH
    if device.type == "cuda":
        from archcalc.analysis.memory import plan

        budget = torch.cuda.get_device_properties(device).total_memory // 2
        fits = plan(spec, report=report, dtype="bf16" if amp else "fp32",
                    optimizer=optimizer, device="cuda").max_batch(budget)
        while batch > 1 and batch > fits:
            batch //= 2
    else:
        while batch > 1 and TRAIN_MACS_PER_FORWARD * per_image_macs * batch > CPU_STEP_MACS:
            batch //= 2
    return batch


def cost_line(report, batch: int, amp: bool) -> str:
    totals = report.totals  # per image
    dtype = "bf16" if amp else "fp32"
    activation_bytes = totals["activations"] * batch * DTYPE_BYTES[dtype]
    return (f"{units.grouped(totals['params'])} params, "
            f"{units.si(totals['macs'])} MACs per image "
            f"({units.si(TRAIN_MACS_PER_FORWARD * totals['macs'] * batch)} per "
            f"training step of {batch}), forward activations "
            f"{units.size_bytes(activation_bytes)} per batch of {batch} ({dtype})")


def planned_seconds_per_image(report, device: torch.device) -> float:
    """Training time per image at the nominal speed: 3 x the analysed forward MACs."""
    per_image_macs = report.totals["macs"]  # totals are per image
    rate = NOMINAL_MACS_PER_S.get(device.type, NOMINAL_MACS_PER_S["cpu"])
    return TRAIN_MACS_PER_FORWARD * per_image_macs / rate


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_image(model, images, labels, amp: bool, channels_last: bool) -> float:
    """Train a throw-away copy for a few steps on one batch and time it: the fastest of
    up to three steps after the first (which allocates), as timeit advises, so a busy
    moment on a shared machine does not shrink the checks' plans."""
    from archcalc.train.step import train_step

    trial = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(trial.parameters(), lr=0.0, momentum=0.9)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    timings = []
    for _ in range(4):
        started = time.perf_counter()
        train_step(trial, optimizer, images, labels, amp)
        _sync(images.device)
        timings.append(time.perf_counter() - started)
        if timings[0] > 2 and len(timings) == 2:
            break  # a slow model: one timed step is enough
    return min(timings[1:]) / len(labels)


def epoch_seconds(per_image: float, train: int, evaluated: int) -> float:
    """Training steps over the split, plus evaluation at about a third of a step."""
    return per_image * (train + evaluated / TRAIN_MACS_PER_FORWARD)


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
