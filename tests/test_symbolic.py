"""Symbolic analysis: formulas of the input size from the same rules, checked
against the integer analysis, the concrete size search and hand arithmetic."""
from __future__ import annotations

import json
import time

import pytest
import sympy
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc import analyze, load_spec
from archcalc.analysis import limits
from archcalc.analysis.shape_text import parse_symbolic_shape
from archcalc.analysis.symbolic import (
    analyze_symbolic,
    conditions_hold,
    size_classes,
    symbol,
)
from archcalc.errors import ArchcalcError
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import parse_spec
from archcalc.testing import specs

H, W = symbol("H"), symbol("W")


def first_side_meeting_conditions(result, limit=4096):
    """The smallest square side at which every recorded condition holds: the
    conditions' own answer, to compare with the concrete search of limits.py."""
    return next((side for side in range(1, limit + 1) if conditions_hold(result, side)), None)


def substituted(value, height, width):
    if isinstance(value, sympy.Basic):
        value = value.subs({H: height, W: width})
        assert value.is_Integer, value
        return int(value)
    return value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.data())
def test_symbolic_results_equal_integer_analysis(document, data):
    spec = parse_spec(yaml.safe_dump(document, sort_keys=False), "random.yaml")
    channels, height, width = spec.input
    result = analyze_symbolic(spec, (channels, H, W))
    # Any size the spec accepts: its own, or one drawn near it that analyses.
    height = data.draw(st.integers(height, height + 12), label="height")
    width = data.draw(st.integers(width, width + 12), label="width")
    if not limits.accepts(spec, (channels, height, width)):
        height, width = spec.input[1:]
    concrete = analyze(spec, (channels, height, width))
    assert len(result.report.rows) == len(concrete.rows)
    for symbolic_row, row in zip(result.report.rows, concrete.rows):
        assert tuple(substituted(d, height, width) for d in symbolic_row.output_shape) == \
            row.output_shape
        for key in ("activations", "params", "buffers", "macs", "flops"):
            assert substituted(getattr(symbolic_row, key), height, width) == getattr(row, key)
    for key, value in result.report.totals.items():
        assert substituted(value, height, width) == concrete.totals[key], key
    for condition in result.conditions:
        assert bool(condition.condition.subs({H: height, W: width}))


@pytest.mark.parametrize("name", list(bundled()))
def test_smallest_valid_input_equals_concrete_search(name):
    spec = load_spec(name)
    result = analyze_symbolic(spec, (spec.input[0], H, W))
    assert first_side_meeting_conditions(result) == limits.smallest_square_side(spec)


@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_assume_multiples_of_32_give_a_polynomial_equal_to_the_numeric_analysis(name):
    spec = load_spec(name)
    result = analyze_symbolic(spec, (3, H, W), assume=["H=W", "H%32==0"])
    macs = result.report.totals["macs"]
    assert not macs.has(sympy.floor, sympy.ceiling)
    assert sympy.Poly(macs, H).degree() == 2
    for size in (224, 256, 320):
        numeric = analyze(spec, (3, size, size)).totals
        for key in ("macs", "flops", "activations", "activation_bytes"):
            assert int(result.report.totals[key].subs(H, size)) == numeric[key], (key, size)


def test_resnet50_macs_polynomial_by_hand():
    # At H = W = 32k every stage is exactly H/4 ... H/32 wide; the fc does not scale.
    result = analyze_symbolic(load_spec("resnet50"), (3, H, W), assume=["H=W,H%32==0"])
    conv_macs_at_224 = 4089184256 - 2048 * 1000
    assert sympy.expand(result.report.totals["macs"]) == \
        sympy.Rational(conv_macs_at_224, 224 ** 2) * H ** 2 + 2048000


def test_alexnet_conditions_and_size_classes():
    result = analyze_symbolic(load_spec("alexnet"), (3, H, W))
    assert any(str(c.condition) == "H >= 11" and c.node == "conv1" for c in result.conditions)
    assert first_side_meeting_conditions(result) == 67
    assert limits.smallest_square_side(load_spec("alexnet")) == 67
    classes = size_classes(result, 67)
    # 227 = 32*7 + 3 is the lecture's size where no division rounds.
    assert classes["no_rounding"] == (32, 3)
    assert 227 % 32 == 3


