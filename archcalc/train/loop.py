"""The training loop: epochs of steps, an explosion guard, evaluation, checkpoints.

Everything the loop needs is in ``Session`` (grouped: the learner, its batches, the
compute settings, where progress goes), its position in the run is in ``Position``
(all a checkpoint needs to continue), and the only
ways out are the end of the run, ``max_steps``, the explosion guard, Ctrl-C (a flag
checked between steps, so the checkpoint is always at a step boundary) and an
exception from ``on_epoch`` (how a hyperparameter search prunes a trial).
"""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import asdict, dataclass, field

import torch

from archcalc.train.batches import batch_indices, batches_per_epoch, iterate, mix
from archcalc.train.checkpoint import build_state
from archcalc.train.distributed import mean_over_ranks
from archcalc.train.optim import current_lr, set_train_mode, step_scheduler
from archcalc.train.step import evaluate, exploded, train_step


@dataclass
class Learner:
    """What learns and is saved: the model with its optimizer and schedule."""
    model: torch.nn.Module  # what is saved
    net: torch.nn.Module    # what runs (the model, or its torch.compile or DDP wrapper)
    optimizer: object
    scheduler: object
    head_path: str          # the classifier (fine-tuning freezes what is not under it)


@dataclass
class Batches:
    """What it learns from: the splits, their order and their preprocessing."""
    train: object
    val: object
    sampler: object         # from batches.make_sampler
    train_eval: list        # fixed training indices evaluated like the validation set
    preprocess: object
    size: int               # images per step (per process)


@dataclass
class Compute:
    """Where and how the arithmetic runs."""
    device: torch.device
    amp: bool
    channels_last: bool


@dataclass
class Progress:
    """Where the run reports: its files, the terminal, and the epochs' records."""
    files: object           # RunFiles
    display: object
    history: list = field(default_factory=list)  # the epochs' records, also kept in memory


@dataclass
class Session:
    """Everything the loop needs, grouped by what it is about."""
    config: object          # TrainConfig
    learner: Learner
    batches: Batches
    compute: Compute
    progress: Progress
    distributed: object = None  # train.distributed.Distributed under torchrun, else None


@dataclass
class Position:
    epoch: int = 1          # the epoch running (1-based)
    batch: int = 0          # the next batch within it
    step: int = 0           # optimizer steps so far
    loss_sum: float = 0.0   # this epoch's running sums
    correct: int = 0
    seen: int = 0
    train_seconds: float = 0.0
    initial_loss: float | None = None  # the explosion guard's "original cost"
    best_val_acc: float = -1.0
    best_epoch: int = 0
    step_losses: list = field(default_factory=list)  # (step, loss) for the curves

    def state(self) -> dict:
        return asdict(self)


@dataclass
class Outcome:
    status: str             # trained | exploded | interrupted
    step: int | None = None
    value: float | None = None


