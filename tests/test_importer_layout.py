"""Round trip through the original's layout: a spec written by `archcalc import` records
its `origin:`, and `archcalc build SPEC --weights original.pt --save out.pt --layout
original` writes a file that loads strictly into a fresh original module, every tensor
equal, while the spec-built module computes the original's outputs.

The oracle is the user's module itself (defined in this file's text and executed here
independently of archcalc) and torchvision's model: their state dicts and forwards.
"""
from __future__ import annotations

import importlib
import json
import sys

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import yaml  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from archcalc.cli.main import main  # noqa: E402
from archcalc.spec.loader import load_spec, parse_spec  # noqa: E402
from archcalc.spec.writer import to_yaml  # noqa: E402
from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import load_weights  # noqa: E402

# conv+BN+ReLU in a custom wrapper, a functional torch.cat, x + y, flatten and linear
USER_MODULE = '''
import torch
import torch.nn.functional as F
from torch import nn

WIDTH = 8  # not a module: an origin naming it is refused


class Unit(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = Unit(3, WIDTH)
        self.left = Unit(WIDTH, WIDTH)
        self.right = nn.Sequential(nn.Conv2d(WIDTH, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
        self.mix = Unit(WIDTH + 4, WIDTH + 4)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Linear((WIDTH + 4) * 4, classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.left(x), self.right(x)], 1)
        x = x + self.mix(x)
        return self.head(torch.flatten(self.pool(x), 1))
'''
# the same file after the user changed the model: one more layer
ONE_MORE_LAYER = USER_MODULE.replace(
    "        self.head = nn.Linear((WIDTH + 4) * 4, classes)\n",
    "        self.head = nn.Linear((WIDTH + 4) * 4, classes)\n"
    "        self.extra = nn.Linear(classes, classes)\n").replace(
    "        return self.head(torch.flatten(self.pool(x), 1))",
    "        return self.extra(self.head(torch.flatten(self.pool(x), 1)))")
# two units of equal shapes registered in the other order than forward calls them
SWAPPED = USER_MODULE[:USER_MODULE.index("class Net")] + '''
class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, WIDTH, 1)
        self.second = Unit(WIDTH, WIDTH)
        self.first = Unit(WIDTH, WIDTH)
        self.head = nn.Linear(WIDTH, classes)

    def forward(self, x):
        x = self.second(self.first(self.stem(x)))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
'''
KWARGS = {"classes": 5}
SHAPE = (3, 12, 12)
PACKAGE = "archcalc_layout_test_nets"  # a name no other test imports


def user_class(text: str = USER_MODULE):
    """``Net`` executed from the text, independently of archcalc's importer."""
    namespace: dict = {}
    exec(compile(text, "<user module>", "exec"), namespace)  # noqa: S102 - our own text
    return namespace["Net"]


def randomised(model):
    """Random weights and BN running statistics (not the initial 0 and 1), so a misplaced
    tensor shows in both the tensors and the outputs."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5
                             if name.endswith("running_var") else
                             torch.randn(tensor.shape, generator=generator) * 0.5)
    return model.eval()


@pytest.fixture
def user_source(tmp_path, monkeypatch, request):
    """Writes USER_MODULE and returns a function giving the SOURCE for ``kind``: file.py
    under tmp_path, or package:attr importable through sys.path (removed afterwards)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    # rewritten files of the same size within a second: no stale bytecode may be read
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield lambda kind, text=USER_MODULE: _written(tmp_path, kind, text)
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def _written(tmp_path, kind: str, text: str) -> str:
    if kind == "file":
        (tmp_path / "nets.py").write_text(text)
        return f"{tmp_path / 'nets.py'}:Net"
    (tmp_path / PACKAGE).mkdir(exist_ok=True)
    (tmp_path / PACKAGE / "__init__.py").write_text(text)
    sys.modules.pop(PACKAGE, None)
    importlib.invalidate_caches()  # the new folder, seen by the next import
    return f"{PACKAGE}:Net"


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def imported(tmp_path, source: str, kwargs=KWARGS, shape=SHAPE):
    spec_file = tmp_path / "imported.yaml"
    arguments = ["import", source, "--input", "x".join(map(str, shape)), "--out", spec_file]
    if kwargs:
        arguments += ["--kwargs", json.dumps(kwargs)]
    result = cli(*arguments)
    assert result.exit_code == 0, result.output
    return spec_file


