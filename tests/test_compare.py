"""`archcalc compare`: totals side by side and ratios in words.

Oracles: the totals each spec's analysis gives (themselves checked against torch
elsewhere), hand arithmetic for the 2012 two-GPU AlexNet, the depth every paper
puts in the model's name (VGG-16, ResNet-152, DenseNet-121; GoogLeNet's paper says
22), and the lecture's claim "Compared to AlexNet: 12X less params, 2x more compute".
"""
from __future__ import annotations

import json
import re
from fractions import Fraction

import pytest

from archcalc import analyze, load_spec
from archcalc.analysis.side_by_side import model_totals
from archcalc.render.side_by_side import describe
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import parse_spec

# The 2012 paper's AlexNet: conv2, conv4 and conv5 split over two GPUs (groups=2), so
# each filter sees half the input channels; otherwise the lecture's layer list.
ALEXNET_2012 = """
archcalc: 1
name: alexnet_2012
input: [3, 227, 227]
defaults:
  conv: {act: relu}
  maxpool: {kernel: 3, stride: 2}
layers:
  - conv: {out: 96, kernel: 11, stride: 4, name: conv1}
  - maxpool
  - conv: {out: 256, kernel: 5, pad: 2, groups: 2, name: conv2}
  - maxpool
  - conv: {out: 384, kernel: 3, pad: 1, name: conv3}
  - conv: {out: 384, kernel: 3, pad: 1, groups: 2, name: conv4}
  - conv: {out: 256, kernel: 3, pad: 1, groups: 2, name: conv5}
  - maxpool
  - flatten
  - fc: {out: 4096, act: relu}
  - fc: {out: 4096, act: relu}
  - fc: {out: 1000}
"""