class StopOnInterrupt:
    """Ctrl-C sets a flag the loop reads between steps; a second Ctrl-C interrupts at
    once. Only the main thread can own the handler; elsewhere Ctrl-C is untouched."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            # None: a handler installed from C; Python's default stands in for it
            self.previous = signal.signal(signal.SIGINT, self._handle) or \
                signal.default_int_handler
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _prepare(session: Session, images, generator=None):
    x = session.batches.preprocess(images, generator)
    if session.compute.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def save(session: Session, position: Position, name: str) -> None:
    state = build_state(learner=session.learner, position=position.state(),
                        preprocess=session.batches.preprocess, config=session.config.to_dict())
    session.progress.files.save_checkpoint(name, state)


def _evaluate(session: Session, split, indices: list) -> tuple[float, float]:
    size = session.batches.size
    chunks = [indices[i:i + size] for i in range(0, len(indices), size)]
    compute = session.compute
    return evaluate(session.learner.net,
                    iterate(split, chunks, compute.device, session.config.workers),
                    session.batches.preprocess, compute.amp, compute.channels_last)


def end_epoch(session: Session, position: Position, partial: bool, started: float) -> dict:
    """Evaluate on the validation set and on a fixed sample of training images (both in
    eval mode, unaugmented, as the lecture's trainer samples its train accuracy), then
    record the epoch."""
    batches = session.batches
    val_loss, val_acc = _evaluate(session, batches.val, list(range(len(batches.val))))
    _, train_acc = _evaluate(session, batches.train, batches.train_eval)
    return {"epoch": position.epoch, "step": position.step, "partial": partial,
            "train_loss": position.loss_sum / max(position.seen, 1),
            "train_running_acc": position.correct / max(position.seen, 1),
            "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc,
            "lr": current_lr(session.learner.optimizer),
            "images_per_s": position.seen / max(position.train_seconds, 1e-9),
            "seconds": time.perf_counter() - started}  # training and evaluation


def _reached_max(config, position: Position) -> bool:
    return config.max_steps is not None and position.step >= config.max_steps


def fit(session: Session, position: Position, on_epoch=None) -> Outcome:
    """Train from ``position`` to the end of the run; the caller saved nothing yet."""
    cfg = session.config
    with StopOnInterrupt() as stop:
        while position.epoch <= cfg.epochs and not _reached_max(cfg, position):
            batches = _begin_epoch(session, position)
            started = time.perf_counter()
            explosion = _run_batches(session, position, batches, stop, started)
            if explosion is not None:
                return explosion
            if stop.requested:
                session.progress.display.close()
                save(session, position, "last.pt")
                return Outcome("interrupted", position.step)
            _close_epoch(session, position, started, on_epoch)
            if stop.requested:
                break
    return Outcome("interrupted" if stop.requested else "trained", position.step)


def _begin_epoch(session: Session, position: Position) -> list:
    """The epoch's remaining batches (from ``position.batch``), said and set up."""
    cfg = session.config
    batches = batch_indices(session.batches.sampler, session.batches.size, position.epoch,
                            position.batch)
    session.progress.display.epoch_start(position.epoch, cfg.epochs,
                                         position.batch + len(batches), position.batch)
    set_train_mode(session.learner.net, cfg.finetune_mode, session.learner.head_path)
    return batches


def _run_batches(session: Session, position: Position, batches: list, stop,
                 tick: float) -> Outcome | None:
    """Steps over ``batches`` until their end, max_steps or Ctrl-C; the Outcome when the
    explosion guard stops the run."""
    cfg = session.config
    for images, labels in iterate(session.batches.train, batches, session.compute.device,
                                  cfg.workers):
        value, correct = _step(session, position, images, labels)
        position.step += 1
        position.batch += 1
        if position.initial_loss is None:
            position.initial_loss = value
        if exploded(value, position.initial_loss):
            session.progress.display.close()
            return Outcome("exploded", position.step, value)
        tick = _count_step(session, position, (value, int(correct), len(labels)), tick)
        if stop.requested or _reached_max(cfg, position):
            break
    return None


def _step(session: Session, position: Position, images, labels) -> tuple[float, object]:
    """One optimizer step: (the loss, averaged over the ranks, and the correct count)."""
    cfg = session.config
    generator = None
    if cfg.augment:
        generator = torch.Generator(session.compute.device).manual_seed(
            mix(cfg.seed, position.epoch, position.batch))
    x = _prepare(session, images, generator)
    loss, correct = train_step(session.learner.net, session.learner.optimizer, x, labels,
                               session.compute.amp)
    value = loss.item()  # one sync per step: the guard needs the value now
    if session.distributed is not None:
        # every rank must take the same stop decision, or the others would wait
        # forever in the next gradient all-reduce
        value = mean_over_ranks(value, session.distributed)
    return value, correct


def _count_step(session: Session, position: Position, figures: tuple, tick: float) -> float:
    """Add a step's (loss, correct, count) to the epoch's sums; the time now."""
    value, correct, count = figures
    position.loss_sum += value * count
    position.correct += correct
    position.seen += count
    position.step_losses.append((position.step, value))
    now = time.perf_counter()
    position.train_seconds += now - tick
    session.progress.display.step(value, correct / count,
                                  position.seen / max(position.train_seconds, 1e-9))
    return now


def _close_epoch(session: Session, position: Position, started: float, on_epoch) -> None:
    """Evaluate and record the epoch, move to the next (unless max_steps cut it short),
    save last.pt (and best.pt when it improved), then call ``on_epoch``."""
    batches, progress = session.batches, session.progress
    partial = position.batch < batches_per_epoch(len(batches.sampler), batches.size)
    record = end_epoch(session, position, partial, started)
    progress.display.epoch_end(record)
    progress.files.append_metrics(record)
    progress.history.append(record)
    improved = record["val_acc"] > position.best_val_acc
    if improved:
        position.best_val_acc, position.best_epoch = record["val_acc"], position.epoch
    if not partial:  # a run cut short by max_steps resumes inside its epoch
        step_scheduler(session.learner.scheduler, record["val_acc"])
        position.epoch += 1
        position.batch, position.loss_sum, position.correct = 0, 0.0, 0
        position.seen, position.train_seconds = 0, 0.0
    save(session, position, "last.pt")
    if improved:
        save(session, position, "best.pt")
    if on_epoch is not None:
        on_epoch(record["epoch"], record)
