"""Datasets for the runner: read from disk or a package, never downloaded.

Every source gives two splits of uint8 images (N, C, H, W) with int64 labels, the
class names and whether a horizontal flip keeps the meaning of an image (not for
digits). In-memory splits hold tensors; a folder of image files is read lazily
(``FolderImages``), already resized to the training size, one file per item.

- ``digits``: scikit-learn's bundled copy of the UCI optical digits (1,797 8x8
  grayscale images, 10 classes); 20% held out for validation, stratified, split seed 0.
- ``cifar10:DIR``: the python-format batches (data_batch_1..5, test_batch) as
  distributed at cs.toronto.edu, read safely and within bounds (train/cifar.py);
  test_batch is the validation split.
- ``folder:DIR``: one sub-folder per class; DIR/train and DIR/val when both exist,
  otherwise 20% of each class held out; files decoded safely (train/images.py).
- ``synthetic``: random images and labels at the training size, for throughput.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError, Location

VALIDATION_FRACTION = 0.2
SPLIT_SEED = 0  # fixed, so runs with different --seed validate on the same images
SYNTHETIC_SIZES = (1024, 256)  # train and validation images


@dataclass
class TensorImages:
    """A split held in memory: uint8 images (N, C, H, W) and int64 labels."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class ImageData:
    name: str
    train: object  # TensorImages or images.FolderImages
    val: object
    classes: list
    channels: int
    flip: bool  # a mirrored image is still the same class

    def describe(self) -> str:
        return (f"{self.name}: {len(self.train):,} training and {len(self.val):,} validation "
                f"images, {len(self.classes)} classes, {self.channels} channel"
                f"{'s' if self.channels != 1 else ''}")


def load_data(source: str, size, channels: int, classes: int) -> ImageData:
    """``size`` (H, W) is the training size; ``channels`` and ``classes`` are used only
    by ``synthetic`` (the model's own), every other source brings its own."""
    kind, _, argument = source.partition(":")
    if kind == "digits" and not argument:
        return _digits()
    if kind == "cifar10" and argument:
        return _cifar10(Path(argument))
    if kind == "folder" and argument:
        return _folder(Path(argument), size)
    if kind == "synthetic" and not argument:
        return _synthetic(size, channels, classes)
    raise ArchcalcError(f"unknown data source {source!r}",
                        hint="use digits, cifar10:DIR, folder:DIR or synthetic")


def _split(labels):
    from sklearn.model_selection import train_test_split

    indices = list(range(len(labels)))
    try:
        train, val = train_test_split(indices, test_size=VALIDATION_FRACTION,
                                      random_state=SPLIT_SEED, stratify=labels)
    except ValueError as exc:  # a class too small to hold any image out
        raise ArchcalcError(f"cannot hold out a stratified validation split ({exc})",
                            hint="give each class more images, or folders DIR/train and "
                                 "DIR/val") from None
    return torch.tensor(sorted(train)), torch.tensor(sorted(val))


def _digits() -> ImageData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # 17 grey levels (0..16) spread over 0..255 so all sources share one scale
    images = torch.tensor(bunch.images * (255 / 16)).round().to(torch.uint8).unsqueeze(1)
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    train, val = _split(bunch.target)
    return ImageData("digits (scikit-learn load_digits)",
                     TensorImages(images[train], labels[train]),
                     TensorImages(images[val], labels[val]),
                     [str(d) for d in range(10)], channels=1, flip=False)


def _cifar10(folder: Path) -> ImageData:
    from archcalc.train.cifar import CLASSES, read_batch

    if not folder.is_dir():
        raise ArchcalcError("no such folder", where=Location(str(folder)),
                            hint="cifar10:DIR names the folder holding data_batch_1..5")
    parts = [read_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    val_images, val_labels = read_batch(folder / "test_batch")
    train = TensorImages(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
    return ImageData(f"cifar10 ({folder})", train, TensorImages(val_images, val_labels),
                     list(CLASSES), channels=3, flip=True)


def _folder(folder: Path, size) -> ImageData:
    from archcalc.train.images import FolderImages, channels_of, class_files

    if not folder.is_dir():
        raise ArchcalcError("no such folder", where=Location(str(folder)),
                            hint="folder:DIR needs one sub-folder of images per class")
    if (folder / "train").is_dir() and (folder / "val").is_dir():
        classes, train_files, train_labels = class_files(folder / "train")
        _, val_files, val_labels = class_files(folder / "val", classes)
    else:
        classes, files, labels = class_files(folder)
        if len(classes) < 2:
            raise ArchcalcError("a classifier needs at least two class folders",
                                where=Location(str(folder)))
        train, val = _split(labels)
        train_files, train_labels = [files[i] for i in train], [labels[i] for i in train]
        val_files, val_labels = [files[i] for i in val], [labels[i] for i in val]
    channels = channels_of(train_files + val_files)
    return ImageData(f"folder ({folder})",
                     FolderImages(train_files, train_labels, channels, size),
                     FolderImages(val_files, val_labels, channels, size),
                     classes, channels=channels, flip=True)


def _synthetic(size, channels: int, classes: int) -> ImageData:
    generator = torch.Generator().manual_seed(SPLIT_SEED)

    def split(count):
        images = torch.randint(0, 256, (count, channels, *size), dtype=torch.uint8,
                               generator=generator)
        return TensorImages(images, torch.randint(0, classes, (count,), generator=generator))

    train, val = (split(count) for count in SYNTHETIC_SIZES)
    return ImageData("synthetic (random images, for throughput)", train, val,
                     [str(i) for i in range(classes)], channels=channels, flip=False)
