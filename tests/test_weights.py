"""Weight compatibility with torchvision: same outputs with the same weights, strict
export back, and one clear message for every bad weights file."""
from __future__ import annotations

import fractions
import pickle

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from archcalc import build_module, load_spec  # noqa: E402
from archcalc.spec.catalog import bundled  # noqa: E402
from archcalc.torchgraph.weights import load_weights, to_layout, torchvision_model  # noqa: E402

TORCHVISION_SPECS = [name for name in bundled() if load_spec(name).torchvision]


def randomise_bn_stats(model):
    # Fresh BN running stats are 0/1, which would hide a mean/var swap.
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)


@pytest.mark.parametrize("name", TORCHVISION_SPECS)
def test_torchvision_weights_give_the_same_outputs(name, tmp_path):
    spec = load_spec(name)
    torch.manual_seed(0)
    reference = torchvision_model(spec.torchvision, init_weights=True).eval()
    randomise_bn_stats(reference)
    path = tmp_path / "tv.pt"
    torch.save(reference.state_dict(), path)
    ours = build_module(spec).eval()
    load_weights(ours, path)
    batch = torch.randn(2, *spec.input)
    with torch.no_grad():
        difference = (ours(batch) - reference(batch)).abs().max().item()
    assert difference < 1e-5
    exported = to_layout(ours.state_dict(), spec, "torchvision")
    fresh = torchvision_model(spec.torchvision, init_weights=True)
    fresh.load_state_dict(exported, strict=True)
    for key, tensor in reference.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], tensor), key


def test_build_cli_round_trip(run_cli, tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    source = tmp_path / "resnet18_tv.pt"
    torch.save(reference.state_dict(), source)
    exported = tmp_path / "out" / "export.pt"
    result = run_cli("build", "resnet18", "--weights", source, "--save", exported,
                     "--layout", "torchvision")
    assert result.exit_code == 0, result.output
    assert "11,689,512 params" in result.output
    again = torchvision.models.resnet18(weights=None)
    again.load_state_dict(torch.load(exported, weights_only=True), strict=True)
    assert not list(exported.parent.glob(".*"))  # no temporary file left behind


def _corrupted(path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_architecture(path):
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)


def _plain_pickle(path):
    # Any class outside torch's weights-only allow-list; unpickling it would run code.
    with open(path, "wb") as handle:
        pickle.dump({"weights": fractions.Fraction(1, 3)}, handle)


def _same_count_wrong_shape(path):
    state = torchvision.models.resnet18(weights=None).state_dict()
    state["fc.weight"] = torch.zeros(10, 512)
    torch.save(state, path)


def _not_a_state_dict(path):
    torch.save([1, 2, 3], path)


@pytest.mark.parametrize("make, message", [
    (_corrupted, "cannot read this file"),
    (_other_architecture, "tensors, the model"),
    (_plain_pickle, "not a weights-only state dict"),
    (_same_count_wrong_shape, "'fc.weight' has shape [10, 512]"),
    (_not_a_state_dict, "holds no state dict"),
    (None, "no such weights file"),
])
def test_bad_weights_file_is_one_clear_error(run_cli, tmp_path, make, message):
    path = tmp_path / "weights.pt"
    if make is not None:
        make(path)
    result = run_cli("build", "resnet18", "--weights", path)
    assert result.exit_code == 2
    assert message in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output
