"""`archcalc verify`: the analysis equals the built module for the whole zoo, and a
wrong rule is caught (so the comparison itself can fail)."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

from archcalc import load_spec
from archcalc.layers.registry import get_kind
from archcalc.spec.catalog import bundled
from archcalc.verify.node_checks import verify_spec


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
    monkeypatch.setattr(type(conv), "macs",
                        lambda self, p, ins, out: original(self, p, ins, out) + 1)
    result = run_cli("verify", "lenet5")
    assert result.exit_code == 1
    assert "MISMATCH" in result.output and "MACs (fvcore)" in result.output


def test_verify_needs_a_spec(run_cli):
    result = run_cli("verify")
    assert result.exit_code == 2


CONCAT_RELU = """archcalc: 1
name: concat_relu
input: [3, 6, 6]
layers:
  - conv: {out: 3, kernel: 1}
  - branch: {name: b, merge: concat, paths: {same: [], relu_path: [relu]}}
"""


def test_verify_compares_values_and_fails_on_an_unsafe_in_place_relu(run_cli, monkeypatch,
                                                                     tmp_path):
    path = tmp_path / "concat_relu.yaml"
    path.write_text(CONCAT_RELU)
    result = run_cli("verify", path)
    assert result.exit_code == 0, result.output
    assert "checks agree" in result.output
    from archcalc.analysis import inplace

    monkeypatch.setattr(inplace, "unsafe_writers", lambda root, calls: [])  # always in place
    result = run_cli("verify", path, "--format", "json")
    assert result.exit_code == 1
    checks = json.loads(result.stdout)[str(path)]["checks"]
    failed = [c for c in checks if c["status"] == "mismatch"]
    assert [(c["node"], c["what"]) for c in failed] == \
        [("b", "output values (against in-place off)")]


def test_verify_reports_each_spec_as_it_finishes(run_cli):
    result = run_cli("verify", "lenet5", "alexnet", "--format", "json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == {"lenet5", "alexnet"}  # stdout: one document
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert [line.split()[:3] for line in progress] == \
        [["[1/2]", "ok", "lenet5"], ["[2/2]", "ok", "alexnet"]]
    result = run_cli("verify", "lenet5", "alexnet")
    assert "ok lenet5:" in result.output and "(1/2, " in result.output
    assert "2/2 specs verified" in result.output


def test_value_checks_run_batch_norm_on_a_flat_input():
    # BatchNorm1d in training mode needs two values per channel: the watched pass
    # retries at batch 2, and the backward check really runs
    from archcalc.spec.loader import parse_spec

    spec = parse_spec("""archcalc: 1
name: flat_bn
input: [2, 4, 4]
layers:
  - conv: {out: 3, kernel: 3}
  - avgpool: {global: true}
  - flatten
  - bn
  - fc: {out: 2, act: tanh}
  - relu
""", "flat_bn.yaml")
    checks = verify_spec(spec)
    assert [c for c in checks if c.status == "mismatch"] == []
    backward = [c for c in checks if c.what == "backward (training mode)"]
    assert [c.measured for c in backward] == ["runs"]
