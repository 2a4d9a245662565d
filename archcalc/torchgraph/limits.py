"""Refuse a model that cannot be allocated, before anything is allocated.

A spec that analyses cleanly may still ask for more memory than the machine has
(``conv: {out: 1000000000}`` is a valid layer of 36 GB of weights): PyTorch would then
fail deep inside an allocation, or the system would swap and kill the process. The
analysis knows every byte the module will hold (its weights and buffers) and the peak
of one inference pass, so the builder compares that with the memory available first.
"""
from __future__ import annotations

import os

from archcalc.errors import ArchcalcError, Location
from archcalc.render.units import size_bytes


def available_memory_bytes() -> int | None:
    """Memory the kernel can give without swapping (Linux ``MemAvailable``), else the
    free physical pages; None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def needed_bytes(spec, report) -> int:
    """Weights, buffers and the peak of one inference pass at batch 1, in float32."""
    from archcalc.analysis.memory import plan

    memory = plan(spec, batch=1, dtype="fp32", device="cpu", report=report)
    return memory.inference_peak_bytes


def refuse_oversized(spec, report, available: int | None = None) -> None:
    """An ArchcalcError when building and running ``spec`` once needs more memory than
    is available (``available``: bytes, or None to ask the system)."""
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    needed = needed_bytes(spec, report)
    if needed > available:
        params = report.totals["params"]
        raise ArchcalcError(
            f"building {spec.name} needs {size_bytes(needed)} ({params:,} parameters and "
            f"one forward pass in float32), more than the {size_bytes(available)} of "
            "memory available", where=Location(spec.file) if spec.file else None,
            hint="make the layers smaller (channels, fc sizes) or the input smaller; "
                 "`archcalc table` and `archcalc plan` show where the memory goes")
