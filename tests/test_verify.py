"""`archcalc verify`: the analysis equals the built module for the whole zoo, and a
wrong rule is caught (so the comparison itself can fail)."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

from archcalc import load_spec  # noqa: E402
from archcalc.layers.registry import get_kind  # noqa: E402
from archcalc.spec.catalog import bundled  # noqa: E402
from archcalc.verify.compare import verify_spec  # noqa: E402


@pytest.mark.parametrize("name", list(bundled()))
def test_zoo_spec_verifies(name):
    checks = verify_spec(load_spec(name))
    mismatches = [check for check in checks if check.status == "mismatch"]
    assert not mismatches
    # every layer was compared: a shape check per analysed row
    assert sum(check.what == "output shape" for check in checks) >= 3


def test_verify_cli_passes_and_reports_fvcore_gaps(run_cli):
    result = run_cli("verify", "resnet18", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["resnet18"]["ok"]
    not_counted = {c["what"].split(" ")[0] for c in data["resnet18"]["checks"]
                   if c["status"] == "not counted"}
    assert {"aten::add", "aten::max_pool2d"} <= not_counted


def test_verify_catches_a_wrong_rule(run_cli, monkeypatch):
    conv = get_kind("conv")
    original = type(conv).macs
    monkeypatch.setattr(type(conv), "macs", lambda self, p, ins, out: original(self, p, ins, out) + 1)
    result = run_cli("verify", "lenet5")
    assert result.exit_code == 1
    assert "MISMATCH" in result.output and "MACs (fvcore)" in result.output


def test_verify_needs_a_spec(run_cli):
    result = run_cli("verify")
    assert result.exit_code == 2
