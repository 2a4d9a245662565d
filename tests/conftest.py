"""Shared test helpers: run the CLI in-process and read its exit status and output."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from archcalc.cli.main import main


@pytest.fixture
def run_cli():
    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run
