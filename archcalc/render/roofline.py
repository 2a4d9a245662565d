"""The roofline estimate for people: summary lines, and each layer on the roofline (PNG).

The plot has arithmetic intensity (FLOPs per byte moved, forward and backward together)
on the x axis and attained FLOP/s (the layer's FLOPs over its estimated time) on the y
axis, both logarithmic; the roof is min(rate, intensity x bandwidth) for each family of
layers the profile gives a rate for. One point per layer, coloured by family, its area
by its share of the step's time. matplotlib is imported only here, through plots.py.
"""
from __future__ import annotations

import math

from archcalc.render import units
from archcalc.render.plots import _matplotlib, _new_figure

FAMILY_COLOURS = {"matmul": "tab:orange", "conv": "tab:blue", "depthwise": "tab:cyan",
                  "pointwise": "tab:purple",
                  "elementwise": "tab:gray"}


def seconds(value: float) -> str:
    """0.01234 -> '12.3 ms'; 5400 -> '1.5 h'."""
    if value >= 7200:
        return f"{value / 3600:.3g} h"
    if value >= 120:
        return f"{value / 60:.3g} min"
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} us"


def rate(value: float) -> str:
    """1.2e11 -> '120GFLOP/s'; a peta-scale rate in P (units.si stops at T)."""
    if value >= 1e15:
        return f"{value / 1e15:.3g}PFLOP/s"
    return f"{units.si(value)}FLOP/s"


def summary_lines(estimate, images: int | None = None) -> list[str]:
    """What the estimate says, in a few lines."""
    profile = estimate.profile
    bandwidth = profile.memory_bandwidth
    memory_bound = [layer for layer in estimate.layers if layer.bytes and
                    layer.bound(bandwidth) == "memory"]
    share = sum(layer.seconds for layer in memory_bound) / max(estimate.step_seconds, 1e-30)
    lines = [
        f"{estimate.name}, batch {estimate.batch}, {estimate.dtype}, {estimate.optimizer} "
        f"on {profile.name} ({rate(estimate.peak)} {estimate.dtype} matmul peak, "
        f"{units.size_bytes(bandwidth)}/s; ridge point "
        f"{estimate.peak / bandwidth:.3g} FLOPs/byte)",
        f"training step: {seconds(estimate.step_seconds)} estimated = forward "
        f"{seconds(estimate.forward_seconds)} + backward {seconds(estimate.backward_seconds)}"
        f" + optimizer {seconds(estimate.optimizer_seconds)}; "
        f"{units.si(estimate.model_flops)} FLOPs",
        f"memory-bound: {len(memory_bound)} of {len(estimate.layers)} layers, "
        f"{share:.0%} of the estimated time",
    ]
    if images:
        lines.append(f"epoch of {images:,} images: {seconds(estimate.epoch_seconds(images))}"
                     f" ({-(-images // estimate.batch):,} steps)")
    return lines


def roofline_figure(estimate, *, width_px: int = 1100, height_px: int = 750):
    """Each layer of ``estimate`` as a point under the device's roofs."""
    _, _, FuncFormatter = _matplotlib()
    figure = _new_figure(width_px, height_px)
    ax = figure.subplots()
    layers = [layer for layer in estimate.layers if layer.flops and layer.bytes]
    bandwidth = estimate.profile.memory_bandwidth
    intensities = [layer.intensity for layer in layers] or [1.0]
    low, high = min(intensities) / 4, max(intensities) * 4
    roofs: dict = {}  # one roof per distinct rate, named by the families that share it
    for layer in layers:
        names = roofs.setdefault(layer.rate, [])
        if layer.family not in names:
            names.append(layer.family)
    for roof, names in sorted(roofs.items(), reverse=True):
        family_name = names[0]
        knee = roof / bandwidth
        xs = [low, min(max(knee, low), high), high]
        ax.plot(xs, [min(roof, x * bandwidth) for x in xs], color=FAMILY_COLOURS[family_name],
                linewidth=1.5, alpha=0.7, label=f"roof: {', '.join(names)} {rate(roof)}")
    total = max(estimate.step_seconds, 1e-30)
    for family_name in FAMILY_COLOURS:
        chosen = [layer for layer in layers if layer.family == family_name]
        if not chosen:
            continue
        ax.scatter([layer.intensity for layer in chosen],
                   [layer.flops / layer.seconds for layer in chosen],
                   s=[max(8.0, 600 * layer.seconds / total) for layer in chosen],
                   color=FAMILY_COLOURS[family_name], alpha=0.6, edgecolors="black",
                   linewidths=0.4, label=f"{family_name} layers ({len(chosen)})")
    _label_slowest(ax, layers)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_xlabel("arithmetic intensity (FLOPs per byte moved, forward + backward)")
    ax.set_ylabel("attained FLOP/s (estimate)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: rate(value)))
    ax.grid(True, which="both", alpha=0.2)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{estimate.name}, batch {estimate.batch}, {estimate.dtype} on "
                 f"{estimate.profile.name}: step {seconds(estimate.step_seconds)} estimated "
                 "(point area: share of the step)", fontsize=10)
    figure.tight_layout()
    return figure


def _label_slowest(ax, layers, count: int = 5) -> None:
    slowest = sorted(layers, key=lambda each: -each.seconds)[:count]
    for place, layer in enumerate(slowest):
        if layer.seconds > 0 and not math.isinf(layer.intensity):
            # staggered, so labels of layers at one intensity do not print over each other
            ax.annotate(layer.path, (layer.intensity, layer.flops / layer.seconds),
                        fontsize=7, xytext=(4, -12 - 10 * place), textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "linewidth": 0.4, "alpha": 0.5})
