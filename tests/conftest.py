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
