"""Forms of a sweep over input sizes: a rich table and a plain dict for JSON."""
from __future__ import annotations

from archcalc.render import units

HEADERS = ("input", "output", "params", "MACs", "activations", "memory", "status")


def sweep_table(spec, points, smallest: int | None, dtype: str, batch: int):
    from rich.text import Text

    from archcalc.render.rich_table import Table

    channels = spec.input[0]
    smallest_text = (f"the smallest input it accepts is {channels}x{smallest}x{smallest}"
                     if smallest is not None else "it accepts no square input up to the limit")
    table = Table(title=f"{spec.name} over input sizes", header_style="bold",
                  caption=f"{smallest_text}. Batch {batch}, {dtype}; memory is forward "
                          "activation memory (MB = 10^6 bytes).", caption_justify="left")
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if 2 <= index <= 5 else "left")
    for point in points:
        if point.accepted:
            totals = point.batch_totals
            table.add_row(units.shape(point.input), units.shape(point.output),
                          units.grouped(totals["params"]), units.grouped(totals["macs"]),
                          units.grouped(totals["activations"]),
                          units.size_bytes(totals["activation_bytes"]), Text("ok", "green"))
        else:
            table.add_row(units.shape(point.input), "", "", "", "", "",
                          Text(f"REJECTED at {point.rejected_at}: {point.reason}", "red"))
    return table


def sweep_dict(spec, points, smallest: int | None, dtype: str, batch: int) -> dict:
    sizes = []
    for point in points:
        entry = {"side": point.side, "input": list(point.input), "accepted": point.accepted}
        if point.accepted:
            entry.update(output=list(point.output), **point.batch_totals)
        else:
            entry.update(rejected_at=point.rejected_at, reason=point.reason)
        sizes.append(entry)
    channels = spec.input[0]
    return {"name": spec.name, "input": list(spec.input), "batch": batch, "dtype": dtype,
            "smallest_side": smallest,
            "smallest_input": [channels, smallest, smallest] if smallest is not None else None,
            "sizes": sizes}
