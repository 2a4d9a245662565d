"""`archcalc plan`: training memory (weights, gradients, optimizer state, saved
activations), the inference peak and, with --memory, the largest batch that fits."""
from __future__ import annotations

import json
from dataclasses import dataclass

import click

from archcalc.cli import console
from archcalc.cli.options import (
    dtype_option,
    format_option,
    input_option,
    parse_input,
    spec_argument,
)


@dataclass(frozen=True)
class PlanOptions:
    """The command's options: what to plan for, and what to print."""

    batch: int
    dtype: str
    optimizer: str
    memory_text: str | None
    input_text: str | None
    fmt: str
    samples: int | None = None
    freeze_until: str | None = None


@click.command("plan")
@spec_argument
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="images per training step")
@dtype_option
@click.option("--optimizer", type=click.Choice(["sgd", "sgd-momentum", "adam"]),
              default="sgd-momentum", show_default=True,
              help="its state per weight: sgd 0, sgd-momentum 1, adam 2")
@click.option("--memory", "memory_text", metavar="SIZE",
              help="device memory, e.g. 80GiB, 40GB, 512MiB: also give the largest batch "
                   "whose training memory fits")
@input_option
@format_option("rich", "json")
@click.option("--samples", type=click.IntRange(min=1), default=None, metavar="N",
              help="training images per epoch (50000 for CIFAR-10, 1437 for the digits "
                   "split): also give the FLOPs of an epoch")
@click.option("--freeze-until", metavar="NODE", default=None,
              help="NODE and every row before it keep their weights fixed: no weight "
                   "gradients there, no input gradients below the first trained layer")
def command(spec, batch, dtype, optimizer, memory_text, input_text, fmt, samples,
            freeze_until):
    """Memory to train NAME|PATH: weights, gradients, optimizer state and the
    activations autograd saves for backward (each tensor once, BN statistics per
    batch), plus the inference peak of live tensors in execution order.

    All figures are exact for the built PyTorch module on a CUDA device, where every
    tensor has --dtype (pure fp16/bf16 training has no fp32 master copy).
    """
    _plan(spec, PlanOptions(batch, dtype, optimizer, memory_text, input_text, fmt, samples,
                            freeze_until))


def _plan(spec, options: PlanOptions) -> None:
    from archcalc.analysis.limits import analyze_explained
    from archcalc.analysis.memory import parse_memory, plan
    from archcalc.spec.loader import load_spec

    memory_text = options.memory_text
    memory_bytes = parse_memory(memory_text) if memory_text is not None else None
    loaded = load_spec(spec)
    # a size that collapses names the smallest input that works, as `table` does
    report = analyze_explained(loaded, parse_input(options.input_text), check_expect=False)
    result = plan(loaded, batch=options.batch, dtype=options.dtype,
                  optimizer=options.optimizer, report=report, frozen_until=options.freeze_until)
    # an opaque node's backward is unknown: no step FLOPs rather than a partial sum
    flops = None if report.unknown else _training_flops(report, options)
    if options.fmt == "json":
        from archcalc.render.export import versioned

        data = result.as_dict(memory_bytes)
        data["step_flops"] = flops
        console.print_text(json.dumps(versioned("plan", data), indent=2))
        return
    from archcalc.render.memory import plan_lines, plan_table, training_flops_lines

    console.out().print(plan_table(result))
    lines = plan_lines(result, memory_bytes, memory_text)
    for line in lines[:-1] + training_flops_lines(flops, report) + lines[-1:]:  # note last
        console.out().print(line, markup=False)


def _training_flops(report, options: PlanOptions) -> dict:
    """FLOPs of one training step at --batch and, with --samples, of one epoch (every
    image once; the last batch may be smaller: FLOPs are linear in the images)."""
    from archcalc.analysis.backward import step_flops, step_totals

    records = step_flops(report, options.freeze_until)
    flops: dict = {"batch": options.batch, "frozen_until": options.freeze_until,
                   "per_step": step_totals(records, options.batch)}
    if options.samples is not None:
        flops.update(samples=options.samples,
                     steps_per_epoch=-(-options.samples // options.batch),
                     per_epoch=step_totals(records, options.samples))
    return flops
