"""From stored uint8 images to the float batches a model trains on.

One sampler per split, created in ``make_sampler`` only: an epoch's order is a
permutation drawn from (seed, epoch), so a resumed run sees the same batches, and a
``DistributedSampler`` (same ``set_epoch`` interface) can take its place.

Preprocessing follows the lecture ("In practice for images: center only"): subtract
the per-channel mean (VGGNet) or the mean image (AlexNet), computed on the training
split only; no division by the standard deviation, no PCA or whitening. Pixels are
first scaled to [0, 1]. Augmentation is a random crop (zero padding of 1/8 of the
side, i.e. CIFAR's usual 4 pixels at 32) and, where a mirrored image keeps its
class, a horizontal flip. It runs on whole batches on the training device, so small
datasets kept on the GPU never go back through the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from archcalc.errors import ArchcalcError
from archcalc.train.data import TensorImages

KEEP_ON_DEVICE_BYTES = 2 << 30  # a split this small lives on the GPU for the whole run
MEAN_CHUNK = 4096


class EpochSampler(torch.utils.data.Sampler):
    """The indices of one epoch: shuffled by (seed, epoch), or in order.

    Under DistributedDataParallel, as torch's DistributedSampler does, every rank
    draws the same permutation (same seed and epoch) and takes every ``world``-th
    index from position ``rank``, the tail cut so each rank gets as many. So the
    ranks' k-th batches of B together are exactly the k-th batch of B * world of
    a single process: the same global batch.
    """

    def __init__(self, size: int, seed: int, shuffle: bool, rank: int = 0, world: int = 1):
        self.size, self.seed, self.shuffle, self.epoch = size, seed, shuffle, 0
        self.rank, self.world = rank, world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        if not self.shuffle:
            order = list(range(self.size))
        else:
            generator = torch.Generator().manual_seed(mix(self.seed, self.epoch))
            order = torch.randperm(self.size, generator=generator).tolist()
        if self.world == 1:
            return iter(order)
        return iter(order[:len(self) * self.world][self.rank::self.world])

    def __len__(self) -> int:
        return self.size // self.world


def make_sampler(split, seed: int, shuffle: bool, rank: int = 0, world: int = 1) -> EpochSampler:
    """The one place samplers are made; ``rank``/``world`` split it across DDP ranks."""
    return EpochSampler(len(split), seed, shuffle, rank, world)


def mix(*numbers: int) -> int:
    """A seed from several integers (seed, epoch, batch), stable across runs."""
    value = 0x9E3779B9
    for number in numbers:
        value = (value * 1_000_003 + int(number)) % (1 << 62)
    return value


def batches_per_epoch(size: int, batch_size: int) -> int:
    """Full batches plus the remainder, unless the remainder is a single image (batch
    norm cannot normalise one value per channel in training mode)."""
    count, remainder = divmod(size, batch_size)
    return count + (remainder > 1 or (count == 0 and remainder == 1))


def batch_indices(sampler, batch_size: int, epoch: int, start: int = 0) -> list:
    """The epoch's batches of indices from batch number ``start`` (resuming mid-epoch)."""
    sampler.set_epoch(epoch)
    order = list(sampler)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return batches[:batches_per_epoch(len(order), batch_size)][start:]


def iterate(split, batches, device, workers: int = 0):
    """(uint8 images, labels) on ``device`` for each batch of indices."""
    if isinstance(split, TensorImages):
        for indices in batches:
            index = torch.as_tensor(indices, device=split.images.device)
            yield (split.images[index].to(device, non_blocking=True),
                   split.labels[index].to(device, non_blocking=True))
        return
    loader = torch.utils.data.DataLoader(split, batch_sampler=batches, num_workers=workers,
                                         pin_memory=device.type == "cuda")
    try:
        for images, labels in loader:
            yield images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
    except ArchcalcError as exc:
        if WORKER_MARKER not in exc.message:
            raise
        raise ArchcalcError(from_worker(exc.message)) from None


WORKER_MARKER = "ArchcalcError: error: "


def from_worker(message: str) -> str:
    """A DataLoader worker's ArchcalcError comes back as ``ArchcalcError(message=...)``
    whose message is the worker's whole traceback; keep the error's own text."""
    return message[message.rindex(WORKER_MARKER) + len(WORKER_MARKER):].rstrip()


