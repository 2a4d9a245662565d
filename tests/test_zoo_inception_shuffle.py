"""Per-model checks for inception_v3 and shufflenet_v2_x1_0 beyond the catalogue tests.

Oracles: torchvision's own model (module names, BN eps, FlopCounterMode) and its weights
metadata (num_params, _ops, min_size), independent of archcalc's rules.
"""
from __future__ import annotations

import re

import pytest

from archcalc import analyze, load_spec
from archcalc.analysis.limits import smallest_square_side
from archcalc.spec.catalog import bundled

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import torchvision_model  # noqa: E402


def _meta(name: str) -> dict:
    return torchvision.models.get_model_weights(name).DEFAULT.meta


def _inception_key_in_torchvision(key: str) -> str:
    """Our state-dict key written as torchvision's: a branch's conv index is a child
    here (Mixed_5b.branch5x5.1), a suffix there (Mixed_5b.branch5x5_1); a single-conv
    path's conv is named `conv` here and is the branch itself there."""
    key = re.sub(r"\.(\d)\.([ab])\.conv\.", r"_\1\2.", key)
    key = re.sub(r"\.(\d)\.", r"_\1.", key)
    return re.sub(r"(branch\w+)\.conv\.(conv|bn)\.", r"\1.\2.", key)


def test_inception_v3_module_names_are_torchvisions():
    ours = build_module("inception_v3", init=False).state_dict()
    theirs = torchvision_model("inception_v3").state_dict()
    assert [_inception_key_in_torchvision(key) for key in ours] == list(theirs)
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]


def test_inception_v3_batch_norms_use_torchvisions_eps():
    def eps(model):
        return [m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]

    ours = eps(build_module("inception_v3", init=False))
    assert ours == eps(torchvision_model("inception_v3"))
    assert set(ours) == {0.001} and len(ours) == 94


def test_inception_v3_against_torchvisions_metadata():
    """_ops (GMACs, to three decimals) describes the model at 299 in eval mode, where
    the aux head does not run; num_params counts the aux head's weights too."""
    meta = _meta("inception_v3")
    totals = analyze(load_spec("inception_v3")).totals
    assert round(totals["macs"] / 1e9, 3) == meta["_ops"]
    with_aux = torchvision.models.inception_v3(weights=None, aux_logits=True,
                                               init_weights=False)
    aux_params = sum(p.numel() for p in with_aux.AuxLogits.parameters())
    assert totals["params"] + aux_params == meta["num_params"]


def test_inception_v3_smallest_input_is_torchvisions_min_size():
    assert smallest_square_side(load_spec("inception_v3")) == _meta("inception_v3")["min_size"][0]


def test_inception_v3_counts_at_its_smallest_input_equal_torchvisions():
    spec = load_spec("inception_v3")
    totals = analyze(spec, (3, 75, 75)).totals
    model = torchvision_model("inception_v3").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, 75, 75))
    assert totals["macs"] * 2 == counter.get_total_flops()
    assert analyze(spec).totals["params"] == totals["params"]


def _shufflenet_key_in_torchvision(key: str) -> str:
    """Our key written as torchvision's: a unit's concatenation is a child `concat`
    here and the unit itself there; a conv and its BN are `.conv`/`.bn` children
    here and consecutive Sequential indices there (branch2.3.bn is branch2.4)."""
    key = key.replace(".concat.", ".")

    def sequential_index(match):
        index = int(match.group(1)) + (match.group(2) == "bn")
        return f".{index}."

    key = re.sub(r"^(conv1|conv5)\.", r"\1.0.", key)
    return re.sub(r"\.(\d)\.(conv|bn)\.", sequential_index, key)


SHUFFLENET = "shufflenet_v2_x1_0"
needs_shufflenet = pytest.mark.skipif(SHUFFLENET not in bundled(),
                                      reason="shufflenet_v2_x1_0 is not bundled")


@needs_shufflenet
def test_shufflenet_module_names_are_torchvisions():
    ours = build_module(SHUFFLENET, init=False).state_dict()
    theirs = torchvision_model(SHUFFLENET).state_dict()
    assert [_shufflenet_key_in_torchvision(key) for key in ours] == list(theirs)
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]


@needs_shufflenet
def test_shufflenet_against_torchvisions_metadata():
    meta = _meta(SHUFFLENET)
    totals = analyze(load_spec(SHUFFLENET)).totals
    assert totals["params"] == meta["num_params"]
    assert round(totals["macs"] / 1e9, 3) == meta["_ops"]


@needs_shufflenet
def test_shufflenet_smallest_input_is_torchvisions_min_size():
    assert smallest_square_side(load_spec(SHUFFLENET)) == _meta(SHUFFLENET)["min_size"][0] == 1


@needs_shufflenet
@pytest.mark.parametrize("side", [1, 2, 33])
def test_shufflenet_outputs_and_counts_equal_torchvisions_at_odd_sizes(side):
    """Same weights, same outputs (the split halves and the shuffle's order show here),
    and the same conv+linear MACs, on maps where every stride-2 layer rounds."""
    spec = load_spec(SHUFFLENET)
    torch.manual_seed(0)
    reference = torchvision_model(SHUFFLENET).eval()
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    ours = build_module(spec, (3, side, side), init=False).eval()
    ours.load_state_dict(dict(zip(ours.state_dict(), reference.state_dict().values())))
    batch = torch.randn(2, 3, side, side)
    counter = FlopCounterMode(display=False)
    with torch.no_grad():
        expected = reference(batch)
        with counter:
            got = ours(batch)
    assert (got - expected).abs().max().item() < 1e-5
    assert analyze(spec, (3, side, side)).totals["macs"] * 4 == counter.get_total_flops()


def test_both_models_are_bundled():
    assert "inception_v3" in bundled()
