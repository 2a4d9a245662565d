"""Time before you train, tested: the roofline estimate of a training step against the
measured step, on this machine.

For each model, first `archcalc calibrate`'s measurement (matmul, 3x3 and depthwise conv
FLOP/s, memory bandwidths) in this process, with the threads training uses, right before
the model runs, so that both see the same load on a shared machine; then the roofline
estimate of one step (archcalc.analysis.roofline) and the measured time of the runner's
own step (archcalc.train.step.train_step: forward, cross-entropy, backward,
SGD with momentum) on a synthetic batch: the fastest of --steps timed steps after one
warm-up (the median is recorded too), against the estimate from the better of two
calibrations, one before and one after the model's steps (best-of on both sides: a
shared machine only ever slows a measurement down). The ratio is estimate / measured
(1.0: exact; under 1: the estimate is short).

    .venv/bin/python bench/bench_step_time.py                         # CPU, batch 8, 224x224
    .venv/bin/python bench/bench_step_time.py --device cuda --amp --channels-last \\
        --batch 128 --memory                                          # what gpu_check.sh runs

On CUDA it also estimates with the bundled datasheet profile of the card (when the table
has it), and with --memory compares `archcalc plan`'s training memory with
torch.cuda.max_memory_allocated over one fp32 step (plan counts weights, gradients,
optimizer state and saved activations; not the loss, activation gradients in flight or
cuDNN workspaces). Results: bench/results/local/step_time_<device>.json (--record: the
tracked bench/results/step_time_<device>.json).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
from results_file import add_record_option, write_result
from timing import sync


def measured_step(model, images, labels, steps: int, amp: bool) -> list[float]:
    from archcalc.train.step import train_step

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    train_step(model, optimizer, images, labels, amp)  # warm-up: allocation, autotuning
    sync(images.device)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        train_step(model, optimizer, images, labels, amp)
        sync(images.device)
        times.append(time.perf_counter() - started)
    return times


def plan_memory(spec, report, batch: int, device) -> dict:
    """`archcalc plan`'s fp32 training total against the peak CUDA allocation of a step."""
    from archcalc import build_module
    from archcalc.analysis.memory import plan
    from archcalc.train.step import train_step

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    model = build_module(spec, report.input).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    images = torch.randn(batch, *report.input, device=device)
    labels = torch.randint(0, report.output[0], (batch,), device=device)  # its classes
    for _ in range(2):  # the second step holds the momentum buffers too
        train_step(model, optimizer, images, labels, False)
    sync(device)
    measured = torch.cuda.max_memory_allocated(device)
    planned = plan(spec, batch=batch, dtype="fp32", device="cuda", report=report).total_bytes
    del model, optimizer
    return {"plan_total_bytes": planned, "max_memory_allocated": measured,
            "plan_over_measured": planned / measured}


def one_model(name: str, args, device) -> dict:
    from archcalc import build_module, load_spec
    from archcalc.analysis.analyze import analyze
    from archcalc.analysis.roofline import estimate_step

    shape = tuple(int(v) for v in args.input.split("x"))
    spec = load_spec(name)
    report = analyze(spec, shape, check_expect=False)
    dtype = "bf16" if args.amp else "fp32"
    torch.manual_seed(0)
    model = build_module(spec, shape).to(device).train()
    images = torch.randn(args.batch, *shape, device=device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, report.output[0], (args.batch,), device=device)  # its classes
    before = device_profiles(args, device)
    times = measured_step(model, images, labels, args.steps, args.amp)
    profiles = {label: best_of(profile, device_profiles(args, device)[label])
                for label, profile in before.items()}
    measured = min(times)
    result = {"model": name, "input": list(shape), "batch": args.batch, "dtype": dtype,
              "measured_seconds": measured, "measured_median": statistics.median(times),
              "measured_all": times, "estimates": {},
              "profiles": {label: profile.as_dict() for label, profile in profiles.items()}}
    for label, profile in profiles.items():
        if dtype not in profile.peak_flops:  # a datasheet without bf16 (V100, T4)
            result["estimates"][label] = {"missing": f"no {dtype} peak in the profile"}
            continue
        estimate = estimate_step(report, profile, batch=args.batch, dtype=dtype)
        result["estimates"][label] = {
            "step_seconds": estimate.step_seconds, "forward_seconds": estimate.forward_seconds,
            "backward_seconds": estimate.backward_seconds,
            "optimizer_seconds": estimate.optimizer_seconds,
            "ratio_estimate_to_measured": estimate.step_seconds / measured,
            "mfu": estimate.utilisation(measured), "model_flops": estimate.model_flops}
    del model
    if args.memory and device.type == "cuda":
        result["memory"] = plan_memory(spec, report, args.batch, device)
    return result


