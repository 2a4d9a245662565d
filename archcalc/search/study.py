"""Run search stages on an Optuna study: random sampling, median pruning, a real store.

The store is any SQLAlchemy URL (search/store.py); by default an SQLite file in the run
folder. A study is found again by name, so an interrupted search resumes; several
processes (``--workers``) or machines pointed at one store share its trials.

Each trial runs once, across processes and resumes:
- a process *claims* a trial by asking the store for a new one (the store numbers
  trials once); if the trials before it that are finished or running already fill the
  stage, the claim is a surplus, closed as failed with ``surplus`` set, never trained
  and never shown;
- the draw follows from the trial number (search/sampler.py), never from a process;
- a trial whose process died (no heartbeat for store.GRACE_PERIOD) is failed, a trial
  cut by Ctrl-C or an error is failed, and a failed trial does not count: a later
  trial replaces it;
- a process that finds every remaining trial running elsewhere waits for them, so the
  stage it reports (and the fine ranges narrowed from it) holds every trial.
"""
from __future__ import annotations

import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

from archcalc.search.space import sample

# storage_url is re-exported: callers import the search's store helpers from here
from archcalc.search.store import open_storage, storage_url, store_errors  # noqa: F401

FINISHED = ("COMPLETE", "PRUNED")
CLAIMED = FINISHED + ("RUNNING",)  # a WAITING (enqueued) trial is taken by the next ask
MARK = "archcalc"   # user attribute set on every trial this module starts
POLL_SECONDS = 1.0  # how often a process waiting for others' trials looks again


def open_study(url: str, name: str, seed: int | None = None, create: bool = True):
    import optuna

    from archcalc.search.sampler import TrialNumberSampler
    from archcalc.search.store import creation_lock

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # random search, never a grid; seeded draws follow the trial number
    sampler = optuna.samplers.RandomSampler() if seed is None else TrialNumberSampler(seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if not create:
        with store_errors(url):
            return optuna.load_study(study_name=name, storage=open_storage(url, create=False),
                                     sampler=sampler, pruner=pruner)
    with creation_lock(url), store_errors(url):
        return optuna.create_study(study_name=name, storage=open_storage(url),
                                   direction="maximize", sampler=sampler, pruner=pruner,
                                   load_if_exists=True)


def is_surplus(trial) -> bool:
    return bool(trial.user_attrs.get("surplus"))


def finished_trials(study) -> int:
    return sum(1 for trial in study.get_trials(deepcopy=False)
               if trial.state.name in FINISHED)


def _claimed(trials) -> list:
    return [t for t in trials if t.state.name in CLAIMED and not is_surplus(t)]


@dataclass(frozen=True)
class Stage:
    name: str          # "coarse" or "fine"
    study: str         # the Optuna study name of this stage
    space: tuple       # ParamRange, ...
    trials: int
    epochs: int


def train_trial(trial, stage: Stage, run_trial, url: str):
    """Sample, train, report each epoch (pruning), record the outcome; returns the
    validation accuracy or raises optuna.TrialPruned (pruned or exploded).

    ``run_trial(values, epochs, on_epoch)`` trains one configuration and returns an
    object with ``status`` ("ok" or "exploded"), ``val_acc``, ``step`` and ``value``.
    """
    import optuna

    with store_errors(url):
        values = sample(trial, list(stage.space))

    def on_epoch(epoch: int, metrics: dict):
        with store_errors(url):
            trial.report(metrics["val_acc"], epoch)
            prune = trial.should_prune()
        if prune:
            raise optuna.TrialPruned(f"pruned at epoch {epoch}")

    outcome = run_trial(values, stage.epochs, on_epoch)
    with store_errors(url):
        trial.set_user_attr("status", outcome.status)
        if outcome.status == "exploded":
            # Recorded as exploded, not crashed: the lecture's "cost > 3x original".
            trial.set_user_attr("exploded_step", outcome.step)
            trial.set_user_attr("exploded_value", str(outcome.value))
    if outcome.status == "exploded":
        raise optuna.TrialPruned("exploded")
    return outcome.val_acc


def run_stage(url: str, stage: Stage, make_run_trial, workers: int = 1,
              seed: int | None = None, say=None) -> int:
    """Run trials until the stage's study holds ``stage.trials`` finished ones; returns
    how many finished while it ran (in this process, its workers or elsewhere).

    ``make_run_trial()`` builds the trial function inside each process (so it need not
    be picklable itself; the factory must be).
    """
    say = say or (lambda text: None)
    study = open_study(url, stage.study, seed)
    with store_errors(url):
        _fail_dead_trials(study)
        trials = study.get_trials(deepcopy=False)
    before = sum(t.state.name in FINISHED for t in trials)
    if before >= stage.trials:
        say(f"study {stage.study} is complete: {before} of {stage.trials} trials done, "
            "nothing to train (give a new --study, or more --trials to add some)")
        return 0
    if any(not is_surplus(t) for t in trials):
        say(f"resuming study {stage.study}: {before} trial(s) done, "
            f"{stage.trials - before} to go")
    if workers <= 1:
        fill_stage(study, stage, make_run_trial(), url, say)
    else:
        from archcalc.search.workers import run_workers

        run_workers(url, stage, make_run_trial, workers, seed)
    with store_errors(url):
        return finished_trials(study) - before


def fill_stage(study, stage: Stage, run_trial, url: str, say=None) -> int:
    """Claim and train trials until the stage is full; wait for trials running
    elsewhere. Returns how many trials this process trained."""
    say = say or (lambda text: None)
    trained, waiting_said = 0, False
    while True:
        with store_errors(url):
            _fail_dead_trials(study)
            trials = study.get_trials(deepcopy=False)
        finished = sum(t.state.name in FINISHED for t in trials)
        if finished >= stage.trials:
            return trained
        if len(_claimed(trials)) >= stage.trials:
            if not waiting_said:
                running = len(_claimed(trials)) - finished
                say(f"waiting for {running} trial(s) of {stage.study} running in other "
                    "processes")
                waiting_said = True
            time.sleep(POLL_SECONDS)
            continue
        trained += _run_one(study, stage, run_trial, url)


def _run_one(study, stage: Stage, run_trial, url: str) -> int:
    """Claim one trial and train it unless it is a surplus; 1 if it was trained."""
    import optuna
    from optuna.trial import TrialState

    with store_errors(url), warnings.catch_warnings():
        # Optuna warns that heartbeats are meant for study.optimize; _heartbeat below
        # records them for this ask-and-tell loop.
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        trial = study.ask()
        trial.set_user_attr(MARK, True)
    with _heartbeat(study, trial, url):
        with store_errors(url):
            trial.set_user_attr("stage", stage.name)
            trial.set_user_attr("epochs", stage.epochs)
            earlier = [t for t in _claimed(study.get_trials(deepcopy=False))
                       if t.number < trial.number]
            if len(earlier) >= stage.trials:
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=TrialState.FAIL)
                return 0
        try:
            value = train_trial(trial, stage, run_trial, url)
        except optuna.TrialPruned:
            with store_errors(url):
                study.tell(trial, state=TrialState.PRUNED)
            return 1
        except BaseException as exc:
            # Cut by Ctrl-C, a dead store or a bad configuration: failed, never
            # complete, so a later trial replaces it.
            _close_failed(study, trial, "interrupted" if isinstance(exc, KeyboardInterrupt)
                          else "failed")
            raise
        with store_errors(url):
            study.tell(trial, value)
        return 1


