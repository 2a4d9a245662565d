"""Round trip: a user's module written here, and a few small torchvision models, import
to specs that `archcalc build` turns back into modules computing the same outputs with
the original state dict; the torchvision layout export loads strictly into the original.

The oracle is the original module itself (its forward on the same input), never the
importer's own figures.
"""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import torch.nn.functional as F  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from torch import nn  # noqa: E402

from archcalc.cli.main import main  # noqa: E402
from archcalc.importer import import_source  # noqa: E402
from archcalc.spec.loader import load_spec  # noqa: E402
from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import load_weights, save_atomic, to_layout  # noqa: E402


class ConvUnit(nn.Module):
    """A custom module wrapping a conv (and its BN), called with a functional ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class UserNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = ConvUnit(3, 8)
        self.left = ConvUnit(8, 8)
        self.right = nn.Conv2d(8, 4, 1)
        self.block1 = ConvUnit(12, 12)
        self.block2 = ConvUnit(12, 12)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(12, classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.left(x), self.right(x)], 1)
        x = self.block1(x) + x
        x = x + self.block2(x)
        return self.head(self.pool(x).flatten(1))


class FunctionalNet(nn.Module):
    """The functional forms archcalc reads, each where a shape makes its arguments matter."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, (1, 3), padding=(0, 1), groups=3)
        self.fc = nn.Linear(6 * 3 * 3, 4)

    def forward(self, x):
        x = F.relu6(self.conv1(x))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)  # 15 -> 8 (the last window hangs over)
        x = torch.sigmoid(self.conv2(x)) + F.gelu(x)
        x = F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False)  # 8 -> 4
        x = F.hardswish(x)
        x = F.adaptive_avg_pool2d(x, 3)
        return self.fc(F.dropout(x.view(x.size(0), -1), 0.1, self.training))


def rebuilt_outputs(tmp_path, original, imported, shape, name="user"):
    """The original's and the spec-built module's outputs with the original's weights."""
    spec_file = tmp_path / f"{name}.yaml"
    spec_file.write_text(imported.text)
    spec = load_spec(str(spec_file))  # expect: facts checked on this load
    weights = tmp_path / f"{name}.pt"
    save_atomic(original.state_dict(), weights)
    built = build_module(spec).eval()
    load_weights(built, weights)
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return original.eval()(x), built(x), spec, built


def randomise_statistics(model):
    """BN running statistics that are not the initial 0 and 1, so a misplaced tensor shows."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator))
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)


def test_a_users_module_with_functional_calls_imports_and_round_trips(tmp_path):
    imported = import_source(f"{__file__}:UserNet", (3, 16, 16), '{"classes": 5}')
    text = imported.text
    assert "concat" in text and "merge: add" in text and "flatten" in text
    assert "conv: {out: 8, kernel: 3, pad: 1, bias: false, bn: true, act: relu, name: stem}" \
        in text  # the custom wrapper around conv, BN and F.relu reads as one conv
    original = UserNet(classes=5)
    randomise_statistics(original)
    expected, got, spec, _ = rebuilt_outputs(tmp_path, original, imported, (3, 16, 16))
    assert spec.expect["params"] == sum(p.numel() for p in original.parameters())
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_functional_calls_import_with_their_arguments_and_round_trip(tmp_path):
    imported = import_source(f"{__file__}:FunctionalNet", (3, 15, 15))
    for written in ("maxpool: {kernel: 3, stride: 2, ceil: true", "count_include_pad: false",
                    "adaptive_avgpool: {size: 3", "dropout: {p: 0.1", "relu6", "gelu",
                    "hardswish", "sigmoid", "merge: add"):
        assert written in imported.text, written
    expected, got, _, _ = rebuilt_outputs(tmp_path, FunctionalNet(), imported, (3, 15, 15),
                                          "functional")
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x0_5", "squeezenet1_1",
                                  "mobilenet_v3_small", "swin_t"])
def test_torchvision_models_round_trip_and_export_strictly(tmp_path, name):
    imported = import_source(f"torchvision:{name}", (3, 64, 64))
    original = torchvision.models.get_model(name, weights=None)
    randomise_statistics(original)
    expected, got, spec, built = rebuilt_outputs(tmp_path, original, imported, (3, 64, 64),
                                                 name)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    exported = to_layout(built.state_dict(), spec, "torchvision")
    fresh = torchvision.models.get_model(name, weights=None)
    fresh.load_state_dict(exported, strict=True)
    for key, tensor in original.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], tensor), key


def test_the_cli_writes_the_spec_atomically_and_never_over_an_existing_file(tmp_path):
    out = tmp_path / "r18.yaml"
    result = CliRunner().invoke(main, ["import", "torchvision:resnet18", "--out", str(out)])
    assert result.exit_code == 0, result.output
    first = out.read_text()
    assert "bottleneck" not in first and "basic_block:" in first and "repeat: 2" in first
    again = CliRunner().invoke(main, ["import", "torchvision:resnet34", "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
    assert out.read_text() == first
    replaced = CliRunner().invoke(main, ["import", "torchvision:resnet34", "--out", str(out),
                                         "--overwrite"])
    assert replaced.exit_code == 0 and out.read_text() != first
    assert [p.name for p in tmp_path.iterdir()] == ["r18.yaml"]  # no temporary file left


def test_a_small_vision_transformer_from_module_attr_with_kwargs_round_trips(tmp_path):
    """module:attr with --kwargs: the class token, position embedding, attention and the
    selected token of ViT, small enough to run in a moment."""
    kwargs = {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2,
              "hidden_dim": 16, "mlp_dim": 32, "num_classes": 3}
    imported = import_source("torchvision.models.vision_transformer:VisionTransformer",
                             (3, 32, 32), json.dumps(kwargs))
    assert "class_token: {name: class_token}" in imported.text
    assert "position_embedding: {length: 17, name: pos_embedding}" in imported.text
    assert "encoder_block: {name: encoder_layer_1}" in imported.text
    torch.manual_seed(0)
    original = torchvision.models.VisionTransformer(**kwargs)
    with torch.no_grad():  # a class token and embedding that are not zero
        original.class_token.normal_()
        original.encoder.pos_embedding.normal_()
    expected, got, _, _ = rebuilt_outputs(tmp_path, original, imported, (3, 32, 32), "vit")
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
