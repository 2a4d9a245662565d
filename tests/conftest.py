"""Shared test helpers: run the CLI in-process and read its exit status and output."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from archcalc.cli.main import main


@pytest.fixture
def run_cli():
    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture
def wide_console(monkeypatch):
    """Rich output 200 columns wide, whatever COLUMNS the runner sets (xdist sets 80), so
    that no cell is wrapped; the cached console is rebuilt before and after."""
    from archcalc.cli import console

    monkeypatch.setenv("COLUMNS", "200")
    console.out.cache_clear()
    yield
    console.out.cache_clear()


def pytest_configure(config):
    # Under pytest-xdist each worker gets one intra-op thread: two workers on two
    # cores, each spinning up a full OpenMP pool, slow each other down many times over.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        try:
            import torch
        except ImportError:
            return
        torch.set_num_threads(1)
