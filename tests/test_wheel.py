"""Installing without a clone: the wheel carries every file of the zoo, and the installed
package finds it from any working directory (the README's `pip install .` path)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tracked(folder: str) -> list[str]:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        return sorted(str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file())
    listing = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True,
                             text=True, check=True)
    return sorted(listing.stdout.split())


def _require_build_backend() -> None:
    """The build runs without isolation, so this environment must hold pyproject's build
    backend: setuptools with bdist_wheel (built in since setuptools 70.1, else `wheel`)."""
    try:
        import setuptools.command.bdist_wheel  # noqa: F401
    except ImportError:
        pytest.importorskip("wheel.bdist_wheel", reason="building a wheel needs setuptools "
                            ">= 70.1 or the wheel package (pip install -U setuptools)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    _require_build_backend()
    # Build from a copy of the tracked sources, so the build leaves nothing in the
    # checkout and sees exactly what a clone has.
    source = tmp_path_factory.mktemp("source")
    for name in _tracked("."):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)], capture_output=True, text=True, timeout=300, check=False)
    if build.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{build.stdout}\n{build.stderr}")
    (wheel_file,) = out.glob("archcalc-*.whl")
    return wheel_file


def test_wheel_carries_every_spec_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = {f"archcalc/zoo/{Path(name).relative_to('specs')}" for name in _tracked("specs")}
    assert bundled, "no spec files are tracked"
    assert bundled <= names, f"missing from the wheel: {sorted(bundled - names)}"
    # the published JSON Schema and the PEP 561 marker travel with the package
    assert {"archcalc/schema/report.schema.json", "archcalc/py.typed"} <= names


def test_installed_wheel_runs_the_quick_start(wheel, tmp_path):
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)], capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "archcalc", "table", "vgg16"], cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "138,357,544" in result.stdout
    # a model built from a shipped template library (archcalc/zoo/library/resnet.yaml)
    library = subprocess.run([sys.executable, "-m", "archcalc", "table", "resnet20"],
                             cwd=elsewhere, env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert library.returncode == 0, library.stderr
    assert "269,722" in library.stdout
    where = subprocess.run([sys.executable, "-c", "import archcalc; print(archcalc.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True,
                           timeout=60, check=False)
    assert where.stdout.strip().startswith(str(site)), where.stdout
    # the installed package finds its JSON Schema (archcalc/schema/), not a clone's
    schema = subprocess.run(
        [sys.executable, "-c", "import archcalc.render.export as e, archcalc; "
         "print(e.schema_path()); print(archcalc.json_schema()['title'])"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert schema.returncode == 0, schema.stderr
    path, title = schema.stdout.splitlines()
    assert path.startswith(str(site)) and title.startswith("archcalc JSON output")
