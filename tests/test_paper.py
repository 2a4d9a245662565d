"""Published figures (`paper:`): the format, its validation, and `table --paper`.

Oracles: the lecture's own tables (GoogLeNet Table 1 with its params and ops
columns, the VGG16 memory/params table and its TOTAL lines, Table 2's VGG totals)
and layer arithmetic written out here.
"""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from archcalc import load_spec
from archcalc.analysis.analyze import analyze
from archcalc.analysis.published_check import compare_with_paper
from archcalc.spec.published import parse_figure


def comparison(name):
    spec = load_spec(name)
    return compare_with_paper(spec, analyze(spec))


def check(name, path, metric):
    found = comparison(name)
    checks = found.totals if path == "total" else found.rows[path]
    (match,) = [c for c in checks if c.metric == metric]
    return match


# --- the format --------------------------------------------------------------------------

@pytest.mark.parametrize("raw,base,step,value,tolerance", [
    (1728, 1000, None, 1728, 0),
    ("1,728", 1000, None, 1728, 0),
    ("2.7K", 1000, None, 2700, 50),
    ("2.7K", 1024, None, Fraction(27648, 10), Fraction(512, 10)),
    ("159K", 1024, None, 159 * 1024, 512),
    ("800K", 1000, None, 800_000, 50_000),  # trailing zeros are not significant
    ("380K", 1024, 1024, 380 * 1024, 512),  # unless the column's precision says so
    ("2.7K", 1024, 1024, Fraction(27648, 10), Fraction(512, 10)),  # decimals stay finer
    ("24M", 1000, None, 24_000_000, 500_000),
    ("1.5G", 1000, None, 1_500_000_000, 50_000_000),
])
def test_figures_stand_for_a_range(raw, base, step, value, tolerance):
    figure = parse_figure(raw, "params", base, step)
    assert (figure.value, figure.tolerance) == (value, tolerance)
    assert figure.agrees(value + tolerance) and figure.agrees(value - tolerance)
    assert not figure.agrees(value + tolerance + 1)


@pytest.mark.parametrize("raw", [2.7, "2.5", "abc", "12 MB", "1.2.3K", -5, True, [1], None,
                                 "1,72K", "K"])
def test_what_is_not_a_figure(raw):
    with pytest.raises(ValueError):
        parse_figure(raw, "params")


# --- the lecture's figures against the computed ones --------------------------------------

def test_googlenet_conv1_disagrees_inception_3a_agrees():
    """conv1: the lecture prints 2.7K params and 34M ops for 7*7*3*64 = 9,408 weights
    and 112*112*64 * 7*7*3 MACs. Inception (3a): 163,328 weights (below, from its
    channel columns) = 159.5 K of 1024, printed 159K; 128M ops agree."""
    conv1 = check("googlenet", "conv1", "weights")
    assert conv1.computed == 7 * 7 * 3 * 64 and not conv1.agree
    conv1_macs = check("googlenet", "conv1", "macs")
    assert conv1_macs.computed == 112 * 112 * 64 * 7 * 7 * 3 and not conv1_macs.agree
    inception3a = (192 * 64) + (192 * 96 + 3 * 3 * 96 * 128) + (192 * 16 + 5 * 5 * 16 * 32) \
        + (192 * 32)
    weights = check("googlenet", "inception3a", "weights")
    assert weights.computed == inception3a == 163_328 and weights.agree
    assert check("googlenet", "inception3a", "macs").agree
    assert check("googlenet", "linear", "weights").agree  # 1000K = 1024 * 1000


def test_googlenet_rows_that_disagree():
    """The rows whose printed figure is not the column-derived one (specs/googlenet.yaml
    lists them) and the lecture's "Only 5 million params!" against 6,998,552."""
    differing = {(path, c.metric) for path, c in comparison("googlenet").differing}
    assert differing == {
        ("conv1", "weights"), ("conv1", "macs"), ("inception3b", "weights"),
        ("inception4a", "weights"), ("inception4a", "macs"), ("inception4b", "weights"),
        ("inception4c", "weights"), ("inception4d", "weights"), ("inception4e", "weights"),
        ("inception5a", "weights"), ("inception5a", "macs"), ("inception5b", "weights"),
        ("total", "params")}
    assert len(comparison("googlenet").checks) == 12 * 2 + 1


def test_vgg16_rows_agree_and_the_24m_total_does_not():
    """Every row of the lecture's VGG16 table holds (its memory rounded to two figures,
    its params exact without biases); the TOTAL memory 24M does not: the rows add up to
    15,237,608 elements (the lecture's INPUT row 224*224*3 plus each layer's output)."""
    found = comparison("vgg16")
    assert [(path, c.metric) for path, c in found.differing] == [("total", "activations")]
    memory = check("vgg16", "total", "activations")
    rows = 224 * 224 * 3 + 2 * 224 * 224 * 64 + 112 * 112 * 64 + 2 * 112 * 112 * 128 \
        + 56 * 56 * 128 + 3 * 56 * 56 * 256 + 28 * 28 * 256 + 3 * 28 * 28 * 512 \
        + 14 * 14 * 512 + 3 * 14 * 14 * 512 + 7 * 7 * 512 + 4096 + 4096 + 1000
    assert memory.computed == rows == 15_237_608 and memory.figure.text == "24M"
    assert check("vgg16", "total", "params").agree  # 138M
    assert check("vgg16", "conv1.0", "weights").computed == (3 * 3 * 3) * 64
    assert check("vgg16", "fc6", "weights").computed == 7 * 7 * 512 * 4096


