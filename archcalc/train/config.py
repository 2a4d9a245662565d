"""Everything a training run depends on, in one dataclass.

Defaults follow the lecture's AlexNet recipe (slide "AlexNet: details"): SGD with
momentum 0.9, L2 weight decay 5e-4, batch 128, learning rate divided by 10 when the
validation accuracy plateaus. The learning rate itself is left to the babysitting
probe when it is not given (the lecture: "find learning rate that makes the loss go
down"); with the checks off it is the AlexNet 1e-2.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from archcalc.errors import ArchcalcError

LECTURE_LR = 1e-2  # AlexNet's starting rate, used when no probe picked one
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("plateau", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda")
FINETUNE = ("head", "all")
MEANS = ("channel", "image")


@dataclass
class TrainConfig:
    spec: str                        # bundled name or path to a YAML spec
    data: str = "digits"             # digits | cifar10:DIR | folder:DIR | synthetic
    input: tuple | None = None       # (C, H, W) to train at; None: the spec's own input
    epochs: int = 30
    max_steps: int | None = None     # stop after this many optimizer steps in all
    batch_size: int | None = None    # None: 128, fewer when a step would be too costly
    lr: float | None = None          # None: picked by the learning-rate probe
    momentum: float = 0.9
    weight_decay: float = 5e-4
    optimizer: str = "sgd"
    schedule: str = "plateau"
    plateau_patience: int = 3        # epochs without a better val accuracy before lr/10
    device: str = "auto"
    amp: bool | None = None          # None: bf16 autocast on CUDA, off on CPU
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool = False
    out: str | None = None           # None: runs/<spec>-<timestamp>
    seed: int = 0
    deterministic: bool = False
    weights: str | None = None       # state dict to start from (spec or torchvision layout)
    num_classes: int | None = None   # None: the data's number of classes
    finetune: str | None = None      # head | all; None: head when weights are given
    checks: bool = True
    augment: bool = True             # random crop (and flip where it fits)
    mean: str = "channel"            # subtract the per-channel mean or the mean image
    check_seconds: float = 60.0      # time budget for the iterative checks (overfit, probe)
    backbone_lr_scale: float = 0.1   # --finetune all: backbone rate = lr x this
    workers: int = 0                 # DataLoader processes for folder data
    resume: str | None = None        # a run folder to continue (see runner.resume_config)
    overwrite: bool = False          # a new run may replace the files in a used --out

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        self._validate_choices()
        self._validate_numbers()
        if self.input is not None:
            self.input = tuple(int(v) for v in self.input)

    def _validate_choices(self) -> None:
        choices = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "device": DEVICES,
                   "mean": MEANS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ArchcalcError(f"{name} must be one of {', '.join(allowed)}, got "
                                    f"{getattr(self, name)!r}")
        if self.finetune is not None and self.finetune not in FINETUNE:
            raise ArchcalcError(f"finetune must be head or all, got {self.finetune!r}")
        if self.finetune is not None and not self.weights:
            raise ArchcalcError("--finetune needs --weights FILE (the model to fine-tune)")

    def _validate_numbers(self) -> None:
        positive = {"epochs": self.epochs, "max_steps": self.max_steps,
                    "batch_size": self.batch_size, "num_classes": self.num_classes}
        for name, value in positive.items():
            if value is not None and value < 1:
                raise ArchcalcError(f"{name} must be at least 1, got {value}")
        numbers = {"lr": self.lr, "momentum": self.momentum,
                   "weight_decay": self.weight_decay, "check_seconds": self.check_seconds,
                   "backbone_lr_scale": self.backbone_lr_scale}
        for name, value in numbers.items():
            # NaN passes every comparison below; inf trains to NaN weights
            if value is not None and not (isinstance(value, (int, float)) and
                                          math.isfinite(value)):
                raise ArchcalcError(f"{name} must be a finite number, got {value!r}")
        if self.check_seconds < 0 or self.backbone_lr_scale < 0:
            raise ArchcalcError("check_seconds and backbone_lr_scale must be >= 0")
        if self.lr is not None and not self.lr > 0:
            raise ArchcalcError(f"the learning rate must be positive, got {self.lr}")
        if self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise ArchcalcError("weight decay must be >= 0 and momentum in [0, 1)")

    @property
    def finetune_mode(self) -> str | None:
        if not self.weights:
            return None
        return self.finetune or "head"  # the lecture: little data, train the top layer

    def to_dict(self) -> dict:
        data = asdict(self)
        data["input"] = list(self.input) if self.input else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if values.get("input"):
            values["input"] = tuple(values["input"])
        return cls(**values)
