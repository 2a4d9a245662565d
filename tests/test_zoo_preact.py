"""preact_resnet1001 (He et al. 2016, Identity Mappings, CIFAR-10) against hand arithmetic
and the paper, and built and run once: 1,001 layers must stay cheap to analyse and build."""
from __future__ import annotations

import pytest

from archcalc import analyze, load_spec

N = 111  # units per stage: depth 9n + 2 = 1001
STAGES = ((16, 64), (32, 128), (64, 256))  # (bottleneck width, output width)


def hand_weights_and_bn() -> tuple[int, int]:
    """(conv + fc weights, BN scales and shifts) of the authors' resnet-pre-act.lua layout."""
    weights, bn = 3 * 9 * 16, 0
    width_in = 16
    for mid, out in STAGES:
        for unit in range(N):
            cin = width_in if unit == 0 else out
            weights += cin * mid + 9 * mid * mid + mid * out
            bn += 2 * (cin + mid + mid)  # one BN before each conv (shared in the first unit)
            if unit == 0:
                weights += cin * out  # the 1x1 projection shortcut
        width_in = out
    bn += 2 * 256  # the final BN
    return weights + 256 * 10 + 10, bn


def test_params_by_hand_and_the_papers_figure():
    report = analyze(load_spec("preact_resnet1001"))
    weights, bn = hand_weights_and_bn()
    assert report.totals["params"] == weights + bn == 10_327_706
    # The paper's Table 3 gives 10.2M: the conv and fc weights, without BN's affine params.
    assert f"{weights / 1e6:.1f}M" == "10.2M"
    main_path = [row for row in report.layers if row.kind in ("conv", "fc")
                 and not row.path.endswith("projection")]
    assert len(main_path) == 9 * N + 2 == 1001
    assert report.output == (10,)


def test_builds_and_runs_a_forward_pass_at_batch_1():
    torch = pytest.importorskip("torch")
    from archcalc import build_module

    model = build_module("preact_resnet1001")  # training mode: BN uses the batch's statistics
    assert sum(p.numel() for p in model.parameters()) == 10_327_706
    assert len([m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]) == 1003
    with torch.no_grad():
        output = model(torch.randn(1, 3, 32, 32))
    assert output.shape == (1, 10) and torch.isfinite(output).all()
