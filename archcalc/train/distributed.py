"""DistributedDataParallel plumbing for `torchrun ... -m archcalc build NAME --train`.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; when
WORLD_SIZE is above 1 the training process joins the group (NCCL on GPUs,
gloo on CPUs), wraps the model in DDP, and reads its share of each epoch
through a DistributedSampler reseeded with the epoch. Only rank 0 writes logs,
metrics and checkpoints; the babysitting checks run on rank 0 before the
processes start training together.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1  # the ranks on this machine, which share its cores

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    return Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")),
                       int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size))))


def setup(dist_info: Distributed, device: torch.device, timeout_s: int = 300) -> None:
    """Join the process group; a rank that never arrives fails after ``timeout_s``."""
    if not dist_info.enabled or torch.distributed.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(dist_info.local_rank)
    torch.distributed.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))


def device_for(dist_info: Distributed, device: torch.device) -> torch.device:
    if dist_info.enabled and device.type == "cuda":
        return torch.device("cuda", dist_info.local_rank)
    return device


def wrap(model: torch.nn.Module, dist_info: Distributed, device: torch.device):
    if not dist_info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") and isinstance(
        model, torch.nn.parallel.DistributedDataParallel) else model


def barrier(dist_info: Distributed) -> None:
    if dist_info.enabled:
        torch.distributed.barrier()


def broadcast_object(value, dist_info: Distributed):
    """Rank 0's ``value`` on every rank (check results, a stop decision)."""
    if not dist_info.enabled:
        return value
    holder = [value]
    torch.distributed.broadcast_object_list(holder, src=0)
    return holder[0]


def mean_over_ranks(value: float, dist_info: Distributed) -> float:
    if not dist_info.enabled:
        return value
    tensor = torch.tensor([float(value)], dtype=torch.float64)
    torch.distributed.all_reduce(tensor)
    return float(tensor.item()) / dist_info.world_size


def sum_over_ranks(values, dist_info: Distributed):
    """Element-wise sums across ranks of a list of numbers (correct counts and losses)."""
    if not dist_info.enabled:
        return list(values)
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def teardown(dist_info: Distributed) -> None:
    if dist_info.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
