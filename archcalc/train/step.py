"""One optimisation step and one evaluation pass, shared by the loop and the checks."""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

EXPLODES = 3.0  # the lecture: "If the cost is ever > 3 * original cost, break out early"


def exploded(loss: float, original: float) -> bool:
    """The lecture's explosion, for the training loop's guard and the checks alike:
    NaN, inf, or a cost above EXPLODES x the original."""
    return not math.isfinite(loss) or loss > EXPLODES * original


def autocast(device: torch.device, amp: bool):
    """bf16 autocast (no loss scaling needed, unlike fp16) or nothing."""
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def train_step(model: nn.Module, optimizer, images, labels, amp: bool):
    """Forward, cross-entropy, backward, update. Returns (loss, correct) as tensors, so
    the caller decides when to synchronise."""
    with autocast(images.device, amp):
        logits = model(images)
        loss = F.cross_entropy(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), (logits.detach().argmax(1) == labels).sum()


@torch.no_grad()
def batch_loss(model: nn.Module, images, labels, amp: bool):
    """(loss, correct) of one batch without updating anything but BN statistics."""
    with autocast(images.device, amp):
        logits = model(images)
    return F.cross_entropy(logits.float(), labels).item(), \
        (logits.argmax(1) == labels).sum().item()


@torch.no_grad()
def evaluate(model: nn.Module, batches, preprocess, amp: bool, channels_last: bool):
    """Mean loss and accuracy over ``batches`` of (uint8 images, labels). Leaves the
    model in eval mode: the caller restores its own training mode (a frozen backbone
    keeps BN in eval mode)."""
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    for images, labels in batches:
        x = preprocess(images)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(x.device, amp):
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
    return loss_sum / max(seen, 1), correct / max(seen, 1)


def without_dropout(model: nn.Module) -> nn.Module:
    """Regularisation off for the checks: dropout layers in eval mode (identity);
    batch-norm stays in training mode, as it is during the first steps."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    return model