@pytest.mark.parametrize("name,millions", [("vgg11", 133), ("vgg11_lrn", 133), ("vgg13", 133),
                                           ("vgg16_c", 134), ("vgg16", 138), ("vgg19", 144)])
def test_vgg_table_2_totals_agree(name, millions):
    total = check(name, "total", "params")
    assert total.figure.value == millions * 10**6 and total.agree


def test_alexnet_conv1_35k():
    conv1 = check("alexnet", "conv1", "weights")
    assert conv1.computed == (11 * 11 * 3) * 96 and conv1.agree


# --- table --paper -----------------------------------------------------------------------

def test_json_rows_carry_paper_objects(run_cli):
    result = run_cli("table", "googlenet", "--paper", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {row["name"]: row for row in data["layers"]}
    assert rows["conv1"]["paper"]["weights"] == {
        "figure": "2.7K", "value": 2764.8, "computed": 9408, "difference": 6643.2,
        "tolerance": 51.2, "agree": False}
    assert rows["inception3a"]["paper"]["macs"]["agree"] is True
    assert rows["inception3a"]["params"] == 163_696  # the block folded into one row
    assert rows["pool1"]["paper"] == {}
    assert data["paper"]["totals"]["params"]["agree"] is False
    assert {"name": "total", "metric": "params"} in data["paper"]["differing"]


def test_rich_table_flags_disagreements(run_cli, wide_console):
    text = " ".join(run_cli("table", "vgg16", "--paper").output.split())
    assert "24M != 15.2M (-8.8M)" in text and "138M = 138.4M (+0.4M)" in text
    assert "1 outside their printed precision: total activations" in text
    text = " ".join(run_cli("table", "googlenet", "--paper").output.split())
    assert "2.7K != 9.19K (+6.49K)" in text and "128M = 128.0M" in text


@pytest.mark.parametrize("args", [("googlenet", "--paper", "--depth", "1"),
                                  ("googlenet", "--paper", "--format", "csv"),
                                  ("googlenet", "--paper", "--input", "3x448x448"),
                                  ("googlenet", "--paper", "--batch", "8"),
                                  ("resnet50", "--paper")])
def test_paper_refuses_what_it_cannot_compare(run_cli, args):
    result = run_cli("table", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# --- validation in the loader -----------------------------------------------------------

BASE = "archcalc: 1\nname: t\ninput: [3, 32, 32]\n"


@pytest.mark.parametrize("body,line,words", [
    ("paper: {parms: 1M}\nlayers: [relu]\n", 4, "unknown metric 'parms'"),
    ("paper: {params: 2.7}\nlayers: [relu]\n", 4, "decimal number without a suffix"),
    ("paper: 5\nlayers: [relu]\n", 4, "must map metrics"),
    ("paper: {units: {params: 1000}}\nlayers:\n  - conv: {out: 4, kernel: 3, "
     "paper: {params: abc}}\n", 6, "'abc' is not a number"),
    ("paper: {units: {params: 1023}, params: 1K}\nlayers: [relu]\n", 4, "1000 or 1024"),
    ("paper: {precision: {macs: -1}, params: 1K}\nlayers: [relu]\n", 4, "negative"),
    ("layers:\n  - conv: {out: 4, kernel: 3, paper: [{params: 1}]}\n", 5, "repeat: 1"),
    ("layers:\n  - conv: {out: 4, kernel: 3, repeat: 2, paper: [{params: 1}]}\n", 5,
     "repeat: 1"),
    ("templates:\n  two:\n    body:\n      - conv: {out: 4, kernel: 3, paper: {macs: 1M}}\n"
     "      - relu\nlayers:\n  - two: {paper: {macs: 2M}}\n", 7,
     "both two1 and its part two1.conv1"),
])
def test_bad_figures_are_located_errors(run_cli, tmp_path, body, line, words):
    path = tmp_path / "t.yaml"
    path.write_text(BASE + body)
    result = run_cli("check", path)
    assert result.exit_code == 2
    assert words in result.output, result.output
    assert f"t.yaml:{line}:" in result.output
    assert "Traceback" not in result.output


def test_units_and_precision_decide_agreement(tmp_path):
    """The same printed 159K agrees with 163,328 weights only when K means 1024."""
    layers = ("layers:\n  - conv: {out: 128, kernel: 3, bias: false, name: c, "
              "paper: {weights: 159K}}\n")
    inputs = "archcalc: 1\nname: t\ninput: [141, 8, 8]\n"  # 141*9*128 = 162,432
    for units, agree in (("", False), ("paper: {units: {weights: 1024}}\n", True)):
        path = tmp_path / "t.yaml"
        path.write_text(inputs + units + layers)
        spec = load_spec(path)
        (weights,) = compare_with_paper(spec, analyze(spec)).rows["c"]
        assert weights.computed == 141 * 9 * 128 and weights.agree is agree
