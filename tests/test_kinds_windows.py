"""Swin's kinds (layers/windows.py) against torch itself: patch_merging's values and
state-dict names against torchvision's PatchMerging, its MACs against FlopCounterMode, its
memory against what autograd keeps, symbolic vs integer analysis, and a located error on a
map that is not channels-last."""
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


def load(layers, shape, name="windows_test"):
    document = {"archcalc": 1, "name": name, "source": "tests/test_kinds_windows.py",
                "input": list(shape), "layers": layers}
    return parse_spec(yaml.safe_dump(document, sort_keys=False), f"{name}.yaml")


def merging(channels, height, width):
    return load([{"permute": {"order": [1, 2, 0], "name": "to_last"}},
                 {"patch_merging": {"name": "merge"}}], (channels, height, width))


sizes = st.tuples(st.integers(1, 6), st.integers(1, 9), st.integers(1, 9))


@settings(max_examples=15, deadline=None)
@given(sizes)
def test_patch_merging_equals_torchvision_and_counts_its_macs(size):
    """Odd and even maps: the output, the state-dict names and order, the parameter count
    and the MACs (FlopCounterMode counts the reduction's mm: 2 FLOPs per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode
    from torchvision.models.swin_transformer import PatchMerging

    from archcalc.torchgraph.builder import build_module

    channels, height, width = size
    spec = merging(channels, height, width)
    report = analyze(spec)
    model = build_module(spec).eval()
    merge = model.get_submodule("merge")
    reference = PatchMerging(channels).eval()
    assert list(merge.state_dict()) == list(reference.state_dict()) == \
        ["reduction.weight", "norm.weight", "norm.bias"]
    for tensor in reference.parameters():
        torch.nn.init.normal_(tensor)
    merge.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, channels, height, width)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        got = model(x)
    expected = reference(x.permute(0, 2, 3, 1))
    assert torch.allclose(got, expected, atol=1e-5)
    assert tuple(got.shape[1:]) == report.output == ((height + 1) // 2, (width + 1) // 2,
                                                      2 * channels)
    assert report.totals["params"] == sum(p.numel() for p in reference.parameters())
    assert 2 * 2 * report.totals["macs"] == counter.get_total_flops()


@settings(max_examples=10, deadline=None)
@given(sizes, st.integers(1, 2))
def test_patch_merging_memory_at_batch_one_and_two(size, batch):
    """What the plan counts equals autograd's saved tensors and the inference peak."""
    from archcalc.analysis.memory import plan
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    spec = load([{"conv": {"out": size[0], "kernel": 1}}, {"permute": {"order": [1, 2, 0]}},
                 "patch_merging"], size)
    model = build_module(spec)
    x = torch.randn(batch, *size)
    assert plan(spec, batch=batch, device="cpu").saved_activation_bytes == \
        saved_tensor_bytes(model, x)
    assert plan(spec, batch=batch).inference_activation_peak_bytes == \
        inference_peak_bytes(model.eval(), x)


def test_patch_merging_symbolic_equals_integers():
    from archcalc.analysis.symbolic import analyze_symbolic, symbol

    spec = merging(4, 14, 14)
    height, width = symbol("H"), symbol("W")
    formula = analyze_symbolic(spec, (4, height, width)).report.totals["macs"]
    for h, w in ((14, 14), (7, 9), (1, 2)):
        exact = analyze(merging(4, h, w)).totals["macs"]
        assert int(formula.subs({height: h, width: w})) == exact


def test_patch_merging_on_a_channels_first_map_is_a_located_error():
    spec_text = yaml.safe_dump({"archcalc": 1, "name": "bad", "source": "t", "input": [4, 8, 8],
                                "layers": [{"patch_merging": {"name": "merge"}}]})
    with pytest.raises(ArchcalcError) as caught:
        analyze(parse_spec(spec_text, "bad.yaml"))
    message = str(caught.value)
    assert "patch_merging" in message and "channels-last" in message and "permute" in message
