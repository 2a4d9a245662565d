"""`archcalc calibrate` (train/calibrate.py) and the estimate lines of `build --train`
(train/step_estimate.py).

Oracles: PyTorch's FlopCounterMode for the FLOPs each timed workload is credited with,
the analysis' own conv rule, the file system (nothing replaced without --overwrite, no
temporary file left), and hand arithmetic of MFU. Timings themselves are not asserted
beyond being positive: the machine is shared.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.analysis.devices import default_profile_path, load_profile  # noqa: E402
from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.train import calibrate as cal  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture
def one_second(monkeypatch):
    """Every timed workload takes exactly 1 s, so a rate equals the work credited; the
    calls are recorded to count them with FlopCounterMode."""
    calls = []

    def fake(run, device, budget):
        calls.append(run)
        return 1.0

    monkeypatch.setattr(cal, "best_seconds", fake)
    return calls


def counted_flops(run) -> int:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


def test_matmul_is_credited_with_what_flopcounter_counts(one_second):
    rate = cal.matmul_rate(64, torch.float32, CPU, 0.1)
    assert rate == counted_flops(one_second[-1]) == 2 * 64 ** 3


@pytest.mark.parametrize("depthwise", [False, True])
def test_conv_forward_and_backward_credited_with_flopcounter_flops(one_second, depthwise,
                                                                   tmp_path):
    """3x3 conv (dense or depthwise), forward, grad-input and grad-weight: 6 per MAC, as
    FlopCounterMode counts them and as the analysis counts the conv's MACs."""
    from archcalc.analysis.analyze import analyze
    from archcalc.spec.loader import load_spec

    shape = (2, 6, 10, 10)
    rate = cal.conv_rate(shape, depthwise, torch.float32, CPU, 0.1)
    if not depthwise:
        assert rate == counted_flops(one_second[-1])
    # FlopCounterMode over-counts a grouped conv's backward (172,800 here against 64,800,
    # torch 2.14), so its forward is the oracle there: a third of the work credited
    conv = torch.nn.Conv2d(6, 6, 3, padding=1, groups=6 if depthwise else 1, bias=False)
    with torch.no_grad():
        assert rate == 3 * counted_flops(lambda: conv(torch.randn(shape)))
    path = tmp_path / "one.yaml"
    path.write_text("archcalc: 1\nname: one\ninput: [6, 10, 10]\nlayers:\n"
                    f"  - conv: {{out: 6, kernel: 3, pad: 1, bias: false, "
                    f"groups: {6 if depthwise else 1}}}\n")
    assert rate == 6 * analyze(load_spec(str(path))).totals["macs"] * shape[0]


def test_pointwise_credited_with_flopcounter_flops(one_second):
    rate = cal.pointwise_rate((2, 4, 6, 6), torch.float32, CPU, 0.1)
    assert rate == counted_flops(one_second[-1]) == 6 * 2 * 36 * 4 * 16


def test_bandwidths_credited_with_the_bytes_they_move(one_second):
    assert cal.copy_bandwidth(1000, CPU, 0.1) == 2 * 1000 * 4
    elements = 8 * 2 * 56 * 56
    assert cal.training_bandwidth(elements, CPU, torch.float32, 0.1) == 10 * elements * 4
    # 3x3/2 pad 1 on 2x4x16x16: 2,048 inputs, 512 outputs and indices, as the model counts
    assert cal.pool_bandwidth((2, 4, 16, 16), CPU, torch.float32, 0.1) == \
        (2048 + 512) * 4 + 512 * 8 + (512 + 2 * 2048) * 4 + 512 * 8
    # a fresh allocation that costs nothing extra has no fresh-page rate
    assert cal.fresh_page_bandwidth(1000, CPU, 0.1) is None


def test_calibrate_small_round_trips_through_the_saved_file(tmp_path):
    profile = cal.calibrate("cpu", 0.3, cal.SMALL)
    assert profile.device == "cpu" and profile.threads == torch.get_num_threads()
    for value in (*profile.peak_flops.values(), *profile.conv_flops.values(),
                  *profile.depthwise_flops.values(), *profile.pointwise_flops.values(),
                  profile.memory_bandwidth,
                  profile.elementwise_bandwidth, profile.pool_bandwidth):
        assert value > 0
    path = tmp_path / "profile.yaml"
    cal.save_profile(profile, path)
    assert load_profile(path).as_dict() == profile.as_dict()


