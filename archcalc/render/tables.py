"""People-facing tables of a report: rich (terminal) and Markdown."""
from __future__ import annotations

from archcalc.analysis.report import Report
from archcalc.render import units
from archcalc.render.safe_text import cell

HEADERS = ("layer", "kind", "output (CxHxW)", "activations", "memory", "params", "MACs",
           "RF")


UNKNOWN = "?"  # a figure archcalc does not know (an opaque node), never shown as 0


def figure(value) -> str:
    return UNKNOWN if value is None else units.grouped(value)


def lower_bound(report: Report, key: str, text: str) -> str:
    """``text`` (a total of ``key``) as a lower bound when some rows' ``key`` is unknown."""
    unknown = report.unknown.get(key)
    return f"at least {text}" if unknown else text


def unknown_note(report: Report) -> str:
    """The caption's sentence naming the rows whose cost is unknown ('' when none)."""
    names = sorted(set(report.unknown.get("macs", [])) | set(report.unknown.get("flops", [])))
    if not names:
        return ""
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return (f" MACs and FLOPs are lower bounds: unknown for {len(names)} node(s) ({shown}; "
            "opaque: ? in the table).")


def _cells(row, report: Report) -> list[str]:
    """One row for the whole batch (the caption says which batch)."""
    batch = report.row_per_batch(row)
    rf = f"{units.square(row.rf.size)} /{units.square(row.rf.stride)}" if row.rf else ""
    # the stacked layout hands rich pre-built segments, so names are escaped here
    return [cell(row.path), cell(row.kind), units.shape(row.output_shape),
            units.grouped(batch.activations), units.size_bytes(batch.activation_bytes),
            units.grouped(row.params), figure(batch.macs), rf]


def _total_cells(report: Report) -> list[str]:
    totals = report.batch_totals
    return ["total", "", units.shape(report.output), units.grouped(totals["activations"]),
            units.size_bytes(totals["activation_bytes"]), units.grouped(totals["params"]),
            lower_bound(report, "macs", units.grouped(totals["macs"])), ""]


def caption(report: Report) -> str:
    totals = report.batch_totals
    return (f"{report.name} at {units.shape(report.input)}, batch {report.batch}, "
            f"{report.dtype}: {units.si(totals['params'])} params "
            f"({units.size_bytes(totals['param_bytes'])}), "
            f"{lower_bound(report, 'macs', units.si(totals['macs']))} MACs, "
            f"{lower_bound(report, 'flops', units.si(totals['flops']))} FLOPs, "
            f"{units.size_bytes(totals['activation_bytes'])} activations (forward only); "
            f"buffers {units.grouped(totals['buffers'])}. MB = 10^6 bytes; RF = receptive "
            "field size /effective stride." + unknown_note(report))


def rich_table(report: Report, title: str | None = None):
    """The per-layer table as a rich renderable (print it on a rich Console)."""
    cells = [_cells(row, report) for row in report.rows]
    return _LayerTable(title or report.name, HEADERS, cells, _total_cells(report),
                       caption(report))


# --- training passes (`table --pass backward|step`): analysis/backward.py's records -----

STEP_HEADERS = {
    "backward": ("layer", "kind", "output (CxHxW)", "params", "gradients",
                 "input grad FLOPs", "weight grad FLOPs", "elementwise FLOPs",
                 "backward FLOPs"),
    "step": ("layer", "kind", "output (CxHxW)", "params", "gradients", "forward FLOPs",
             "backward FLOPs", "step FLOPs"),
}


def _gradients(record) -> str:
    """Which gradients a row computes: of its input, of its weights."""
    named = [name for name, computed in (("input", record.input_grad),
                                          ("weights", record.weight_grad)) if computed]
    return " + ".join(named) or "none"


def _step_figures(record, training_pass: str, batch) -> list[str]:
    if training_pass == "backward":
        figures = [record.backward_input_flops, record.backward_weight_flops,
                   record.backward_elementwise_flops, record.backward_flops]
    else:
        figures = [record.forward_flops, record.backward_flops, record.step_flops]
    return [units.grouped(value * batch) for value in figures]


def _step_cells(report: Report, records, training_pass: str) -> list[list[str]]:
    return [[cell(row.path), cell(row.kind), units.shape(row.output_shape),
             units.grouped(row.params), _gradients(record) if index else "",
             *_step_figures(record, training_pass, report.batch)]
            for index, (row, record) in enumerate(zip(report.rows, records))]


