"""The expression function ``divisible`` is torchvision's ``_make_divisible`` exactly, on the
values torchvision's builders pass (a whole number times a decimal width multiplier) and on any
float written out; and the language stays closed: wrong arity, argument types or any other
function end as one SpecError naming the file and line of the spec."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.analysis.analyze import analyze
from archcalc.errors import SpecError
from archcalc.spec.expr import evaluate
from archcalc.spec.loader import parse_spec

torchvision_utils = pytest.importorskip("torchvision.models._utils")
make_divisible = torchvision_utils._make_divisible

# decimal multipliers as a spec writes them (torchvision: 0.5, 0.75, 1.0, 1.1, 1.4, ...)
multipliers = st.integers(1, 400).map(lambda hundredths: hundredths / 100)
divisors = st.integers(1, 16)
minimums = st.none() | st.integers(0, 64)


def call(v_text: str, divisor: int, minimum) -> str:
    extra = "" if minimum is None else f", {minimum}"
    return f"divisible({v_text}, {divisor}{extra})"


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2048), multipliers, divisors, minimums)
def test_equals_torchvision_on_channels_times_a_width(channels, width, divisor, minimum):
    text = call(f"{channels}*{width!r}", divisor, minimum)
    assert evaluate(text, {}) == make_divisible(channels * width, divisor, minimum)


@settings(max_examples=300, deadline=None)
# every float from 2**-60 (finer fractions are refused: spec/expr.py bounds the denominator)
@given(st.just(0.0) | st.floats(2.0 ** -60, 1e6), divisors, minimums)
def test_equals_torchvision_on_any_written_float(v, divisor, minimum):
    assert evaluate(call(repr(v), divisor, minimum), {}) == make_divisible(v, divisor, minimum)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 512), st.integers(1, 8), divisors)
def test_equals_torchvision_on_input_channels_and_arguments(in_channels, quarter, divisor):
    # SE squeeze channels: _make_divisible(expanded // 4, 8) with expanded a multiple of 4
    expanded = 4 * in_channels
    names = {"in": expanded, "q": quarter}
    assert evaluate(f"divisible(in/4, {divisor})", names) == make_divisible(expanded // 4, divisor)
    assert evaluate(f"divisible(in*q/4, {divisor}) - 1", names) == \
        make_divisible(expanded * quarter / 4, divisor) - 1


def test_hand_values():
    # MobileNetV2 at width 0.75: 32*0.75 = 24; 16*0.75 = 12 -> 16 (12 is not a multiple of 8)
    assert evaluate("divisible(32*0.75, 8)", {}) == 24
    assert evaluate("divisible(16*0.75, 8)", {}) == 16
    # MNASNet's docstring: (83, 8) -> 80, but (84, 8) -> 88
    assert evaluate("divisible(83, 8)", {}) == 80 and evaluate("divisible(84, 8)", {}) == 88
    assert evaluate("divisible(3, 8, 1)", {}) == 9  # min 1 floors at 1, then the 10% bump


def test_template_arguments_may_be_width_multipliers():
    document = {"archcalc": 1, "name": "w", "input": [3, 8, 8],
                "templates": {"block": {"args": {"c": "required", "width": 1.0},
                                        "body": [{"conv": {"out": "divisible($c*$width, 8)",
                                                           "kernel": 1}}]}},
                "layers": [{"block": {"c": 32, "width": 0.75}},
                           {"conv": {"out": "divisible(in*2, 8)", "kernel": 1}}]}
    report = analyze(parse_spec(yaml.safe_dump(document, sort_keys=False), "w.yaml"))
    assert [row.output_shape[0] for row in report.layers] == [24, 48]


@pytest.mark.parametrize("value, message", [
    ("divisible(32)", "takes 2 or 3 arguments"),
    ("divisible(32, 8, 1, 2)", "takes 2 or 3 arguments"),
    ("divisible(32, 0)", "`d` is 0, not a whole number"),
    ("divisible(32, 2.5)", "`d` is 5/2, not a whole number"),
    ("divisible(32, 8, 0.5)", "`min` is 1/2, not a whole number"),
    ("divisible(32, d=8)", "positional arguments only"),
    ("max(in, 8)", "calls a function other than divisible"),
    ("max(32, 8)", "must be a whole number"),  # not an expression at all
    ("divisible.x(in, 8)", "calls a function other than divisible"),
    ("in.real", "may only use numbers"),
    ("divisible(in, 8)(2)", "calls a function other than divisible"),
    ("__import__('os') + in", "calls a function other than divisible"),
    ("divisible(1e-300, 8)", "needs a fraction finer than"),
])
def test_wrong_calls_are_located_errors(value, message):
    text = (f"archcalc: 1\nname: bad\ninput: [3, 8, 8]\nlayers:\n"
            f"  - conv: {{out: \"{value}\", kernel: 1, name: squeeze}}\n")
    with pytest.raises(SpecError) as caught:
        analyze(parse_spec(text, "bad.yaml"))
    shown = str(caught.value)
    assert message in shown and "bad.yaml:5" in shown, shown


def test_symbolic_input_channels_are_refused_not_fitted():
    # divisible(in/4, 8) is 8 at in = 0, 1 and 2: a line through three points would say 8
    from archcalc.analysis.symbolic import analyze_symbolic, symbol

    text = ("archcalc: 1\nname: s\ninput: [16, 8, 8]\nlayers:\n"
            "  - se: {squeeze: \"divisible(in/4, 8)\", name: se}\n")
    spec = parse_spec(text, "s.yaml")
    with pytest.raises(SpecError, match="rounds with divisible"):
        analyze_symbolic(spec, (symbol("C"), 8, 8))
