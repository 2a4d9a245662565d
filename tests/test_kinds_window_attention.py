"""Swin's window_attention (layers/window_attention.py) against torchvision's own
ShiftedWindowAttention: values with the same weights, parameters, buffers, MACs against
FlopCounterMode, the memory plan against what autograd keeps and the inference peak at
batches 1 to 3 (the kind whose memory is not linear in the batch), symbolic vs integer
analysis, and the errors a bad call gets."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.analysis.analyze import analyze
from archcalc.errors import ArchcalcError
from archcalc.spec.loader import parse_spec

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def attention_spec(channels, height, width, heads, window, shift):
    """A 1x1 conv (so the attention's input needs a gradient), the channels-last permute
    and the window attention named ``attn``."""
    document = {"archcalc": 1, "name": "window_test", "source": __file__,
                "input": [channels, height, width],
                "layers": [{"conv": {"out": channels, "kernel": 1}},
                           {"permute": {"order": [1, 2, 0]}},
                           {"window_attention": {"heads": heads, "window": window,
                                                 "shift": shift, "name": "attn"}}]}
    return parse_spec(yaml.safe_dump(document, sort_keys=False), "window_test.yaml")


@st.composite
def calls(draw, max_side=16):
    """Heads first, channels a multiple of them; windows from 2 to 7 and a shift below
    the window, on maps that pad (sides not multiples of the window) or not."""
    heads = draw(st.integers(1, 3))
    channels = heads * draw(st.integers(1, 3))
    window = draw(st.integers(2, 7))
    shift = draw(st.integers(0, window - 1))
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    return channels, height, width, heads, window, shift


@settings(max_examples=25, deadline=None)
@given(calls())
def test_values_counts_and_macs_equal_torchvision(call):
    from torch.utils.flop_counter import FlopCounterMode
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    from archcalc.torchgraph.builder import build_module

    channels, height, width, heads, window, shift = call
    spec = attention_spec(*call)
    report = analyze(spec)
    model = build_module(spec).eval()
    reference = ShiftedWindowAttention(channels, [window, window], [shift, shift], heads).eval()
    for tensor in reference.parameters():  # the bias table starts at zero: make it count
        torch.nn.init.normal_(tensor)
    attention = model.get_submodule("attn")
    assert list(attention.state_dict()) == list(reference.state_dict())
    attention.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, channels, height, width)
    with torch.no_grad():
        windowed = model[:2](x)  # conv and permute: the attention's input
        expected = reference(windowed)
        with FlopCounterMode(display=False) as counter:
            attention(windowed)
        got = model(x)
    assert torch.allclose(got, expected, atol=1e-5)
    row = next(row for row in report.rows if row.path == "attn")
    assert row.params == sum(t.numel() for t in reference.parameters())
    assert row.buffers == sum(t.numel() for t in reference.buffers())
    assert 2 * 2 * row.macs == counter.get_total_flops()  # batch 2, 2 FLOPs per MAC


@settings(max_examples=15, deadline=None)
@given(calls(max_side=10), st.integers(1, 3))
def test_memory_plan_equals_pytorch_at_batches_one_to_three(call, batch):
    """Saved bytes (linear from batch 2; one window and several heads keep more at
    batch 1) and the inference peak (the gathered bias and the shift mask are the
    batch's, so the peak moment moves with the batch)."""
    from archcalc.analysis.memory import plan
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    spec = attention_spec(*call)
    model = build_module(spec)
    x = torch.randn(batch, *call[:3])
    assert plan(spec, batch=batch, device="cpu").saved_activation_bytes == \
        saved_tensor_bytes(model.train(), x)
    assert plan(spec, batch=batch).inference_activation_peak_bytes == \
        inference_peak_bytes(model.eval(), x)


def test_one_window_several_heads_keeps_more_at_batch_one():
    # Swin-T's last stage at 224: a 7x7 map is one window; 2 heads. Measured, not assumed.
    from archcalc.analysis.memory import plan
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import saved_tensor_bytes

    spec = attention_spec(4, 7, 7, 2, 7, 3)
    model = build_module(spec)
    per_batch = {b: saved_tensor_bytes(model, torch.randn(b, 4, 7, 7)) for b in (1, 2, 3)}
    slope = per_batch[3] - per_batch[2]
    assert per_batch[2] - per_batch[1] < slope  # batch 1 keeps more than the line says
    assert plan(spec, device="cpu").saved_at_batch_one_bytes == \
        per_batch[1] - (per_batch[2] - slope) == 4 * 7 * 7 * 4


@pytest.mark.parametrize("shift", [0, 3])
def test_symbolic_equals_integers(shift):
    import sympy

    from archcalc.analysis.symbolic import analyze_symbolic, symbol

    height, width = symbol("H"), symbol("W")
    totals = analyze_symbolic(attention_spec(6, 14, 14, 2, 7, shift),
                              (6, height, width)).report.totals
    for h, w in ((14, 14), (7, 7), (7, 15), (1, 30), (20, 9)):
        exact = analyze(attention_spec(6, h, w, 2, 7, shift)).totals
        for key in ("macs", "flops", "params", "activations"):
            value = sympy.sympify(totals[key]).subs({height: h, width: w})
            assert int(value) == exact[key], (key, h, w)


@pytest.mark.parametrize("layers, words", [
    ([{"window_attention": {"heads": 2}}], ["window_attention", "channels-last", "permute"]),
    ([{"permute": {"order": [1, 2, 0]}}, {"window_attention": {"heads": 4}}],
     ["6 channels", "heads=4"]),
    ([{"permute": {"order": [1, 2, 0]}}, {"window_attention": {"heads": 2, "shift": 7}}],
     ["shift=7", "0..6"]),
    ([{"permute": {"order": [1, 2, 0]}}, {"window_attention": {"heads": 2, "window": 1}}],
     ["window=1", "2 x 2"]),
])
def test_bad_calls_are_located_errors(layers, words):
    text = yaml.safe_dump({"archcalc": 1, "name": "bad", "source": "t", "input": [6, 14, 14],
                           "layers": layers})
    with pytest.raises(ArchcalcError) as caught:
        analyze(parse_spec(text, "bad.yaml"))
    message = str(caught.value)
    assert all(word in message for word in words), message
