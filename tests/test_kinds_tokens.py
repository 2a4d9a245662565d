"""The token kinds (layers/tokens.py) against torch itself: values against torchvision's
VisionTransformer, attention's MACs against a matmul reference under FlopCounterMode, what
FlopCounterMode does not see, the batch-1 exception of the saved-tensor rule, symbolic vs
integer analysis, and located errors for inputs of the wrong rank or size."""
from __future__ import annotations

import pytest
import sympy
import yaml

from archcalc.analysis.analyze import analyze
from archcalc.analysis.symbolic import analyze_symbolic, symbol
from archcalc.errors import ArchcalcError
from archcalc.spec.loader import parse_spec

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def load(layers, shape=(3, 32, 32), name="tokens_test"):
    document = {"archcalc": 1, "name": name, "source": "tests/test_kinds_tokens.py",
                "input": list(shape), "layers": layers}
    return parse_spec(yaml.safe_dump(document, sort_keys=False), f"{name}.yaml")


def vit_front(dim=8, heads=2, patch=16):
    return [{"conv": {"out": dim, "kernel": patch, "stride": patch}}, "tokens", "class_token",
            "position_embedding", {"attention": {"heads": heads}}, {"select_token": {}}]


def test_front_equals_torchvision_vision_transformer():
    """conv_proj, the reshape and permute, the class token, the position embedding and one
    self-attention, with the same weights, equal torchvision's to float rounding."""
    from torchvision.models.vision_transformer import VisionTransformer

    from archcalc.torchgraph.builder import build_module

    torch.manual_seed(0)
    reference = VisionTransformer(image_size=32, patch_size=16, num_layers=1, num_heads=2,
                                  hidden_dim=8, mlp_dim=16).eval()
    torch.nn.init.normal_(reference.class_token)
    model = build_module(load(vit_front())).eval()
    conv, _, cls, pos, attention, _ = model.children()
    conv.load_state_dict(reference.conv_proj.state_dict())
    cls.class_token.data.copy_(reference.class_token)
    pos.pos_embedding.data.copy_(reference.encoder.pos_embedding)
    attention.load_state_dict(reference.encoder.layers[0].self_attention.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        tokens = reference._process_input(x)
        tokens = torch.cat([reference.class_token.expand(2, -1, -1), tokens], dim=1)
        tokens = tokens + reference.encoder.pos_embedding
        expected = reference.encoder.layers[0].self_attention(
            tokens, tokens, tokens, need_weights=False)[0][:, 0]
        assert torch.allclose(model(x), expected, atol=1e-6)


def reference_attention(module, x, heads):
    """Self-attention written out in matmuls, so that FlopCounterMode sees every product."""
    batch, length, dim = x.shape
    q, k, v = torch.nn.functional.linear(x, module.in_proj_weight, module.in_proj_bias) \
        .chunk(3, dim=-1)

    def split(t):
        return t.reshape(batch, length, heads, dim // heads).transpose(1, 2)

    q, k, v = split(q), split(k), split(v)
    weights = torch.softmax(q @ k.transpose(-1, -2) / (dim // heads) ** 0.5, dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(batch, length, dim)
    return module.out_proj(out)


@pytest.mark.parametrize("length, dim, heads", [(5, 8, 2), (7, 12, 3), (17, 16, 4)])
def test_attention_macs_equal_the_matmuls(length, dim, heads):
    from torch.utils.flop_counter import FlopCounterMode

    from archcalc.nn.tokens import SelfAttention

    module = SelfAttention(dim, heads, batch_first=True)
    x = torch.randn(2, length, dim)
    with FlopCounterMode(display=False) as counter:
        got = reference_attention(module, x, heads)
    assert torch.allclose(got, module(x), atol=1e-5)
    spec = load([{"conv": {"out": dim, "kernel": 1}}, "tokens", {"attention": {"heads": heads}}],
                shape=(3, 1, length))
    row = analyze(spec).layers[-1]
    assert row.kind == "attention"
    assert counter.get_total_flops() == 2 * 2 * row.macs  # 2 FLOPs per MAC, batch 2
    assert row.macs == 4 * length * dim * dim + 2 * length * length * dim  # by hand
    assert row.params == sum(p.numel() for p in module.parameters())


def test_flop_counter_misses_the_attention_matmuls_on_the_cpu():
    """FlopCounterMode has no formula for the CPU's flash attention kernel: it sees the four
    projections (4*L*D*D MACs) and not Q K^T or the weighted sum; at inference with an even
    head count the fused fast path is one op it does not count at all. archcalc counts all."""
    from torch.utils.flop_counter import FlopCounterMode

    from archcalc.nn.tokens import SelfAttention

    length, dim = 9, 8
    module = SelfAttention(dim, 2, batch_first=True)
    with FlopCounterMode(display=False) as counter:
        module.train()(torch.randn(1, length, dim))
    assert counter.get_total_flops() == 2 * 4 * length * dim * dim
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(torch.randn(1, length, dim))
    assert counter.get_total_flops() == 0


def test_saved_rule_at_batch_one():
    """At batch >= 2 in_proj keeps a contiguous copy of the input (L*D); at batch 1 the
    batch-first transpose is contiguous and autograd keeps the input itself. The bytes agree
    unless another node keeps that input too (a ReLU before the tokens keeps its output):
    then, at batch 1 only, the plan counts L*D elements more than autograd keeps."""
    from archcalc.analysis.memory import plan
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import saved_tensor_bytes

    length, dim = 6, 8
    for before, excess in (([], 0), (["relu"], length * dim * 4)):
        layers = [{"conv": {"out": dim, "kernel": 16, "stride": 16}}] + before + \
            ["tokens", {"attention": {"heads": 2}}]
        spec = load(layers, shape=(3, 48, 32))
        model = build_module(spec).train()
        for batch in (1, 2, 3):
            measured = saved_tensor_bytes(model, torch.randn(batch, 3, 48, 32))
            planned = plan(spec, batch=batch, device="cpu").saved_activation_bytes
            assert planned - measured == (excess if batch == 1 else 0), (before, batch)


def test_symbolic_macs_are_quadratic_in_the_token_count():
    spec = load(vit_front(dim=8, heads=2), shape=(3, 224, 224))
    H, W = symbol("H"), symbol("W")
    result = analyze_symbolic(spec, (3, H, W), assume=["H=W", "H%16==0"])
    macs = result.report.totals["macs"]
    assert sympy.degree(sympy.expand(macs), H) == 4  # L = (H/16)^2 + 1, squared
    for side in (224, 384, 32):
        assert int(macs.subs(H, side)) == analyze(spec, (3, side, side)).totals["macs"]


@pytest.mark.parametrize("layers, message", [
    ([{"attention": {"heads": 1}}], "attention needs an L x D token sequence"),
    (["tokens", {"attention": {"heads": 2}}], "not divisible by heads=2"),
    (["tokens", {"attention": {"heads": 1, "dropout": 0.1}}], "not supported yet"),
    (["tokens", "flatten"], None),
    (["tokens", {"position_embedding": {"length": 5}}], "holds 5 tokens, the input has 4"),
    (["tokens", {"select_token": {"index": 4}}], "index 4 is beyond the 4 tokens"),
    ([{"conv": {"out": 3, "kernel": 1}}, "tokens", "tokens"], "needs a C x H x W input"),
])
def test_bad_token_layers_are_located_errors(layers, message):
    spec = load(layers, shape=(3, 2, 2))
    if message is None:  # flatten on tokens: L*D features, as torch's flatten
        assert analyze(spec).output == (12,)
        return
    with pytest.raises(ArchcalcError, match=message) as caught:
        analyze(spec)
    assert "layers" in str(caught.value) or "tokens_test" in str(caught.value)
