"""`--batch N` on every zoo spec: the spec's `expect:` facts (per image) still hold, and
the totals are the per-image ones times N for the work and memory that scale with the
batch (MACs, FLOPs, activations), unchanged for params and buffers. Oracle: the same
spec's table at batch 1, hand arithmetic."""
from __future__ import annotations

import json

import pytest

from archcalc.spec.catalog import bundled

SCALED = ("macs", "flops", "activations", "activation_bytes")
FIXED = ("params", "buffers", "param_bytes")




def totals(run_cli, name, batch):
    result = run_cli("table", name, "--batch", batch, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["totals"]


@pytest.mark.parametrize("name", list(bundled()))
def test_batch_keeps_expect_facts_and_scales_totals(run_cli, name):
    one = totals(run_cli, name, 1)
    for batch in (2, 3):
        many = totals(run_cli, name, batch)
        for key in SCALED:
            assert many[key] == batch * one[key], (key, batch)
        for key in FIXED:
            assert many[key] == one[key], (key, batch)


def test_vgg16_batch_2_prints_its_table(run_cli):
    result = run_cli("table", "vgg16", "--batch", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"]["macs"] == 2 * 15_470_264_320


def test_a_wrong_expect_fact_still_fails_at_any_batch(run_cli, tmp_path):
    spec = tmp_path / "wrong.yaml"
    spec.write_text("archcalc: 1\nname: wrong\ninput: [1, 8, 8]\n"
                    "layers:\n  - conv: {out: 2, kernel: 3}\n"
                    "expect: {macs: 649}\n")  # 6*6*2*9 = 648 per image
    for batch in ("1", "2"):
        result = run_cli("table", str(spec), "--batch", batch)
        assert result.exit_code == 2
        assert "expected macs 649" in result.output and "648" in result.output