def test_saving_never_replaces_a_file_without_overwrite(tmp_path):
    profile = cal.calibrate("cpu", 0.1, cal.SMALL)
    path = tmp_path / "profile.yaml"
    path.write_text("mine\n")
    with pytest.raises(ArchcalcError, match="already exists"):
        cal.save_profile(profile, path)
    assert path.read_text() == "mine\n"
    cal.save_profile(profile, path, overwrite=True)
    assert load_profile(path).name == profile.name
    assert [p.name for p in tmp_path.iterdir()] == ["profile.yaml"]  # no temporary left


@pytest.fixture
def small_calibration(monkeypatch, tmp_path):
    """The CLI measures the small workloads, and saves under a private config folder."""
    real = cal.calibrate
    monkeypatch.setattr(cal, "calibrate", lambda device, seconds: real(device, 0.2, cal.SMALL))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return default_profile_path("cpu")


def test_cli_saves_to_the_default_place_and_refuses_before_measuring(run_cli, small_calibration,
                                                                     monkeypatch):
    result = run_cli("calibrate", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["saved_to"] == str(small_calibration)
    saved = small_calibration.read_bytes()

    def must_not_run(*args):
        raise AssertionError("measured before refusing")

    monkeypatch.setattr(cal, "calibrate", must_not_run)
    refused = run_cli("calibrate")
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    assert small_calibration.read_bytes() == saved
    # the saved profile is what `roofline --device cpu` reads
    used = run_cli("roofline", "resnet18", "--device", "cpu", "--format", "json")
    assert json.loads(used.output)["profile"]["name"] == data["name"]


def test_cli_overwrite_out_and_no_save(run_cli, small_calibration, tmp_path):
    target = tmp_path / "mine.yaml"
    target.write_text("old\n")
    assert run_cli("calibrate", "--out", target, "--no-save").exit_code == 0
    assert target.read_text() == "old\n"
    result = run_cli("calibrate", "--out", target, "--overwrite")
    assert result.exit_code == 0 and "matmul" in result.output and "saved to" in result.output
    assert load_profile(target).device == "cpu"


def fake_run(report, device_type="cpu", amp=False, finetune=None, head="fc"):
    config = SimpleNamespace(optimizer="sgd", finetune_mode=finetune)
    return SimpleNamespace(report=report, device=torch.device(device_type), batch_size=4,
                           amp=amp, config=config, head_path=head)


def test_build_train_lines(small_calibration):
    from archcalc.analysis.analyze import analyze
    from archcalc.analysis.roofline import estimate_step
    from archcalc.spec.loader import load_spec
    from archcalc.train import step_estimate

    report = analyze(load_spec("lenet5"))
    prepared = fake_run(report)
    assert "archcalc calibrate" in step_estimate.before_line(prepared, 0.01)
    assert step_estimate.after_line(prepared, []) is None
    cal.save_profile(cal.calibrate("cpu", 0.1), small_calibration)
    profile = load_profile(small_calibration)
    expected = estimate_step(report, profile, batch=4, optimizer="sgd-momentum")
    line = step_estimate.before_line(prepared, 0.25)  # 1 s per step of 4
    assert f"estimate/measured {expected.step_seconds:.2f}" in line
    after = step_estimate.after_line(prepared, [{"epoch": 3, "images_per_s": 8.0}])
    best = max(profile.peak_flops["fp32"], profile.conv_flops["fp32"])
    mfu = expected.model_flops / 0.5 / best
    assert "epoch 3" in after and f"utilisation {mfu:.1%}" in after
    # fine-tuning the head: everything before it is frozen, so the step is shorter
    head = fake_run(report, finetune="head", head="output")
    assert step_estimate.estimate(head).model_flops < expected.model_flops


def test_build_train_says_the_estimate_before_and_the_mfu_after(run_cli, small_calibration,
                                                                tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib", reason="a training run writes curves.png")
    assert run_cli("calibrate").exit_code == 0
    result = run_cli("build", "lenet5", "--train", "--max-steps", "2", "--no-checks",
                     "--epochs", "1", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    before = result.output.index("roofline estimate on this CPU")
    assert before < result.output.index("learning rate")  # said before the first step
    assert "estimate/measured" in result.output
    assert "model FLOPs utilisation" in result.output
