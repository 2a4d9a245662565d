"""`archcalc build NAME --train` end to end on the bundled digits, and its exit statuses."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def read_json(path):
    return json.loads(path.read_text())


def test_train_lenet_writes_every_file(run_cli, tmp_path):
    out = tmp_path / "run"
    result = run_cli("build", "lenet5", "--train", "--epochs", "2", "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("config.json", "checks.json", "metrics.jsonl", "curves.png", "summary.json",
                 "last.pt", "best.pt"):
        assert (out / name).is_file(), name
    summary = read_json(out / "summary.json")
    assert summary["status"] == "trained" and summary["steps"] == 2 * 12  # 1,437 / 128
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s"):
        assert key in records[0]
    checks = read_json(out / "checks.json")
    assert [c["name"] for c in checks] == ["initial_loss", "regularisation", "overfit",
                                           "learning_rate"]
    assert all(c["status"] == "pass" for c in checks), checks
    config = read_json(out / "config.json")
    assert config["lr"] == checks[3]["data"]["picked"]  # the probe chose the rate
    assert config["batch_size"] == 128
    # the printed cost is the adapted model's analysis
    assert "61,706 params" in result.output
    assert "per epoch" in result.output and "diagnosis:" in result.output
    assert read_json(out / "summary.json")["diagnosis"]


def test_explosion_guard_stops_with_exit_1(run_cli, tmp_path):
    out = tmp_path / "run"
    result = run_cli("build", "lenet5", "--train", "--lr", "1e6", "--no-checks", "--out", out)
    assert result.exit_code == 1, result.output
    assert "explosion guard" in result.output
    summary = read_json(out / "summary.json")
    assert summary["status"] == "exploded"
    explosion = summary["explosion"]
    assert explosion["step"] >= 1
    value = explosion["value"]
    assert value != value or value > 3 * explosion["initial"]  # NaN or above 3x
    # the last good state (the initial one) is kept, readable, at step 0
    from archcalc.train.checkpoint import load_checkpoint

    assert load_checkpoint(out / "last.pt")["position"]["step"] == 0


def test_impossible_input_is_rejected_before_training(run_cli, tmp_path):
    out = tmp_path / "run"
    result = run_cli("build", "alexnet", "--train", "--input", "1x32x32", "--out", out)
    assert result.exit_code == 2
    assert "smallest input that works" in result.output
    assert not (out / "last.pt").exists()


def test_other_input_size_is_reanalysed(run_cli, tmp_path):
    out = tmp_path / "run"
    result = run_cli("build", "lenet5", "--train", "--input", "1x36x36", "--max-steps", "2",
                     "--no-checks", "--out", out)
    assert result.exit_code == 0, result.output
    # 36x36: c5 outputs 120x2x2, so f6 takes 480 inputs instead of 120
    from archcalc import analyze, load_spec
    from archcalc.train.adapt import adapt_spec

    _, report, _ = adapt_spec(load_spec("lenet5"), (1, 36, 36), 10)
    assert report.totals["params"] == analyze("lenet5").totals["params"] + 360 * 84
    assert f"{report.totals['params']:,} params" in result.output
    assert read_json(out / "config.json")["input"] == [1, 36, 36]


def test_train_options_need_train(run_cli):
    result = run_cli("build", "lenet5", "--epochs", "2")
    assert result.exit_code == 2 and "--epochs only apply with --train" in result.output


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_bad_checkpoint_is_a_clear_error(run_cli, tmp_path, damage):
    out = tmp_path / "run"
    assert run_cli("build", "lenet5", "--train", "--max-steps", "1", "--no-checks",
                   "--out", out).exit_code == 0
    last = out / "last.pt"
    if damage == "truncated":
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    else:
        torch.save({"weight": torch.zeros(2)}, last)
    result = run_cli("build", "lenet5", "--train", "--resume", out)
    assert result.exit_code == 2
    message = result.output.strip().splitlines()
    assert message[0].startswith(f"error: {last}: ")
    assert ("cannot read this checkpoint" if damage == "truncated"
            else "not an archcalc training checkpoint") in message[0]
    assert "Traceback" not in result.output


def test_babysit_json(run_cli):
    result = run_cli("babysit", "lenet5", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert [c["status"] for c in report["checks"]] == ["pass"] * 4
    initial = report["checks"][0]["data"]
    assert abs(initial["loss"] - 2.302585) < 0.1 * 2.302585
    grid = report["checks"][3]["data"]["grid"]
    assert grid[0]["verdict"].startswith("too low") and grid[-1]["verdict"].startswith("too high")
    assert report["suggested_lr"] == report["checks"][3]["data"]["picked"]