def test_parse_shape_and_symbolic_batch(run_cli):
    assert parse_symbolic_shape("3xHxW") == (3, H, W)
    result = run_cli("table", "vgg16", "--input", "3xHxH", "--batch", "N", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["totals"]["macs"]["free_symbols"]) == {"H", "N"}
    assert data["validity"]["smallest_input"] == "3x32x32"


def test_table_names_the_smallest_input(run_cli):
    result = run_cli("table", "alexnet", "--input", "3x32x32")
    assert result.exit_code == 2
    assert "smallest input that works is 3x67x67" in result.output
    assert "pool2" in result.output


def test_bad_assumption_is_a_clear_error(run_cli):
    result = run_cli("table", "resnet50", "--input", "3xHxW", "--assume", "Q%2==0")
    assert result.exit_code == 2
    assert "not a symbol of the input" in result.output


@pytest.mark.parametrize("args", [["--batch", "B"], ["--input", "3xHxW", "--batch", "B"],
                                  ["--input", "3xHxW"]])
def test_vgg16_smallest_input_with_a_symbolic_batch(run_cli, args):
    # vgg16 needs 32x32: five 2x2/2 floor-mode pools must each see at least 2 pixels
    result = run_cli("table", "vgg16", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["validity"]["smallest_input"] == "3x32x32"


CHAINED_CEIL_POOLS = """archcalc: 1
name: chained_ceil_pools
input: [3, 64, 64]
layers:
""" + "  - maxpool: {kernel: 2, stride: 2, pad: 1, ceil: true}\n" * 5 + \
    "  - maxpool: {kernel: 3, stride: 2, ceil: true}\n" * 3


def test_chained_ceil_pools_are_analysed_in_bounded_time(run_cli, tmp_path):
    # Five pools whose ceil-mode correction depends on the size (pad + stride > extent),
    # then three that overhang: minutes of sympy before the closed form; the smallest
    # input is checked against PyTorch itself.
    torch = pytest.importorskip("torch")
    path = tmp_path / "chained.yaml"
    path.write_text(CHAINED_CEIL_POOLS)
    started = time.monotonic()
    result = run_cli("table", str(path), "--input", "3xHxW", "--format", "json")
    assert time.monotonic() - started < 15
    assert result.exit_code == 0, result.output
    side = json.loads(result.output)["validity"]["smallest_square_side"]
    spec = load_spec(str(path))
    assert side == limits.smallest_square_side(spec)
    symbolic = analyze_symbolic(spec, (3, H, W))
    assert first_side_meeting_conditions(symbolic) == side
    pools = torch.nn.Sequential(
        *[torch.nn.MaxPool2d(2, 2, 1, ceil_mode=True) for _ in range(5)],
        *[torch.nn.MaxPool2d(3, 2, ceil_mode=True) for _ in range(3)])
    assert pools(torch.zeros(1, 3, side, side)).shape[-1] >= 1
    with pytest.raises(RuntimeError):
        pools(torch.zeros(1, 3, side - 1, side - 1))
    for size in range(side, side + 40):  # the formulas equal the integer rules
        assert substituted(symbolic.report.output[1], size, size) == \
            analyze(spec, (3, size, size)).output[1]


def test_symbolic_work_is_bounded_with_a_clear_message():
    with pytest.raises(ArchcalcError, match="did not finish within"):
        analyze_symbolic(load_spec("densenet121"), (3, H, W), seconds=0.01)
    result = analyze_symbolic(load_spec("alexnet"), (3, H, W))
    assert size_classes(result, 67, seconds=0) == {"polynomial": None, "no_rounding": None}


@pytest.mark.parametrize("args,message", [
    (["--input", "3x0xW"], "must be at least 1"),
    (["--input", "3xHxW", "--batch", "0"], "must be at least 1"),
    (["--input", "3x" + "9" * 5000 + "xW"], "more than 18 digits"),
    (["--input", "3xHxW", "--batch", "9" * 5000], "more than 18 digits"),
    (["--input", "3x70000xW"], "at most 65,536"),
    (["--input", "3xH-1xW"], "neither a size nor a symbol"),
])
def test_bad_symbolic_sizes_are_one_clear_error(run_cli, args, message):
    result = run_cli("table", "vgg16", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
