"""The training loop: epochs of steps, an explosion guard, evaluation, checkpoints.

Straight-line on purpose (nanoGPT's train.py is the model): everything the loop
needs is in ``Session``, its position in the run is in ``Position``, and the only
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
class Session:
    config: object          # TrainConfig
    model: torch.nn.Module  # what is saved
    net: torch.nn.Module    # what runs (the model, or its torch.compile wrapper)
    optimizer: object
    scheduler: object
    preprocess: object
    train: object
    val: object
    sampler: object         # from batches.make_sampler
    train_eval: list        # fixed training indices evaluated like the validation set
    device: torch.device
    amp: bool
    channels_last: bool
    head_path: str
    batch_size: int
    files: object           # RunFiles
    display: object
    history: list = field(default_factory=list)  # the epochs' records, also kept in memory
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
    x = session.preprocess(images, generator)
    if session.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def save(session: Session, position: Position, name: str) -> None:
    state = build_state(model=session.model, optimizer=session.optimizer,
                        scheduler=session.scheduler, position=position.state(),
                        preprocess=session.preprocess, config=session.config.to_dict(),
                        guard={"initial_loss": position.initial_loss},
                        best={"val_acc": position.best_val_acc, "epoch": position.best_epoch})
    session.files.save_checkpoint(name, state)


def end_epoch(session: Session, position: Position, partial: bool, started: float) -> dict:
    """Evaluate on the validation set and on a fixed sample of training images (both in
    eval mode, unaugmented, as the lecture's trainer samples its train accuracy), then
    record the epoch."""
    cfg = session.config
    size = session.batch_size
    val_order = list(range(len(session.val)))
    val_loss, val_acc = evaluate(
        session.net, iterate(session.val, [val_order[i:i + size] for i in
                                           range(0, len(val_order), size)],
                             session.device, cfg.workers),
        session.preprocess, session.amp, session.channels_last)
    sample = session.train_eval
    _, train_acc = evaluate(
        session.net, iterate(session.train, [sample[i:i + size] for i in
                                             range(0, len(sample), size)],
                             session.device, cfg.workers),
        session.preprocess, session.amp, session.channels_last)
    return {"epoch": position.epoch, "step": position.step, "partial": partial,
            "train_loss": position.loss_sum / max(position.seen, 1),
            "train_running_acc": position.correct / max(position.seen, 1),
            "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc,
            "lr": current_lr(session.optimizer),
            "images_per_s": position.seen / max(position.train_seconds, 1e-9),
            "seconds": time.perf_counter() - started}  # training and evaluation


def fit(session: Session, position: Position, on_epoch=None) -> Outcome:
    """Train from ``position`` to the end of the run; the caller saved nothing yet."""
    cfg, display = session.config, session.display
    with StopOnInterrupt() as stop:
        while position.epoch <= cfg.epochs:
            if cfg.max_steps is not None and position.step >= cfg.max_steps:
                break
            batches = batch_indices(session.sampler, session.batch_size, position.epoch,
                                    position.batch)
            display.epoch_start(position.epoch, cfg.epochs, position.batch + len(batches),
                                position.batch)
            set_train_mode(session.net, cfg.finetune_mode, session.head_path)
            started = time.perf_counter()
            tick = started
            reached_max = False
            for images, labels in iterate(session.train, batches, session.device, cfg.workers):
                generator = None
                if cfg.augment:
                    generator = torch.Generator(session.device).manual_seed(
                        mix(cfg.seed, position.epoch, position.batch))
                x = _prepare(session, images, generator)
                loss, correct = train_step(session.net, session.optimizer, x, labels,
                                           session.amp)
                value = loss.item()  # one sync per step: the guard needs the value now
                if session.distributed is not None:
                    # every rank must take the same stop decision, or the others would
                    # wait forever in the next gradient all-reduce
                    value = mean_over_ranks(value, session.distributed)
                position.step += 1
                position.batch += 1
                if position.initial_loss is None:
                    position.initial_loss = value
                if exploded(value, position.initial_loss):
                    display.close()
                    return Outcome("exploded", position.step, value)
                count = len(labels)
                position.loss_sum += value * count
                position.correct += int(correct)
                position.seen += count
                position.step_losses.append((position.step, value))
                now = time.perf_counter()
                position.train_seconds += now - tick
                tick = now
                display.step(value, int(correct) / count,
                             position.seen / max(position.train_seconds, 1e-9))
                reached_max = cfg.max_steps is not None and position.step >= cfg.max_steps
                if stop.requested or reached_max:
                    break
            if stop.requested:
                display.close()
                save(session, position, "last.pt")
                return Outcome("interrupted", position.step)
            partial = position.batch < batches_per_epoch(len(session.sampler),
                                                         session.batch_size)
            record = end_epoch(session, position, partial, started)
            display.epoch_end(record)
            session.files.append_metrics(record)
            session.history.append(record)
            improved = record["val_acc"] > position.best_val_acc
            if improved:
                position.best_val_acc, position.best_epoch = record["val_acc"], position.epoch
            if not partial:  # a run cut short by max_steps resumes inside its epoch
                step_scheduler(session.scheduler, record["val_acc"])
                position.epoch += 1
                position.batch, position.loss_sum, position.correct = 0, 0.0, 0
                position.seen, position.train_seconds = 0, 0.0
            save(session, position, "last.pt")
            if improved:
                save(session, position, "best.pt")
            if on_epoch is not None:
                on_epoch(record["epoch"], record)
            if reached_max or stop.requested:
                break
    return Outcome("interrupted" if stop.requested else "trained", position.step)
