"""The bundled ResNet and DenseNet specs against oracles that do not come from the specs.

Oracles: the lecture's ResNet table (He et al. 2015, Table 1: output sizes per stage and the
FLOPs row), hand arithmetic for the v1 / v1.5 difference, the exact scaling of conv MACs with
input area, and the DenseNet papers' channel counts (growth-rate bookkeeping, compression 0.5).
Exact equality with torchvision is checked by the generic catalogue test.
"""
from __future__ import annotations

import json

import pytest

from archcalc import analyze, load_spec

# The lecture's FLOPs row (multiply-adds, i.e. MACs) is the paper's layout: stride on the
# first 1x1 for the bottleneck nets (ResNet-18/34 have no 1x1 to put it on).
LECTURE_FLOPS = {
    "resnet18": 1.8e9,
    "resnet34": 3.6e9,
    "resnet50_v1": 3.8e9,
    "resnet101_v1": 7.6e9,
    "resnet152_v1": 11.3e9,
}
RESNETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "resnet50_v1", "resnet101_v1", "resnet152_v1"]
# Table 1's "output size" column: conv1, conv2_x .. conv5_x.
STAGE_SIZES = {"conv1": 112, "layer1": 56, "layer2": 28, "layer3": 14, "layer4": 7}


def _report(name, input_shape=None):
    return analyze(load_spec(name), input_shape)


def _last_row(report, prefix):
    rows = [row for row in report.rows if row.path == prefix or row.path.startswith(prefix + ".")]
    assert rows, f"no rows under {prefix}"
    return rows[-1]


@pytest.mark.parametrize("name", sorted(LECTURE_FLOPS))
def test_macs_match_the_lecture_flops_row(name):
    macs = _report(name).totals["macs"]
    assert abs(macs - LECTURE_FLOPS[name]) / LECTURE_FLOPS[name] < 0.02, macs


@pytest.mark.parametrize("name", RESNETS)
def test_stage_output_sizes_follow_the_table(name):
    report = _report(name)
    for stage, size in STAGE_SIZES.items():
        assert _last_row(report, stage).output_shape[1:] == (size, size), stage
    assert report.output == (1000,)


# Each stage's first bottleneck (conv3_x .. conv5_x): input channels, bottleneck width and
# input side, from Table 1.
FIRST_BLOCKS = [(256, 128, 56), (512, 256, 28), (1024, 512, 14)]


def test_v1_minus_v15_by_hand():
    # In v1.5 the first 1x1 (in -> mid) runs at the full input side H and the strided 3x3
    # produces H/2; in v1 the strided 1x1 already produces H/2 and the 3x3 runs there. The
    # 3x3's output (hence its MACs) is H/2 x H/2 either way, so the whole difference is the
    # first 1x1 evaluated at H^2 instead of (H/2)^2 positions.
    difference = sum(cin * mid * (side * side - (side // 2) ** 2)
                     for cin, mid, side in FIRST_BLOCKS)
    assert difference == 3 * 77_070_336 == 231_211_008
    for depth in (50, 101, 152):
        v15, v1 = _report(f"resnet{depth}"), _report(f"resnet{depth}_v1")
        assert v1.totals["params"] == v15.totals["params"]
        assert v1.totals["buffers"] == v15.totals["buffers"]
        assert v15.totals["macs"] - v1.totals["macs"] == difference


@pytest.mark.parametrize("stage", ["layer2", "layer3", "layer4"])
def test_v1_moves_the_stride_to_the_first_1x1(stage):
    rows_v15 = {row.path: row for row in _report("resnet50").rows}
    rows_v1 = {row.path: row for row in _report("resnet50_v1").rows}
    conv1, conv2 = f"{stage}.0.main.conv1", f"{stage}.0.main.conv2"
    assert rows_v15[conv1].macs == 4 * rows_v1[conv1].macs
    assert rows_v15[conv1].output_shape[1] == 2 * rows_v1[conv1].output_shape[1]
    assert rows_v15[conv2].macs == rows_v1[conv2].macs
    assert rows_v15[conv2].output_shape == rows_v1[conv2].output_shape


def test_v1_resnet50_is_about_386_gmacs():
    assert round(_report("resnet50_v1").totals["macs"] / 1e9, 2) == 3.86
    assert round(_report("resnet50").totals["macs"] / 1e9, 2) == 4.09


def test_input_reanalyses_resnet50_at_448():
    small, large = _report("resnet50"), _report("resnet50", (3, 448, 448))
    assert large.totals["params"] == small.totals["params"] == 25_557_032
    assert large.totals["buffers"] == small.totals["buffers"]
    assert _last_row(large, "layer4").output_shape == (2048, 14, 14)
    # Every conv scales with the output area (x4); the global pool makes the fc input
    # 2048 either way, so its 2048 x 1000 MACs do not scale.
    fc = 2048 * 1000
    assert large.totals["macs"] == 4 * (small.totals["macs"] - fc) + fc == 16_350_593_024
    ratio = large.totals["macs"] / small.totals["macs"]
    assert 3.9984 < ratio < 3.9986  # 3.99850


def test_cli_input_gives_the_api_totals(run_cli):
    result = run_cli("table", "resnet50", "--input", "3x448x448", "--format", "json")
    assert result.exit_code == 0, result.output
    totals = json.loads(result.output)["totals"]
    api = _report("resnet50", (3, 448, 448)).totals
    for key in ("params", "buffers", "macs", "flops", "activations"):
        assert totals[key] == api[key], key


# DenseNet: (initial features, growth k, layers per block) and the final width reported by
# the paper / torchvision (num_features before the classifier).
DENSENETS = {
    "densenet121": (64, 32, (6, 12, 24, 16), 1024),
    "densenet169": (64, 32, (6, 12, 32, 32), 1664),
    "densenet201": (64, 32, (6, 12, 48, 32), 1920),
    "densenet161": (96, 48, (6, 12, 36, 24), 2208),
}


@pytest.mark.parametrize("name", sorted(DENSENETS))
def test_densenet_channel_bookkeeping(name):
    init, growth, blocks, final = DENSENETS[name]
    report = _report(name)
    rows = report.rows
    index = {row.path: i for i, row in enumerate(rows)}
    channels, side = init, 56
    for number, layers in enumerate(blocks, start=1):
        channels += layers * growth  # each dense layer concatenates k new maps
        block_out = _last_row(report, f"denseblock{number}").output_shape
        assert block_out == (channels, side, side), number
        if number == len(blocks):
            break
        conv = index[f"transition{number}.conv"]
        assert rows[conv - 1].output_shape[0] == channels
        assert rows[conv].output_shape[0] * 2 == channels  # compression 0.5
        channels, side = channels // 2, side // 2
        assert rows[index[f"transition{number}.pool"]].output_shape == (channels, side, side)
    assert channels == final
    assert _last_row(report, "norm5").output_shape == (final, 7, 7)
    assert report.output == (1000,)


def test_densenet121_transitions_halve():
    rows = _report("densenet121").rows
    pairs = [(rows[i - 1].output_shape[0], row.output_shape[0])
             for i, row in enumerate(rows) if row.path.endswith(".conv")
             and row.path.startswith("transition")]
    assert pairs == [(256, 128), (512, 256), (1024, 512)]
