"""Resuming: 2 epochs straight equal 1 epoch plus a resumed 1 (deterministic mode), and a
run stopped by Ctrl-C mid-epoch continues from its checkpoint to the same result."""
from __future__ import annotations

import json
import signal

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib", reason="a training run writes curves.png")

from archcalc.train import TrainConfig, resume_config, train  # noqa: E402
from archcalc.train.checkpoint import load_checkpoint  # noqa: E402

COMPARED = ("step", "train_loss", "train_running_acc", "train_acc", "val_loss", "val_acc", "lr")


def config(out, **changes):
    values = dict(spec="lenet5", lr=0.05, checks=False, deterministic=True, seed=3,
                  out=str(out))
    values.update(changes)
    return TrainConfig(**values)


def records(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def same_metrics(left, right):
    assert len(left) == len(right)
    for a, b in zip(left, right):
        for key in COMPARED:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (a["epoch"], key)


def same_weights(left, right):
    a = load_checkpoint(left / "last.pt")["model"]
    b = load_checkpoint(right / "last.pt")["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), rtol=1e-5, atol=1e-7), key


def test_two_epochs_equal_one_plus_resumed_one(run_cli, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train(config(straight, epochs=2)).status == "trained"
    assert train(config(split, epochs=1)).status == "trained"
    result = run_cli("build", "lenet5", "--train", "--resume", split, "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "resuming at epoch 2, batch 0, step 12" in result.output
    same_metrics(records(straight), records(split))
    same_weights(straight, split)


def test_interrupted_mid_epoch_resumes_to_the_same_result(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    train(config(straight, epochs=2, spec=str(DROPOUT_SPEC_PATH(tmp_path))))
    finished = []  # epochs reported to on_epoch

    # Ctrl-C arrives during epoch 2, after its fifth batch: press it from inside the loop
    import archcalc.train.loop as loop

    original = loop.train_step
    count = {"steps": 0}

    def pressing_ctrl_c(*args, **kwargs):
        count["steps"] += 1
        if count["steps"] == 12 + 5:
            signal.raise_signal(signal.SIGINT)
        return original(*args, **kwargs)

    loop.train_step = pressing_ctrl_c
    try:
        result = train(config(stopped, epochs=2, spec=str(DROPOUT_SPEC_PATH(tmp_path))),
                       on_epoch=lambda epoch, record: finished.append(epoch))
    finally:
        loop.train_step = original
    assert result.status == "interrupted" and result.exit_code == 130
    position = load_checkpoint(stopped / "last.pt")["position"]
    assert (position["epoch"], position["batch"], position["step"]) == (2, 5, 17)
    assert finished == [1]
    resumed = train(resume_config(stopped))
    assert resumed.status == "trained"
    same_metrics(records(straight), records(stopped))
    same_weights(straight, stopped)


DROPOUT_SPEC = """\
archcalc: 1
name: lenet5_dropout
source: lenet5 with dropout before its classifier, so that resuming must restore the
  global random generator that dropout draws from
input: [1, 32, 32]
defaults:
  conv: {kernel: 5, act: tanh}
  avgpool: {kernel: 2, stride: 2}
layers:
  - conv: {out: 6, name: c1}
  - avgpool: {name: s2}
  - conv: {out: 16, name: c3}
  - avgpool: {name: s4}
  - conv: {out: 120, name: c5}
  - flatten
  - fc: {out: 84, act: tanh, dropout: 0.3, name: f6}
  - fc: {out: 10, name: output}
"""


def DROPOUT_SPEC_PATH(folder):
    path = folder / "lenet5_dropout.yaml"
    if not path.exists():
        path.write_text(DROPOUT_SPEC)
    return path


def test_resume_refuses_changed_settings(run_cli, tmp_path):
    out = tmp_path / "run"
    train(config(out, max_steps=1))
    result = run_cli("build", "lenet5", "--train", "--resume", out, "--lr", "0.5")
    assert result.exit_code == 2 and "cannot change lr when resuming" in result.output
    result = run_cli("build", "alexnet", "--train", "--resume", out)
    assert result.exit_code == 2 and "trains 'lenet5'" in result.output


def test_on_epoch_can_stop_a_run(tmp_path):
    """How a hyperparameter search prunes a trial: raise from on_epoch."""

    class Pruned(Exception):
        pass

    def prune_after_first(epoch, record):
        assert set(COMPARED) <= set(record)
        raise Pruned(epoch)

    out = tmp_path / "run"
    with pytest.raises(Pruned):
        train(config(out, epochs=3), on_epoch=prune_after_first)
    assert [r["epoch"] for r in records(out)] == [1]
    assert json.loads((out / "summary.json").read_text())["status"] == "stopped"
    assert not torch.are_deterministic_algorithms_enabled()  # the process is left as it was
