"""The roofline estimate (analysis/roofline.py), device profiles (analysis/devices.py) and
`archcalc roofline`.

Oracles: hand arithmetic of the bytes-moved model on a two-layer network, the table's own
forward FLOPs, exact scaling laws (bytes affine in the batch, time inversely proportional
to the device's rates), the bounds every roofline sum obeys, and the datasheet names
torch reports for each card.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.analysis.analyze import analyze
from archcalc.analysis.devices import (
    DATASHEETS,
    DeviceProfile,
    datasheet_for,
    find_profile,
    load_profile,
    profile_yaml,
)
from archcalc.analysis.roofline import estimate_step
from archcalc.errors import ArchcalcError
from archcalc.spec.loader import load_spec

TINY = """\
archcalc: 1
name: tiny
input: [3, 8, 8]
layers:
  - conv: {out: 4, kernel: 3, pad: 1, name: conv}
  - flatten
  - fc: {out: 10, name: fc}
"""
CPU = DeviceProfile("test cpu", 10e9, {"fp32": 100e9}, device="cpu")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(TINY)
    return analyze(load_spec(str(path)))


def test_bytes_moved_by_hand(tiny):
    """conv 3->4 3x3 pad 1 on 8x8 (112 params), flatten (a view), fc 256->10 (2,570
    params), fp32, batch 5: each figure of the module docstring's model by hand."""
    batch, s = 5, 4
    conv, flatten, fc = estimate_step(tiny, CPU, batch=batch).layers
    # forward: read input and weights, write output
    assert conv.forward_bytes == (3 * 64 + 4 * 64) * batch * s + 112 * s
    # backward of the first layer: no input gradient; read grad-out and the saved input,
    # write the weights' gradients
    assert conv.backward_bytes == (4 * 64 + 3 * 64) * batch * s + 112 * s
    assert (flatten.forward_bytes, flatten.backward_bytes) == (0, 0)
    assert fc.forward_bytes == (256 + 10) * batch * s + 2570 * s
    # read grad-out, saved input and weights; write grad-input and the weights' gradients
    assert fc.backward_bytes == (10 + 256 + 256) * batch * s + 2 * 2570 * s


def test_times_are_the_roofline_of_each_kernel(tiny):
    """Each pass is the main kernel's roofline (2 FLOPs per MAC, its bytes) plus the
    bias's: conv 6,912 MACs and 256 bias outputs per image, fc 2,560 and 10; in backward
    the conv computes only its weights' gradient, the fc both gradients."""
    batch, rate, bandwidth = 3, 100e9, 10e9
    estimate = estimate_step(tiny, CPU, batch=batch)
    conv, flatten, fc = estimate.layers
    assert conv.forward_seconds == pytest.approx(
        max(2 * 6912 * batch / rate, conv.forward_bytes / bandwidth) + 256 * batch / rate)
    assert conv.backward_seconds == pytest.approx(
        max(2 * 6912 * batch / rate, conv.backward_bytes / bandwidth) + 256 * batch / rate)
    assert fc.forward_seconds == pytest.approx(
        max(2 * 2560 * batch / rate, fc.forward_bytes / bandwidth) + 10 * batch / rate)
    assert fc.backward_seconds == pytest.approx(
        max(2 * 2 * 2560 * batch / rate, fc.backward_bytes / bandwidth) + 10 * batch / rate)
    assert flatten.seconds == 0
    # SGD with momentum: read weights, gradients and momentum, write momentum and weights
    assert estimate.optimizer_bytes == (112 + 2570) * 4 * 5
    assert estimate.step_seconds == pytest.approx(
        sum(layer.seconds for layer in estimate.layers) + (112 + 2570) * 4 * 5 / 10e9)
    assert estimate_step(tiny, CPU, optimizer="adam").optimizer_bytes == (112 + 2570) * 4 * 7