# Weights + biases and MACs of the 2012 AlexNet, by hand from its layer sizes.
ALEXNET_2012_PARAMS = (11 * 11 * 3 * 96 + 96) + (5 * 5 * 48 * 256 + 256) \
    + (3 * 3 * 256 * 384 + 384) + (3 * 3 * 192 * 384 + 384) + (3 * 3 * 192 * 256 + 256) \
    + (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
ALEXNET_2012_MACS = 55 * 55 * 96 * (11 * 11 * 3) + 27 * 27 * 256 * (5 * 5 * 48) \
    + 13 * 13 * 384 * (3 * 3 * 256) + 13 * 13 * 384 * (3 * 3 * 192) \
    + 13 * 13 * 256 * (3 * 3 * 192) + 6 * 6 * 256 * 4096 + 4096 * 4096 + 4096 * 1000


def totals(name):
    return analyze(load_spec(name)).totals


def test_googlenet_against_alexnet_in_words():
    alexnet, googlenet = totals("alexnet"), totals("googlenet")
    fewer = alexnet["params"] / googlenet["params"]
    more = googlenet["macs"] / alexnet["macs"]
    sentence = describe(model_totals(load_spec("alexnet")), model_totals(load_spec("googlenet")))
    assert sentence.startswith("googlenet: ")
    assert f"{fewer:.3g}x fewer parameters" in sentence
    assert f"{more:.3g}x more MACs" in sentence
    assert "than alexnet" in sentence and "22 weight layers deep against 8" in sentence
    # The figures the README quotes: 8.91x fewer parameters, 1.39x more MACs.
    assert (round(fewer, 2), round(more, 2)) == (8.91, 1.39)


def test_the_lectures_12x_and_2x_come_from_the_2012_alexnet_and_5_million():
    """The lecture's "12X less params, 2x more compute" against what archcalc computes.

    The lecture's single-tower AlexNet (specs/alexnet.yaml) has ungrouped conv2/4/5:
    1.57x the MACs of the 2012 two-GPU network, so against it GoogLeNet is only 1.39x
    more compute. Against the 2012 network it is 2.18x, the lecture's "2x". The 12x is
    the GoogLeNet paper's own "5 million" parameters (60M / 5M); the network as
    Table 1 describes it has 7.0M, so the measured ratio is 8.7x (8.9x single tower).
    """
    original = analyze(parse_spec(ALEXNET_2012, "alexnet_2012.yaml")).totals
    assert (original["params"], original["macs"]) == (ALEXNET_2012_PARAMS, ALEXNET_2012_MACS)
    googlenet = totals("googlenet")
    compute = googlenet["macs"] / original["macs"]
    assert round(compute) == 2 and round(compute, 2) == 2.18
    assert round(original["params"] / googlenet["params"], 2) == 8.71
    assert round(original["params"] / 5_000_000) == 12  # the paper's "5 million"
    single_tower = totals("alexnet")
    assert round(single_tower["macs"] / original["macs"], 2) == 1.57
    assert round(googlenet["macs"] / single_tower["macs"]) == 1  # not the lecture's 2x


def test_cli_json_ratios_are_the_exact_ratios_of_the_totals(run_cli):
    result = run_cli("compare", "alexnet", "googlenet", "vgg16", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["baseline"] == "alexnet"
    base = totals("alexnet")
    for entry in data["models"]:
        mine = totals(entry["name"])
        for key in ("params", "macs", "flops", "activations", "activation_bytes"):
            assert entry[key] == mine[key]
        for key in ("params", "macs", "flops", "activations"):
            assert entry["ratios"][key] == pytest.approx(float(Fraction(mine[key], base[key])))
    assert data["models"][0]["summary"] is None
    assert "8.91x fewer parameters" in data["models"][1]["summary"]


def test_cli_rich_prints_table_and_sentences(run_cli, wide_console):
    result = run_cli("compare", "alexnet", "googlenet")
    assert result.exit_code == 0, result.output
    assert "62,378,344" in result.output and "6,998,552" in result.output
    assert "googlenet: 8.91x fewer parameters, 1.39x more MACs" in " ".join(result.output.split())


def test_equal_and_nearly_equal_totals_are_said_so():
    a, a_lrn = model_totals(load_spec("vgg11")), model_totals(load_spec("vgg11_lrn"))
    assert "the same parameters" in describe(a, a_lrn)  # LRN has no parameters
    d, d_bn = model_totals(load_spec("vgg16")), model_totals(load_spec("vgg16_bn"))
    assert "about the same parameters" in describe(d, d_bn)  # +8,448 of 138M


def test_input_applies_to_every_model(run_cli):
    result = run_cli("compare", "resnet18", "resnet50", "--input", "3x448x448",
                     "--format", "json")
    data = json.loads(result.output)
    for entry in data["models"]:
        assert entry["input"] == [3, 448, 448]
        assert entry["macs"] == analyze(load_spec(entry["name"]), (3, 448, 448)).totals["macs"]


@pytest.mark.parametrize("args", [("vgg16",), ("vgg16", "no_such_model"),
                                  ("alexnet", "vgg16", "--input", "3x32x32")])
def test_bad_requests_exit_2_with_one_message(run_cli, args):
    result = run_cli("compare", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def expected_depth(name: str) -> int | None:
    """Weight layers on the longest path, as the papers number their networks."""
    if name.startswith("alexnet"):
        return 8  # five conv + three fc
    if name.startswith("googlenet"):
        return 22  # "22 layers deep when counting only layers with parameters"
    match = re.search(r"(?:vgg|resnet|densenet|lenet)(\d+)", name)  # preact_resnet1001 too
    return int(match.group(1)) if match else None


@pytest.mark.parametrize("name", sorted(bundled()))
def test_depth_is_the_number_in_the_name(name):
    wanted = expected_depth(name)
    if wanted is None:
        pytest.skip(f"no published depth known for {name}")
    assert model_totals(load_spec(name)).depth == wanted


def test_plot_has_one_bar_per_model_per_total(tmp_path, run_cli):
    imread = pytest.importorskip("matplotlib.image").imread
    from archcalc.render.plots import comparison_figure

    models = [model_totals(load_spec(name)) for name in ("alexnet", "googlenet", "vgg16")]
    figure = comparison_figure(models)
    assert [len(ax.patches) for ax in figure.axes] == [3] * 5
    params_axis = figure.axes[0]
    assert [bar.get_height() for bar in params_axis.patches] == [m.params for m in models]
    out = tmp_path / "compare.png"
    result = run_cli("compare", "alexnet", "googlenet", "vgg16", "--plot", out)
    assert result.exit_code == 0, result.output
    width, height = (round(v) for v in figure.get_size_inches() * figure.dpi)
    assert imread(out).shape[:2] == (height, width)
