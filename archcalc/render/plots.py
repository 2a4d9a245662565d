"""Bar charts (matplotlib, Agg backend): per-layer costs of one spec, totals of several.

The only module that imports matplotlib, and only when a command asks for a
plot. Figures are built on an explicit Agg canvas (no pyplot, no global state,
no display needed) and returned, so tests can count their bars before saving.
Axis ticks are formatted by ``units`` like every other number archcalc shows.
"""
from __future__ import annotations

from pathlib import Path

from archcalc.errors import ArchcalcError
from archcalc.render import units

DPI = 100
# One colour per family of layer, so the conv/fc split the lecture points at shows.
KIND_COLOURS = {"conv": "tab:blue", "fc": "tab:orange", "maxpool": "tab:gray",
                "avgpool": "tab:gray", "adaptive_avgpool": "tab:gray", "input": "tab:green",
                "block": "tab:purple", "add": "tab:purple", "concat": "tab:purple"}
OTHER_COLOUR = "tab:olive"


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise ArchcalcError("plotting needs matplotlib",
                            hint="pip install 'archcalc[plot]'") from None
    return Figure, FigureCanvasAgg, FuncFormatter


def _new_figure(width_px: int, height_px: int):
    Figure, FigureCanvasAgg, _ = _matplotlib()
    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def default_layer_size(rows: int) -> tuple[int, int]:
    """Pixels: about 18 px per bar so labels stay legible, within 800..4800 wide."""
    return max(800, min(4800, 200 + 18 * rows)), 900


def layer_figure(report, *, width_px: int | None = None, height_px: int | None = None):
    """Three panels (activation memory, params, MACs), one bar per row of ``report``."""
    _, _, FuncFormatter = _matplotlib()
    rows = report.rows
    default_width, default_height = default_layer_size(len(rows))
    figure = _new_figure(width_px or default_width, height_px or default_height)
    axes = figure.subplots(3, 1, sharex=True)
    positions = list(range(len(rows)))
    colours = [KIND_COLOURS.get(row.kind, OTHER_COLOUR) for row in rows]
    per_batch = [report.row_per_batch(row) for row in rows]
    panels = (
        ("activation memory", [each.activation_bytes for each in per_batch], units.size_bytes),
        ("params", [row.params for row in rows], units.si),
        ("MACs", [each.macs for each in per_batch], units.si),
    )
    for ax, (label, values, formatter) in zip(axes, panels):
        ax.bar(positions, values, color=colours, width=0.8)
        ax.set_ylabel(label)
        ax.yaxis.set_major_formatter(_ticks(FuncFormatter, formatter))
        ax.grid(axis="y", alpha=0.3)
        if any(values):
            largest = max(positions, key=values.__getitem__)
            ax.set_title(f"{label}: largest {rows[largest].path}, "
                         f"{units.percent(values[largest], sum(values))} of the total",
                         loc="left", fontsize=9)
    axes[-1].set_xticks(positions)
    axes[-1].set_xticklabels([row.path for row in rows], rotation=90,
                             fontsize=8 if len(rows) <= 60 else 5)
    axes[-1].set_xlim(-0.6, len(rows) - 0.4)
    totals = report.batch_totals
    figure.suptitle(f"{report.name} at {units.shape(report.input)}, {report.dtype}: "
                    f"{units.size_bytes(totals['activation_bytes'])} activations, "
                    f"{units.si(totals['params'])} params, {units.si(totals['macs'])} MACs")
    _kind_legend(figure, axes[0], sorted({row.kind for row in rows}))
    figure.tight_layout()
    return figure


def _ticks(FuncFormatter, formatter):
    """Tick labels through ``units``; whole floats as ints so zero reads '0 B', not '0.0 B'."""
    return FuncFormatter(lambda value, _: formatter(int(value) if value == int(value)
                                                    else value))


def _kind_legend(figure, ax, kinds):
    from matplotlib.patches import Patch

    handles = [Patch(color=KIND_COLOURS.get(kind, OTHER_COLOUR), label=kind) for kind in kinds]
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=min(len(handles), 6))


def comparison_figure(models, *, width_px: int | None = None, height_px: int = 500):
    """One panel per compared total (params, MACs, FLOPs, activation memory, depth),
    one bar per model."""
    _, _, FuncFormatter = _matplotlib()
    panels = (("params", "params", units.si), ("MACs", "macs", units.si),
              ("FLOPs", "flops", units.si),
              ("activation memory", "activation_bytes", units.size_bytes),
              ("depth (weight layers)", "depth", lambda v: f"{v:g}"))
    width = width_px or len(panels) * max(200, 120 + 40 * len(models))
    figure = _new_figure(width, height_px)
    axes = figure.subplots(1, len(panels))
    names = [model.name for model in models]
    positions = list(range(len(models)))
    for ax, (label, key, formatter) in zip(axes, panels):
        values = [getattr(model, key) for model in models]
        bars = ax.bar(positions, values, color=[f"C{i % 10}" for i in positions])
        base = values[0]
        ax.bar_label(bars, fontsize=7, labels=[
            formatter(v) + (f"\n{units.ratio(v / base)}" if base and i else "")
            for i, v in enumerate(values)])
        ax.set_title(label)
        ax.set_xticks(positions)
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax.yaxis.set_major_formatter(_ticks(FuncFormatter, formatter))
        ax.margins(y=0.15)  # room for the labels above the tallest bar
    inputs = sorted({units.shape(model.input) for model in models})
    figure.suptitle(f"totals per image at {', '.join(inputs)}")
    figure.tight_layout()
    return figure


def save(figure, path, option: str = "--out", overwrite: bool = False) -> tuple[int, int]:
    """Write ``figure`` to ``path`` (format from the suffix), atomically; an existing file
    needs ``overwrite`` (named by ``option`` in the refusal). Returns its pixel size."""
    from archcalc.files import refuse_existing, write_atomic

    target = Path(path)
    supported = figure.canvas.get_supported_filetypes()
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in supported:
        raise ArchcalcError(f"cannot write a .{suffix or '(no suffix)'} image: {target}",
                            hint=f"use one of: {', '.join('.' + s for s in sorted(supported))}")
    if not target.parent.is_dir():  # a mistyped folder is a mistake, not one to create
        raise ArchcalcError(f"{option}: no such folder {target.parent}",
                            hint="create the folder first, or write the image elsewhere")
    if not overwrite:
        refuse_existing(target, option)
    write_atomic(target, lambda stream: figure.savefig(stream, format=suffix, dpi=DPI))
    width, height = figure.get_size_inches() * DPI
    return round(width), round(height)
