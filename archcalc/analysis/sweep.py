"""Costs of one spec over square input sizes, and where each rejected size collapses."""
from __future__ import annotations

from dataclasses import dataclass

from archcalc.errors import ArchcalcError, ShapeError


@dataclass(frozen=True)
class SweepPoint:
    """One input size: its totals for the sweep's batch, or the layer where it collapses
    and why."""

    side: int
    input: tuple
    output: tuple | None = None
    batch_totals: dict | None = None
    rejected_at: str | None = None  # node path of the layer that cannot take the size
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.batch_totals is not None


def square_input(spec, side: int) -> tuple:
    if len(spec.input) != 3:
        raise ArchcalcError(f"{spec.name} takes a flat input {list(spec.input)}, not an image",
                            hint="sweep varies the height and width of a C x H x W input")
    return (spec.input[0], side, side)


def sweep(spec, sides, *, batch: int = 1, dtype: str = "fp32") -> list[SweepPoint]:
    """One point per side (C x side x side with the spec's channels), in the given order."""
    from archcalc.analysis.analyze import analyze

    points = []
    for side in sides:
        shape = square_input(spec, side)
        try:
            report = analyze(spec, shape, batch=batch, dtype=dtype, check_expect=False)
        except ShapeError as exc:
            points.append(SweepPoint(side, shape, rejected_at=exc.node or "?",
                                     reason=exc.message))
            continue
        points.append(SweepPoint(side, shape, tuple(report.output), dict(report.batch_totals)))
    return points

