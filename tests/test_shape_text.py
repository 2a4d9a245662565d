"""Sizes written as text: one parser (analysis/shape_text.py) for `--input`, a symbolic
`--input`/`--batch` and the search's trials.

Oracles: the numbers themselves (drawn, then written out), the spec bounds
(spec/bounds.py), and the messages the command line printed before the parser moved.
"""
from __future__ import annotations

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from archcalc.analysis.shape_text import (
    ShapeTextError,
    names_symbol,
    parse_numeric_shape,
    parse_symbolic_shape,
)
from archcalc.errors import ArchcalcError
from archcalc.spec.bounds import MAX_SPATIAL

sizes = st.integers(1, MAX_SPATIAL)
separators = st.sampled_from(["x", ",", "×"])


@given(st.lists(sizes, min_size=3, max_size=3), separators)
def test_numbers_parse_the_same_in_both_forms(shape, separator):
    text = separator.join(map(str, shape))
    assert parse_numeric_shape(text) == parse_symbolic_shape(text) == tuple(shape)
    assert not names_symbol(text)


@given(st.lists(sizes, min_size=3, max_size=3), st.integers(0, 2),
       st.integers(MAX_SPATIAL + 1, 10**18 - 1))
def test_a_size_over_the_bound_is_refused_in_both_forms(shape, index, large):
    shape[index] = large
    text = "x".join(map(str, shape))
    for parse in (parse_numeric_shape, parse_symbolic_shape):
        with pytest.raises(ShapeTextError, match="larger than this tool accepts"):
            parse(text)


@pytest.mark.parametrize("text", ["3x0x0", "3x224", "3x-1x4", "axbxc", "", "3x224x224x1",
                                  "3x" + "9" * 5000 + "x3"])
def test_numeric_shapes_that_are_not_sizes(text):
    with pytest.raises(ShapeTextError, match="is not CxHxW with positive sizes"):
        parse_numeric_shape(text)


def test_letters_are_positive_integer_symbols():
    channels, height, width = parse_symbolic_shape("3xHxW")
    assert channels == 3 and height.is_integer and height.is_positive
    assert (height, width) == (sympy.Symbol("H", integer=True, positive=True),
                               sympy.Symbol("W", integer=True, positive=True))
    assert names_symbol("3xHxW") and names_symbol("N") and not names_symbol(None)


@pytest.mark.parametrize("text,words", [("3x0xW", "must be at least 1"),
                                        ("3xH-1xW", "neither a size nor a symbol"),
                                        ("3x" + "9" * 5000 + "xW", "more than 18 digits")])
def test_symbolic_shapes_that_are_not_sizes(text, words):
    with pytest.raises(ArchcalcError, match=words):
        parse_symbolic_shape(text)


def test_cli_keeps_clicks_usage_message(run_cli):
    result = run_cli("table", "vgg16", "--input", "3x0x0")
    assert result.exit_code == 2
    assert "Invalid value: '3x0x0' is not CxHxW with positive sizes, e.g. 3x224x224" in \
        result.output