def best_of(first, second):
    """Each rate and bandwidth the better of two calibrations (best-of, as each
    calibration already is, and as the measured step is the fastest of its steps)."""
    from dataclasses import fields, replace

    if first is second:
        return first
    changes = {}
    for field in fields(first):
        a, b = getattr(first, field.name), getattr(second, field.name)
        if isinstance(a, dict):
            changes[field.name] = {key: max(a.get(key, 0), b.get(key, 0)) for key in a | b}
        elif isinstance(a, float) and isinstance(b, float) and field.name != "fresh_threshold":
            changes[field.name] = max(a, b)
    return replace(first, **changes)


def device_profiles(args, device) -> dict:
    from archcalc.analysis.devices import datasheet_for, find_profile
    from archcalc.train.calibrate import calibrate

    if args.profile:
        return {"given": find_profile(args.profile)}
    profiles = {"calibrated": calibrate(device.type, args.seconds)}
    if device.type == "cuda":
        sheet = datasheet_for(torch.cuda.get_device_name(device))
        if sheet is not None:
            profiles["datasheet"] = sheet
    return profiles


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models", default="resnet18,vgg11,mobilenet_v2")
    parser.add_argument("--input", default="3x224x224")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model")
    parser.add_argument("--seconds", type=float, default=4.0, help="calibration time")
    parser.add_argument("--profile", default=None,
                        help="a profile (bundled name or YAML) instead of calibrating")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--memory", action="store_true",
                        help="CUDA: plan's training memory vs max_memory_allocated")
    parser.add_argument("--out", default=None, help="write the figures to this file instead")
    add_record_option(parser)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = [one_model(name, args, device) for name in args.models.split(",")]
    for row in rows:
        for label, figures in row["estimates"].items():
            if "missing" in figures:
                print(f"{row['model']:13s} {label}: {figures['missing']}")
                continue
            profile, dtype = row["profiles"][label], row["dtype"]
            conv = profile.get("conv_flops", {}).get(dtype, 0)
            print(f"{'':13s} profile {label}: matmul {profile['peak_flops'][dtype] / 1e9:.0f}"
                  f" GFLOP/s, conv {conv / 1e9:.0f} GFLOP/s, memory "
                  f"{profile['memory_bandwidth'] / 1e9:.1f} GB/s")
            print(f"{row['model']:13s} batch {row['batch']}: measured "
                  f"{row['measured_seconds']:.3f} s, estimated ({label}) "
                  f"{figures['step_seconds']:.3f} s, ratio "
                  f"{figures['ratio_estimate_to_measured']:.2f}, MFU {figures['mfu']:.1%}")
        if "memory" in row:
            memory = row["memory"]
            print(f"{row['model']:13s} plan {memory['plan_total_bytes'] / 2**20:.0f} MiB, "
                  f"max_memory_allocated {memory['max_memory_allocated'] / 2**20:.0f} MiB, "
                  f"ratio {memory['plan_over_measured']:.3f}")
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    write_result(f"step_time_{args.device}",
                 {"device": machine, "torch": torch.__version__, "amp_bf16": args.amp,
                  "channels_last": args.channels_last, "results": rows},
                 args.record, Path(args.out).expanduser() if args.out else None)


if __name__ == "__main__":
    main()
