"""Property: any network archcalc's own strategies draw, built as a PyTorch module, imports
back to a spec with the drawn spec's params, buffers and MACs, and the imported spec,
built and given the module's state dict, computes the module's outputs.

The oracle is the drawn spec's analysis and the built module's forward, both independent
of the importer. Every drawn kind has a rule, so nothing may be refused.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

import yaml  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from archcalc.analysis.analyze import analyze  # noqa: E402
from archcalc.importer import import_module  # noqa: E402
from archcalc.spec.loader import parse_spec  # noqa: E402
from archcalc.testing import specs  # noqa: E402
from archcalc.torchgraph.builder import build_module  # noqa: E402
from archcalc.torchgraph.weights import map_by_structure  # noqa: E402


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(max_layers=5, head=True, max_side=40))
def test_a_built_spec_imports_back_to_the_same_counts_and_outputs(document):
    spec = parse_spec(yaml.safe_dump(document, sort_keys=False), "drawn.yaml")
    original = build_module(spec).eval()
    imported = import_module(original, tuple(spec.input), "drawn")
    ours, theirs = imported.report.totals, analyze(spec).totals
    assert [ours[k] for k in ("params", "buffers", "macs")] == \
        [theirs[k] for k in ("params", "buffers", "macs")]
    rebuilt = build_module(imported.spec).eval()
    rebuilt.load_state_dict(map_by_structure(original.state_dict(), rebuilt), strict=True)
    x = torch.randn(2, *spec.input, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), original(x), rtol=1e-4, atol=1e-4)