def test_frozen_layers_compute_no_weight_gradient_and_keep_no_optimizer_state(tiny):
    estimate = estimate_step(tiny, CPU, batch=2, frozen_until="conv")
    conv = estimate.layers[0]
    assert (conv.backward_flops, conv.backward_bytes) == (0, 0)
    assert estimate.optimizer_bytes == 2570 * 4 * 5


MODELS = ("lenet5", "resnet18", "mobilenet_v2", "vgg11", "googlenet")


@pytest.fixture(scope="module")
def reports():
    return {name: analyze(load_spec(name)) for name in MODELS}


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(MODELS), batch=st.integers(1, 512),
       scale=st.sampled_from([0.5, 2.0, 10.0, 1e3]))
def test_scaling_laws(reports, name, batch, scale):
    """Bytes affine in the batch (weights once, tensors per image), FLOPs linear and the
    forward ones the table's, time exactly inversely proportional to the device's rates,
    and the step between the two sums every roofline obeys."""
    report = reports[name]
    one, two, many = (estimate_step(report, CPU, batch=b) for b in (1, 2, batch))
    for a, b, n in zip(one.layers, two.layers, many.layers):
        assert n.bytes == a.bytes + (batch - 1) * (b.bytes - a.bytes)
        assert n.flops == batch * a.flops
    assert sum(layer.forward_flops for layer in many.layers) == report.totals["flops"] * batch
    faster = DeviceProfile("faster", CPU.memory_bandwidth * scale,
                           {"fp32": CPU.peak_flops["fp32"] * scale}, device="cpu")
    assert estimate_step(report, faster, batch=batch).step_seconds == \
        pytest.approx(many.step_seconds / scale, rel=1e-9)
    flops = sum(layer.flops for layer in many.layers) / 100e9
    moved = sum(layer.bytes for layer in many.layers) / 10e9
    layers = many.step_seconds - many.optimizer_seconds
    assert max(flops, moved) <= layers * (1 + 1e-12)
    assert layers <= (flops + moved) * (1 + 1e-12)


def test_epoch_counts_the_last_partial_step(reports):
    estimate = estimate_step(reports["resnet18"], CPU, batch=8)
    assert estimate.epoch_seconds(8 * 10) == pytest.approx(10 * estimate.step_seconds)
    assert estimate.epoch_seconds(8 * 10 + 1) == pytest.approx(11 * estimate.step_seconds)
    assert estimate.epoch_seconds(8, evaluated=16) == pytest.approx(
        estimate.step_seconds + 2 * estimate.forward_seconds)


def test_families_pick_the_profile_rates(reports):
    profile = DeviceProfile("four rates", 1e9, {"fp32": 8e9}, {"fp32": 4e9}, {"fp32": 1e9},
                            device="cpu", pointwise_flops={"fp32": 2e9})
    rates = {layer.family: layer.rate
             for layer in estimate_step(reports["mobilenet_v2"], profile).layers}
    assert rates == {"conv": 4e9, "depthwise": 1e9, "pointwise": 2e9, "matmul": 8e9,
                     "elementwise": 8e9}


def test_utilisation_is_model_flops_over_time_over_the_best_rate(reports):
    estimate = estimate_step(reports["vgg11"], CPU, batch=4)
    assert estimate.utilisation(2.0) == pytest.approx(estimate.model_flops / 2.0 / 100e9)
    faster_conv = DeviceProfile("conv", 10e9, {"fp32": 100e9}, {"fp32": 150e9}, device="cpu")
    estimate = estimate_step(reports["vgg11"], faster_conv, batch=4)
    assert estimate.utilisation(2.0) == pytest.approx(estimate.model_flops / 2.0 / 150e9)


@pytest.mark.parametrize("name, key", [
    ("NVIDIA A100-SXM4-80GB", "a100-sxm-80gb"), ("NVIDIA A100-SXM4-40GB", None),
    ("NVIDIA A100 80GB PCIe", None), ("NVIDIA H100 80GB HBM3", "h100-sxm"),
    ("NVIDIA H100 PCIe", None), ("NVIDIA H100 NVL", None), ("NVIDIA H200", "h200-sxm"),
    ("NVIDIA H200 NVL", None), ("Tesla V100-SXM2-16GB", "v100-sxm2"),
    ("Tesla V100-PCIE-32GB", None), ("Tesla T4", "t4"), ("NVIDIA L4", "l4"),
    ("NVIDIA L40S", None), ("NVIDIA GeForce RTX 4090", "rtx-4090"),
    ("NVIDIA GeForce RTX 4080", None)])
