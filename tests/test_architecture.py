"""The layering the README draws, held by import-linter's contracts in pyproject.toml: each
pipeline stage imports only the stages below it, and the torch-free stages import no torch."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or \
        shutil.which("lint-imports")
    if linter is None:
        pytest.skip("import-linter is not installed (the `lint` extra)")
    result = subprocess.run([linter, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_stage_importing_upwards_breaks_the_contract(tmp_path):
    """The contract can fail: a copy of the package where layers imports the CLI is refused."""
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or \
        shutil.which("lint-imports")
    if linter is None:
        pytest.skip("import-linter is not installed (the `lint` extra)")
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "archcalc", copy / "archcalc",
                    ignore=shutil.ignore_patterns("__pycache__", "zoo"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    with (copy / "archcalc" / "layers" / "shape.py").open("a") as stream:
        stream.write("\nfrom archcalc.cli import console  # noqa: E402,F401\n")
    result = subprocess.run([linter, "--no-cache"], cwd=copy, capture_output=True, text=True,
                            timeout=300, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0, result.stdout
    assert "archcalc.layers.shape -> archcalc.cli" in result.stdout