def keep_on_device(split, device):
    """A small in-memory split moved to the GPU once (a no-op on CPU)."""
    if device.type == "cpu" or not isinstance(split, TensorImages) or \
            split.images.numel() > KEEP_ON_DEVICE_BYTES:
        return split
    return TensorImages(split.images.to(device), split.labels.to(device))


@dataclass
class Preprocess:
    """Mean subtraction, resizing to the training size and augmentation, on batches."""

    kind: str             # "channel" or "image"
    mean: torch.Tensor    # (C, 1, 1) or (C, h, w) at the stored size, pixels in [0, 1]
    size: tuple           # (H, W) the model trains at
    crop_pad: int
    flip: bool

    def state(self) -> dict:
        return {"kind": self.kind, "mean": self.mean.cpu(), "size": list(self.size),
                "crop_pad": self.crop_pad, "flip": self.flip}

    @classmethod
    def from_state(cls, state: dict, channels: int, where=None) -> Preprocess:
        """The preprocessing saved in a checkpoint (``where``), checked against the
        data's ``channels``: anything else is one error naming the file."""
        try:
            preprocess = cls(state["kind"], state["mean"], tuple(int(v) for v in state["size"]),
                             int(state["crop_pad"]), bool(state["flip"]))
            valid = preprocess.kind in ("channel", "image") and \
                isinstance(preprocess.mean, torch.Tensor) and \
                preprocess.mean.is_floating_point() and preprocess.mean.dim() == 3 and \
                preprocess.mean.shape[0] == channels and len(preprocess.size) == 2 and \
                min(preprocess.size) >= 1 and preprocess.crop_pad >= 0
        except (TypeError, KeyError, ValueError, IndexError):
            valid = False
        if not valid:
            raise ArchcalcError(f"the checkpoint's preprocessing is not valid for data with "
                                f"{channels} channels", where=where,
                                hint="it was written by another version, or edited")
        return preprocess

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None):
        """Float batch at the training size; augmented when a generator is given."""
        x = images.float().div_(255).sub_(self.mean.to(images.device))
        if tuple(x.shape[-2:]) != tuple(self.size):
            # Resizing is linear, so subtracting the mean before it equals subtracting
            # the resized mean after it.
            x = F.interpolate(x, size=self.size, mode="bilinear", antialias=True,
                              align_corners=False)
        if generator is not None:
            x = self.augment(x, generator)
        return x

    def augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, height, width = x.shape
        device = x.device
        if self.crop_pad:
            pad = self.crop_pad
            padded = F.pad(x, (pad, pad, pad, pad))  # zeros: the mean colour after centring
            dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=device)
            dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=device)
            rows = dy[:, None] + torch.arange(height, device=device)
            cols = dx[:, None] + torch.arange(width, device=device)
            batch = torch.arange(n, device=device)[:, None, None]
            # per-image crop by gathering rows and columns: (n, h, w, c) -> (n, c, h, w)
            x = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
            x = x.permute(0, 3, 1, 2)
        if self.flip:
            mirror = torch.rand(n, generator=generator, device=device) < 0.5
            x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
        return x.contiguous()


def compute_preprocess(split, kind: str, size, augment: bool, flip: bool,
                       workers: int = 0) -> Preprocess:
    """The training split's mean (per channel or per pixel) and the augmentation policy."""
    total, count = None, 0
    if isinstance(split, TensorImages):
        chunks = (split.images[i:i + MEAN_CHUNK] for i in range(0, len(split), MEAN_CHUNK))
    else:
        order = list(range(len(split)))
        chunks = (images for images, _ in iterate(
            split, [order[i:i + 256] for i in range(0, len(order), 256)],
            torch.device("cpu"), workers))
    for chunk in chunks:
        part = chunk.double().div(255).sum(0)
        total = part if total is None else total + part
        count += len(chunk)
    mean_image = (total / count).float()
    mean = mean_image if kind == "image" else mean_image.mean((1, 2), keepdim=True)
    crop_pad = max(1, min(size) // 8) if augment else 0
    return Preprocess(kind, mean, tuple(size), crop_pad, flip and augment)