def _close_failed(study, trial, status: str) -> None:
    from optuna.trial import TrialState

    try:
        trial.set_user_attr("status", status)
        study.tell(trial, state=TrialState.FAIL)
    except Exception:  # the store itself may be what failed; its heartbeat then lapses
        pass


@contextmanager
def _heartbeat(study, trial, url: str):
    """Record the trial's heartbeat every HEARTBEAT_INTERVAL seconds while it runs
    (what ``study.optimize`` does; the ask-and-tell loop must do it itself)."""
    from archcalc.search.store import HEARTBEAT_INTERVAL

    storage = open_storage(url)
    stop = threading.Event()
    trial_id = trial._trial_id  # Optuna's storage key; Trial has no public accessor

    def beat():
        while True:
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # a missed beat; too many and the trial is taken for dead
                pass
            if stop.wait(HEARTBEAT_INTERVAL):
                return

    thread = threading.Thread(target=beat, name="archcalc-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fail_dead_trials(study) -> None:
    """Fail trials whose process died: by heartbeat (Optuna), and trials left running
    by archcalc versions without heartbeats, once older than the grace period."""
    from datetime import datetime

    import optuna
    from optuna.trial import TrialState

    from archcalc.search.store import GRACE_PERIOD

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    now = datetime.now()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if MARK not in trial.user_attrs and started is not None \
                and (now - started).total_seconds() > GRACE_PERIOD:
            try:
                study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # it finished meanwhile


def best_values(study, fraction: float = 0.25, minimum: int = 3) -> list[dict]:
    """Parameter values of the best completed trials (the top ``fraction``)."""
    done = sorted((t for t in study.trials if t.state.name == "COMPLETE"),
                  key=lambda t: t.value, reverse=True)
    keep = max(minimum, int(len(done) * fraction))
    return [t.params for t in done[:keep]]
