"""What the benchmarks time the same way: a command run in a fresh process (wall and CPU
seconds), and a device made to finish its queued work before a clock is read."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time


def archcalc_command(*arguments) -> list[str]:
    """``python -m archcalc ARGUMENTS`` with this interpreter."""
    return [sys.executable, "-m", "archcalc", *map(str, arguments)]


def command_times(command, repeats: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of ``repeats`` runs of ``command``, its output to a pipe
    160 columns wide. CPU is the child's user + system time, which other work on a shared
    machine inflates far less than the wall time."""
    times = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "COLUMNS": "160"})
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    return times


def sync(device) -> None:
    """Wait for a CUDA device's queued kernels (the CPU runs them as it goes)."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)
