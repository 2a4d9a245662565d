"""Properties of the analysis on random valid specs (archcalc.testing strategies)."""
from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis.analyze import analyze
from archcalc.spec.loader import parse_spec
from archcalc.testing import fully_convolutional_specs, specs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(document, input_shape=None):
    return parse_spec(yaml.safe_dump(document, sort_keys=False), "random.yaml", input_shape)


@SETTINGS
@given(specs(head=False), st.integers(0, 30), st.integers(0, 30))
def test_params_do_not_depend_on_input_size(document, grow_h, grow_w):
    channels, height, width = document["input"]
    small = analyze(load(document))
    large = analyze(load(document, (channels, height + grow_h, width + grow_w)))
    assert small.totals["params"] == large.totals["params"]
    assert small.totals["buffers"] == large.totals["buffers"]


@SETTINGS
@given(fully_convolutional_specs(), st.integers(4, 40), st.integers(4, 40))
def test_fully_convolutional_macs_scale_with_output_area(document, height, width):
    channels = document["input"][0]
    base = analyze(load(document, (channels, 16, 16)))
    other = analyze(load(document, (channels, height, width)))
    assert other.output[1:] == (height, width)
    # MACs per output pixel are fixed, so the totals scale exactly with the area.
    assert other.totals["macs"] * 16 * 16 == base.totals["macs"] * height * width


@SETTINGS
@given(specs(), st.integers(1, 4))
def test_folding_by_depth_keeps_totals_and_output(document, depth):
    report = analyze(load(document))
    folded = report.folded(depth)
    assert folded.totals == report.totals
    assert folded.output == report.output
    assert all(row.path.count(".") < depth for row in folded.rows)
