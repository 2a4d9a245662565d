"""Every spec that names a torchvision structure equals torchvision's model exactly:
trainable params, buffers (BN running stats and counters) and conv+linear MACs
(FlopCounterMode counts 2 FLOPs per MAC) at the spec's input size."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc import analyze, load_spec  # noqa: E402
from archcalc.spec.catalog import bundled  # noqa: E402
from archcalc.verify.torch_ref import every_matmul_visible  # noqa: E402

TORCHVISION_SPECS = [name for name in bundled() if load_spec(name).torchvision]


def torchvision_model(name: str):
    from archcalc.torchgraph.weights import torchvision_model as untrained

    return untrained(name, init_weights=True).eval()


@pytest.mark.parametrize("name", TORCHVISION_SPECS)
def test_counts_equal_torchvision(name):
    spec = load_spec(name)
    totals = analyze(spec).totals
    model = torchvision_model(spec.torchvision)
    assert totals["params"] == sum(p.numel() for p in model.parameters())
    assert totals["buffers"] == sum(b.numel() for b in model.buffers())
    counter = FlopCounterMode(display=False)
    # attention's fused CPU kernels are invisible to FlopCounterMode (verify/torch_ref.py)
    with every_matmul_visible(), counter, torch.no_grad():
        model(torch.zeros(1, *spec.input))
    assert totals["macs"] * 2 == counter.get_total_flops()


def test_catalogue_has_the_torchvision_zoo():
    # A spec losing its `torchvision:` key would silently drop out of the test above.
    expected = {"alexnet_torchvision", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn",
                "vgg13_bn", "vgg16_bn", "vgg19_bn", "googlenet_torchvision", "resnet18",
                "resnet34", "resnet50", "resnet101", "resnet152", "densenet121", "densenet169",
                "densenet201", "densenet161"}
    assert expected <= set(TORCHVISION_SPECS)
