"""`archcalc import torchvision:NAME` over every classification model torchvision lists.

Each model imports to a spec whose params and buffers equal the module's own tensors
(counted here on an independently built meta-device model), and whose MACs equal the
hand-written zoo spec's where one reproduces the same builder, or else torchvision's
weights metadata (``_ops``: GMACs to three decimals, at the weights' input size); or it
is refused, naming the op. Models are built on the meta device: vit_h_14 and
regnet_y_128gf allocate nothing.
"""
from __future__ import annotations

import pytest

torchvision = pytest.importorskip("torchvision")
torch = pytest.importorskip("torch")

from archcalc import analyze, load_spec  # noqa: E402
from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.importer import import_source  # noqa: E402
from archcalc.importer.sources import AUX_HEAD_DEFAULTS, _on_meta  # noqa: E402
from archcalc.spec.catalog import bundled  # noqa: E402

MODELS = torchvision.models.list_models(module=torchvision.models)
# what archcalc has no kind for (measured; the README lists them): the op each names
REFUSED = {"swin_v2_t": "shifted_window_attention",
           "swin_v2_s": "shifted_window_attention", "swin_v2_b": "shifted_window_attention",
           "maxvit_t": "reshape"}
# builders whose weights were made at another size than the builder's default: the source
# sets it, so the import is the model the metadata describes
AT_WEIGHTS_SIZE = {"vit_h_14": "?image_size=518"}


def zoo_macs() -> dict:
    found = {}
    for name in bundled():
        spec = load_spec(name)
        if spec.torchvision and spec.torchvision not in found:
            found[spec.torchvision] = (name, analyze(spec).totals["macs"])
    return found


ZOO = zoo_macs()


def counted(name: str, query: str) -> tuple[int, int]:
    """The module's own params and buffers, built here independently of the importer."""
    kwargs = dict(AUX_HEAD_DEFAULTS.get(name, {}))
    if query:
        key, value = query[1:].split("=")
        kwargs[key] = int(value)
    model = _on_meta(lambda: torchvision.models.get_model(name, weights=None, **kwargs))
    return (sum(p.numel() for p in model.parameters()),
            sum(b.numel() for b in model.buffers()))


def test_the_list_is_torchvisions_and_every_refusal_is_a_listed_model():
    assert len(MODELS) >= 80 and set(REFUSED) <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_imports_with_equal_counts_or_is_refused_naming_the_op(name):
    query = AT_WEIGHTS_SIZE.get(name, "")
    if name in REFUSED:
        with pytest.raises(ArchcalcError) as refused:
            import_source(f"torchvision:{name}{query}")
        message = str(refused.value)
        assert REFUSED[name] in message and "in " in message and "Traceback" not in message
        return
    imported = import_source(f"torchvision:{name}{query}")
    totals = imported.report.totals
    assert (totals["params"], totals["buffers"]) == counted(name, query)
    assert list(imported.report.output) == [1000] or imported.facts["output"] == [1000]
    if name in ZOO:
        zoo_name, macs = ZOO[name]
        assert totals["macs"] == macs, f"the zoo's {zoo_name}"
        return
    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms.keywords.get("crop_size", 224)
    assert tuple(imported.spec.input) == (3, crop, crop)
    assert round(totals["macs"] / 1e9, 3) == pytest.approx(weights.meta["_ops"], abs=1e-9)
