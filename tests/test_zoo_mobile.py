"""Per-model checks for the mobile zoo (specs/library/mobile.yaml): mobilenet_v2,
mobilenet_v3_large, mobilenet_v3_small, mnasnet1_0, efficientnet_b0, beyond the catalogue
tests (which compare params, buffers, MACs, outputs, plan and verify for every spec).

Oracles: torchvision's own models run in training mode with the same weights and the same
random stream (dropout and stochastic depth draw in the same order, so any difference in a
drop probability, a dropout's place or a block's residual shows), and torchvision's
per-block stochastic depth probabilities read off its modules. (The weights metadata,
num_params, _ops and min_size, is checked for every torchvision spec in
tests/test_torchvision_metadata.py.)
"""
from __future__ import annotations

import pytest

from archcalc import analyze, load_spec
from archcalc.spec.catalog import bundled

MODELS = [name for name in ("mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
                            "mnasnet1_0", "efficientnet_b0") if name in bundled()]

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from helpers.training_mode import training_outputs  # noqa: E402

from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import map_by_structure, torchvision_model  # noqa: E402

# training-mode comparisons run at a small input: these models take any size, and the
# forward pass in training mode is what is compared, not the size
TRAIN_SIDE = 64


def test_every_model_names_its_torchvision_builder():
    assert MODELS, "no mobile model is bundled"
    assert all(load_spec(name).torchvision == name for name in MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_training_mode_equals_torchvisions(name):
    """Same weights, same seed, both in training mode: dropout masks and stochastic depth
    noise are drawn in the same order, so the outputs and the BN batch statistics agree."""
    spec = load_spec(name)
    shape = (spec.input[0], TRAIN_SIDE, TRAIN_SIDE)
    torch.manual_seed(0)
    reference = torchvision_model(spec.torchvision).train()
    ours = build_module(spec, shape).train()
    ours.load_state_dict(map_by_structure(reference.state_dict(), ours))
    batch = torch.randn(4, *shape)
    outputs = training_outputs(reference, ours, batch)
    assert outputs[0].shape == outputs[1].shape
    assert (outputs[0] - outputs[1]).abs().max().item() < 1e-5
    # the running statistics the pass updated agree wherever the BN momentum does: archcalc's
    # BN has PyTorch's 0.1, torchvision's MobileNetV3 0.01 and MNASNet 1 - 0.9997 (a known
    # difference: it moves the running statistics in training, never a count or an output)
    pairs = list(zip(*(_batch_norms(model) for model in (reference, ours))))
    assert len(pairs) == len(_batch_norms(reference)) == len(_batch_norms(ours))
    momenta = {theirs.momentum for theirs, _ in pairs}
    assert (momenta == {0.1}) == (name not in MOMENTUM_DIFFERS), momenta
    for theirs, mine in pairs:
        if theirs.momentum == mine.momentum:
            assert torch.allclose(theirs.running_mean, mine.running_mean, atol=1e-6)
            assert torch.allclose(theirs.running_var, mine.running_var, atol=1e-5)


MOMENTUM_DIFFERS = ("mobilenet_v3_large", "mobilenet_v3_small", "mnasnet1_0")


def _batch_norms(model) -> list:
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def _drop_probabilities(model) -> list:
    from torchvision.ops import StochasticDepth

    return [(module.p, module.mode) for module in model.modules()
            if isinstance(module, StochasticDepth)]


@pytest.mark.skipif("efficientnet_b0" not in MODELS, reason="efficientnet_b0 not bundled")
def test_efficientnet_stochastic_depth_is_torchvisions_schedule():
    """torchvision's p = 0.2 * block / 16 on every block; only the residual blocks use it
    (the others have no shortcut to fall back on), and those are the ones the spec has."""
    from torchvision.models.efficientnet import MBConv

    reference = torchvision_model("efficientnet_b0")
    blocks = [m for m in reference.modules() if isinstance(m, MBConv)]
    assert [b.stochastic_depth.p for b in blocks] == [0.2 * i / 16 for i in range(16)]
    expected = [(b.stochastic_depth.p, "row") for b in blocks if b.use_res_connect]
    ours = _drop_probabilities(build_module(load_spec("efficientnet_b0")))
    assert [mode for _, mode in ours] == [mode for _, mode in expected]
    # the spec writes the decimals; torchvision's float products are within an ulp of them
    assert [p for p, _ in ours] == pytest.approx([p for p, _ in expected], rel=1e-15, abs=0)


@pytest.mark.parametrize("name", MODELS)
def test_residual_blocks_are_torchvisions(name):
    """A shortcut exactly where torchvision's block adds one (use_res_connect /
    apply_residual): counted as the spec's add nodes against torchvision's flags."""
    reference = torchvision_model(name)
    flags = [getattr(m, "use_res_connect", getattr(m, "apply_residual", None))
             for m in reference.modules()]
    residuals = sum(1 for flag in flags if flag is True)
    adds = sum(1 for row in analyze(load_spec(name)).rows if row.kind == "add")
    assert adds == residuals > 0


@pytest.mark.skipif("efficientnet_b0" not in MODELS, reason="efficientnet_b0 not bundled")
def test_efficientnet_trains_two_steps_on_cpu(run_cli, tmp_path):
    """SE, SiLU and stochastic depth in a real training loop (small input: any size runs)."""
    import json
    import math

    out = tmp_path / "run"
    result = run_cli("build", "efficientnet_b0", "--train", "--max-steps", "2", "--no-checks",
                     "--data", "synthetic", "--device", "cpu", "--batch-size", "4",
                     "--input", "3x64x64", "--out", out)
    assert result.exit_code == 0, result.output
    assert "5,288,548 params" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "trained" and summary["steps"] == 2
    assert math.isfinite(summary["final"]["train_loss"])
