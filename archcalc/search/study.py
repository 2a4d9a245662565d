"""Run search stages on an Optuna study: random sampling, median pruning, a real store.

The store is any SQLAlchemy URL; by default an SQLite file in the run folder.
A study is found again by name, so an interrupted search resumes and counts
the trials already finished; several processes (``--workers``) or machines
pointed at one store share its trials.
"""
from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from pathlib import Path

from archcalc.search.space import sample

# A failed trial (an interrupted one included) is not finished: a resumed search retries it.
FINISHED = ("COMPLETE", "PRUNED")


def storage_url(storage: str | None, out_dir) -> str:
    if storage:
        return storage
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(out_dir).resolve() / 'search.db'}"


def _storage(url: str):
    import optuna

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def open_study(url: str, name: str, seed: int | None = None, create: bool = True):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.RandomSampler(seed=seed)  # random search, never a grid
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if not create:
        return optuna.load_study(study_name=name, storage=_storage(url), sampler=sampler,
                                 pruner=pruner)
    return optuna.create_study(study_name=name, storage=_storage(url), direction="maximize",
                               sampler=sampler, pruner=pruner, load_if_exists=True)


def finished_trials(study) -> int:
    return sum(1 for trial in study.trials if trial.state.name in FINISHED)


@dataclass(frozen=True)
class Stage:
    name: str          # "coarse" or "fine"
    study: str         # the Optuna study name of this stage
    space: tuple       # ParamRange, ...
    trials: int
    epochs: int


def make_objective(stage: Stage, run_trial):
    """An Optuna objective: sample, train, report each epoch (pruning), record the outcome.

    ``run_trial(values, epochs, on_epoch)`` trains one configuration and returns an
    object with ``status`` ("ok" or "exploded"), ``val_acc``, ``step`` and ``value``.
    """
    import optuna

    def objective(trial):
        values = sample(trial, list(stage.space))
        trial.set_user_attr("stage", stage.name)

        def on_epoch(epoch: int, metrics: dict):
            trial.report(metrics["val_acc"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        outcome = run_trial(values, stage.epochs, on_epoch)
        trial.set_user_attr("status", outcome.status)
        if outcome.status == "exploded":
            # Recorded as exploded, not crashed: the lecture's "cost > 3x original".
            trial.set_user_attr("exploded_step", outcome.step)
            trial.set_user_attr("exploded_value", str(outcome.value))
            raise optuna.TrialPruned("exploded")
        return outcome.val_acc

    return objective


def run_stage(url: str, stage: Stage, make_run_trial, workers: int = 1,
              seed: int | None = None) -> int:
    """Run the trials this stage still lacks; returns how many were started.

    ``make_run_trial()`` builds the trial function inside each process (so it
    need not be picklable itself; the factory must be).
    """
    study = open_study(url, stage.study, seed)
    remaining = stage.trials - finished_trials(study)
    if remaining <= 0:
        return 0
    if workers <= 1:
        study.optimize(make_objective(stage, make_run_trial()), n_trials=remaining,
                       catch=())
        return remaining
    shares = [remaining // workers + (1 if i < remaining % workers else 0)
              for i in range(workers)]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(url, stage, make_run_trial, share,
                                                       None if seed is None else seed + i))
                 for i, share in enumerate(shares) if share]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        from archcalc.errors import ArchcalcError

        raise ArchcalcError(f"{len(failed)} search worker(s) failed (exit codes {failed})")
    return remaining


def _worker(url, stage, make_run_trial, trials, seed):
    study = open_study(url, stage.study, seed)
    study.optimize(make_objective(stage, make_run_trial()), n_trials=trials, catch=())


def best_values(study, fraction: float = 0.25, minimum: int = 3) -> list[dict]:
    """Parameter values of the best completed trials (the top ``fraction``)."""
    done = sorted((t for t in study.trials if t.state.name == "COMPLETE"),
                  key=lambda t: t.value, reverse=True)
    keep = max(minimum, int(len(done) * fraction))
    return [t.params for t in done[:keep]]
