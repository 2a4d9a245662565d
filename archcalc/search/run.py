"""Orchestrate a search: stages, narrowing, warnings, the plot and the result."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archcalc.errors import ArchcalcError
from archcalc.search import report
from archcalc.search import study as studies
from archcalc.search.space import ParamRange, edge_warnings, narrow
from archcalc.search.store import open_storage, shown_url, store_errors


@dataclass(frozen=True)
class SearchJob:
    """What every trial trains (picklable, so worker processes can rebuild it)."""

    spec: str
    data: str = "digits"
    input_text: str | None = None
    seed: int = 0

    def __call__(self):
        from archcalc.search.objective import trial_runner

        return trial_runner(self)


def _stage_dict(stage: studies.Stage, url: str) -> dict:
    opened = studies.open_study(url, stage.study)
    with store_errors(url):
        rows = report.trial_rows(opened)
    return {"name": stage.name, "study": stage.study, "epochs": stage.epochs,
            "ranges": [_range_dict(p) for p in stage.space], "rows": rows}


def _range_dict(param: ParamRange) -> dict:
    return {"name": param.name, "low": param.low, "high": param.high, "log": param.log}


@dataclass(frozen=True)
class SearchPlan:
    """How a search runs: the ranges, the stages and their length, and where the study
    is stored (``storage`` a SQLAlchemy URL, else SQLite in ``out_dir``)."""

    space: tuple[ParamRange, ...]
    study: str
    out_dir: Path
    stage: str = "auto"              # coarse | fine | auto (coarse, then fine around the best)
    trials: int = 12                 # per stage
    epochs: int = 3                  # per trial (the fine stage's with "auto")
    coarse_epochs: int | None = None  # "auto": a third of ``epochs`` unless given
    storage: str | None = None
    workers: int = 1                 # local processes sharing the study


def run_search(job: SearchJob, plan: SearchPlan, say=None) -> dict:
    say = say or (lambda text: None)
    if any(param.name == "dropout" for param in plan.space):
        from archcalc.search.objective import require_dropout

        require_dropout(job.spec)  # before any trial is claimed
    url = studies.storage_url(plan.storage, plan.out_dir)
    stages = []
    if plan.stage in ("coarse", "auto"):
        stages.append(_run_coarse(job, plan, url, say))
    if plan.stage in ("fine", "auto"):
        stages.append(_run_fine(job, plan, url, say, stages[0] if stages else None))
    result = {"storage": shown_url(url), "stages": [_stage_dict(s, url) for s in stages]}
    return _conclude(result, list(stages[-1].space), plan.out_dir)


def _stage_name(plan: SearchPlan, stage: str) -> str:
    return f"{plan.study}-{stage}" if plan.stage == "auto" else plan.study


def _run_coarse(job: SearchJob, plan: SearchPlan, url: str, say) -> studies.Stage:
    epochs = plan.coarse_epochs or max(1, plan.epochs // 3) if plan.stage == "auto" \
        else plan.epochs
    coarse = studies.Stage("coarse", _stage_name(plan, "coarse"), tuple(plan.space),
                           plan.trials, epochs)
    say("coarse stage ranges: " + "; ".join(p.describe() for p in coarse.space))
    started = studies.run_stage(url, coarse, job, plan.workers, job.seed, say)
    say(f"coarse stage: {started} new trial(s), {coarse.epochs} epoch(s) each")
    return coarse


def _run_fine(job: SearchJob, plan: SearchPlan, url: str, say,
              coarse: studies.Stage | None) -> studies.Stage:
    """The fine stage: with a coarse stage before it, over ranges narrowed around its
    best trials."""
    fine_space = tuple(plan.space)
    if coarse is not None:
        with store_errors(url):
            best = studies.best_values(studies.open_study(url, coarse.study))
        if not best:
            raise ArchcalcError("no coarse trial finished, so there is nothing to narrow "
                                "around", hint="widen the ranges or lower the learning "
                                               "rate range; see the coarse table")
        fine_space = tuple(narrow(list(plan.space), best))
    fine = studies.Stage("fine", _stage_name(plan, "fine"), fine_space, plan.trials,
                         plan.epochs)
    say("fine stage ranges: " + "; ".join(p.describe() for p in fine.space))
    started = studies.run_stage(url, fine, job, plan.workers, job.seed + 1000, say)
    say(f"fine stage: {started} new trial(s), {fine.epochs} epoch(s) each")
    return fine


def _conclude(result: dict, space: list[ParamRange], out_dir: Path) -> dict:
    rows = [row for stage in result["stages"] for row in stage["rows"]]
    finished = [row for row in rows if row["val_acc"] is not None and row["state"] == "complete"]
    last_rows = result["stages"][-1]["rows"]
    last_done = [row for row in last_rows if row["val_acc"] is not None
                 and row["state"] == "complete"]
    if finished:
        result["best"] = max(finished, key=lambda row: row["val_acc"])
    if last_done:
        best_last = max(last_done, key=lambda row: row["val_acc"])
        result["warnings"] = edge_warnings(space, best_last["params"])
    plot_path = out_dir / "search.png"
    report.plot_study(rows, space, plot_path)
    result["plot"] = str(plot_path)
    return result


def show_study(storage: str | None, study: str, out_dir: Path) -> dict:
    import optuna

    url = studies.storage_url(storage, out_dir)
    with store_errors(url):
        names = [s.study_name for s in optuna.study.get_all_study_summaries(
            storage=open_storage(url, create=False))]
    wanted = [name for name in (study, f"{study}-coarse", f"{study}-fine") if name in names]
    if not wanted:
        raise ArchcalcError(f"no study {study!r} in {shown_url(url)}",
                            hint=f"studies there: {', '.join(names) or 'none'}")
    stages = []
    for name in wanted:
        opened = studies.open_study(url, name, create=False)
        with store_errors(url):
            ranges, epochs, rows = _ranges_of(opened), _epochs_of(opened), \
                report.trial_rows(opened)
        stages.append({"name": name.rsplit("-", 1)[-1] if name != study else "search",
                       "study": name, "epochs": epochs,
                       "ranges": [_range_dict(p) for p in ranges], "rows": rows})
    result = {"storage": shown_url(url), "stages": stages}
    last_space = [ParamRange(**r) for r in stages[-1]["ranges"]]
    return _conclude(result, last_space, out_dir)


def _ranges_of(opened) -> list[ParamRange]:
    """The searched ranges, read back from the trials' distributions."""
    ranges = {}
    for trial in opened.trials:
        for name, distribution in trial.distributions.items():
            kind = "int" if type(distribution).__name__.startswith("Int") else "float"
            ranges[name] = ParamRange(name, distribution.low, distribution.high,
                                      bool(getattr(distribution, "log", False)), kind)
    return list(ranges.values())


def _epochs_of(opened) -> int | None:
    """The epochs each trial was given: recorded on the trial; for stores written before
    that, the last epoch reported (epochs count from 1, as ``on_epoch`` receives them)."""
    given = [trial.user_attrs["epochs"] for trial in opened.trials
             if isinstance(trial.user_attrs.get("epochs"), int)]
    if given:
        return max(given)
    steps = [max(trial.intermediate_values) for trial in opened.trials
             if trial.intermediate_values]
    return max(steps) if steps else None
