"""DistributedDataParallel on CPU: two gloo processes started by torchrun train lenet5
for a few steps; both end with identical weights, equal to one process training on
the same global batch. Every launch has a timeout, so a broken launch fails instead
of hanging."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

HELPER = Path(__file__).parent / "helpers" / "ddp_train.py"
STEPS, PER_RANK_BATCH = 4, 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(arguments, out: Path, timeout: int = 240):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        environment.pop(name, None)
    completed = subprocess.run(arguments, env=environment, capture_output=True, text=True,
                               timeout=timeout, cwd=out)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def test_two_gloo_ranks_match_one_process_on_the_global_batch(tmp_path):
    distributed, single = tmp_path / "ddp", tmp_path / "single"
    distributed.mkdir()
    single.mkdir()
    launch([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
            "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
            str(HELPER), str(distributed), str(PER_RANK_BATCH), str(STEPS)], distributed)
    launch([sys.executable, str(HELPER), str(single), str(2 * PER_RANK_BATCH), str(STEPS)],
           single)
    ranks = [torch.load(distributed / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    alone = torch.load(single / "rank0.pt", weights_only=True)
    assert [r["steps"] for r in ranks] == [STEPS, STEPS] and alone["steps"] == STEPS
    for name, tensor in ranks[0]["weights"].items():
        assert torch.equal(tensor, ranks[1]["weights"][name]), name  # DDP keeps ranks equal
        torch.testing.assert_close(tensor, alone["weights"][name], rtol=1e-4, atol=1e-5)
    # the runner wrote once, from rank 0
    assert (distributed / "run" / "last.pt").exists()
    assert len((distributed / "run" / "metrics.jsonl").read_text().splitlines()) == 1