def test_datasheet_found_by_the_name_torch_reports(name, key):
    found = datasheet_for(name)
    assert (found is DATASHEETS[key]) if key else found is None


@pytest.mark.parametrize("key", sorted(DATASHEETS))
def test_datasheet_profiles_are_sane_and_round_trip(key, tmp_path):
    profile = DATASHEETS[key]
    assert profile.source and 100e9 <= profile.memory_bandwidth <= 10e12
    assert all(profile.peak_flops["fp32"] <= rate for rate in profile.peak_flops.values())
    path = tmp_path / "profile.yaml"
    path.write_text(profile_yaml(profile))
    assert load_profile(path).as_dict() == profile.as_dict()
    assert find_profile(key) is profile


GOOD = "memory_bandwidth: 2.0e12\npeak_flops: {fp32: 19.5T, bf16: 312e12}\n"
BAD_PROFILES = [
    ("peak_flops: {fp32: 1e12}\n", "missing field 'memory_bandwidth'", 0),
    ("memory_bandwidth: 1e12\n", "missing field 'peak_flops'", 0),
    (GOOD + "threads: 0\n", "'threads'", 3),
    (GOOD + "threads: true\n", "'threads'", 3),
    (GOOD + "colour: red\n", "unknown field 'colour'", 3),
    (GOOD + "device: tpu\n", "'device'", 3),
    ("memory_bandwidth: -5\npeak_flops: {fp32: 1e12}\n", "'memory_bandwidth'", 1),
    ("memory_bandwidth: fast\npeak_flops: {fp32: 1e12}\n", "'memory_bandwidth'", 1),
    ("memory_bandwidth: .nan\npeak_flops: {fp32: 1e12}\n", "'memory_bandwidth'", 1),
    ("memory_bandwidth: 1e12\npeak_flops: {fp32: .inf}\n", "'peak_flops.fp32'", 2),
    ("memory_bandwidth: 1e12\npeak_flops: {fp64: 1e12}\n", "unknown dtype 'fp64'", 2),
    ("memory_bandwidth: 1e12\npeak_flops: []\n", "'peak_flops'", 2),
    ("memory_bandwidth: 1e12\npeak_flops: {fp32: 0}\n", "'peak_flops.fp32'", 2),
    (GOOD + "conv_flops: {fp32: 12 G}\nconv_flops: {fp32: 1}\n", "duplicate", 4),
    ("- a list\n", "a mapping", 0),
    ("memory_bandwidth: [1\n", "invalid YAML", 0),
]


@pytest.mark.parametrize("text, says, line", BAD_PROFILES)
def test_a_bad_profile_names_file_line_and_field(tmp_path, run_cli, text, says, line):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ArchcalcError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert str(path) in message and says in message
    if line:
        assert f"{path}:{line}:" in message
    result = run_cli("roofline", "lenet5", "--device", path)
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output


def test_binary_and_huge_files_are_refused(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * 70_000 + "\n" + GOOD)
    for path in (binary, huge, tmp_path / "missing.yaml"):
        with pytest.raises(ArchcalcError, match=str(path.name)):
            load_profile(path)


def test_si_suffixes_and_yaml_floats_read_as_numbers(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD + "conv_flops: {fp32: '12 G'}\n")
    profile = load_profile(path)
    assert profile.peak_flops == {"fp32": 19.5e12, "bf16": 312e12}
    assert profile.conv_flops == {"fp32": 12e9} and profile.name == "mine"


