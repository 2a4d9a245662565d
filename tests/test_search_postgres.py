"""Search across machines, for real: two `archcalc search` processes share one study in a
PostgreSQL server, as processes on several machines would, and each trial runs once.

The server is a throwaway PostgreSQL (the Debian `postgresql` package; .ci/run installs
it where missing) in a temporary folder, on a free local port, its unix socket in that
folder too. The test skips only where PostgreSQL is not installed or the driver extra
(archcalc[postgres]) is missing; a server that is installed but fails to start fails it.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("torch")
pytest.importorskip("psycopg", reason="no PostgreSQL driver: pip install 'archcalc[postgres]'")

from archcalc.search import study as studies  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 4


def _server_binaries() -> Path | None:
    """The bin folder of the newest PostgreSQL installed (Debian keeps each version in
    /usr/lib/postgresql/N/bin, outside PATH), else initdb's folder on PATH."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        return Path(max(found, key=lambda path: int(Path(path).parts[-3]))).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def postgres_url():
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (no initdb): apt-get install postgresql")
    as_server_user = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as `postgres`
        import pwd

        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root with no 'postgres' user to run the server as")
        as_server_user = ["runuser", "-u", "postgres", "--"]
    # Not pytest's tmp_path: its parent folders are private to this user.
    folder = Path(tempfile.mkdtemp(prefix="archcalc-pg-"))
    if as_server_user:
        os.chown(folder, server_user.pw_uid, server_user.pw_gid)
    port, data = _free_port(), folder / "data"

    def run(*command):
        done = subprocess.run([*as_server_user, *map(str, command)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}{done.stderr}"

    try:
        run(binaries / "initdb", "-D", data, "-A", "trust", "-U", "archcalc", "-E", "UTF8",
            "--no-sync")
        run(binaries / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w", "-t", "60",
            "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c full_page_writes=off", "start")
        try:
            run(binaries / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "archcalc",
                "search")
            yield f"postgresql+psycopg://archcalc@127.0.0.1:{port}/search"
        finally:
            run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_two_searches_share_one_postgresql_study_and_run_each_trial_once(postgres_url,
                                                                          tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    searches = [subprocess.Popen(
        [sys.executable, "-m", "archcalc", "search", "lenet5", "--stage", "fine", "--trials",
         str(TRIALS), "--epochs", "1", "--param", "lr=1e-3:1e-1:log", "--param",
         "momentum=0.5:0.95", "--storage", postgres_url, "--study", "shared", "--out",
         tmp_path / f"machine-{n}"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for n in range(2)]
    for search in searches:
        output, _ = search.communicate(timeout=300)
        assert search.returncode == 0, output
    trials = [t for t in studies.open_study(postgres_url, "shared").trials
              if not studies.is_surplus(t)]
    # every trial finished (none failed, none left running), as many as asked, each once
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert len(trials) == TRIALS
    assert len({t.number for t in trials}) == TRIALS
    assert len({tuple(sorted(t.params.items())) for t in trials}) == TRIALS
