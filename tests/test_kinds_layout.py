"""The channels-last kinds (permute, layernorm, layernorm2d, layer_scale) and the fc on the
last axis: against torch's modules (shapes, parameters), FlopCounterMode (MACs), autograd's
saved tensors and the inference peak (saved_tensors_hooks, a dispatch mode), the documented
rules by hand, and located errors on a C x H x W map (symbolic against integer analysis:
tests/test_kinds_modern.py, with the other new kinds)."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis.analyze import analyze
from archcalc.errors import ArchcalcError
from archcalc.spec.loader import parse_spec

torch = pytest.importorskip("torch")

KINDS = ["permute", "layernorm", "layernorm2d", "layer_scale"]
SMALL = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spec_of(layers, shape):
    document = {"archcalc": 1, "name": "k", "input": list(shape), "layers": layers}
    return parse_spec(yaml.safe_dump(document, sort_keys=False), "k.yaml")


CHANNELS_LAST_BLOCK = [  # ConvNeXt's CNBlock between its permutes
    {"permute": {"order": [1, 2, 0], "name": "to_last"}},
    {"layernorm": {"eps": 1e-6, "name": "norm"}},
    {"fc": {"out": 12, "name": "fc1", "act": "gelu"}},
    {"fc": {"out": 3, "name": "fc2"}},
    {"permute": {"order": [2, 0, 1], "name": "to_first"}},
    {"layer_scale": {"init": 0.5, "name": "scale"}},
]


@SMALL
@given(st.integers(1, 6), st.integers(1, 7), st.integers(1, 7), st.integers(1, 9))
def test_fc_on_channels_last_counts_what_torch_runs(channels, height, width, out):
    from torch.utils.flop_counter import FlopCounterMode

    from archcalc.torchgraph.builder import build_module

    spec = spec_of([{"permute": {"order": [1, 2, 0]}}, {"fc": {"out": out}}],
                   (channels, height, width))
    report = analyze(spec)
    fc = report.layers[-1]
    assert fc.output_shape == (height, width, out)
    assert fc.macs == height * width * channels * out  # hand arithmetic: rows x in x out
    assert fc.params == channels * out + out
    assert fc.flops == 2 * fc.macs + height * width * out
    model = build_module(spec).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        result = model(torch.randn(1, channels, height, width))
    assert tuple(result.shape[1:]) == report.output
    assert counter.get_total_flops() == 2 * fc.macs  # FlopCounterMode: 2 per MAC, no bias


def test_flat_fc_is_unchanged():
    report = analyze(spec_of([{"fc": {"out": 10, "act": "tanh"}}], (84,)))
    row = report.layers[-1]
    from archcalc.layers.registry import get_kind

    tanh = get_kind("tanh").flops_on(10)  # type: ignore[union-attr]
    assert (row.macs, row.params, row.output_shape) == (840, 850, (10,))
    assert row.flops == 2 * 840 + 10 + tanh


@pytest.mark.parametrize("layers", [
    [{"fc": {"out": 4}}],
    [{"layernorm": {}}],
    [{"permute": {"order": [2, 0, 1]}}],
    [{"permute": {"order": [1, 2, 0]}}, {"layernorm2d": {}}],
    [{"permute": {"order": [1, 2, 0]}}, {"layer_scale": {}}],
    [{"permute": {"order": [1, 2, 0]}}, {"permute": {"order": [1, 2, 0]}}],
])
def test_wrong_layout_is_a_located_error(layers):
    with pytest.raises(ArchcalcError) as caught:
        analyze(spec_of(layers, (3, 4, 5)))
    text = str(caught.value)
    assert "k.yaml" in text and "needs" in text and "hint" in text.lower()


def test_permute_order_is_validated():
    with pytest.raises(ArchcalcError, match="order"):
        spec_of([{"permute": {"order": [0, 2, 1]}}], (3, 4, 5))


@SMALL
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6), st.booleans())
def test_channels_last_block_equals_torch_in_memory_and_counts(channels, height, width, batch2):
    from archcalc.analysis.memory import plan
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    layers = [dict(item) for item in CHANNELS_LAST_BLOCK]
    layers[3] = {"fc": {"out": channels, "name": "fc2"}}
    spec = spec_of([{"conv": {"out": channels, "kernel": 3, "pad": 1}}] + layers,
                   (channels, height, width))
    batch = 2 if batch2 else 1
    model = build_module(spec)
    example = torch.randn(batch, channels, height, width)
    report = analyze(spec)
    rows = {row.path: row for row in report.layers}
    assert rows["norm"].params == 2 * channels
    assert rows["norm"].flops == 5 * channels * height * width
    assert rows["scale"].params == channels and rows["scale"].flops == channels * height * width
    assert sum(p.numel() for p in model.parameters()) == report.totals["params"]
    on_cpu = plan(spec, batch=batch, device="cpu")
    assert on_cpu.saved_activation_bytes == saved_tensor_bytes(model, example)
    peak = plan(spec, batch=batch, device="cuda").inference_activation_peak_bytes
    assert peak == inference_peak_bytes(model.eval(), example)


def test_layernorm2d_and_layer_scale_are_torchvision_s():
    from torchvision.models.convnext import CNBlock, LayerNorm2d

    from archcalc.torchgraph.builder import build_module

    spec = spec_of([{"layernorm2d": {"name": "norm"}}, {"layer_scale": {"name": "scale"}}],
                   (6, 5, 4))
    model = build_module(spec)
    assert isinstance(model.get_submodule("norm"), LayerNorm2d)
    block = CNBlock(6, 1e-6, 0.0)
    assert tuple(model.get_submodule("scale").layer_scale.shape) == \
        tuple(block.layer_scale.shape)
    assert float(model.get_submodule("scale").layer_scale.detach().flatten()[0]) == \
        pytest.approx(1e-6)
    x = torch.randn(2, 6, 5, 4)
    reference = LayerNorm2d(6, eps=1e-6)
    reference.load_state_dict(model.get_submodule("norm").state_dict())
    assert torch.equal(model.get_submodule("norm")(x), reference(x))


@pytest.mark.parametrize("shape,out,bias", [
    ((2, 1, 2), 3, True), ((2, 2, 2), 3, True), ((2, 2, 2), 3, False), ((1, 2, 2), 3, True),
    ((2, 3, 3), 5, True), ((4, 2, 2), 2, True), ((3, 1, 1), 3, True)])
def test_fc_on_a_permuted_view_peaks_as_pytorch_measures(shape, out, bias):
    """nn.Linear on permute's strided view copies its input, multiplies, then adds the bias
    out of place (aten.mm, aten.add): the matmul's result lives beside the biased output.
    A contiguous view (one channel, or one position) makes no copy. Found by the registry
    contract on a drawn 2x1x2 map; these shapes pin each moment of the peak."""
    from archcalc.analysis.memory import plan
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes

    spec = spec_of([{"permute": {"order": [1, 2, 0]}},
                    {"fc": {"out": out, "act": "none", "bias": bias}}], shape)
    example = torch.randn(2, *shape)
    planned = plan(spec, batch=2, device="cuda").inference_activation_peak_bytes
    assert planned == inference_peak_bytes(build_module(spec).eval(), example)
