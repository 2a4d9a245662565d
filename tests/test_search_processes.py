"""A shared study runs each trial once, across processes and resumes: processes started
together on a new store, resumed searches, trials of dead processes, Ctrl-C, and the
cores divided among `--workers`. Trials here train nothing (a fixed accuracy after a
short sleep) except in the Ctrl-C test, which interrupts a real training."""
from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from archcalc.search import study as studies  # noqa: E402
from archcalc.search.objective import TrialOutcome  # noqa: E402
from archcalc.search.space import ParamRange  # noqa: E402

SPACE = (ParamRange("lr", 1e-5, 1.0, True), ParamRange("momentum", 0.5, 0.99, False))
ROOT = Path(__file__).resolve().parents[1]

# One search process, as `archcalc search` runs one: argv = store URL, trials, seed.
SEARCH_PROCESS = textwrap.dedent("""
    import math, sys, time
    from archcalc.search import study as studies
    from archcalc.search.objective import TrialOutcome
    from archcalc.search.space import ParamRange

    def factory():
        def run_trial(values, epochs, on_epoch):
            time.sleep(0.05)
            on_epoch(1, {"val_acc": 0.5})
            return TrialOutcome("ok", 1 - abs(math.log10(values["lr"]) + 2) / 10)
        return run_trial

    space = (ParamRange("lr", 1e-5, 1.0, True), ParamRange("momentum", 0.5, 0.99, False))
    stage = studies.Stage("coarse", "shared", space, int(sys.argv[2]), 1)
    studies.run_stage(sys.argv[1], stage, factory, seed=int(sys.argv[3]))
""")


# A whole coarse-to-fine search, as one `archcalc search --stage auto` process runs it;
# prints the fine stage's ranges. argv = store URL.
AUTO_SEARCH_PROCESS = textwrap.dedent("""
    import json, math, sys, time
    from pathlib import Path
    from archcalc.search.objective import TrialOutcome
    from archcalc.search.run import SearchPlan, run_search
    from archcalc.search.space import ParamRange

    class Job:
        seed, spec = 0, "fake"

        def __call__(self):
            def run_trial(values, epochs, on_epoch):
                time.sleep(0.05)
                return TrialOutcome("ok", 1 - abs(math.log10(values["lr"]) + 2) / 10)
            return run_trial

    plan = SearchPlan((ParamRange("lr", 1e-5, 1.0, True),), "auto", Path(sys.argv[2]),
                      stage="auto", trials=6, epochs=2, storage=sys.argv[1])
    result = run_search(Job(), plan)
    print(json.dumps(result["stages"][1]["ranges"]))
""")


def fake_training():
    def run_trial(values, epochs, on_epoch):
        for epoch in range(1, epochs + 1):
            on_epoch(epoch, {"val_acc": 0.5})
        return TrialOutcome("ok", 1.0 - abs(math.log10(values["lr"]) + 2) / 10)

    return run_trial


def counted(url: str, name: str) -> list:
    """The trials that count (finished), after checking nothing else is left over."""
    trials = studies.open_study(url, name).get_trials(deepcopy=False)
    leftover = [t for t in trials if t.state.name not in ("COMPLETE", "PRUNED")
                and not studies.is_surplus(t) and t.user_attrs.get("status") is None]
    assert not leftover, [(t.number, t.state.name) for t in leftover]
    return [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]


def draws(trials) -> list:
    return [tuple(sorted(t.params.items())) for t in trials]


