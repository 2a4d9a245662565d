"""ViT-B/16 (specs/vit_b_16.yaml) beyond the catalogue-wide checks: the symbolic MACs
formula (quartic in the side: attention is quadratic in the token count) equal to the
numeric analysis and to hand arithmetic at 224 and 384, torchvision's model and weights
metadata at 384, the refusal a pinned position embedding gives, and the tensor order that
lets torchvision's state dict load."""
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


def pinned():
    """vit_b_16 with its position embedding pinned at 224's 197 tokens."""
    text = bundled()["vit_b_16"].read_text()
    assert "position_embedding: {name: pos_embedding" in text
    return parse_spec(text.replace("position_embedding: {name:", "position_embedding: "
                                   "{length: 197, name:"), "vit_b_16_224_only.yaml")


def test_symbolic_macs_formula_is_quartic_in_the_side():
    result = analyze_symbolic(load_spec("vit_b_16"), (3, H, W), assume=ASSUME)
    macs = sympy.expand(result.report.totals["macs"])
    assert macs == sympy.Rational(9, 32) * H**4 + 334224 * H**2 + 85721088
    assert not result.conditions  # the embedding follows the tokens: every side % 16 runs


@pytest.mark.parametrize("side", [224, 384])
def test_formula_equals_numeric_and_hand(side):
    spec = load_spec("vit_b_16")
    result = analyze_symbolic(spec, (3, H, W), assume=ASSUME)
    numeric = analyze(spec, (3, side, side)).totals
    for key in ("macs", "params", "flops", "activations"):
        assert int(sympy.sympify(result.report.totals[key]).subs(H, side)) == numeric[key], key
    assert numeric["macs"] == vit_macs_by_hand(side)


def test_the_cli_formula_evaluates_to_the_tables_at_224_and_384(run_cli):
    import json

    symbolic = run_cli("table", "vit_b_16", "--input", "3xHxW", "--assume", "H=W",
                       "--assume", "H%16==0", "--format", "json")
    assert symbolic.exit_code == 0, symbolic.output
    macs = json.loads(symbolic.output)["totals"]["macs"]
    assert macs["free_symbols"] == ["H"]
    formula = sympy.sympify(macs["expr"])
    for side in (224, 384):
        numeric = run_cli("table", "vit_b_16", "--input", f"3x{side}x{side}",
                          "--format", "json")
        assert numeric.exit_code == 0, numeric.output
        assert int(formula.subs("H", side)) == json.loads(numeric.output)["totals"]["macs"]


def test_a_pinned_embedding_refuses_other_sizes_with_the_reason():
    from archcalc.errors import ArchcalcError

    spec = pinned()
    result = analyze_symbolic(spec, (3, H, W), assume=ASSUME)
    assert [c.node for c in result.conditions] == ["encoder.pos_embedding"]
    held = [side for side in range(16, 1025, 16)
            if bool(result.conditions[0].condition.subs(H, side))]
    assert held == [224]
    with pytest.raises(ArchcalcError, match="position_embedding holds 197 tokens, the input "
                       "has 577"):
        analyze(spec, (3, 384, 384))


def test_at_384_counts_equal_torchvision_built_and_documented_for_384():
    torchvision = pytest.importorskip("torchvision")
    totals = analyze(load_spec("vit_b_16"), (3, 384, 384)).totals
    model = torchvision.models.vit_b_16(weights=None, image_size=384)
    assert totals["params"] == sum(p.numel() for p in model.parameters())
    meta = torchvision.models.ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1.meta
    assert meta["min_size"] == (384, 384)
    assert meta["num_params"] == totals["params"]
    assert meta["_ops"] == round(totals["macs"] / 1e9, 3)


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
