"""The memory plan for people: a rich table of the training parts and the inference peak.

Device memory is sold and reported in binary units (GiB, nvidia-smi's MiB), so the
plan's rounded figures are binary; the exact byte counts are shown beside them.
"""
from __future__ import annotations

from archcalc.analysis.memory import MemoryPlan
from archcalc.analysis.report import DTYPE_BYTES
from archcalc.render import units

OPTIMIZER_RULES = {"sgd": "plain SGD keeps no state",
                   "sgd-momentum": "1 momentum buffer per weight",
                   "adam": "2 moments (exp_avg, exp_avg_sq) per weight"}


def _binary(value: int) -> str:
    return units.size_bytes(value, binary=True)


def plan_table(plan: MemoryPlan):
    from archcalc.render.rich_table import Table

    size = DTYPE_BYTES[plan.dtype]
    title = (f"{plan.name} at {units.shape(plan.input)}, batch {plan.batch}, {plan.dtype}, "
             f"{plan.optimizer}: training memory"
             + (" (a lower bound: opaque nodes)" if plan.unknown else ""))
    table = Table(title=title, header_style="bold", show_footer=True)
    table.add_column("part", footer="total (training, at least)" if plan.unknown
                     else "total (training)")
    table.add_column("bytes", justify="right", footer=units.grouped(plan.total_bytes))
    table.add_column("", justify="right", footer=_binary(plan.total_bytes))
    table.add_column("rule")
    per_image = plan.saved_per_sample_bytes
    rows = [
        ("weights", plan.weights_bytes, f"{units.grouped(plan.params)} params x {size} B"),
        ("buffers", plan.buffers_bytes, "non-trained state: BN statistics, index tables"),
        ("gradients", plan.gradients_bytes, "one per weight" if plan.frozen_until is None
         else f"one per trained weight (fixed up to {plan.frozen_until})"),
        ("optimizer state", plan.optimizer_bytes, OPTIMIZER_RULES[plan.optimizer]
         + ("" if plan.frozen_until is None else " trained")),
        ("saved activations", plan.saved_activation_bytes,
         f"{plan.batch} x {_binary(per_image)} per image"
         + (f" + {_binary(plan.saved_per_batch_bytes)} BN batch statistics"
            if plan.saved_per_batch_bytes else "")),
    ]
    for part, value, rule in rows:
        table.add_row(part, units.grouped(value), _binary(value), rule)
    return table


def plan_lines(plan: MemoryPlan, memory_bytes: int | None, memory_text: str | None) -> list[str]:
    """The sentences under the table: inference peak, where the saved bytes are, max batch."""
    lines = [
        f"inference peak: {_binary(plan.inference_peak_bytes)} "
        f"({units.grouped(plan.inference_peak_bytes)} bytes) = weights and buffers + "
        f"{_binary(plan.inference_activation_peak_bytes)} of live tensors, reached at "
        f"{plan.inference_peak_at}",
    ]
    if plan.saved_per_sample_bytes:
        largest = sorted(plan.saved_per_sample_by_block.items(), key=lambda item: -item[1])[:4]
        shares = ", ".join(f"{block} {units.percent(value, plan.saved_per_sample_bytes)}"
                           for block, value in largest)
        lines.append(f"saved activations by block: {shares}")
    if memory_bytes is not None:
        best = plan.max_batch(memory_bytes)
        limit = f"{memory_text} ({units.grouped(memory_bytes)} bytes)"
        if best == 0:
            lines.append(f"max batch in {limit}: none; batch 1 needs "
                         f"{units.grouped(plan.at(1).total_bytes)} bytes")
        else:
            lines.append(f"max batch in {limit}: {best:,}, training total "
                         f"{units.grouped(plan.at(best).total_bytes)} bytes; batch "
                         f"{best + 1:,} would need {units.grouped(plan.at(best + 1).total_bytes)}")
    if plan.unknown:
        shown = ", ".join(plan.unknown[:5]) + (", ..." if len(plan.unknown) > 5 else "")
        lines.append(f"lower bound: what {len(plan.unknown)} opaque node(s) ({shown}) save for "
                     "backward and hold inside is unknown, counted as nothing beyond their "
                     "outputs; the saved activations, the totals and the inference peak are "
                     "lower bounds, the max batch an upper bound")
    lines.append("Counted as PyTorch keeps them on a CUDA device, each tensor once; not "
                 "counted: the loss, activation gradients during backward, workspaces, the "
                 "allocator's cache. MiB = 2^20 bytes, GiB = 2^30.")
    return lines


def training_flops_lines(flops: dict | None, report=None) -> list[str]:
    """FLOPs of a training step and an epoch (cmd_plan's ``_training_flops``); None when
    ``report`` has nodes of unknown cost (opaque)."""
    if flops is None:
        names = sorted({name for names in report.unknown.values() for name in names})
        return [f"training FLOPs per step: unknown ({len(names)} opaque node(s): "
                f"{', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"]
    step = flops["per_step"]
    frozen = (f", weights fixed up to and including {flops['frozen_until']}"
              if flops["frozen_until"] else "")
    lines = [f"training FLOPs per step (batch {flops['batch']}{frozen}): forward "
             f"{units.grouped(step['forward_flops'])} + backward "
             f"{units.grouped(step['backward_flops'])} (input gradients "
             f"{units.grouped(step['backward_input_flops'])}, weight gradients "
             f"{units.grouped(step['backward_weight_flops'])}, elementwise "
             f"{units.grouped(step['backward_elementwise_flops'])}) = "
             f"{units.grouped(step['step_flops'])} ({units.si(step['step_flops'])})"]
    if "per_epoch" in flops:
        epoch = flops["per_epoch"]["step_flops"]
        lines.append(f"training FLOPs per epoch ({units.grouped(flops['samples'])} images, "
                     f"{units.grouped(flops['steps_per_epoch'])} steps): "
                     f"{units.grouped(epoch)} ({units.si(epoch)})")
    return lines