def start_searches(url: str, trials: int, count: int, seed: int = 0) -> list:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return [subprocess.Popen([sys.executable, "-c", SEARCH_PROCESS, url, str(trials), str(seed)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for _ in range(count)]


def finish(processes) -> None:
    for process in processes:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output


def test_three_processes_on_a_new_sqlite_store_run_each_trial_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    finish(start_searches(url, trials=9, count=3))  # all three create the schema at once
    trials = counted(url, "shared")
    assert len(trials) == 9
    assert len(set(draws(trials))) == 9  # no draw repeated across processes


def test_processes_on_an_existing_store_do_not_repeat_its_draws(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    studies.run_stage(url, studies.Stage("coarse", "shared", SPACE, 2, 1), fake_training,
                      seed=0)
    finish(start_searches(url, trials=8, count=2, seed=0))  # the same seed as the first
    trials = counted(url, "shared")
    assert len(trials) == 8 and len(set(draws(trials))) == 8


def test_processes_sharing_a_coarse_to_fine_search_narrow_from_every_coarse_trial(
        tmp_path):
    pytest.importorskip("matplotlib", reason="each search process plots search.png")
    url = f"sqlite:///{tmp_path / 'auto.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-c", AUTO_SEARCH_PROCESS, url,
                                   str(tmp_path / f"out-{n}")], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for n in range(2)]
    outputs = []
    for process in processes:
        output, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
        outputs.append(output.strip().splitlines()[-1])
    assert outputs[0] == outputs[1]  # one fine space: both waited for all coarse trials
    for name in ("auto-coarse", "auto-fine"):
        trials = counted(url, name)
        assert len(trials) == 6 and len(set(draws(trials))) == 6


def test_a_resumed_search_draws_new_values_and_the_seed_reproduces_the_study(tmp_path):
    resumed, whole = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    studies.run_stage(resumed, studies.Stage("fine", "s", SPACE, 3, 1), fake_training, seed=7)
    first = draws(counted(resumed, "s"))
    studies.run_stage(resumed, studies.Stage("fine", "s", SPACE, 6, 1), fake_training, seed=7)
    after = draws(counted(resumed, "s"))
    assert after[:3] == first and len(set(after)) == 6
    # the draws follow from (seed, trial number) alone: one search of 6 draws the same
    studies.run_stage(whole, studies.Stage("fine", "s", SPACE, 6, 1), fake_training, seed=7)
    assert draws(counted(whole, "s")) == after
    # ...and the study: a new study with the same seed explores new points
    studies.run_stage(whole, studies.Stage("fine", "t", SPACE, 6, 1), fake_training, seed=7)
    assert not set(draws(counted(whole, "t"))) & set(after)


def _age_in_store(url: str, table: str, column: str, trial_number: int) -> None:
    """Move one time of a trial an hour into the past, as if its process died then."""
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        trial_id = db.execute("SELECT trial_id FROM trials WHERE number = ?",
                              (trial_number,)).fetchone()[0]
        updated = db.execute(f"UPDATE {table} SET {column} = datetime({column}, '-1 hour') "
                             "WHERE trial_id = ?", (trial_id,)).rowcount
        assert updated == 1


def test_a_trial_left_running_by_a_dead_process_is_failed_and_replaced(tmp_path):
    url = f"sqlite:///{tmp_path / 'dead.db'}"
    study = studies.open_study(url, "dead", seed=0)
    killed = study.ask()  # a process claimed it, beat once, and was killed
    killed.set_user_attr(studies.MARK, True)
    studies.open_storage(url).record_heartbeat(killed._trial_id)
    _age_in_store(url, "trial_heartbeats", "heartbeat", killed.number)
    legacy = study.ask()  # left running by an archcalc without heartbeats
    _age_in_store(url, "trials", "datetime_start", legacy.number)
    say = []
    studies.run_stage(url, studies.Stage("fine", "dead", SPACE, 3, 1), fake_training, seed=0,
                      say=say.append)
    states = {t.number: t.state.name for t in studies.open_study(url, "dead").trials}
    assert states[killed.number] == "FAIL" and states[legacy.number] == "FAIL"
    assert sum(state == "COMPLETE" for state in states.values()) == 3
    assert any("0 trial(s) done, 3 to go" in line for line in say)


def test_resuming_says_so_and_a_complete_study_says_nothing_is_left(tmp_path):
    url = f"sqlite:///{tmp_path / 'say.db'}"
    studies.run_stage(url, studies.Stage("fine", "s", SPACE, 2, 1), fake_training, seed=0)
    said = []
    assert studies.run_stage(url, studies.Stage("fine", "s", SPACE, 3, 1), fake_training,
                             seed=0, say=said.append) == 1
    assert said == ["resuming study s: 2 trial(s) done, 1 to go"]
    said.clear()
    assert studies.run_stage(url, studies.Stage("fine", "s", SPACE, 3, 1), fake_training,
                             seed=0, say=said.append) == 0
    assert len(said) == 1 and "is complete: 3 of 3 trials done, nothing to train" in said[0]


def test_ctrl_c_during_a_trial_fails_it_and_exits_130(tmp_path):
    pytest.importorskip("torch")
    store = tmp_path / "search.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "archcalc", "search", "lenet5", "--stage", "fine", "--trials",
         "2", "--epochs", "500", "--param", "lr=0.01:0.05:log", "--out", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:  # one epoch reported
        time.sleep(0.2)
        try:
            with sqlite3.connect(store) as db:
                if db.execute("SELECT count(*) FROM trial_intermediate_values").fetchone()[0]:
                    break
        except sqlite3.Error:  # not created yet
            continue
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "Traceback" not in output
    trials = studies.open_study(f"sqlite:///{store}", "lenet5").trials
    assert [(t.state.name, t.user_attrs.get("status")) for t in trials] == \
        [("FAIL", "interrupted")]
    assert trials[0].intermediate_values  # it was cut mid-training, after an epoch


class ThreadProbe:
    """A trial factory that records the intra-op threads torch has in its process."""

    def __init__(self, folder):
        self.folder = folder

    def __call__(self):
        import torch

        Path(self.folder, f"threads-{os.getpid()}").write_text(str(torch.get_num_threads()))
        return fake_training()


def test_each_worker_gets_its_share_of_the_cores(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    studies.run_stage(url, studies.Stage("fine", "w", SPACE, 2, 1), ThreadProbe(tmp_path),
                      workers=2, seed=0)
    counts = [int(path.read_text()) for path in tmp_path.glob("threads-*")]
    from archcalc.train.threads import available_cores

    assert counts == [max(1, available_cores() // 2)] * 2  # not a full pool each
