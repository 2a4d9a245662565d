"""The Python API as a notebook uses it: ``archcalc.analyze(...)`` gives the numbers the
CLI prints (``to_dict`` is `table --format json`, ``to_dataframe`` and ``_repr_html_``
carry the same rows), stays a Report, and names its version; and the CSV's rows, totals
and shape columns against the JSON."""
from __future__ import annotations

import csv
import io
import json
import sys
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import archcalc
from archcalc.analysis.report import Report
from archcalc.cli.main import main
from archcalc.errors import ArchcalcError

ROOT = Path(__file__).resolve().parent.parent
RESNET50_PARAMS = 25_557_032  # torchvision's resnet50, the README's figure
RESNET50_MACS = 4_089_184_256


def cli_json(*args) -> dict:
    result = CliRunner().invoke(main, ["table", *map(str, args), "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def resnet50():
    return archcalc.analyze("resnet50")


@pytest.fixture(scope="module")
def resnet50_cli():
    return cli_json("resnet50")


def test_to_dict_is_the_cli_document(resnet50, resnet50_cli):
    assert resnet50.to_dict() == resnet50_cli
    assert json.loads(resnet50.to_json()) == resnet50_cli
    assert resnet50_cli["totals"]["params"] == RESNET50_PARAMS
    assert resnet50_cli["totals"]["macs"] == RESNET50_MACS


def test_the_result_is_still_a_report(resnet50):
    assert isinstance(resnet50, Report)
    assert resnet50.totals["params"] == RESNET50_PARAMS
    assert resnet50.output == (1000,)
    assert resnet50.calls, "the memory plan and the builder need the calls"
    folded = resnet50.folded(2)
    assert folded.to_dict() == cli_json("resnet50", "--depth", "2")


@settings(max_examples=8, deadline=None)
@given(name=st.sampled_from(["lenet5", "alexnet", "resnet18", "mobilenet_v2"]),
       batch=st.integers(1, 64), dtype=st.sampled_from(["fp32", "fp16", "bf16"]),
       side=st.sampled_from([None, 96, 160, 256]))
def test_any_input_batch_and_dtype_match_the_cli(name, batch, dtype, side):
    shape = None if side is None or name == "lenet5" else (3, side, side)
    args = [name, "--batch", batch, "--dtype", dtype]
    if shape:
        args += ["--input", f"3x{side}x{side}"]
    assert archcalc.analyze(name, shape, batch=batch, dtype=dtype).to_dict() == cli_json(*args)


def test_dataframe_rows_are_the_cli_rows(resnet50, resnet50_cli):
    pandas = pytest.importorskip("pandas")
    frame = resnet50.to_dataframe()
    layers = resnet50_cli["layers"]
    assert list(frame["name"]) == [row["name"] for row in layers]
    for key in ("activations", "activation_bytes", "params", "buffers", "macs", "flops"):
        assert [int(v) for v in frame[key]] == [row[key] for row in layers], key
    for index, row in enumerate(layers):
        dims = [frame[f"output_dim{axis}"].iloc[index] for axis in (1, 2, 3)]
        shape = [int(d) for d in dims if not pandas.isna(d)]
        assert shape == row["output_shape"]
        if row["receptive_field"]:
            assert int(frame["rf_size_h"].iloc[index]) == row["receptive_field"]["size"][0]
    assert int(frame["params"].sum()) == RESNET50_PARAMS
    assert int(frame["macs"].sum()) == RESNET50_MACS
    assert frame.attrs["totals"] == resnet50_cli["totals"]


class _Cells(HTMLParser):
    """The text of every cell, row by row (an independent reading of the HTML)."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in in ("td", "th"):
            self.rows[-1][-1] += data
        elif self._in == "caption":
            self.caption += data


def test_notebook_html_shows_the_cli_numbers(resnet50, resnet50_cli):
    parser = _Cells()
    parser.feed(resnet50._repr_html_())
    header, *body = parser.rows
    rows, total = body[:-1], body[-1]
    assert len(rows) == len(resnet50_cli["layers"])
    column = {name: header.index(name) for name in ("layer", "params", "MACs", "FLOPs")}

    def number(text: str) -> int:
        return int(text.replace(",", ""))

    for cells, row in zip(rows, resnet50_cli["layers"]):
        assert cells[column["layer"]] == row["name"]
        assert number(cells[column["params"]]) == row["params"]
        assert number(cells[column["MACs"]]) == row["macs"]
        assert number(cells[column["FLOPs"]]) == row["flops"]
    assert number(total[column["params"]]) == RESNET50_PARAMS
    assert number(total[column["MACs"]]) == RESNET50_MACS
    markdown = resnet50._repr_markdown_()
    assert "25,557,032" in markdown and "4,089,184,256" in markdown


def test_html_escapes_what_the_spec_says(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text('archcalc: 1\nname: tiny\ntitle: "<script>alert(1)</script> & co"\n'
                    "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3}\n")
    html = archcalc.analyze(spec)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; co" in html


def test_dataframe_without_pandas_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(ArchcalcError) as caught:
        archcalc.analyze("lenet5").to_dataframe()
    assert "pip install pandas" in str(caught.value)


def test_version_is_the_installed_one():
    assert archcalc.__version__ == version("archcalc")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{archcalc.__version__}"' in pyproject
    shown = CliRunner().invoke(main, ["--version"])
    assert shown.stdout.strip() == f"archcalc {archcalc.__version__}"
    assert (Path(archcalc.__file__).parent / "py.typed").is_file()
    with pytest.raises(AttributeError):
        archcalc.no_such_name  # noqa: B018  the module __getattr__ refuses other names


def test_csv_separates_totals_and_gives_each_axis_a_column(tmp_path):
    """A layer named "total" stays a layer; every line agrees with the JSON document."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text("archcalc: 1\nname: tiny\ninput: [3, 8, 8]\nlayers:\n"
                    "  - conv: {out: 4, kernel: 3, name: total}\n  - flatten\n"
                    "  - fc: {out: 2}\n")
    result = CliRunner().invoke(main, ["table", str(spec), "--format", "csv", "--batch", "2"])
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    document = cli_json(spec, "--batch", "2")
    assert [line["row"] for line in lines] == ["input", "layer", "layer", "layer", "total"]
    assert lines[1]["name"] == "total" and lines[1]["kind"] == "conv"
    for line, row in zip(lines[:-1], document["layers"]):
        dims = [line[f"output_dim{axis}"] for axis in (1, 2, 3)]
        assert [int(d) for d in dims if d] == row["output_shape"]
        assert all(d for d in dims[:len(row["output_shape"])])
        for key in ("activations", "activation_bytes", "params", "macs", "flops"):
            assert int(line[key]) == row[key], key
    total = lines[-1]
    for key in ("activations", "activation_bytes", "params", "buffers", "macs", "flops"):
        assert int(total[key]) == document["totals"][key], key
    assert [total["output_dim1"], total["output_dim2"]] == ["2", ""]
    # hand arithmetic: conv 3x3x3x4 + 4 = 112, fc 144x2 + 2 = 290
    assert int(total["params"]) == 112 + 290
