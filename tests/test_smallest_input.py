"""The smallest input archcalc names is the smallest PyTorch runs.

Oracle: the model itself. For each zoo spec, the smallest square side from the one
search (analysis/limits.py) must run through torchvision's own model (specs with a
`torchvision:` structure) or the module archcalc builds (the others), and one pixel
less must make PyTorch raise. The symbolic table and the error hint name the same side.
"""
from __future__ import annotations

import json

import pytest

from archcalc import load_spec
from archcalc.analysis.limits import search_smallest_square, smallest_square_side
from archcalc.spec.catalog import bundled

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def reference_model(spec, side: int):
    """torchvision's model where the spec reproduces one (its adaptive pool takes any
    map), else the archcalc-built module at C x side x side (its fc's inputs follow the
    map, as the analysis's do)."""
    if spec.torchvision:
        from archcalc.torchgraph.weights import torchvision_model

        if spec.torchvision.startswith("vit_"):  # its embedding is built for image_size
            import torchvision

            return getattr(torchvision.models, spec.torchvision)(image_size=side).eval()
        return torchvision_model(spec.torchvision).eval()
    from archcalc.torchgraph.builder import build_module

    return build_module(spec, (spec.input[0], side, side), init=False).eval()


def spatial_trunk(model):
    """The layers before the first flatten: one pixel less must fail there, where the
    map collapses, not at an fc built for a larger map."""
    if not isinstance(model, torch.nn.Sequential):
        return model
    layers = []
    for layer in model:
        if isinstance(layer, torch.nn.Flatten):
            break
        layers.append(layer)
    return torch.nn.Sequential(*layers)


def runs(model, channels: int, side: int) -> bool:
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, side, side))
    except (RuntimeError, AssertionError):  # torchvision's ViT checks its size with torch._assert
        return False
    return True


@pytest.mark.parametrize("name", list(bundled()))
def test_smallest_input_is_the_smallest_pytorch_runs(name):
    spec = load_spec(name)
    side = smallest_square_side(spec)
    assert side is not None
    model = reference_model(spec, side)
    channels = spec.input[0]
    assert runs(model, channels, side), side
    if side > 1:
        assert not runs(spatial_trunk(model), channels, side - 1), side - 1


def test_googlenet_torchvision_runs_at_15(run_cli):
    # torchvision's GoogLeNet: its ceil-mode max pools may hang over the map's end, so
    # 15x15 works (maxpool3 sees 2x2: ceil((2 - 3)/2) + 1 = 1) and 14x14 does not.
    assert smallest_square_side(load_spec("googlenet_torchvision")) == 15
    result = run_cli("table", "googlenet_torchvision", "--input", "3x14x14")
    assert result.exit_code == 2
    assert "the smallest input that works is 3x15x15" in result.output
    assert "maxpool3" in result.output
    assert run_cli("table", "googlenet_torchvision", "--input", "3x15x15").exit_code == 0
    result = run_cli("table", "googlenet_torchvision", "--input", "3xHxW", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["validity"]["smallest_input"] == "3x15x15"


def test_search_is_bounded_and_says_so():
    spec = load_spec("vgg16")
    assert search_smallest_square(spec, limit=31).side is None
    stopped = search_smallest_square(spec, seconds=0.0)
    assert stopped.side is None and stopped.timed_out and stopped.tried_up_to == 1
    assert "could not be derived" in stopped.describe(3)
    assert search_smallest_square(spec, allowed=lambda s: s % 48 == 0).side == 48


@pytest.mark.parametrize("side", [15, 16, 17, 31, 33])
def test_googlenet_torchvision_costs_at_small_sizes_equal_torchvision(side):
    # Where the ceil-mode windows hang over the end, every output size must still be
    # torchvision's: compare conv+linear MACs (FlopCounterMode: 2 per MAC).
    from torch.utils.flop_counter import FlopCounterMode

    from archcalc import analyze

    spec = load_spec("googlenet_torchvision")
    model = reference_model(spec, side)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, side, side))
    assert 2 * analyze(spec, (3, side, side)).totals["macs"] == counter.get_total_flops()
