"""What ``archcalc.analyze`` returns: a Report that also has its machine-readable and
notebook forms.

``Report`` (analysis/report.py) sits below the renderers in the layering, so it cannot
build its own JSON or HTML; ``AnalysisReport`` is the same Report (a subclass: every
field, property and method still works) with the spec it came from, and the forms of
the render stage:

- ``to_dict()``: the document of `archcalc table --format json`, schema field included;
- ``to_dataframe()``: one pandas row per table row (pandas is optional);
- ``_repr_html_()`` / ``_repr_markdown_()``: the table, in a notebook.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archcalc.analysis.report import Report
from archcalc.errors import ArchcalcError

if TYPE_CHECKING:
    import pandas

__all__ = ["AnalysisReport", "json_schema"]


@dataclass
class AnalysisReport(Report):
    """A Report with ``to_dict``, ``to_dataframe`` and notebook displays."""

    spec: Any = field(default=None, repr=False)  # spec.model.Spec: title, source, file

    @classmethod
    def of(cls, report: Report, spec: Any = None) -> AnalysisReport:
        return cls(report.name, report.input, report.rows, report.batch, report.dtype,
                   calls=report.calls, spec=spec)

    def with_rows(self, rows: list) -> AnalysisReport:
        """As Report's, keeping the spec and the forms (``folded`` goes through here)."""
        return AnalysisReport(self.name, self.input, rows, self.batch, self.dtype,
                              spec=self.spec)

    def to_dict(self) -> dict:
        """The same document as `archcalc table NAME --format json` (with the same
        ``--input``, ``--batch`` and ``--dtype``)."""
        from archcalc.render.export import report_dict

        return report_dict(self, self.spec)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per table row (the input first), the columns of the CSV's layer rows:
        each output axis in its own column (``output_dim1``...), activations per image,
        bytes, MACs and FLOPs for the batch. ``attrs`` holds name, input, batch, dtype
        and the batch's totals. Needs pandas."""
        try:
            import pandas
        except ImportError:
            raise ArchcalcError("to_dataframe() needs pandas, which is not installed",
                                hint="pip install pandas") from None
        from archcalc.render.export import flat_rows

        columns, rows = flat_rows(self)
        data: dict[str, Any] = {}
        for index, column in enumerate(columns):
            values = [row[index] for row in rows]
            whole = all(v is None or type(v) is int for v in values)
            # axes a row lacks are <NA> in an integer column, not NaN in a float one
            data[column] = pandas.array(values, dtype="Int64") if whole and any(
                v is None for v in values) else values
        frame = pandas.DataFrame(data, columns=columns)
        document = self.to_dict()
        frame.attrs.update(name=self.name, input=document["input"], batch=document["batch"],
                           dtype=self.dtype, totals=document["totals"])
        return frame

    def _title(self) -> str:
        title = getattr(self.spec, "title", "")
        return f"{self.name}: {title}" if title else self.name

    def _repr_html_(self) -> str:
        from archcalc.render.notebook import html_table

        return html_table(self, self._title())

    def _repr_markdown_(self) -> str:
        from archcalc.render.tables import markdown_table

        return f"**{self._title()}**\n\n{markdown_table(self)}"


def json_schema() -> dict:
    """The published JSON Schema of every document archcalc writes with --format json."""
    from archcalc.render.export import schema_path

    return json.loads(schema_path().read_text(encoding="utf-8"))
