"""share_cores: processes sharing a machine split its cores (at least one thread each),
and an explicit OMP_NUM_THREADS is kept."""
from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from archcalc.train import threads  # noqa: E402


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@given(cores=st.integers(1, 512), processes=st.integers(1, 64))
def test_threads_per_process_never_oversubscribes(cores, processes):
    share = threads.threads_per_process(processes, cores)
    assert share >= 1
    assert share * processes <= cores or share == 1  # one each when there are too few
    assert (share + 1) * processes > cores  # and no core left idle that could be used


@pytest.mark.parametrize("cores, processes, expected", [(8, 3, 2), (8, 2, 4), (2, 2, 1),
                                                        (2, 5, 1), (16, 1, 16)])
def test_share_cores_sets_the_torch_thread_count(monkeypatch, restore_threads, cores,
                                                 processes, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert threads.share_cores(processes) == expected
    assert torch.get_num_threads() == expected


def test_an_explicit_omp_num_threads_is_kept(monkeypatch, restore_threads):
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert threads.share_cores(2) == 1 and torch.get_num_threads() == 1