def _step_total_cells(report: Report, totals: dict, training_pass: str) -> list[str]:
    keys = ("backward_input_flops", "backward_weight_flops", "backward_elementwise_flops",
            "backward_flops") if training_pass == "backward" else \
        ("forward_flops", "backward_flops", "step_flops")
    return ["total", "", units.shape(report.output), units.grouped(report.totals["params"]),
            "", *(units.grouped(totals[key]) for key in keys)]


def step_caption(report: Report, totals: dict, frozen_until: str | None) -> str:
    """What the training-pass table counts; ``totals``: analysis/backward.step_totals."""
    frozen = f"; weights fixed up to and including {frozen_until}" if frozen_until else ""
    return (f"{report.name} at {units.shape(report.input)}, batch {report.batch}, one "
            f"training step: forward {units.si(totals['forward_flops'])} FLOPs, backward "
            f"{units.si(totals['backward_flops'])} (input gradients "
            f"{units.si(totals['backward_input_flops'])}, weight gradients "
            f"{units.si(totals['backward_weight_flops'])}, elementwise "
            f"{units.si(totals['backward_elementwise_flops'])}){frozen}. Gradient FLOPs are "
            "2 per MAC of the matmul-type work (what FlopCounterMode counts); elementwise by "
            "each kind's rule. The images need no gradient.")


def step_rich_table(report: Report, records, training_pass: str, title: str,
                    frozen_until: str | None = None):
    """``table --pass backward|step``: ``records`` from analysis/backward.py, one per row."""
    from archcalc.analysis.backward import step_totals

    totals = step_totals(records, report.batch)
    return _LayerTable(title, STEP_HEADERS[training_pass],
                       _step_cells(report, records, training_pass),
                       _step_total_cells(report, totals, training_pass),
                       step_caption(report, totals, frozen_until))


def step_markdown_table(report: Report, records, training_pass: str,
                        frozen_until: str | None = None) -> str:
    from archcalc.analysis.backward import step_totals

    totals = step_totals(records, report.batch)
    return _markdown(STEP_HEADERS[training_pass],
                     _step_cells(report, records, training_pass)
                     + [_step_total_cells(report, totals, training_pass)],
                     step_caption(report, totals, frozen_until))


class _LayerTable:
    """Lays the rows out as one pre-aligned multi-line cell per column when the table
    fits the console: the same characters as one rich row per layer, but rich renders
    (measures, wraps, justifies) each cell on its own, which took 0.8 s for the 1,348
    rows of preact_resnet1001 against 0.09 s stacked. A console too narrow for the
    table gets one rich row per layer, so that numbers wrap instead of being cut."""

    def __init__(self, title: str, headers, cells, footer, caption_text: str):
        self.title, self.headers, self.cells, self.footer = title, headers, cells, footer
        self.caption = caption_text

    def __rich_console__(self, console, options):
        from rich.cells import cell_len

        cells, footer = self.cells, self.footer
        widths = [max(cell_len(text) for text in column)
                  for column in zip(self.headers, footer, *cells)]
        # each column has one space of padding either side and a border after it
        fits = sum(widths) + 3 * len(widths) + 1 <= options.max_width
        yield self._table(cells, footer, widths if fits else None)

    def _table(self, cells, footer, stacked_widths):
        from archcalc.render.rich_table import Table

        table = Table(title=self.title, caption=self.caption, show_footer=True,
                      caption_justify="left", header_style="bold")
        for index, header in enumerate(self.headers):
            numeric = index >= 3
            # too narrow: every cell folds (a long name or number goes on over two lines)
            # rather than being cut with an ellipsis, which would show a wrong number
            table.add_column(header, footer=footer[index],
                             justify="right" if numeric else "left",
                             no_wrap=stacked_widths is not None)
        if stacked_widths is not None:
            columns = zip(zip(*cells), stacked_widths)
            table.add_row(*(_AlignedLines(lines, width, right=index >= 3)
                            for index, (lines, width) in enumerate(columns)))
        else:
            for row in cells:
                table.add_row(*row)
        return table


class _AlignedLines:
    """Lines already padded to one width: rich prints them as they are."""

    def __init__(self, lines, width: int, right: bool):
        from rich.cells import cell_len, set_cell_size

        if right:
            self.lines = [" " * (width - cell_len(line)) + line for line in lines]
        else:
            self.lines = [set_cell_size(line, width) for line in lines]
        self.width = width

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        new_line = Segment.line()
        for line in self.lines:
            yield Segment(line)
            yield new_line

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement(self.width, self.width)


def markdown_table(report: Report) -> str:
    return _markdown(HEADERS, [_cells(row, report) for row in report.rows]
                     + [_total_cells(report)], caption(report))


def _markdown(headers, rows, caption_text: str) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i >= 3 else "---" for i in range(len(headers))) + "|"]
    for cells in rows:
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + caption_text + "\n"
