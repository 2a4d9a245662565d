"""The CIFAR-10 ResNets (He et al. 2015, section 4.2) against the paper and hand arithmetic.

Oracles: the paper's CIFAR-10 table (params 0.27M ... 1.7M, at its printed precision), its
text (6n+2 weighted layers; 16/32/64 filters on 32/16/8 maps; parameter-free option-A
shortcuts) worked out by hand, and the built PyTorch module counted and run.
"""
from __future__ import annotations

import pytest

from archcalc import analyze, load_spec

# depth: (n, the paper's "# params" column as printed)
PAPER = {20: (3, "0.27"), 32: (5, "0.46"), 44: (7, "0.66"), 56: (9, "0.85"), 110: (18, "1.7")}
WIDTHS = (16, 32, 64)


def hand_params(n: int) -> int:
    """conv1 3x3x3x16 + BN; per block two 3x3 convs and two BNs; fc 64x10 + bias."""
    total = 3 * 9 * 16 + 2 * 16
    width_in = 16
    for width in WIDTHS:
        for block in range(n):
            cin = width_in if block == 0 else width
            total += 9 * cin * width + 9 * width * width + 2 * (2 * width)
        width_in = width
    return total + 64 * 10 + 10


@pytest.mark.parametrize("depth", sorted(PAPER))
def test_params_match_the_paper_and_hand_arithmetic(depth):
    n, printed = PAPER[depth]
    report = analyze(load_spec(f"resnet{depth}"))
    params = report.totals["params"]
    assert params == hand_params(n)
    decimals = len(printed.split(".")[1])
    assert f"{params / 1e6:.{decimals}f}" == printed


@pytest.mark.parametrize("depth", sorted(PAPER))
def test_layout_follows_section_4_2(depth):
    n, _ = PAPER[depth]
    report = analyze(load_spec(f"resnet{depth}"))
    weighted = [row for row in report.layers if row.kind in ("conv", "fc")]
    assert len(weighted) == 6 * n + 2 == depth
    shortcuts = [row for row in report.layers if row.kind == "pad_shortcut"]
    assert [row.path for row in shortcuts] == ["layer2.0.shortcut.downsample",
                                               "layer3.0.shortcut.downsample"]
    assert all(row.params == 0 and row.macs == 0 for row in shortcuts)
    for stage, width, side in zip(("layer1", "layer2", "layer3"), WIDTHS, (32, 16, 8)):
        last = [row for row in report.layers if row.path.startswith(stage + ".")][-1]
        assert last.output_shape == (width, side, side)
    assert report.output == (10,)


@pytest.mark.parametrize("depth", [20, 110])
def test_built_module_runs_with_the_analysed_shape_and_params(depth):
    torch = pytest.importorskip("torch")
    from archcalc import build_module

    n, _ = PAPER[depth]
    model = build_module(f"resnet{depth}").eval()
    assert sum(p.numel() for p in model.parameters()) == hand_params(n)
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_option_a_shortcut_subsamples_and_pads_with_zeros():
    torch = pytest.importorskip("torch")
    from archcalc import build_module

    shortcut = build_module("resnet20").get_submodule("layer2.0.shortcut.downsample")
    assert not list(shortcut.parameters())
    x = torch.randn(2, 16, 32, 32)
    y = shortcut(x)
    assert y.shape == (2, 32, 16, 16)
    # 16 extra channels: 8 zero channels either side of the subsampled input
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert not y[:, :8].any() and not y[:, 24:].any()
