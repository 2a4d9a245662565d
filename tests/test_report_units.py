"""One unit per field: a report's rows and ``totals`` are per image at any batch, and the
batch figures (``batch_totals``, ``row_per_batch``) are those times the batch; ``calls``
are named; one folding rule serves ``--depth`` and ``--paper``.

Oracles: the same spec analysed at batch 1 (its figures per image), hand arithmetic
(elements x dtype bytes x batch), the rows themselves (a total is the sum of its rows).
"""
from __future__ import annotations

import ast
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc import load_spec
from archcalc.analysis.analyze import analyze
from archcalc.analysis.published_check import fold_to
from archcalc.analysis.report import DTYPE_BYTES, PER_IMAGE_KEYS, Call
from archcalc.spec.loader import parse_spec
from archcalc.testing import specs

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PACKAGE = Path(__file__).resolve().parent.parent / "archcalc"


def load(document):
    return parse_spec(yaml.safe_dump(document, sort_keys=False), "random.yaml")


@SETTINGS
@given(specs(), st.integers(2, 9), st.sampled_from(sorted(DTYPE_BYTES)))
def test_rows_and_totals_are_per_image_and_batch_figures_scale(document, batch, dtype):
    spec = load(document)
    one = analyze(spec, dtype=dtype)
    many = analyze(spec, batch=batch, dtype=dtype)
    assert many.totals == one.totals == one.batch_totals
    assert many.rows == one.rows
    for key, value in many.batch_totals.items():
        assert value == (batch * one.totals[key] if key in PER_IMAGE_KEYS else one.totals[key])
    size = DTYPE_BYTES[dtype]
    figures = [many.row_per_batch(row) for row in many.rows]
    for row, each in zip(many.rows, figures):
        assert each == (row.activations * batch, row.activations * size * batch,
                        row.macs * batch, row.flops * batch)
    # a batch total is the sum of the rows' batch figures
    for key in PER_IMAGE_KEYS:
        assert sum(getattr(each, key) for each in figures) == many.batch_totals[key]


def test_calls_are_named_and_still_unpack():
    report = analyze(load_spec("resnet18"))
    rows = {row.path: row for row in report.layers}
    assert set(report.calls) == set(rows)
    for path, call in report.calls.items():
        assert isinstance(call, Call)
        kind, params, inputs, output = call  # importers that unpack keep working
        assert (kind, params, inputs, output) == (call.kind, call.params, call.inputs,
                                                  call.output)
        assert tuple(call.output) == rows[path].output_shape
        assert call.kind.param_count(call.params, call.inputs, call.output) == \
            rows[path].params


def test_calls_of_nodes_turned_out_of_place_are_named_too():
    """A ReLU after a tanh cannot run in place (tanh saved its output): analysis/inplace.py
    rewrites that node's call."""
    spec = parse_spec("archcalc: 1\nname: t\ninput: [2, 6, 6]\nlayers:\n"
                      "  - conv: {out: 2, kernel: 3}\n  - tanh\n  - relu\n", "t.yaml")
    report = analyze(spec)
    relu = next(path for path, call in report.calls.items() if path.startswith("relu"))
    assert report.calls[relu].params["inplace"] is False
    assert all(isinstance(call, Call) for call in report.calls.values())


@SETTINGS
@given(specs())
def test_depth_one_and_paper_folding_are_one_rule(document):
    """--depth 1 and --paper's folding to the top-level nodes give the same rows."""
    report = analyze(load(document))
    top = sorted({row.path.split(".")[0] for row in report.layers})
    assert fold_to(report, top).rows == report.folded(1).rows


def test_analysis_imports_nothing_above_it():
    """The layering: analysis sits below render and cli (and never imports torch code)."""
    above = ("archcalc.render", "archcalc.cli", "archcalc.torchgraph", "archcalc.verify",
             "archcalc.train", "archcalc.search")
    found = []
    for path in sorted((PACKAGE / "analysis").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name}: {name}" for name in names if name.startswith(above)]
    assert found == []


@given(st.floats(min_value=1e-4, max_value=1e6, allow_nan=False))
def test_throughput_never_shows_a_running_model_as_zero(rate):
    from archcalc.render.units import throughput

    text = throughput(rate)
    shown = float(text.replace(",", ""))
    assert shown > 0
    # two significant digits below 10, whole numbers above: within 5% of the rate
    assert abs(shown - rate) <= 0.05 * rate + (0.5 if rate >= 10 else 0)
