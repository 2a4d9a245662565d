"""The lecture's "Babysitting the learning process", done by the program.

1. initial loss: with regularisation off, a fresh classifier guesses uniformly, so the
   loss is ln(classes) ("loss ~2.3, 'correct' for 10 classes");
2. regularisation: cranking it up raises the loss ("loss went up, good");
3. overfit: 20 examples, no regularisation, plain SGD, reach 100% training accuracy
   ("make sure that you can overfit very small portion of the training data");
4. learning-rate probe: a log grid, each rate training a fresh copy for a few steps on
   successive training batches; "loss barely changing: learning rate is probably too
   low"; NaN, inf or a cost above 3x the original ("If the cost is ever > 3 *
   original cost, break out early"): too high; the rates in between are the range.

Every check works on a copy of the initial model and reports what it observed, what
was expected and pass, warn or fail. The two iterative checks share a time budget,
half each, planned in steps from the analysed work per image at a nominal device
speed (so the plan, and the verdicts, do not depend on how busy the machine is):
when the plan cuts the overfit check short before a verdict, it warns instead of
failing.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import torch

from archcalc.train.optim import decayed_parameters, make_optimizer, parameter_groups
from archcalc.train.step import (
    EXPLODES,
    batch_loss,
    exploded,
    train_step,
    without_dropout,
)

LR_GRID = tuple(10.0 ** k for k in range(-6, 2))  # 1e-6 .. 10, one per decade
PROBE_STEPS = 30
OVERFIT_EXAMPLES = 20
OVERFIT_STEPS = 200  # the lecture's 200 epochs over 20 examples, one batch each
BARELY = 0.005       # a relative change below 0.5% in the probe is "barely changing"
REG_SCALE = 1000.0   # regularisation "cranked up" 1000-fold (the lecture: reg 0 -> 1e3)


@dataclass
class CheckResult:
    name: str
    title: str
    status: str      # pass | warn | fail
    observed: str
    expected: str
    detail: str = ""
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CheckInputs:
    model: torch.nn.Module          # the initial model; never modified
    probe: tuple                    # (images, labels): the first batch of the pool
    pool: tuple                     # preprocessed, unaugmented training examples to probe on
    tiny: tuple                     # the first OVERFIT_EXAMPLES training examples
    classes: int
    optimizer: str
    momentum: float
    weight_decay: float
    lr: float | None                # the rate training will use; None: pick one
    head_path: str
    finetune: str | None
    backbone_scale: float
    amp: bool
    seconds_per_image: float        # planned (sizing.planned_seconds_per_image)
    budget: float                   # seconds for the overfit and the probe together

    def fresh(self):
        return without_dropout(copy.deepcopy(self.model))

    def optimizer_for(self, model, lr, momentum=None, weight_decay=None):
        groups = parameter_groups(model, self.head_path, self.finetune, lr, self.backbone_scale)
        return make_optimizer(groups, self.optimizer, lr,
                              self.momentum if momentum is None else momentum,
                              self.weight_decay if weight_decay is None else weight_decay)


def run_checks(inputs: CheckInputs) -> tuple[list[CheckResult], float]:
    """The four checks in the lecture's order, and the learning rate they suggest."""
    initial = check_initial_loss(inputs)
    regularised = check_regularisation(inputs, initial.data["loss"])
    probe = check_learning_rates(inputs, inputs.budget / 2)
    chosen = probe.data["picked"]
    # The probe's rate, not the user's: a bad --lr is the probe's finding, and the
    # overfit check is about the model's capacity.
    overfit = check_overfit(inputs, chosen or inputs.lr, inputs.budget / 2)
    return [initial, regularised, overfit, probe], chosen


def check_initial_loss(inputs: CheckInputs) -> CheckResult:
    loss, _ = batch_loss(inputs.fresh(), *inputs.probe, inputs.amp)
    expected = math.log(inputs.classes)
    ratio = loss / expected
    status = "pass" if abs(ratio - 1) <= 0.1 else "warn" if abs(ratio - 1) <= 0.5 else "fail"
    detail = "" if status == "pass" else (
        "the initial scores are far from uniform: the initialisation is too large (or the "
        "classifier is not freshly initialised)" if ratio > 1 else
        "the loss is below chance: the labels may leak into the input")
    return CheckResult("initial_loss", "initial loss, regularisation off", status,
                       f"{loss:.4f} on {len(inputs.probe[1])} examples",
                       f"ln({inputs.classes}) = {expected:.4f} (within 10%)", detail,
                       {"loss": loss, "expected": expected})