def test_roofline_json_matches_the_estimate(run_cli):
    result = run_cli("roofline", "resnet18", "--device", "h100-sxm", "--dtype", "bf16",
                     "--batch", "16", "--images", "1000", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = estimate_step(analyze(load_spec("resnet18")), DATASHEETS["h100-sxm"],
                             batch=16, dtype="bf16")
    assert data["step_seconds"] == pytest.approx(expected.step_seconds)
    assert data["epoch_seconds"] == pytest.approx(63 * expected.step_seconds)
    assert len(data["layers"]) == len(expected.layers)
    assert data["ridge_point"] == pytest.approx(989.5e12 / 3.35e12)
    for layer in data["layers"]:
        seconds = layer["forward_seconds"] + layer["backward_seconds"]
        if layer["intensity"] is not None:
            assert math.isclose(layer["intensity"], (layer["forward_flops"] + layer[
                "backward_flops"]) / (layer["forward_bytes"] + layer["backward_bytes"]))
        assert seconds >= 0


def test_roofline_text_and_png(run_cli, tmp_path):
    pytest.importorskip("matplotlib")
    image = tmp_path / "r.png"
    result = run_cli("roofline", "mobilenet_v2", "--device", "t4", "--batch", "4",
                     "--out", image)
    assert result.exit_code == 0, result.output
    assert "training step:" in result.output and "memory-bound:" in result.output
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, says", [
    (("--device", "t4", "--dtype", "bf16"), "has no bf16 peak"),
    (("--device", "no-such-card"), "unknown device profile"),
    (("--device", "cpu"), "archcalc calibrate"),
])
def test_roofline_refusals(run_cli, monkeypatch, tmp_path, args, says):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    result = run_cli("roofline", "lenet5", *args)
    assert result.exit_code == 2 and says in result.output


def test_roofline_imports_no_torch(tmp_path):
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from archcalc.cli.main import main
        result = CliRunner().invoke(main, ["roofline", "resnet18", "--device", "a100-sxm-80gb"])
        assert result.exit_code == 0, result.output
        assert "torch" not in sys.modules, "torch was imported"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_fresh_memory_adds_the_big_new_tensors_at_their_own_rate(tiny):
    """Threshold 1,000 bytes at batch 1: the conv's output (1,024 B) is new in forward;
    in backward the fc's input gradient (1,024 B) and weight gradient (10,280 B); the
    conv's weight gradient (448 B) and the fc's output (40 B) stay under it."""
    slow_pages = DeviceProfile("pages", 10e9, {"fp32": 100e9}, device="cpu",
                               fresh_page_bandwidth=1e6, fresh_threshold=1000)
    plain = estimate_step(tiny, CPU, batch=1).layers
    paged = estimate_step(tiny, slow_pages, batch=1).layers
    assert [layer.fresh_bytes for layer in paged] == [1024, 0, 1024 + 10280]
    assert paged[0].forward_seconds == pytest.approx(plain[0].forward_seconds + 1024 / 1e6)
    assert paged[0].backward_seconds == plain[0].backward_seconds
    assert paged[2].backward_seconds == pytest.approx(plain[2].backward_seconds + 11304 / 1e6)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_kernels_add_up_when_one_resource_is_unlimited(reports, name):
    """A row's main kernel and its folded parts (BN, activation) run one after the other:
    with unlimited arithmetic the step is all its bytes at the bandwidth, with unlimited
    bandwidth all its FLOPs at the rate (one max over a whole row would give less)."""
    unlimited = 1e30
    bytes_only = DeviceProfile("bytes", 10e9, {"fp32": unlimited}, device="cpu")
    flops_only = DeviceProfile("flops", unlimited, {"fp32": 100e9}, device="cpu")
    by_bytes = estimate_step(reports[name], bytes_only, batch=4)
    by_flops = estimate_step(reports[name], flops_only, batch=4)
    layers = sum(layer.seconds for layer in by_bytes.layers)
    assert layers == pytest.approx(sum(layer.bytes for layer in by_bytes.layers) / 10e9)
    assert sum(layer.seconds for layer in by_flops.layers) == \
        pytest.approx(by_flops.model_flops / 100e9)
