"""`archcalc sweep`: costs over square input sizes and the sizes an architecture rejects.

Oracles: AlexNet's size chain and VGG16's fc6 written out by hand here, and the
specs' own `expect:` totals at their own input size.
"""
from __future__ import annotations

import json

import pytest

from archcalc import load_spec
from archcalc.analysis.limits import smallest_square_side
from archcalc.analysis.sweep import sweep


def alexnet_accepts(side: int) -> bool:
    """The lecture's AlexNet by hand: conv1 11/4, three 3/2 max pools, 'same' convs."""
    size = (side - 11) // 4 + 1 if side >= 11 else 0  # conv1, pad 0
    for _ in range(3):  # pool1, pool2, pool3; conv2..conv5 keep the size
        if size < 3:
            return False
        size = (size - 3) // 2 + 1
    return True


def test_alexnet_accepted_sizes_match_hand_arithmetic():
    spec = load_spec("alexnet")
    sides = list(range(40, 100))
    points = sweep(spec, sides)
    assert [p.accepted for p in points] == [alexnet_accepts(s) for s in sides]
    assert smallest_square_side(spec) == min(s for s in range(1, 300) if alexnet_accepts(s)) == 67
    for point in points:
        if not point.accepted:
            assert point.rejected_at in ("pool1", "pool2", "pool3")
            assert "pooling window 3" in point.reason


def test_own_size_gives_the_specs_expected_totals():
    for name in ("alexnet", "vgg16", "resnet50"):
        spec = load_spec(name)
        (point,) = sweep(spec, [spec.input[1]])
        for key, wanted in spec.expect.items():
            if key != "output":
                assert point.batch_totals[key] == wanted, (name, key)


@pytest.mark.parametrize("side", [32, 64, 96, 224, 448])
def test_vgg16_params_and_memory_by_resolution(side):
    """fc6 takes the flattened 512 x (S/32)^2 map, so params change with S; every
    conv and pool row scales with S^2 and the fc rows do not."""
    spec = load_spec("vgg16")
    base, = sweep(spec, [224])
    point, = sweep(spec, [side])
    fc6_inputs = 512 * (side // 32) ** 2
    assert point.batch_totals["params"] == base.batch_totals["params"] + (fc6_inputs - 25088) * 4096
    fc_outputs = 4096 + 4096 + 1000
    scaled = (base.batch_totals["activations"] - fc_outputs) * side * side // (224 * 224)
    assert point.batch_totals["activations"] == scaled + fc_outputs


def test_cli_marks_rejected_sizes_with_the_layer(run_cli, wide_console):
    result = run_cli("sweep", "alexnet", "--sizes", "32,66,67,227", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["smallest_input"] == [3, 67, 67]
    by_side = {entry["side"]: entry for entry in data["sizes"]}
    assert [by_side[s]["accepted"] for s in (32, 66, 67, 227)] == [False, False, True, True]
    assert by_side[66]["rejected_at"] == "pool3"
    assert by_side[227]["params"] == 62378344 and by_side[227]["output"] == [1000]
    rich = run_cli("sweep", "alexnet", "--sizes", "32,227")
    text = " ".join(rich.output.split())
    assert "REJECTED at pool2" in text and "3x67x67" in text and "62,378,344" in text


def test_default_sizes_include_the_specs_own(run_cli):
    data = json.loads(run_cli("sweep", "lenet5", "--format", "json").output)
    sides = [entry["side"] for entry in data["sizes"]]
    assert 32 in sides and sides == sorted(sides)
    assert data["input"] == [1, 32, 32]


@pytest.mark.parametrize("sizes", ["", "a,b", "0,32", "32,-1", "99999999"])
def test_bad_sizes_exit_2(run_cli, sizes):
    result = run_cli("sweep", "alexnet", "--sizes", sizes)
    assert result.exit_code == 2


def test_flat_input_spec_is_refused(run_cli, tmp_path):
    path = tmp_path / "mlp.yaml"
    path.write_text("archcalc: 1\nname: mlp\ninput: [784]\nlayers:\n  - fc: {out: 10}\n")
    result = run_cli("sweep", path)
    assert result.exit_code == 2
    assert "flat input" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args", [("sweep", "alexnet", "--sizes", "32,227"),
                                  ("compare", "alexnet", "googlenet")])
def test_sweep_and_compare_stay_off_torch_matplotlib_and_sympy(args):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "archcalc", *args],
                            capture_output=True, text=True, check=True)
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "archcalc" in names  # the trace itself works
    assert not names & {"torch", "matplotlib", "sympy", "numpy"}