def check_regularisation(inputs: CheckInputs, loss: float) -> CheckResult:
    model = inputs.fresh()
    decay = inputs.weight_decay * REG_SCALE
    optimizer = inputs.optimizer_for(model, inputs.lr or 1e-2)
    penalised = decayed_parameters(optimizer)
    title = "regularisation raises the loss"
    if not penalised:
        return CheckResult("regularisation", title, "warn", f"{loss:.4f}, nothing regularised",
                           "a higher loss", "no parameter has weight decay (--weight-decay 0)")
    # SGD's weight_decay=w adds w*p to the gradient: the gradient of (w/2)*||p||^2
    with torch.no_grad():
        penalty = 0.5 * decay * sum(float(p.float().pow(2).sum()) for p in penalised)
    raised = loss + penalty
    status = "pass" if raised > loss * (1 + 1e-6) else "fail"
    detail = "" if status == "pass" else \
        "the regularised weights are all zero: the model starts symmetric and cannot learn"
    return CheckResult("regularisation", title, status,
                       f"{loss:.4f} -> {raised:.4f} with weight decay {decay:g}",
                       "a higher loss", detail,
                       {"loss": loss, "regularised_loss": raised, "weight_decay": decay})


def _probe_one(inputs: CheckInputs, lr: float, steps: int) -> dict:
    """Train a fresh copy for ``steps`` batches of the pool at ``lr``; the loss on the
    first batch before and after says whether it went down."""
    model = inputs.fresh()
    optimizer = inputs.optimizer_for(model, lr)
    images, labels = inputs.pool
    size = len(inputs.probe[1])
    start = batch_loss(model, *inputs.probe, inputs.amp)[0]
    losses = []
    for step in range(steps):
        at = (step * size) % len(labels)
        loss, _ = train_step(model, optimizer, images[at:at + size], labels[at:at + size],
                             inputs.amp)
        losses.append(loss.item())
        if exploded(losses[-1], start):
            break
    else:
        losses.append(batch_loss(model, *inputs.probe, inputs.amp)[0])
    end, peak = losses[-1], max(losses)
    if not all(math.isfinite(v) for v in losses):
        verdict = "too high: NaN or inf"
    elif peak > EXPLODES * start:
        verdict = f"too high: cost {peak:.3g} above 3x the original {start:.3g}"
    elif abs(start - end) < BARELY * start:
        verdict = "too low: barely changing"
    elif end > start:
        verdict = "too high: rising"
    else:
        verdict = "good"
    return {"lr": lr, "start": start, "end": end,
            "steps": len(losses) if exploded(end, start) else len(losses) - 1,
            "verdict": verdict}


def grid_line(rows) -> str:
    """1e-06 low, ..., 0.1 good, 1 high: the probe at a glance."""
    short = {"too low": "low", "too high": "HIGH", "good": "good"}
    return ", ".join(f"{row['lr']:g} {short[row['verdict'].split(':')[0]]}" for row in rows)


def probe_steps(seconds_per_image: float, batch: int, budget: float) -> int:
    """Steps per grid point that fit the budget (a step plus the closing forward)."""
    per_step = seconds_per_image * batch * 4 / 3
    return max(1, min(PROBE_STEPS, int(budget / (len(LR_GRID) * max(per_step, 1e-9)))))


def check_learning_rates(inputs: CheckInputs, budget: float) -> CheckResult:
    steps = probe_steps(inputs.seconds_per_image, len(inputs.probe[1]), budget)
    rows = [_probe_one(inputs, lr, steps) for lr in LR_GRID]
    good = [row for row in rows if row["verdict"] == "good"]
    title = f"learning-rate probe ({steps} step{'s' if steps > 1 else ''} per rate)"
    expected = "a range where the loss falls (> 0.5%) without NaN, inf or 3x the original"
    table = {"grid": rows, "steps": steps}
    if not good:
        # A slow starter (tanh, small initial weights) may barely move in a few steps at
        # every stable rate; the largest rate that still lowered the loss is the bet.
        falling = [row for row in rows if row["verdict"] == "too low: barely changing"
                   and row["end"] < row["start"]]
        if not falling:
            return CheckResult("learning_rate", title, "fail", "no rate in 1e-6..10 lowers "
                               f"the loss\n{grid_line(rows)}", expected,
                               "the model may not be learning at all",
                               {**table, "picked": None, "range": None})
        picked = falling[-1]["lr"]
        return CheckResult("learning_rate", title, "warn",
                           f"the loss barely changes at every stable rate (at most "
                           f"{falling[-1]['start']:.4g} -> {falling[-1]['end']:.4g})\n"
                           f"{grid_line(rows)}", expected,
                           f"training with the largest rate that lowered it, {picked:g}",
                           {**table, "picked": picked, "range": None, "best": picked})
    low, high = good[0]["lr"], good[-1]["lr"]
    best = min(good, key=lambda row: row["end"])["lr"]
    span = f"{low:g} .. {high:g}" if low != high else f"{low:g} only"
    # Each rate trained on successive batches, so a rate that only looks good on one
    # batch has already been caught rising or exploding; the rate that lowered the
    # loss most is the one to train with (the lecture's "find learning rate that makes
    # the loss go down"), and the plateau schedule lowers it later. A probe the budget
    # cut short cannot see an explosion that comes a few steps later (the lecture's
    # 3e-3 exploded only in its fifth epoch): then a tenth of the best.
    truncated = steps < PROBE_STEPS
    picked = best / 10 if truncated else best
    observed = f"loss falls for {span}, best {best:g}\n{grid_line(rows)}"
    data = {**table, "picked": picked, "range": [low, high], "best": best}
    if inputs.lr is not None and not low / 10 <= inputs.lr <= high:
        where = "above that range (it may explode)" if inputs.lr > high else \
            "far below that range (training will be slow)"
        return CheckResult("learning_rate", title, "warn", observed, expected,
                           f"--lr {inputs.lr:g} is {where}; try {picked:g}", data)
    detail = f"training uses {inputs.lr:g}" if inputs.lr is not None else \
        f"training will use {picked:g}" + (f" (a tenth of the best: only {steps} probe "
                                            f"step{'s' if steps > 1 else ''} fit the budget)"
                                            if truncated else "")
    return CheckResult("learning_rate", title, "pass", observed, expected, detail, data)


