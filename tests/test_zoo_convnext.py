"""Per-model checks for convnext_tiny (specs/library/convnext.yaml), beyond the catalogue
tests (which compare params, buffers, MACs, outputs with torchvision's weights, the
torchvision-layout export, plan, verify, receptive fields and the smallest input).

Oracles: torchvision's weights metadata (num_params, _ops in GMACs to three decimals,
min_size), torchvision's model in training mode with the same weights and random stream
(stochastic depth draws in the same order), its per-block stochastic depth probabilities and
layer scales read off its modules, its state dict's key order, and autograd's saved tensors
(saved_tensors_hooks) and the inference peak at batch 1 and 2.
"""
from __future__ import annotations

import pytest

from archcalc import analyze, load_spec
from archcalc.analysis.limits import smallest_square_side
from archcalc.spec.catalog import bundled

pytestmark = pytest.mark.skipif("convnext_tiny" not in bundled(), reason="not bundled")

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from helpers.training_mode import training_outputs  # noqa: E402

from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import (  # noqa: E402
    map_by_structure,
    structural_order,
    torchvision_model,
)

SIDE = 64  # any multiple of 32 runs; the comparisons here are about structure, not size


def _meta() -> dict:
    return torchvision.models.get_model_weights("convnext_tiny").DEFAULT.meta


def test_counts_agree_with_torchvisions_metadata():
    meta = _meta()
    totals = analyze(load_spec("convnext_tiny")).totals
    assert totals["params"] == meta["num_params"] == 28_589_128
    assert round(totals["macs"] / 1e9, 3) == pytest.approx(meta["_ops"], abs=0)


def test_smallest_input_is_torchvisions_min_size():
    assert smallest_square_side(load_spec("convnext_tiny")) == _meta()["min_size"][0] == 32


def test_stochastic_depth_and_layer_scale_are_torchvisions():
    """p = 0.1 * block / 17 over the 18 CNBlocks (torchvision's floats, written as such), row
    mode, and every layer scale a (C, 1, 1) tensor of 1e-6."""
    from torchvision.models.convnext import CNBlock
    from torchvision.ops import StochasticDepth

    reference = torchvision_model("convnext_tiny")
    blocks = [m for m in reference.modules() if isinstance(m, CNBlock)]
    assert [b.stochastic_depth.p for b in blocks] == [0.1 * i / 17.0 for i in range(18)]
    ours = build_module(load_spec("convnext_tiny"))
    drops = [m for m in ours.modules() if isinstance(m, StochasticDepth)]
    assert [(m.p, m.mode) for m in drops] == [(b.stochastic_depth.p, "row") for b in blocks]
    scales = [p for name, p in ours.named_parameters() if name.endswith("layer_scale")]
    assert [tuple(p.shape) for p in scales] == [tuple(b.layer_scale.shape) for b in blocks]
    assert all(torch.equal(p, b.layer_scale) for p, b in zip(scales, blocks, strict=True))


def test_state_dict_order_moves_layer_scale_after_its_block():
    """torchvision lists CNBlock.layer_scale first (a module's own parameters come before its
    children's); structural_order puts it after block.*, where archcalc's path has it, and
    leaves archcalc's own order alone."""
    reference = torchvision_model("convnext_tiny").state_dict()
    ordered = list(structural_order(reference))
    assert sorted(ordered) == sorted(reference)
    assert ordered.index("features.1.0.layer_scale") == \
        ordered.index("features.1.0.block.5.bias") + 1
    ours = build_module(load_spec("convnext_tiny")).state_dict()
    assert list(structural_order(ours)) == list(ours)
    assert [tuple(t.shape) for t in structural_order(reference).values()] == \
        [tuple(t.shape) for t in ours.values()]


def test_training_mode_equals_torchvisions():
    spec = load_spec("convnext_tiny")
    shape = (3, SIDE, SIDE)
    torch.manual_seed(0)
    reference = torchvision_model("convnext_tiny").train()
    with torch.no_grad():  # layer scales of 1e-6 would hide a wrong block: make them count
        for module in reference.modules():
            if hasattr(module, "layer_scale"):
                module.layer_scale.uniform_(0.5, 1.5)
    ours = build_module(spec, shape).train()
    ours.load_state_dict(map_by_structure(reference.state_dict(), ours))
    batch = torch.randn(4, *shape)
    outputs = training_outputs(reference, ours, batch)
    assert (outputs[0] - outputs[1]).abs().max().item() < 1e-4 * outputs[0].abs().max().item()


@pytest.mark.parametrize("batch", [1, 2])
def test_plan_equals_what_autograd_keeps(batch):
    from archcalc.analysis.memory import plan
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    spec = load_spec("convnext_tiny")
    shape = (3, SIDE, SIDE)
    report = analyze(spec, shape, batch=batch)
    model = build_module(spec, shape)
    example = torch.randn(batch, *shape)
    assert plan(spec, batch=batch, device="cpu", report=report).saved_activation_bytes == \
        saved_tensor_bytes(model.train(), example)
    assert plan(spec, batch=batch, device="cuda", report=report).inference_activation_peak_bytes \
        == inference_peak_bytes(model.eval(), example)
