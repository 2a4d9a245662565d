"""Orchestration: from a TrainConfig to a trained model and a folder of results.

``train(config, on_epoch=None)`` is the Python entry point (the CLI's ``build --train``
and a hyperparameter search both call it); ``babysit(config)`` runs the checks alone.
Order of events: spec and data, the adapted spec's analysis (an impossible size
stops here), the cost and a measured time per epoch, the babysitting checks, then
the loop. Every file goes through one ``RunFiles``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError, Location
from archcalc.train.config import LECTURE_LR, TrainConfig
from archcalc.train.display import Display
from archcalc.train.setup import (
    TRAIN_EVAL_MAX,
    determinism,
    measure,
    prepare,
    run_babysitting,
)

RESUMABLE = ("epochs", "max_steps", "device", "compile", "workers")
EXIT_CODES = {"trained": 0, "exploded": 1, "check_failed": 1, "interrupted": 130}


@dataclass
class TrainResult:
    status: str                      # trained | exploded | check_failed | interrupted
    out_dir: str | None
    history: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    steps: int = 0
    best_val_acc: float | None = None
    explosion: dict | None = None    # {"step", "value", "initial"} when the guard stopped it
    seconds: float = 0.0
    lr: float | None = None
    diagnosis: str = ""
    model: object = field(default=None, repr=False)  # the trained nn.Module (not serialised)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict:
        return {"status": self.status, "out_dir": self.out_dir, "steps": self.steps,
                "epochs": len([r for r in self.history if not r.get("partial")]),
                "best_val_acc": self.best_val_acc, "explosion": self.explosion,
                "seconds": round(self.seconds, 3), "lr": self.lr, "diagnosis": self.diagnosis,
                "final": self.history[-1] if self.history else None}


def babysit(config: TrainConfig, display: Display | None = None):
    """The four checks alone: (results, suggested learning rate)."""
    display = display or Display()
    with determinism(config):
        prepared = prepare(config, display)
        measure(prepared, display)
        results, picked = run_babysitting(prepared)
    display.checks(results)
    return results, picked


def out_folder(config: TrainConfig) -> Path:
    if config.out:
        return Path(config.out)
    base = Path("runs") / f"{Path(config.spec).stem}-{datetime.now():%Y%m%d-%H%M%S}"
    path, number = base, 1
    while path.exists():
        path, number = base.with_name(f"{base.name}-{number}"), number + 1
    return path


def resume_config(folder, spec: str | None = None, **changes) -> TrainConfig:
    """The saved configuration of the run in ``folder``, to continue it; only the
    length of the run and where it runs may change."""
    from archcalc.train.checkpoint import load_checkpoint

    path = Path(folder) / "last.pt"
    state = load_checkpoint(path)
    try:
        saved = TrainConfig.from_dict(state["config"])
    except (ArchcalcError, TypeError, ValueError, AttributeError) as exc:
        raise ArchcalcError(f"the checkpoint's configuration is not valid ({exc})",
                            where=Location(str(path)),
                            hint="it was written by another version, or edited") from None
    if spec is not None and spec != saved.spec:
        raise ArchcalcError(f"the run in {folder} trains {saved.spec!r}, not {spec!r}")
    unknown = sorted(set(changes) - set(RESUMABLE))
    if unknown:
        raise ArchcalcError(f"cannot change {', '.join(unknown)} when resuming",
                            hint=f"a resumed run may change only {', '.join(RESUMABLE)}")
    return replace(saved, **changes, resume=str(folder), out=str(folder))


def _learning_rate(config: TrainConfig, picked) -> tuple[float, str]:
    if config.lr is not None:
        return config.lr, "given"
    if picked is not None:
        return picked, "picked by the learning-rate probe"
    return LECTURE_LR, "the lecture's AlexNet rate (no probe ran)"


def train(config: TrainConfig, on_epoch=None, display: Display | None = None,
          is_main_process: bool = True) -> TrainResult:
    """Train as ``config`` says; ``on_epoch(epoch, record)`` runs after every epoch and
    may raise to stop the run (the exception propagates after summary.json is written).
    ``is_main_process`` is False on the ranks of a distributed run that write nothing.

    Started by torchrun (WORLD_SIZE > 1), every process joins the group and trains
    its share of each global batch under DistributedDataParallel; rank 0 alone runs
    the checks, prints and writes (train/distributed.py)."""
    from archcalc.train import distributed
    from archcalc.train.setup import resolve_device
    from archcalc.train.threads import share_cores

    dist_info = distributed.from_environment()
    if not dist_info.enabled:
        with determinism(config):
            return _train(config, on_epoch, display or Display(), is_main_process, None)
    device = distributed.device_for(dist_info, resolve_device(config.device))
    share_cores(dist_info.local_world_size)  # ranks on one machine split its cores
    distributed.setup(dist_info, device)
    if device.type == "cuda":
        config = replace(config, device=str(device))
    try:
        with determinism(config):
            return _train(config, on_epoch, (display or Display()) if dist_info.is_main
                          else Display(), dist_info.is_main, dist_info)
    finally:
        distributed.teardown(dist_info)


@dataclass
class Run:
    """One run being set up: its configuration, files and display, what it trains on,
    and the checkpoint it continues (None for a new run)."""
    config: TrainConfig
    files: object                    # outputs.RunFiles
    display: Display
    prepared: object                 # setup.Prepared
    checkpoint: Path | None = None
    resumed: dict | None = None      # the checkpoint's state
    dist_info: object = None         # distributed.Distributed under torchrun
    started: float = 0.0             # time.perf_counter() when train() was called


def _train(config: TrainConfig, on_epoch, display: Display, is_main_process: bool,
           dist_info=None) -> TrainResult:
    run = _open_run(config, display, is_main_process, dist_info, time.perf_counter())
    checks, picked = _babysit_new_run(run)
    lr, source = _learning_rate(run.config, picked)
    run.config = replace(run.config, lr=lr, batch_size=run.prepared.batch_size)
    run.files.write_json("config.json", run.config.to_dict())
    failed = [check.title for check in checks if check.status == "fail"]
    if failed:
        return _stop_before_training(run, checks, failed)
    if run.resumed is None:
        display.message(f"learning rate {lr:g} ({source})")
    session = _session(run)
    torch.manual_seed(run.config.seed)  # training's own draws (dropout), apart from the checks'
    position = _starting_position(run, session)
    outcome = _fit(run, session, position, on_epoch)
    return _conclude(run, session, position, outcome, checks)


def _open_run(config: TrainConfig, display: Display, is_main_process: bool, dist_info,
              started: float) -> Run:
    """The run folder (refused when a new run would replace files), the checkpoint a
    resumed run continues, and the prepared spec, data and model."""
    from archcalc.train import distributed
    from archcalc.train.checkpoint import load_checkpoint
    from archcalc.train.outputs import RunFiles, folder_in_use

    checkpoint = Path(config.resume) / "last.pt" if config.resume else None
    state = load_checkpoint(checkpoint) if checkpoint else None
    folder = Path(config.resume) if config.resume else out_folder(config)
    refusal = None if config.resume or config.overwrite or not is_main_process \
        else folder_in_use(folder)
    if dist_info is not None:  # rank 0's timestamp, and its refusal for every rank
        folder, refusal = distributed.broadcast_object((folder, refusal), dist_info)
    if refusal is not None:
        raise refusal
    prepared = prepare(config, display, state["preprocess"] if state else None, checkpoint)
    files = RunFiles(folder, is_main_process, overwrite=config.overwrite and not config.resume)
    display.message(f"output: {files.folder}")
    return Run(config, files, display, prepared, checkpoint, state, dist_info, started)


def _babysit_new_run(run: Run) -> tuple[list, float | None]:
    """A new run's measured time per epoch and (on rank 0, unless --no-checks) the
    babysitting checks, shared with every rank: (results, suggested learning rate)."""
    from archcalc.train import distributed

    checks, picked = [], None
    if run.resumed is None:
        measure(run.prepared, run.display)
    if run.resumed is None and run.config.checks and run.files.is_main_process:
        checks, picked = run_babysitting(run.prepared)
        run.display.checks(checks)
        run.files.write_json("checks.json", [check.as_dict() for check in checks])
    if run.dist_info is not None:  # rank 0's verdicts and learning rate for every rank
        checks, picked = distributed.broadcast_object((checks, picked), run.dist_info)
    return checks, picked


def _stop_before_training(run: Run, checks: list, failed: list) -> TrainResult:
    run.display.message(f"stopped before training: {'; '.join(failed)} failed "
                        "(--no-checks trains anyway)")
    result = TrainResult("check_failed", str(run.files.folder), checks=checks,
                         seconds=time.perf_counter() - run.started)
    run.files.write_json("summary.json", result.as_dict())
    return result


def _session(run: Run):
    """The loop's Session: optimizer and schedule, the splits on the device, the model
    wrapped for DDP (and compiled) where asked."""
    from archcalc.train import distributed
    from archcalc.train.batches import keep_on_device, make_sampler
    from archcalc.train.loop import Batches, Compute, Learner, Progress, Session
    from archcalc.train.optim import make_optimizer, make_scheduler, parameter_groups

    config, prepared = run.config, run.prepared
    model = prepared.model
    optimizer = make_optimizer(
        parameter_groups(model, prepared.head_path, config.finetune_mode, config.lr,
                         config.backbone_lr_scale),
        config.optimizer, config.lr, config.momentum, config.weight_decay)
    scheduler = make_scheduler(optimizer, config.schedule, config.epochs,
                               config.plateau_patience)
    net, rank, world = model, 0, 1
    if run.dist_info is not None:  # gradients averaged over the ranks in backward
        net = distributed.wrap(model, run.dist_info, prepared.device)
        rank, world = run.dist_info.rank, run.dist_info.world_size
    learner = Learner(model, torch.compile(net) if config.compile else net, optimizer,
                      scheduler, prepared.head_path)
    train_split = keep_on_device(prepared.data.train, prepared.device)
    val_split = keep_on_device(prepared.data.val, prepared.device)
    batches = Batches(train_split, val_split,
                      make_sampler(train_split, config.seed, True, rank, world),
                      _train_eval_sample(train_split, val_split), prepared.preprocess,
                      prepared.batch_size)
    return Session(config, learner, batches,
                   Compute(prepared.device, prepared.amp, prepared.channels_last),
                   Progress(run.files, run.display), distributed=run.dist_info)


def _train_eval_sample(train_split, val_split) -> list:
    """The fixed training images evaluated each epoch: as many as the validation set
    (at most TRAIN_EVAL_MAX), the same every run of these data."""
    from archcalc.train.data import SPLIT_SEED

    sample = min(len(train_split), len(val_split), TRAIN_EVAL_MAX)
    order = torch.randperm(len(train_split), generator=torch.Generator().manual_seed(SPLIT_SEED))
    return sorted(order[:sample].tolist())


def _starting_position(run: Run, session):
    """A new run saves its first state (a good state to fall back on from the start); a
    resumed one loads its checkpoint and the metrics written up to it."""
    from archcalc.train.checkpoint import restore
    from archcalc.train.loop import Position, save

    if run.resumed is None:
        position = Position()
        save(session, position, "last.pt")
        return position
    learner, state = session.learner, run.resumed
    restore(run.checkpoint, state, learner.model, learner.optimizer, learner.scheduler)
    try:
        position = Position(**state["position"])
    except TypeError as exc:
        raise ArchcalcError(f"the checkpoint's position is not valid ({exc})",
                            where=Location(str(run.checkpoint))) from None
    run.files.keep_metrics(position.epoch - 1)
    session.progress.history = [r for r in run.files.read_metrics()
                                if r["epoch"] < position.epoch]
    for note in run.files.notes:
        run.display.message(f"note: {note}")
    run.display.message(f"resuming at epoch {position.epoch}, batch {position.batch}, "
                        f"step {position.step}")
    return position


def _fit(run: Run, session, position, on_epoch):
    """The loop; whatever stops it with an exception leaves a summary.json saying so."""
    from archcalc.train.loop import fit

    try:
        return fit(session, position, on_epoch)
    except BaseException as exc:
        run.display.close()
        try:
            run.files.write_json("summary.json", {"status": "stopped", "reason": repr(exc),
                                                  "steps": position.step})
        except ArchcalcError:
            pass  # a full disk: the error being raised already says so
        raise


def _conclude(run: Run, session, position, outcome, checks: list) -> TrainResult:
    """The result, said and written to summary.json, with the curves."""
    files, display = run.files, run.display
    history = session.progress.history
    result = TrainResult(outcome.status, str(files.folder), history, checks, position.step,
                         max((r["val_acc"] for r in history), default=None),
                         seconds=time.perf_counter() - run.started, lr=run.config.lr,
                         model=session.learner.model)
    if outcome.status == "exploded":
        result.explosion = {"step": outcome.step, "value": outcome.value,
                            "initial": position.initial_loss}
        display.message(_explosion_message(outcome, position, files))
    elif outcome.status == "interrupted":
        display.message(f"interrupted at step {position.step}: saved {files.path('last.pt')}; "
                        f"continue with --resume {files.folder}")
    result.diagnosis = files.plot(history, position.step_losses)
    if history:
        display.message(f"diagnosis: {result.diagnosis}")
        from archcalc.train.step_estimate import after_line

        measured = after_line(run.prepared, history)
        if measured:
            display.message(measured)
    files.write_json("summary.json", result.as_dict())
    display.message(f"{outcome.status}: best validation accuracy "
                    f"{(result.best_val_acc or 0):.2%} after {position.step} steps in "
                    f"{result.seconds:.1f} s; files in {files.folder}")
    return result


def _explosion_message(outcome, position, files) -> str:
    from archcalc.train.step import EXPLODES

    finite = outcome.value == outcome.value and abs(outcome.value) != float("inf")
    why = f"above {EXPLODES:g}x the initial {position.initial_loss:.4g}" if finite \
        else "not finite"
    return (f"explosion guard: at step {outcome.step} the loss was {outcome.value:.4g}, "
            f"{why}: stopped. {files.path('last.pt')} keeps the last good state; the "
            "learning rate is probably too high.")