def overfit_steps(seconds_per_image: float, budget: float) -> int:
    return max(1, min(OVERFIT_STEPS, int(budget / max(seconds_per_image * OVERFIT_EXAMPLES,
                                                       1e-9))))


def check_overfit(inputs: CheckInputs, lr: float | None, budget: float) -> CheckResult:
    """Plain SGD (no momentum, no weight decay) at the momentum run's effective step
    size lr / (1 - momentum); Adam keeps Adam. After an explosion it retries at a third
    of the rate (half a decade), up to four tries, within the same planned steps."""
    images, labels = (t[:OVERFIT_EXAMPLES] for t in inputs.tiny)
    count = len(labels)
    plain = inputs.optimizer == "sgd"
    rate = (lr or 1e-2) / (1 - inputs.momentum) if plain else (lr or 1e-3)
    planned = overfit_steps(inputs.seconds_per_image, budget)
    # a safety net for a machine far slower than planned; never reached otherwise
    deadline = time.perf_counter() + 3 * budget
    title = f"overfit {count} examples (no regularisation, {'plain SGD' if plain else 'Adam'})"
    expected = f"100% training accuracy within {OVERFIT_STEPS} steps"
    tries, used = [], 0
    for attempt in range(4):
        if attempt and used >= planned:
            tries[-1]["outcome"] = "budget"  # it exploded, and no steps are left to retry
            break
        model = inputs.fresh()
        optimizer = inputs.optimizer_for(model, rate, momentum=0.0, weight_decay=0.0)
        first, accuracy, loss, outcome, step = None, 0.0, math.nan, "steps", 0
        while step < OVERFIT_STEPS:
            if used >= planned or time.perf_counter() > deadline:
                outcome = "budget"
                break
            step, used = step + 1, used + 1
            loss_t, correct = train_step(model, optimizer, images, labels, inputs.amp)
            loss, accuracy = loss_t.item(), correct.item() / count
            first = loss if first is None else first
            if exploded(loss, first):
                outcome = "exploded"
                break
            if accuracy == 1.0:
                outcome = "reached"
                break
        tries.append({"lr": rate, "steps": step, "first_loss": first, "loss": loss,
                      "accuracy": accuracy, "outcome": outcome,
                      "exploded": outcome == "exploded"})
        if outcome != "exploded":
            break
        rate /= 3
    last = tries[-1]
    data = {"tries": tries, "planned_steps": planned}
    first_loss = "-" if last["first_loss"] is None else f"{last['first_loss']:.3g}"
    observed = (f"{last['accuracy']:.0%} after {last['steps']} steps at lr {last['lr']:.3g}, "
                f"loss {first_loss} -> {last['loss']:.3g}")
    exploded_rates = ", ".join(f"{t['lr']:.3g}" for t in tries if t["exploded"])
    if exploded_rates:
        observed += f" (exploded at lr {exploded_rates})"
    if last["outcome"] == "reached":
        return CheckResult("overfit", title, "pass", observed, expected, "", data)
    if last["outcome"] == "budget":
        return CheckResult("overfit", title, "warn", observed, expected,
                           f"the {budget:.0f} s budget allowed {planned} steps for this model "
                           "(raise it with --check-seconds)", data)
    detail = "the loss exploded at every rate tried" if last["outcome"] == "exploded" else \
        "the model cannot fit 20 examples: too little capacity, or something blocks learning"
    return CheckResult("overfit", title, "fail", observed, expected, detail, data)
