"""Nothing the user had is lost: a used run folder or --save file is not overwritten
without --overwrite, every record is replaced atomically (a failure at any point leaves
the old file and no temporary one), a full disk is one clear error, and a torn last
metrics line left by a crash is dropped on resume with a note."""
from __future__ import annotations

import errno
import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib", reason="a training run writes curves.png")

from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.files import write_atomic  # noqa: E402

QUICK = ("--no-checks", "--lr", "0.05")


def snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A one-epoch lenet5 run (12 steps), to copy into each test."""
    from archcalc.train import TrainConfig, train

    out = tmp_path_factory.mktemp("finished") / "run"
    train(TrainConfig(spec="lenet5", epochs=1, checks=False, lr=0.05, deterministic=True,
                      out=str(out)))
    return snapshot(out)


def copy_run(files, folder):
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def test_a_new_run_refuses_a_used_folder(run_cli, tmp_path, finished_run):
    out = copy_run(finished_run, tmp_path / "run")
    result = run_cli("build", "lenet5", "--train", "--max-steps", "1", "--out", out, *QUICK)
    assert result.exit_code == 2
    assert f"error: {out}: the run folder already holds 6 files" in result.output
    assert f"--resume {out} continues that run; --overwrite replaces" in result.output
    assert snapshot(out) == finished_run  # untouched


def test_overwrite_starts_afresh_in_a_used_folder(run_cli, tmp_path, finished_run):
    out = copy_run(finished_run, tmp_path / "run")
    (out / "notes.txt").write_text("mine")
    (out / "checks.json").write_text("[]")  # an old run's checks; this one runs none
    result = run_cli("build", "lenet5", "--train", "--max-steps", "2", "--out", out,
                     "--overwrite", *QUICK)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["step"]) for r in records] == [(1, 2)]  # not appended to the old
    assert json.loads((out / "summary.json").read_text())["steps"] == 2
    assert (out / "notes.txt").read_text() == "mine"  # only the run's own files replaced
    assert not (out / "checks.json").exists()  # the old run's, not rewritten by this one


def test_resume_and_overwrite_together_are_refused(run_cli, tmp_path, finished_run):
    out = copy_run(finished_run, tmp_path / "run")
    result = run_cli("build", "lenet5", "--train", "--resume", out, "--overwrite")
    assert result.exit_code == 2 and "give one of them" in result.output
    assert snapshot(out) == finished_run


def test_save_refuses_an_existing_file(run_cli, tmp_path):
    target = tmp_path / "weights.pt"
    target.write_bytes(b"precious")
    result = run_cli("build", "lenet5", "--save", target)
    assert result.exit_code == 2 and f"error: {target}: --save: the file already exists" \
        in result.output
    result = run_cli("build", "lenet5", "--train", "--max-steps", "1", "--save", target,
                     "--out", tmp_path / "run", *QUICK)
    assert result.exit_code == 2 and "already exists" in result.output
    assert not (tmp_path / "run").exists()  # refused before training
    assert target.read_bytes() == b"precious"
    assert run_cli("build", "lenet5", "--save", target, "--overwrite").exit_code == 0
    assert len(torch.load(target, weights_only=True)) == 10


def test_a_torn_metrics_line_is_dropped_on_resume(run_cli, tmp_path, finished_run):
    out = copy_run(finished_run, tmp_path / "run")
    with open(out / "metrics.jsonl", "a") as file:
        file.write('{"epoch": 2, "step": 24, "train_lo')  # a crash while appending
    result = run_cli("build", "lenet5", "--train", "--resume", out, "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "dropped a torn last line (line 2)" in result.output
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]


def test_a_damaged_metrics_line_before_the_end_is_an_error(run_cli, tmp_path, finished_run):
    out = copy_run(finished_run, tmp_path / "run")
    good = (out / "metrics.jsonl").read_text()
    (out / "metrics.jsonl").write_text("{oops\n" + good)
    result = run_cli("build", "lenet5", "--train", "--resume", out, "--epochs", "2")
    assert result.exit_code == 2
    assert f"error: {out / 'metrics.jsonl'}:1:0: not an epoch record" in result.output
    assert (out / "metrics.jsonl").read_text() == "{oops\n" + good  # the user's data kept


def test_disk_full_while_saving_a_checkpoint(run_cli, tmp_path, finished_run, monkeypatch):
    """The resumed run's first save fails half-way: last.pt is the old one, no temporary
    file is left, and the message says the disk is full and names the file."""
    out = copy_run(finished_run, tmp_path / "run")
    real_save = torch.save

    def half_then_full(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        file.truncate(1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", half_then_full)
    result = run_cli("build", "lenet5", "--train", "--resume", out, "--epochs", "2")
    assert result.exit_code == 2
    assert f"error: {out / 'last.pt'}: disk full: cannot write this file" in result.output
    assert "Traceback" not in result.output
    after = snapshot(out)
    assert after["last.pt"] == finished_run["last.pt"]
    assert after["best.pt"] == finished_run["best.pt"]
    assert not [name for name in after if name.endswith(".tmp") or name.startswith(".")]


@pytest.mark.parametrize("failing", ["write", "fsync", "replace", "interrupt"])
def test_write_atomic_keeps_the_old_file_whatever_fails(tmp_path, monkeypatch, failing):
    target = tmp_path / "record.json"
    target.write_text("old")

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def write(file):
        file.write(b"new, half")
        if failing == "write":
            fail()
        if failing == "interrupt":
            raise KeyboardInterrupt

    if failing in ("fsync", "replace"):
        monkeypatch.setattr(os, failing, fail)
    expected = KeyboardInterrupt if failing == "interrupt" else ArchcalcError
    with pytest.raises(expected) as caught:
        write_atomic(target, write)
    if expected is ArchcalcError:
        assert str(caught.value).startswith(f"error: {target}: disk full: cannot write")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_write_atomic_errors_name_the_file(tmp_path, monkeypatch):
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(ArchcalcError, match="permission denied: cannot write this file"):
        write_atomic(tmp_path / "x.json", lambda file: None)
    monkeypatch.undo()
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ArchcalcError, match="blocker/x.json: "):
        write_atomic(blocker / "x.json", lambda file: None)


def test_out_naming_a_file_is_refused(run_cli, tmp_path):
    out = tmp_path / "run"
    out.write_text("a file")
    result = run_cli("build", "lenet5", "--train", "--max-steps", "1", "--out", out, *QUICK)
    assert result.exit_code == 2 and "is a file" in result.output  # click's own check
    from archcalc.train import TrainConfig, train

    with pytest.raises(ArchcalcError, match="--out names a file"):  # the Python API's
        train(TrainConfig(spec="lenet5", max_steps=1, checks=False, out=str(out)))
    assert out.read_text() == "a file"
