"""Option values at the boundary: non-finite numbers are refused before anything runs,
and ``~`` and ``$VARS`` are expanded in every path option (the shell does not expand
them after ``cifar10:`` or in ``--opt=VALUE``)."""
from __future__ import annotations

import math
import os
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archcalc.cli.options import expand_path
from archcalc.errors import ArchcalcError

NON_FINITE = ["inf", "-inf", "nan", "NaN", "1e999"]


@pytest.mark.parametrize("option, value, words", [
    *[("--lr", value, "is not a finite number") for value in NON_FINITE],
    *[("--weight-decay", value, "is not a finite number") for value in NON_FINITE],
    *[("--momentum", value, "is not a finite number") for value in NON_FINITE],
    *[("--check-seconds", value, "is not a finite number") for value in NON_FINITE],
    ("--lr", "0", "x>0"), ("--lr", "-0.1", "x>0"), ("--momentum", "1", "0<=x<1"),
    ("--weight-decay", "-1e-4", "x>=0"), ("--check-seconds", "-1", "x>=0"),
])
def test_non_finite_and_out_of_range_values_are_refused(run_cli, tmp_path, option, value,
                                                        words):
    out = tmp_path / "run"
    result = run_cli("build", "lenet5", "--train", option, value, "--out", out)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output and words in result.output
    assert not out.exists()  # nothing trained, nothing written
    if option != "--check-seconds":
        result = run_cli("babysit", "lenet5", option, value)
        assert result.exit_code == 2 and words in result.output


@pytest.mark.parametrize("name", ["lr", "momentum", "weight_decay", "check_seconds",
                                  "backbone_lr_scale"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_the_python_api_refuses_non_finite_values(name, value):
    from archcalc.train.config import TrainConfig

    with pytest.raises(ArchcalcError, match=f"{name} must be a finite number"):
        TrainConfig(spec="lenet5", **{name: value})


SEGMENT = st.text(st.characters(codec="ascii", categories=["L", "N"],
                                include_characters="._- "), min_size=1, max_size=12)


@given(parts=st.lists(SEGMENT, min_size=1, max_size=4))
def test_expand_path_is_the_shells_expansion(parts):
    relative = os.path.join(*parts)
    home = os.path.expanduser("~")
    assert expand_path("~/" + relative) == os.path.join(home, relative)
    assert expand_path("$HOME/" + relative) == os.path.join(home, relative)
    assert expand_path("${HOME}/" + relative) == os.path.join(home, relative)
    assert expand_path("/abs/" + relative) == "/abs/" + relative  # nothing to expand
    assert expand_path("$ARCHCALC_SURELY_UNSET_VARIABLE/x") == \
        "$ARCHCALC_SURELY_UNSET_VARIABLE/x"  # left as written, so the error names it
    from archcalc.cli.training import expand_data_source

    for kind in ("cifar10", "folder"):
        assert expand_data_source(f"{kind}:~/{relative}") == \
            f"{kind}:{os.path.join(home, relative)}"
    assert expand_data_source("digits") == "digits"
    assert expand_data_source("synthetic") == "synthetic"


def write_cifar(folder):
    import numpy as np

    folder.mkdir(parents=True)
    generator = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as file:
            pickle.dump({b"data": generator.integers(0, 256, (8, 3072), dtype=np.uint8),
                         b"labels": [int(v) for v in generator.integers(0, 10, 8)]}, file)


def test_every_path_option_expands_home_and_variables(run_cli, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib", reason="a training run writes curves.png")
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RUNS", str(home / "runs"))
    write_cifar(home / "cifar")
    quick = ("--no-checks", "--lr", "0.05", "--batch-size", "8")
    result = run_cli("build", "lenet5", "--train", "--data", "cifar10:~/cifar", "--max-steps",
                     "1", "--out", "$RUNS/first", *quick)
    assert result.exit_code == 0, result.output
    assert (home / "runs" / "first" / "last.pt").is_file()
    result = run_cli("build", "lenet5", "--train", "--resume", "~/runs/first", "--max-steps",
                     "2")
    assert result.exit_code == 0, result.output
    assert run_cli("build", "lenet5", "--save", "~/lenet.pt").exit_code == 0
    assert (home / "lenet.pt").is_file()
    result = run_cli("build", "lenet5", "--train", "--weights", "${HOME}/lenet.pt", "--data",
                     "cifar10:$HOME/cifar", "--max-steps", "1", "--out", "~/runs/tuned",
                     "--save", "~/tuned.pt", *quick)
    assert result.exit_code == 0, result.output
    assert (home / "tuned.pt").is_file() and (home / "runs" / "tuned" / "last.pt").is_file()
    result = run_cli("babysit", "lenet5", "--weights", "~/missing.pt")
    assert result.exit_code == 2 and f"error: {home / 'missing.pt'}: " in result.output