def export(tmp_path, spec_file, original) -> tuple:
    """`build SPEC --weights original.pt --save out.pt --layout original` on ``original``'s
    state dict: the CLI's result and the saved file's path."""
    weights, out = tmp_path / "original.pt", tmp_path / "out.pt"
    torch.save(original.state_dict(), weights)
    return cli("build", spec_file, "--weights", weights, "--save", out, "--layout",
               "original"), out


def assert_round_trip(spec_file, out, original, fresh, shape=SHAPE):
    """``out`` loads strictly into ``fresh`` with every tensor equal to ``original``'s, and
    the spec built with the original's weights computes the original's outputs."""
    fresh.load_state_dict(torch.load(out, weights_only=True), strict=True)
    for key, tensor in original.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], tensor), key
    built = build_module(load_spec(str(spec_file))).eval()
    load_weights(built, out)  # the original's layout loads back by position too
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(built(x), original(x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(fresh.eval()(x), original(x), rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["file", "module"])
def test_a_users_module_exports_in_its_own_layout(tmp_path, user_source, kind):
    source = user_source(kind)
    spec_file = imported(tmp_path, source)
    spec = load_spec(str(spec_file))
    expected_source = source if kind == "module" else f"{tmp_path.resolve() / 'nets.py'}:Net"
    assert (spec.origin.source, spec.origin.kwargs) == (expected_source, KWARGS)
    net = user_class()
    original = randomised(net(**KWARGS))
    result, out = export(tmp_path, spec_file, original)
    assert result.exit_code == 0, result.output
    assert "saved" in result.output and "original layout" in result.output
    assert list(torch.load(out, weights_only=True)) == list(original.state_dict())
    assert_round_trip(spec_file, out, original, net(**KWARGS))


def test_torchvision_with_keywords_exports_in_its_own_layout(tmp_path):
    spec_file = imported(tmp_path, "torchvision:resnet18?num_classes=10", None, (3, 32, 32))
    assert load_spec(str(spec_file)).origin.source == "torchvision:resnet18?num_classes=10"
    original = randomised(torchvision.models.resnet18(num_classes=10))
    result, out = export(tmp_path, spec_file, original)
    assert result.exit_code == 0, result.output
    assert_round_trip(spec_file, out, original, torchvision.models.resnet18(num_classes=10),
                      (3, 32, 32))


def test_expand_keeps_the_origin(tmp_path, user_source):
    spec = load_spec(str(imported(tmp_path, user_source("module"))))
    again = parse_spec(to_yaml(spec), "expanded.yaml")
    assert again.origin.document() == spec.origin.document() == \
        {"source": f"{PACKAGE}:Net", "kwargs": KWARGS}


def test_a_relative_file_origin_starts_in_the_specs_folder(tmp_path, user_source):
    spec_file = imported(tmp_path, user_source("file"))
    document = yaml.safe_load(spec_file.read_text())
    document["origin"]["source"] = "nets.py:Net"
    moved = tmp_path / "relative.yaml"
    moved.write_text(yaml.safe_dump(document, sort_keys=False))
    original = randomised(user_class()(**KWARGS))
    result, out = export(tmp_path, moved, original)
    assert result.exit_code == 0, result.output
    assert_round_trip(moved, out, original, user_class()(**KWARGS))


def refused(tmp_path, spec_file, *needles):
    """The export fails with one error naming ``needles``, exit 2, and writes nothing."""
    result, out = export(tmp_path, spec_file, randomised(user_class()(**KWARGS)))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert message.count("error:") == 1 and "hint:" in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pt") == ["original.pt"]


def test_a_spec_without_origin_has_no_original_layout(tmp_path):
    result = cli("build", "resnet18", "--save", tmp_path / "out.pt", "--layout", "original")
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "specs/resnet18.yaml" in message and "records no `origin:`" in message
    assert "hint:" in message and "archcalc import" in message
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("kind", ["file", "module"])
def test_an_origin_that_no_longer_imports_is_refused(tmp_path, user_source, kind):
    source = user_source(kind)
    spec_file = imported(tmp_path, source)
    if kind == "file":
        (tmp_path / "nets.py").unlink()
    else:
        (tmp_path / PACKAGE / "__init__.py").unlink()
        (tmp_path / PACKAGE).rmdir()
        sys.modules.pop(PACKAGE, None)
        importlib.invalidate_caches()
    why = "no such Python file" if kind == "file" else f"no module named '{PACKAGE}'"
    refused(tmp_path, spec_file, f"cannot re-create {source}", why, f"{spec_file}:")


def test_an_origin_that_is_not_a_module_is_refused(tmp_path, user_source):
    spec_file = imported(tmp_path, user_source("module"))
    document = yaml.safe_load(spec_file.read_text())
    document["origin"] = {"source": f"{PACKAGE}:WIDTH"}
    spec_file.write_text(yaml.safe_dump(document, sort_keys=False))
    refused(tmp_path, spec_file, f"cannot re-create {PACKAGE}:WIDTH", "not a module")


def test_an_origin_whose_factory_raises_is_refused(tmp_path, user_source):
    spec_file = imported(tmp_path, user_source("module"))
    document = yaml.safe_load(spec_file.read_text())
    document["origin"]["kwargs"] = {"classes": 5, "depth": 3}
    spec_file.write_text(yaml.safe_dump(document, sort_keys=False))
    refused(tmp_path, spec_file, f"cannot re-create {PACKAGE}:Net", "TypeError", "depth")


@pytest.mark.parametrize("kind", ["file", "module"])
def test_an_origin_whose_module_changed_is_refused(tmp_path, user_source, kind):
    source = user_source(kind)
    spec_file = imported(tmp_path, source)
    user_source(kind, ONE_MORE_LAYER)  # the user adds a layer after the import
    now, then = (len(user_class(text)().state_dict()) for text in (ONE_MORE_LAYER, USER_MODULE))
    refused(tmp_path, spec_file, f"{source} (the module net was imported from) has {now} "
                                 f"tensors, this model {then}", "import it again")


def test_an_origin_with_a_changed_width_is_refused(tmp_path, user_source):
    source = user_source("file")
    spec_file = imported(tmp_path, source)
    user_source("file", USER_MODULE.replace("WIDTH = 8", "WIDTH = 6"))
    refused(tmp_path, spec_file, "tensor 0 'stem.conv.weight'", "has shape [6, 3, 3, 3]",
            "this model's 'stem.conv.weight' has [8, 3, 3, 3]")


def test_layers_registered_out_of_forward_order_are_refused_not_swapped(tmp_path, user_source):
    """Two convs of equal shapes registered in the other order than forward calls them:
    positions alone would swap them silently; the export's forward check refuses it."""
    spec_file = imported(tmp_path, user_source("module", SWAPPED))
    result, out = export(tmp_path, spec_file, randomised(user_class(SWAPPED)(**KWARGS)))
    assert result.exit_code == 2 and not out.exists(), result.output
    assert "registers layers of equal shapes in another order" in " ".join(
        result.output.split())


def test_a_plain_weights_load_refuses_swapped_layers_too(tmp_path, user_source):
    """Without --save: loading the original's own state dict by position is checked by
    values as well, so the swap is refused where it would happen, naming the file."""
    spec_file = imported(tmp_path, user_source("module", SWAPPED))
    weights = tmp_path / "original.pt"
    torch.save(randomised(user_class(SWAPPED)(**KWARGS)).state_dict(), weights)
    result = cli("build", spec_file, "--weights", weights)
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and message.count("error:") == 1, message
    assert "registers layers of equal shapes in another order" in message
    assert str(weights) in message


def test_a_plain_weights_load_of_a_faithful_module_passes_the_check(tmp_path, user_source):
    spec_file = imported(tmp_path, user_source("module"))
    weights = tmp_path / "original.pt"
    torch.save(randomised(user_class()(**KWARGS)).state_dict(), weights)
    result = cli("build", spec_file, "--weights", weights)
    assert result.exit_code == 0, result.output
    assert f"loaded{weights}" in "".join(result.output.split())
