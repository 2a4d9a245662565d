"""Each babysitting check passes on a healthy model and fails on one broken on purpose."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from archcalc.train import checks  # noqa: E402
from archcalc.train.config import TrainConfig  # noqa: E402
from archcalc.train.display import Display  # noqa: E402
from archcalc.train.setup import check_inputs, prepare  # noqa: E402


@pytest.fixture(scope="module")
def healthy():
    prepared = prepare(TrainConfig("lenet5", check_seconds=600), Display())
    return check_inputs(prepared)


def broken(inputs, change):
    model = inputs.fresh()
    with torch.no_grad():
        change(model)
    return replace(inputs, model=model)


def test_initial_loss_passes_then_fails_with_a_huge_initialisation(healthy):
    assert checks.check_initial_loss(healthy).status == "pass"
    huge = broken(healthy, lambda model: [p.mul_(100) for p in model.parameters()])
    result = checks.check_initial_loss(huge)
    assert result.status == "fail"
    assert result.data["loss"] > 2 * result.data["expected"]
    assert "initialisation is too large" in result.detail


def test_regularisation_raises_the_loss_unless_every_weight_is_zero(healthy):
    loss = checks.check_initial_loss(healthy).data["loss"]
    result = checks.check_regularisation(healthy, loss)
    assert result.status == "pass" and result.data["regularised_loss"] > loss
    zero = broken(healthy, lambda model: [p.zero_() for p in model.parameters()])
    result = checks.check_regularisation(zero, loss)
    assert result.status == "fail" and result.data["regularised_loss"] == loss
    no_decay = replace(healthy, weight_decay=0.0)
    assert checks.check_regularisation(no_decay, loss).status == "warn"


class Silenced(torch.nn.Module):
    """The model's scores times zero: the loss stays ln(10) whatever the rate."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.scale = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x):
        return self.model(x) * self.scale


def test_rate_probe_finds_a_range_and_fails_when_nothing_learns(healthy):
    # the lecture's learning rate 1e6: the probe finds the range and warns
    result = checks.check_learning_rates(replace(healthy, lr=1e6), budget=600)
    assert result.status == "warn" and "--lr 1e+06 is above that range" in result.detail
    grid = {row["lr"]: row["verdict"] for row in result.data["grid"]}
    assert grid[1e-6] == "too low: barely changing"
    assert grid[10.0].startswith("too high")
    low, high = result.data["range"]
    assert low <= result.data["picked"] <= high < 10.0
    silenced = replace(healthy, model=Silenced(healthy.fresh()), head_path="model.output")
    result = checks.check_learning_rates(silenced, budget=600)
    assert result.status == "fail" and result.data["picked"] is None


def test_overfit_passes_for_lenet(healthy):
    result = checks.check_overfit(healthy, lr=0.1, budget=600)
    assert result.status == "pass", result.observed
    assert result.data["tries"][-1]["accuracy"] == 1.0


CANNOT_LEARN = """\
archcalc: 1
name: mean_only
source: a test model that sees only each image's mean brightness
input: [1, 8, 8]
layers:
  - avgpool: {global: true}
  - flatten
  - fc: {out: 10}
"""


def test_a_model_that_cannot_learn_fails_the_overfit_check(run_cli, tmp_path):
    spec = tmp_path / "mean_only.yaml"
    spec.write_text(CANNOT_LEARN)
    result = run_cli("babysit", spec, "--format", "json", "--check-seconds", "600")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["overfit"] == "fail" and statuses["initial_loss"] == "pass"
    tries = report["checks"][2]["data"]["tries"]
    assert tries[-1]["steps"] == checks.OVERFIT_STEPS and tries[-1]["accuracy"] < 1.0
    # and --train stops before the first epoch, exit 1
    out = tmp_path / "run"
    result = run_cli("build", spec, "--train", "--out", out, "--check-seconds", "600")
    assert result.exit_code == 1 and "stopped before training" in result.output
    assert json.loads((out / "summary.json").read_text())["status"] == "check_failed"


def test_checks_are_planned_from_the_analysis_and_bounded():
    """resnet50 at 224x224 on a CPU: the default 60 s budget plans one probe step per rate
    and a few overfit steps; lenet5 gets the full plan. No timing involved."""
    import torch as _torch

    from archcalc import load_spec
    from archcalc.train import sizing
    from archcalc.train.adapt import adapt_spec

    cpu = _torch.device("cpu")
    _, big, _ = adapt_spec(load_spec("resnet50"), (1, 224, 224), 10)
    per_image = sizing.planned_seconds_per_image(big, cpu)
    assert sizing.auto_batch_size(big, cpu, amp=False) == 8
    assert checks.probe_steps(per_image, 8, 30) == 1
    assert 1 <= checks.overfit_steps(per_image, 30) <= 5
    _, small, _ = adapt_spec(load_spec("lenet5"), (1, 32, 32), 10)
    per_image = sizing.planned_seconds_per_image(small, cpu)
    assert checks.probe_steps(per_image, 64, 30) == checks.PROBE_STEPS
    assert checks.overfit_steps(per_image, 30) == checks.OVERFIT_STEPS
