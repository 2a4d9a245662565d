"""ViT-B/16 (specs/vit_b_16.yaml) beyond the catalogue-wide checks: the symbolic MACs
formula, the position embedding that fixes the input size, the same spec with the embedding
following the token count (384 x 384) against hand arithmetic and torchvision's model
built for that size, and the tensor order that lets torchvision's state dict load."""
from __future__ import annotations

import pytest
import sympy

from archcalc import analyze, load_spec
from archcalc.analysis.symbolic import analyze_symbolic, symbol
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import parse_spec

H, W = symbol("H"), symbol("W")
ASSUME = ["H=W", "H%16==0"]


def vit_macs_by_hand(side: int) -> int:
    """conv_proj, 12 encoder blocks (attention 4LD^2 + 2L^2D, MLP 2 x L x D x 3072), head."""
    tokens, dim = (side // 16) ** 2 + 1, 768
    patches = (side // 16) ** 2 * dim * 3 * 16 * 16
    block = 4 * tokens * dim * dim + 2 * tokens * tokens * dim + 2 * tokens * dim * 3072
    return patches + 12 * block + dim * 1000


def unpinned():
    """vit_b_16 with its position embedding following the token count."""
    text = bundled()["vit_b_16"].read_text()
    assert "length: 197, " in text
    return parse_spec(text.replace("length: 197, ", ""), "vit_b_16_any_side.yaml")


def test_symbolic_macs_formula_and_the_size_the_embedding_fixes():
    spec = load_spec("vit_b_16")
    result = analyze_symbolic(spec, (3, H, W), assume=ASSUME)
    macs = sympy.expand(result.report.totals["macs"])
    assert macs == sympy.Rational(9, 32) * H**4 + 334224 * H**2 + 85721088
    assert int(macs.subs(H, 224)) == analyze(spec).totals["macs"] == vit_macs_by_hand(224)
    # the one condition: the embedding's 197 tokens, met by 224 alone
    assert [c.node for c in result.conditions] == ["encoder.pos_embedding"]
    held = [side for side in range(16, 1025, 16)
            if bool(result.conditions[0].condition.subs(H, side))]
    assert held == [224]


@pytest.mark.parametrize("side", [224, 384])
def test_embedding_following_the_tokens_equals_numeric_and_hand(side):
    spec = unpinned()
    result = analyze_symbolic(spec, (3, H, W), assume=ASSUME)
    assert not result.conditions
    numeric = analyze(spec, (3, side, side)).totals
    for key in ("macs", "params", "flops", "activations"):
        assert int(result.report.totals[key].subs(H, side)) == numeric[key], key
    assert numeric["macs"] == vit_macs_by_hand(side)


def test_other_sizes_are_refused_with_the_reason(run_cli):
    result = run_cli("table", "vit_b_16", "--input", "3x384x384")
    assert result.exit_code == 2
    assert "position_embedding holds 197 tokens, the input has 577" in result.output
    assert "3x224x224" in result.output


def test_at_384_params_equal_torchvision_built_for_384():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.vit_b_16(weights=None, image_size=384)
    assert analyze(unpinned(), (3, 384, 384)).totals["params"] == \
        sum(p.numel() for p in model.parameters())


def test_structural_order_moves_the_class_token_after_the_stem():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from archcalc.torchgraph.builder import build_module
    from archcalc.torchgraph.weights import structural_order

    reference = torchvision.models.vit_b_16(weights=None).state_dict()
    assert list(reference)[:3] == ["class_token", "conv_proj.weight", "conv_proj.bias"]
    ordered = structural_order(reference)
    assert list(ordered)[:4] == ["conv_proj.weight", "conv_proj.bias", "class_token",
                                 "encoder.pos_embedding"]
    ours = build_module(load_spec("vit_b_16"), init=False).state_dict()
    assert [tuple(t.shape) for t in ordered.values()] == [tuple(t.shape) for t in ours.values()]
    # a state dict without root tensors (every other torchvision model, archcalc's) keeps
    # its order
    resnet = torchvision.models.resnet18(weights=None).state_dict()
    assert list(structural_order(resnet)) == list(resnet)
    assert list(structural_order(ours)) == list(ours)
    assert isinstance(ordered["class_token"], torch.Tensor)
