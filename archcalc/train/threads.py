"""CPU threads: processes sharing a machine share its cores.

Each PyTorch process starts one intra-op thread per core. Two such processes on two
cores run four busy threads that preempt each other inside every parallel region;
measured here, LeNet-5 training fell from 9,228 to 320 images/s. ``share_cores(n)``
gives each of ``n`` processes ``cores // n`` threads (at least one). The distributed
runner calls it with the ranks on this machine (torchrun's LOCAL_WORLD_SIZE); a
search running N trials in parallel calls it with N.

An explicit OMP_NUM_THREADS is the user's choice and is kept. Note that torchrun
itself sets OMP_NUM_THREADS=1 for its workers when it is unset and more than one
process runs per node, so under torchrun the ranks keep one thread each unless
OMP_NUM_THREADS is given.
"""
from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def threads_per_process(processes: int, cores: int | None = None) -> int:
    return max(1, (available_cores() if cores is None else cores) // max(1, processes))


def share_cores(processes: int) -> int:
    """Set this process's torch intra-op threads to its share of the cores (unless
    OMP_NUM_THREADS is set); returns the thread count in effect."""
    import torch

    if os.environ.get("OMP_NUM_THREADS", "").strip():
        return torch.get_num_threads()
    threads = threads_per_process(processes)
    torch.set_num_threads(threads)
    return threads
