"""Per-model checks for the grouped and squeezed zoo: resnext50_32x4d, wide_resnet50_2,
squeezenet1_0, squeezenet1_1, regnet_x_400mf, regnet_y_400mf, beyond the catalogue tests.

Oracles: torchvision's own RegNet width rule (BlockParams.from_init_params), hand arithmetic
for grouped convolutions, and the module names of torchvision's models. (The weights metadata,
num_params, _ops and min_size, is checked for every torchvision spec in
tests/test_torchvision_metadata.py.)
"""
from __future__ import annotations

import json
import math
import re

import pytest

from archcalc import analyze, load_spec
from archcalc.spec.catalog import bundled

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from torchvision.models.regnet import BlockParams  # noqa: E402

from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import torchvision_model  # noqa: E402

MODELS = ["resnext50_32x4d", "wide_resnet50_2", "squeezenet1_0", "squeezenet1_1",
          "regnet_x_400mf", "regnet_y_400mf"]

# torchvision's regnet.py builders, copied as the oracle's input (not from the specs).
REGNET_INIT = {
    "regnet_x_400mf": dict(depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16),
    "regnet_y_400mf": dict(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8,
                           se_ratio=0.25),
}
STEM_WIDTH = 32  # torchvision's RegNet(stem_width=32)


def test_every_model_is_bundled_with_its_torchvision_name():
    assert set(MODELS) <= set(bundled())
    assert all(load_spec(name).torchvision == name for name in MODELS)


def test_resnext_grouped_conv_by_hand():
    """layer1's 3x3: 128 -> 128 channels in 32 groups of 4 at 56x56: 128 * 4 * 9 weights
    plus its BN's 2 * 128, and 56 * 56 * 128 outputs of 4 * 9 MACs each; wide_resnet50_2's
    is the same conv with one group (32 times the conv weights and MACs)."""
    def row(name):
        report = analyze(load_spec(name))
        return next(r for r in report.rows if r.path == "layer1.0.main.conv2")

    grouped, wide = row("resnext50_32x4d"), row("wide_resnet50_2")
    bn = 2 * 128
    assert (grouped.params, grouped.macs) == (128 * 4 * 9 + bn, 56 * 56 * 128 * 4 * 9)
    assert (wide.params, wide.macs) == (32 * 128 * 4 * 9 + bn, 32 * grouped.macs)


def test_bottleneck_groups_default_leaves_resnet50_plain():
    model = build_module("resnet50", init=False)
    assert {m.groups for m in model.modules() if isinstance(m, torch.nn.Conv2d)} == {1}


def _stage_plan(name):
    """(width, groups, SE squeeze) of every block's 3x3, from torchvision's BlockParams:
    groups = width * bottleneck ratio / group width; SE squeeze = round(ratio * block input)."""
    params = BlockParams.from_init_params(**REGNET_INIT[name])
    plan, width_in = [], STEM_WIDTH
    for width, depth, group_width, ratio in zip(params.widths, params.depths,
                                                params.group_widths,
                                                params.bottleneck_multipliers):
        inner = int(round(width * ratio))
        for _ in range(depth):
            squeeze = int(round(params.se_ratio * width_in)) if params.se_ratio else None
            plan.append((inner, inner // group_width, squeeze))
            width_in = width
    return plan


@pytest.mark.parametrize("name", sorted(REGNET_INIT))
def test_regnet_widths_follow_torchvisions_block_params(name):
    model = build_module(name, init=False)
    modules = dict(model.named_modules())
    found = []
    for path, module in modules.items():
        if path.endswith(".f.b.conv"):
            block = path[: -len(".b.conv")]
            se = modules.get(block + ".se")
            found.append((module.out_channels, module.groups,
                          se.fc1.out_channels if se is not None else None))
    assert found == _stage_plan(name)


def _torchvision_key(name: str, key: str) -> str:
    """Our state-dict key written as torchvision's: a folded conv's parts are children
    .conv/.bn/.act here and separate modules there; a Fire's expand convs sit in a branch."""
    if name.startswith("squeezenet"):
        key = re.sub(r"\.expand\.(expand\dx\d)\.conv\.conv\.", r".\1.", key)
        return key.replace(".conv.", ".")
    if name.startswith("regnet"):
        key = re.sub(r"block(\d)\.(\d+)\.", r"block\1.block\1-\2.", key)
        key = key.replace(".proj.proj.", ".proj.")
        return key.replace(".conv.", ".0.").replace(".bn.", ".1.")
    key = re.sub(r"^conv1\.(conv|bn)\.", lambda m: f"{m[1]}1.", key)
    key = key.replace(".main.", ".").replace(".shortcut.downsample.conv.", ".downsample.0.")
    key = key.replace(".shortcut.downsample.bn.", ".downsample.1.")
    return re.sub(r"\.conv(\d)\.(conv|bn)\.", lambda m: f".{m[2]}{m[1]}.", key)


@pytest.mark.parametrize("name", MODELS)
def test_module_names_map_onto_torchvisions(name):
    ours = build_module(name, init=False).state_dict()
    theirs = torchvision_model(name).state_dict()
    assert [_torchvision_key(name, key) for key in ours] == list(theirs)


def test_squeezenet_trains_two_steps_on_cpu(run_cli, tmp_path):
    out = tmp_path / "run"
    result = run_cli("build", "squeezenet1_1", "--train", "--max-steps", "2", "--no-checks",
                     "--data", "synthetic", "--device", "cpu", "--batch-size", "8",
                     "--input", "3x64x64", "--out", out)
    assert result.exit_code == 0, result.output
    assert "1,235,496 params" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "trained" and summary["steps"] == 2
    assert math.isfinite(summary["final"]["train_loss"])
