"""Hostile or broken sources for `archcalc import`: each ends with exit status 2 and one
message (naming the source, the module path or the line where it knows them), never a
traceback, and no file is written."""
from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from click.testing import CliRunner  # noqa: E402

from archcalc.cli.main import main  # noqa: E402

HEADER = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
SOURCES = {
    "raises_on_import": (HEADER + "x = 1\nraise ValueError('broken on purpose')\n",
                         "model", ["ValueError", "broken on purpose", ":5"]),
    "not_a_module": (HEADER + "def model():\n    return {'weights': 1}\n",
                     "model", ["returned a dict, not an nn.Module"]),
    "factory_raises": (HEADER + "def model():\n    return nn.Conv2d(3, 8, 3, groups=5)\n",
                       "model", ["calling", "ValueError"]),
    "data_dependent": (HEADER + textwrap.dedent("""
        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)

            def forward(self, x):
                if x.sum() > 0:
                    return self.conv(x)
                return x

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.gate = Gate()

            def forward(self, x):
                return self.gate(x).flatten(1)
        """), "Net", ["gate", "torch.fx cannot trace Gate.forward", "data_dependent.py:"]),
    "custom_op": (HEADER + textwrap.dedent("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)

            def forward(self, x):
                return torch.erf(self.conv(x)).flatten(1)
        """), "Net", ["no archcalc rule for torch.erf", "custom_op.py:"]),
    "unused_weights": (HEADER + textwrap.dedent("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)
                self.spare = nn.Linear(4, 4)

            def forward(self, x):
                return self.conv(x).flatten(1)
        """), "Net", ["spare", "never uses"]),
}


def invoke(*args):
    return CliRunner().invoke(main, ["import", *args])


def assert_one_clear_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.output.startswith("error: ") and result.output.count("error: ") == 1
    for needle in needles:
        assert needle in result.output, result.output


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_broken_source_is_one_error_and_writes_nothing(tmp_path, name):
    text, attr, needles = SOURCES[name]
    source = tmp_path / f"{name}.py"
    source.write_text(text)
    out = tmp_path / "out.yaml"
    result = invoke(f"{source}:{attr}", "--input", "3x8x8", "--out", str(out))
    assert_one_clear_error(result, *needles)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [source.name]


@pytest.mark.parametrize("args, needles", [
    (["no_such_package_xyz.models:net"], ["no module named 'no_such_package_xyz.models'"]),
    (["missing/file.py:net"], ["no such Python file"]),
    (["torch.nn:NoSuchThing"], ["has no attribute 'NoSuchThing'"]),
    (["torchvision:resnet51"], ["no classification model 'resnet51'", "resnet50"]),
    (["torchvision:resnet18?num_classes"], ["NAME=VALUE"]),
    (["torch.nn:Conv2d", "--kwargs", "[1, 2]"], ["JSON object"]),
    (["torch.nn:Conv2d", "--kwargs", "{bad"], ["not JSON"]),
    (["torchvision:swin_v2_t"], ["features.1.0.attn", "shifted_window_attention",
                              "swin_transformer.py:"]),
    (["torchvision:resnet18", "--input", "3x1x1"], []),
    (["nonsense"], ["cannot read the source"]),
    (["torch.nn:Identity", "--input", "3x8x8"], ["computes nothing"]),
    (["torch.nn:Linear", "--kwargs", '{"in_features": 8, "out_features": 4}', "--input", "3x8x8"],
     ["analysis refuses", "fc needs a flat input"]),
])
def test_bad_sources_and_options_are_one_error(args, needles):
    result = invoke(*args)
    if args[-1] == "3x1x1":  # a tiny input still imports: ResNet runs at 1x1
        assert result.exit_code == 0, result.output
        return
    assert_one_clear_error(result, *needles)
