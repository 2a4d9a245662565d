"""Properties over random valid specs (archcalc.testing): the built module equals the
analysis, a spec written back to YAML analyses identically, and a spec broken at
random fails with the tool's own error, never another exception."""
from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis.analyze import analyze
from archcalc.errors import ArchcalcError
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import load_spec, parse_spec
from archcalc.spec.published import spec_figures
from archcalc.spec.writer import to_yaml
from archcalc.testing import specs

pytest.importorskip("torch")
pytest.importorskip("fvcore")

from archcalc.verify.node_checks import verify_spec

FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(document):
    return parse_spec(yaml.safe_dump(document, sort_keys=False), "random.yaml")


@FEW
@given(specs(max_layers=4, max_side=48))
def test_built_module_equals_analysis(document):
    # shapes (hooks), params, buffers per node, conv/linear MACs per module (fvcore),
    # total MACs (FlopCounterMode / 2)
    checks = verify_spec(parse(document))
    assert [c for c in checks if c.status == "mismatch"] == []
    assert any(c.what == "MACs (FlopCounterMode / 2)" for c in checks)


@MANY
@given(specs())
def test_written_back_spec_analyses_identically(document):
    spec = parse(document)
    again = parse_spec(to_yaml(spec), "written.yaml")
    assert analyze(again).rows == analyze(spec).rows


@pytest.mark.parametrize("name", list(bundled()))
def test_zoo_written_back_analyses_identically(name):
    spec = load_spec(name)
    again = parse_spec(to_yaml(spec), f"{name}-expanded.yaml")
    assert analyze(again).rows == analyze(spec).rows
    assert again.expect == spec.expect
    assert spec_figures(again) == spec_figures(spec)  # published figures travel too


BAD_VALUES = [0, -3, "three", 1.5, None, [], {"x": 1}, True, "in/0", "$missing", 10**12]


def _layer_items(layers):
    """Every item mapping reachable in a layers list (branch paths included)."""
    for item in layers:
        if isinstance(item, dict):
            yield item
            (op, body), = item.items()
            if op == "branch" and isinstance(body, dict):
                for path in body.get("paths", {}).values():
                    yield from _layer_items(path)


@st.composite
def broken_specs(draw):
    document = copy.deepcopy(draw(specs(max_layers=4)))
    items = list(_layer_items(document["layers"]))
    mutation = draw(st.sampled_from(
        ["value", "key", "op", "drop_required", "top", "input", "items"]))
    if mutation in ("value", "key", "op", "drop_required") and items:
        item = draw(st.sampled_from(items))
        (op, body), = item.items()
        body = body if isinstance(body, dict) else {}
        if mutation == "value" and body:
            body[draw(st.sampled_from(sorted(body)))] = draw(st.sampled_from(BAD_VALUES))
        elif mutation == "key":
            body[draw(st.sampled_from(["strides", "kernal", "paths", "bogus"]))] = 1
        elif mutation == "op":
            item[draw(st.sampled_from(["conv2d", "maxpol", "add", "Conv"]))] = item.pop(op)
        elif mutation == "drop_required":
            for key in ("out", "kernel", "merge", "paths"):
                body.pop(key, None)
    elif mutation == "top":
        document.pop(draw(st.sampled_from(["archcalc", "name", "input", "layers"])))
    elif mutation == "input":
        document["input"] = draw(st.sampled_from([[3, 0, 5], [3, 1, 1], "3x32x32", [], [1.5]]))
    else:
        document["layers"] = draw(st.sampled_from([[], "conv", [42], [{"conv": 3}], None]))
    return document


@MANY
@given(broken_specs())
def test_random_breakage_raises_only_the_tools_error(document):
    try:
        analyze(parse(document))
    except ArchcalcError as exc:
        assert str(exc).startswith("error: ")
