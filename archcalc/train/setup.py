"""Everything before the first step: device, spec and data, the adapted model, the
preprocessing, a measured time per step, and the inputs of the babysitting checks."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from archcalc.errors import ArchcalcError, Location
from archcalc.render import units
from archcalc.train import sizing
from archcalc.train.config import TrainConfig
from archcalc.train.display import Display

PROBE_BATCH = 64           # examples for the initial-loss check and the rate probe
TRAIN_EVAL_MAX = 1000      # the lecture's trainer samples 1000 training examples


@dataclass
class Prepared:
    config: TrainConfig
    spec: object
    report: object
    head_path: str
    data: object
    classes: int
    model: torch.nn.Module
    device: torch.device
    amp: bool
    channels_last: bool
    batch_size: int
    preprocess: object
    notes: list


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ArchcalcError("--device cuda, but PyTorch sees no CUDA device",
                            hint="use --device cpu (or auto)")
    return torch.device(name)


@contextlib.contextmanager
def determinism(config: TrainConfig):
    """Deterministic algorithms (--deterministic) or cuDNN autotuning (CUDA otherwise)
    for the length of a run; the process's own settings come back afterwards, so a
    search running many trials in one process is not left changed."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's requirement
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    elif resolve_device(config.device).type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]


def prepare(config: TrainConfig, display: Display, preprocess_state=None,
            checkpoint=None) -> Prepared:
    """``preprocess_state``: the preprocessing saved in ``checkpoint`` (a resumed run)."""
    from archcalc.spec.loader import load_spec
    from archcalc.torchgraph.builder import build_module
    from archcalc.train.adapt import adapt_spec, load_pretrained, spec_classes
    from archcalc.train.batches import Preprocess, compute_preprocess
    from archcalc.train.data import load_data

    device = resolve_device(config.device)
    amp = device.type == "cuda" if config.amp is None else config.amp
    channels_last = device.type == "cuda" if config.channels_last is None else \
        config.channels_last
    spec = load_spec(config.spec)
    shape = config.input or spec.input
    if len(shape) != 3:
        raise ArchcalcError(f"training needs an image input C x H x W, got {list(shape)}",
                            hint="use --input CxHxW")
    size = tuple(shape[1:])
    data = load_data(config.data, size, shape[0], spec_classes(spec) or 10)
    if config.input and config.input[0] != data.channels:
        raise ArchcalcError(f"--input has {config.input[0]} channels, the data "
                            f"{data.channels}", hint=f"use --input {data.channels}x"
                                                     f"{size[0]}x{size[1]}")
    classes = config.num_classes or len(data.classes)
    if classes < len(data.classes):
        raise ArchcalcError(f"--num-classes {classes} is fewer than the data's "
                            f"{len(data.classes)} classes")
    adapted, report, head_path = adapt_spec(spec, (data.channels, *size), classes)
    optimizer = "adam" if config.optimizer == "adam" else \
        ("sgd-momentum" if config.momentum else "sgd")
    batch_size = config.batch_size or sizing.auto_batch_size(report, device, amp, adapted,
                                                             optimizer)
    torch.manual_seed(config.seed)
    model = build_module(adapted, (data.channels, *size))
    notes = []
    if config.weights:
        notes = load_pretrained(model, config.weights, head_path)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if preprocess_state is not None:
        preprocess = Preprocess.from_state(preprocess_state, data.channels,
                                           Location(str(checkpoint)) if checkpoint else None)
    else:
        preprocess = compute_preprocess(data.train, config.mean, size, config.augment,
                                        data.flip, config.workers)
    display.message(f"data: {data.describe()}")
    changed = [] if (data.channels, *size) == tuple(spec.input) else \
        [f"input {'x'.join(map(str, (data.channels, *size)))}"]
    if classes != spec_classes(spec):
        changed.append(f"{classes} classes ({head_path})")
    display.message(f"model: {spec.name}{' adapted to ' + ', '.join(changed) if changed else ''}"
                    f" on {device.type}{', bf16 autocast' if amp else ''}: "
                    f"{sizing.cost_line(report, batch_size, amp)}")
    for note in notes:
        display.message(f"weights: {note}")
    return Prepared(config, spec, report, head_path, data, classes, model, device, amp,
                    channels_last, batch_size, preprocess, notes)


def _fixed_batch(prepared: Prepared, count: int):
    """The first ``count`` training examples of a seeded shuffle, preprocessed, unaugmented."""
    from archcalc.train.batches import iterate

    order = torch.randperm(len(prepared.data.train),
                           generator=torch.Generator().manual_seed(prepared.config.seed))
    indices = order[:count].tolist()
    images, labels = next(iterate(prepared.data.train, [indices], prepared.device))
    x = prepared.preprocess(images)
    if prepared.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, labels


def measure(prepared: Prepared, display: Display) -> float:
    """Seconds per training image, measured, and the estimated time per epoch said."""
    images, labels = _fixed_batch(prepared, prepared.batch_size)
    per_image = sizing.seconds_per_image(prepared.model, images, labels, prepared.amp,
                                       prepared.channels_last)
    train, val = len(prepared.data.train), len(prepared.data.val)
    evaluated = val + min(train, val, TRAIN_EVAL_MAX)
    epoch = sizing.duration(sizing.epoch_seconds(per_image, train, evaluated))
    display.message(f"batch {prepared.batch_size}: {units.throughput(1 / per_image)} images/s "
                    f"measured, about {epoch} per epoch ({train:,} training images)")
    from archcalc.train.step_estimate import before_line

    display.message(before_line(prepared, per_image))
    return per_image


def check_inputs(prepared: Prepared):
    """What the babysitting checks work on: the initial model and fixed batches."""
    from archcalc.train.checks import CheckInputs, probe_steps

    config = prepared.config
    per_image = sizing.planned_seconds_per_image(prepared.report, prepared.device)
    batch = min(prepared.batch_size, PROBE_BATCH, len(prepared.data.train))
    # the probe trains on successive batches of this pool (half the budget is its own)
    steps = probe_steps(per_image, batch, config.check_seconds / 2)
    pool = _fixed_batch(prepared, min(batch * steps, len(prepared.data.train)))
    return CheckInputs(
        model=prepared.model, probe=(pool[0][:batch], pool[1][:batch]), pool=pool,
        tiny=_fixed_batch(prepared, 20), classes=prepared.classes,
        optimizer=config.optimizer, momentum=config.momentum,
        weight_decay=config.weight_decay, lr=config.lr, head_path=prepared.head_path,
        finetune=config.finetune_mode, backbone_scale=config.backbone_lr_scale,
        amp=prepared.amp, seconds_per_image=per_image, budget=config.check_seconds)


def run_babysitting(prepared: Prepared):
    from archcalc.train.checks import run_checks

    return run_checks(check_inputs(prepared))
