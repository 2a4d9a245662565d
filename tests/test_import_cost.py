"""The numeric analysis path stays light: `archcalc table vgg16` imports neither
torch nor sympy (checked with Python's own import tracing, not with a timer)."""
from __future__ import annotations

import subprocess
import sys

import pytest


def imported_modules(*args) -> set:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "archcalc", *args],
                            capture_output=True, text=True, check=True)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.mark.parametrize("name", ["vgg16", "efficientnet_b0", "convnext_tiny", "vit_b_16"])
def test_table_imports_neither_torch_nor_sympy(name):
    """The lecture's network and the modern ones alike (SE gates, layout kinds, attention)."""
    names = imported_modules("table", name)
    assert "archcalc" in names and "yaml" in names  # the trace itself works
    assert not names & {"torch", "torchvision", "sympy", "fvcore", "numpy"}


def test_symbolic_table_imports_sympy_but_not_torch():
    names = imported_modules("table", "resnet18", "--input", "3xHxW", "--format", "json")
    assert "sympy" in names
    assert "torch" not in names
