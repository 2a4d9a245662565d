"""How parameters are updated: optimizer, parameter groups for fine-tuning, schedule.

Fine-tuning follows the lecture's transfer-learning slide: with little data, train
only the new top layer (``head``: everything else frozen, its batch-norm statistics
too); with more, train everything with a lower rate for the pretrained layers
(``all``: backbone at ``lr x backbone_lr_scale``, 1/10 by default).
"""
from __future__ import annotations

import torch
from torch import nn


def head_parameters(model: nn.Module, head_path: str) -> list:
    return list(model.get_submodule(head_path).parameters())


def parameter_groups(model: nn.Module, head_path: str, finetune: str | None, lr: float,
                     backbone_scale: float) -> list[dict]:
    head = head_parameters(model, head_path)
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    if finetune == "head":
        for parameter in backbone:
            parameter.requires_grad_(False)
        return [{"params": head, "lr": lr, "name": "head"}]
    if finetune == "all":
        return [{"params": backbone, "lr": lr * backbone_scale, "name": "backbone"},
                {"params": head, "lr": lr, "name": "head"}]
    return [{"params": list(model.parameters()), "lr": lr, "name": "all"}]


def make_optimizer(groups: list[dict], kind: str, lr: float, momentum: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)


def make_scheduler(optimizer, schedule: str, epochs: int, patience: int):
    """plateau: lr/10 when the validation accuracy stops improving (the lecture's
    AlexNet and ResNet recipe); step: lr/10 every third of the run; cosine: to zero."""
    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1,
                                                          patience=patience)
    if schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3),
                                               gamma=0.1)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)


def step_scheduler(scheduler, val_acc: float) -> None:
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_acc)
    else:
        scheduler.step()


def current_lr(optimizer) -> float:
    return max(group["lr"] for group in optimizer.param_groups)


def set_train_mode(model: nn.Module, finetune: str | None, head_path: str) -> None:
    """``model.train()``, except that a frozen backbone keeps its BN statistics."""
    model.train()
    if finetune == "head":
        head = model.get_submodule(head_path)
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and \
                    not any(module is m for m in head.modules()):
                module.eval()


def decayed_parameters(optimizer) -> list:
    """The parameters the optimizer regularises (weight decay above zero)."""
    return [p for group in optimizer.param_groups if group.get("weight_decay", 0) > 0
            for p in group["params"]]
