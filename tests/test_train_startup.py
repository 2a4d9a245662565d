"""The training commands start without their heavy packages: `--help` of `build`,
`babysit` and `search` imports none of torch, torchvision, optuna, scikit-learn or
matplotlib (checked with Python's own import tracing), so the CLI works, and explains
itself, where the `torch` and `train` extras are not installed. Runs with or without
them installed."""
from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = {"torch", "torchvision", "optuna", "sklearn", "matplotlib", "fvcore"}


def run_traced(*args) -> tuple[str, set]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "archcalc", *args],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    names = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return result.stdout, names


@pytest.mark.parametrize("command", [(), ("build",), ("babysit",), ("search",)])
def test_help_imports_no_heavy_package(command):
    output, names = run_traced(*command, "--help")
    assert output.startswith("Usage: archcalc")
    assert "click" in names  # the trace itself works
    assert not names & HEAVY, sorted(names & HEAVY)


def test_build_help_lists_the_training_options():
    output, _ = run_traced("build", "--help")
    for option in ("--train", "--epochs", "--lr", "--resume", "--overwrite", "--save"):
        assert option in output
