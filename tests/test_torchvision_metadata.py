"""Every bundled spec with a ``torchvision:`` key agrees with torchvision's own weights
metadata, read from the weights enum only (no download): ``num_params`` exactly, and
``_ops`` (torchvision's "GFLOPS" column, which is GMACs: resnet50's 4.089) equal to
archcalc's MACs / 1e9 rounded to its three decimals, for the enum entries evaluated at the
spec's input size (the crop size of the entry's transforms: 224, Inception-v3's 299), and
``min_size`` equal to archcalc's smallest square input.

The metadata describes the model as torchvision's builder makes it with weights. That is
the spec's model except where the builder adds a part the spec leaves out:
torchvision's ``inception_v3(weights=...)`` forces ``aux_logits=True``
(torchvision/models/inception.py), so its ``num_params`` counts the auxiliary classifier
``InceptionAux(768, 1000)``, which the spec (as torchvision's ``aux_logits=False``) has not;
the aux head runs only in training, so ``_ops`` is the spec's. GoogLeNet's weights drop
their aux heads: its metadata is the spec's model.
"""
from __future__ import annotations

import pytest

torchvision = pytest.importorskip("torchvision")

from archcalc import analyze, load_spec  # noqa: E402
from archcalc.analysis.limits import smallest_square_side  # noqa: E402
from archcalc.spec.catalog import bundled  # noqa: E402


def torchvision_specs() -> list:
    return [name for name in bundled() if load_spec(name).torchvision]

# The zoo before issue 12 and the models issue 12 adds: each must be checked here, not
# skipped for want of an entry at its input size (a renamed builder or a changed size
# would otherwise leave the test silently).
MUST_BE_CHECKED = {
    "alexnet_torchvision", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
    "vgg16_bn", "vgg19_bn", "googlenet_torchvision", "resnet18", "resnet34", "resnet50",
    "resnet101", "resnet152", "densenet121", "densenet169", "densenet201", "densenet161",
    "resnext50_32x4d", "wide_resnet50_2", "squeezenet1_0", "squeezenet1_1",
    "shufflenet_v2_x1_0", "inception_v3", "mobilenet_v2", "mobilenet_v3_large",
    "mobilenet_v3_small", "mnasnet1_0", "efficientnet_b0", "regnet_x_400mf", "regnet_y_400mf",
    "convnext_tiny", "vit_b_16", "swin_t",
}

# Where torchvision's ``min_size`` is not the smallest input its model runs: the smallest
# archcalc finds must then run in torchvision's model (tests/test_smallest_input.py does,
# for every spec) and the documented size must lie above it.
MIN_SIZE_ABOVE_SMALLEST = {
    # Swin pads every map to whole windows (and patch merging to even sizes), so a 4x4
    # image (one 4x4 patch) runs; torchvision documents the 224 it was trained at.
    "swin_t": 224,
    # torchvision builds ViT's position embedding for one image_size; the spec's follows
    # the token count (vit_b_16(image_size=S) at --input 3xSxS), so any side % 16 runs.
    "vit_b_16": 224,
}


def parts_outside_the_spec(builder: str) -> int:
    """Params torchvision's builder adds, with weights, to the model the spec describes."""
    if builder == "inception_v3":
        from torchvision.models.inception import InceptionAux

        return sum(p.numel() for p in InceptionAux(768, 1000).parameters())
    return 0


def entries_at_input_size(spec) -> list:
    """The weights enum's entries evaluated at the spec's input size (square crops)."""
    enum = torchvision.models.get_model_weights(spec.torchvision)
    _, height, width = spec.input
    return [entry for entry in enum
            if height == width == entry.transforms.keywords.get("crop_size")]


# every bundled spec, loaded in the test (a spec that fails to load fails its own case)
@pytest.mark.parametrize("name", list(bundled()))
def test_counts_equal_torchvision_weights_metadata(name):
    spec = load_spec(name)
    if not spec.torchvision:
        pytest.skip(f"{name} reproduces no torchvision model")
    entries = entries_at_input_size(spec)
    if not entries:
        pytest.skip(f"no {spec.torchvision} weights evaluated at {spec.input[1:]}")
    totals = analyze(spec).totals
    expected_params = totals["params"] + parts_outside_the_spec(spec.torchvision)
    smallest = smallest_square_side(spec)
    for entry in entries:
        assert entry.meta["num_params"] == expected_params, entry
        assert entry.meta["_ops"] == round(totals["macs"] / 1e9, 3), entry
        # min_size: the smallest input torchvision documents for the model
        documented = MIN_SIZE_ABOVE_SMALLEST.get(name, smallest)
        assert tuple(entry.meta["min_size"]) == (documented, documented), entry
        assert smallest <= documented


def test_resnet50_by_hand():
    # torchvision's table: ResNet-50, 25,557,032 params and 4.089 "GFLOPS"; archcalc's MACs
    spec = load_spec("resnet50")
    totals = analyze(spec).totals
    assert totals["params"] == 25_557_032 and round(totals["macs"] / 1e9, 3) == 4.089
    assert {entry.meta["_ops"] for entry in entries_at_input_size(spec)} == {4.089}


def test_inception_aux_head_is_what_the_metadata_adds():
    # 27,161,264 in torchvision's table; the spec's model, without the aux head, 23,834,568
    assert parts_outside_the_spec("inception_v3") == 27_161_264 - 23_834_568


def test_every_zoo_model_with_metadata_is_checked():
    present = MUST_BE_CHECKED & set(bundled())
    specs = {name: load_spec(name) for name in present}
    assert {name for name, spec in specs.items() if not spec.torchvision} == set()
    checked = {name for name, spec in specs.items() if entries_at_input_size(spec)}
    assert present == checked, sorted(present - checked)
