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
pytest.importorskip("sklearn", reason="the ranks train on the bundled digits")
pytest.importorskip("matplotlib", reason="a training run writes curves.png")

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


def test_ranks_on_one_machine_share_its_cores(tmp_path):
    """Two ranks started without torchrun (which would set OMP_NUM_THREADS=1 itself) and
    without OMP_NUM_THREADS: each trains with cores // 2 threads, not one per core."""
    from archcalc.train.threads import available_cores

    port = free_port()
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("OMP_NUM_THREADS", "RANK", "WORLD_SIZE", "LOCAL_RANK")}
    environment.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                       LOCAL_WORLD_SIZE="2", PYTHONUNBUFFERED="1")
    ranks = [subprocess.Popen([sys.executable, str(HELPER), str(tmp_path), "8", "1"],
                              env={**environment, "RANK": str(r), "LOCAL_RANK": str(r)},
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for r in (0, 1)]
    try:
        outputs = [rank.communicate(timeout=240)[0] for rank in ranks]
    finally:
        for rank in ranks:
            rank.kill()
    assert [rank.returncode for rank in ranks] == [0, 0], "\n".join(outputs)[-3000:]
    expected = max(1, available_cores() // 2)
    for r in (0, 1):
        assert torch.load(tmp_path / f"rank{r}.pt", weights_only=True)["threads"] == expected
