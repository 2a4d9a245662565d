"""Per-model checks for swin_t (specs/library/swin.yaml), beyond the catalogue tests (which
compare params, buffers, MACs, outputs with torchvision's weights, the torchvision-layout
export, plan at batch 1 and 2, verify, receptive fields and the smallest input).

Oracles: torchvision's model in training mode with the same weights and random stream
(stochastic depth draws in the same order), its blocks' shifts and stochastic depth
probabilities read off its modules, and the inference peak at batches 1 to 3 where the
gathered position bias and the shift masks (tensors of the batch, not of each image) make
it a different line in the batch at each moment.
"""
from __future__ import annotations

import pytest

from archcalc import load_spec
from archcalc.analysis.memory import plan

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from helpers.training_mode import training_outputs  # noqa: E402

from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import map_by_structure, torchvision_model  # noqa: E402

# 112: stage 3 a 7x7 map (one window, no shift), stage 4 a 4x4 map padded to one window
SIDE = 112


def test_blocks_shifts_and_drop_rates_are_torchvisions():
    from torchvision.models.swin_transformer import SwinTransformerBlock

    reference = torchvision_model("swin_t")
    blocks = [m for m in reference.modules() if isinstance(m, SwinTransformerBlock)]
    report = __import__("archcalc").analyze(load_spec("swin_t"))
    calls = report.calls
    attentions = [c for path, c in calls.items() if c.kind.name == "window_attention"]
    drops = [c for path, c in calls.items()
             if c.kind.name == "stochastic_depth" and path.endswith(".stochastic_depth")]
    assert len(blocks) == len(attentions) == len(drops) == 12
    for block, attention, drop in zip(blocks, attentions, drops):
        assert block.attn.shift_size == [attention.params.shift] * 2
        assert block.attn.num_heads == attention.params.heads
        assert block.stochastic_depth.p == drop.params.p


def test_training_mode_equals_torchvisions():
    spec = load_spec("swin_t")
    shape = (3, SIDE, SIDE)
    torch.manual_seed(0)
    reference = torchvision_model("swin_t").train()
    ours = build_module(spec, shape).train()
    ours.load_state_dict(map_by_structure(reference.state_dict(), ours))
    batch = torch.randn(4, *shape)
    outputs = training_outputs(reference, ours, batch)
    assert (outputs[0] - outputs[1]).abs().max().item() < 1e-4 * outputs[0].abs().max().item()


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_inference_peak_at_each_batch(batch):
    from archcalc.analysis.analyze import analyze
    from archcalc.verify.memory_ref import inference_peak_bytes

    spec = load_spec("swin_t")
    shape = (3, SIDE, SIDE)
    model = build_module(spec, shape, init=False).eval()
    planned = plan(spec, batch=batch, report=analyze(spec, shape, check_expect=False))
    assert planned.inference_activation_peak_bytes == \
        inference_peak_bytes(model, torch.randn(batch, *shape))
