"""Training throughput of spec-built models against torchvision's, in the same loop.

Both models train with the runner's own step (archcalc.train.step.train_step: forward,
cross-entropy, backward, SGD with momentum) on the same synthetic batch, alternating
A B A B ... so that a busy moment on the machine hits both alike; each figure is the
median over repeats. Achieved TFLOP/s counts 6 FLOPs per analysed MAC per image
(2 per MAC forward, twice that backward), conv and linear layers only.

    .venv/bin/python bench/bench_train.py                       # CPU, resnet18 at 112x112
    .venv/bin/python bench/bench_train.py --device cuda --models resnet50,resnet18 \\
        --input 3x224x224 --batch 128 --amp --channels-last       # what gpu_check.sh runs

Results are printed and written to bench/results/local/train_<device>.json (with --record:
the tracked bench/results/train_<device>.json; --out FILE: anywhere).
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

HERE = Path(__file__).resolve().parent


def torchvision_model(name: str):
    import torchvision

    return getattr(torchvision.models, name)(weights=None)


def timed_steps(model, optimizer, images, labels, steps: int, amp: bool) -> float:
    from archcalc.train.step import train_step

    sync(images.device)
    started = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, images, labels, amp)
    sync(images.device)
    return (time.perf_counter() - started) / steps


def compare(name: str, args, device) -> dict:
    from archcalc import analyze, build_module, load_spec

    shape = tuple(int(v) for v in args.input.split("x"))
    spec = load_spec(name)
    macs = analyze(spec, shape).totals["macs"]
    torch.manual_seed(0)
    models = {"spec-built": build_module(spec, shape), "torchvision":
              torchvision_model(spec.torchvision)}
    images = torch.randn(args.batch, *shape, device=device)
    labels = torch.randint(0, 1000, (args.batch,), device=device)
    if args.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    runners = {}
    for label, model in models.items():
        model.to(device).train()
        if args.channels_last:
            model.to(memory_format=torch.channels_last)
        net = torch.compile(model) if args.compile else model
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        timed_steps(net, optimizer, images, labels, args.warmup, args.amp)
        runners[label] = (net, optimizer)
    seconds = {label: [] for label in runners}
    for _ in range(args.repeats):
        for label, (net, optimizer) in runners.items():
            seconds[label].append(timed_steps(net, optimizer, images, labels, args.steps,
                                              args.amp))
    result = {"model": name, "input": list(shape), "batch": args.batch,
              "macs_per_image": macs}
    for label, times in seconds.items():
        step = statistics.median(times)
        result[label] = {"seconds_per_step": step, "images_per_s": args.batch / step,
                         "tflops": 6 * macs * args.batch / step / 1e12,
                         "repeats": times}
    result["ratio_spec_to_torchvision"] = (result["spec-built"]["images_per_s"]
                                           / result["torchvision"]["images_per_s"])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models", default="resnet18")
    parser.add_argument("--input", default="3x112x112")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--amp", action="store_true", help="bf16 autocast")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", default=None, help="write the figures to this file instead")
    add_record_option(parser)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = [compare(name, args, device) for name in args.models.split(",")]
    for row in rows:
        for label in ("spec-built", "torchvision"):
            figures = row[label]
            print(f"{row['model']:10s} {label:12s} {figures['images_per_s']:10.1f} images/s "
                  f"{figures['tflops']:8.3f} TFLOP/s (6 x analysed MACs)")
        print(f"{row['model']:10s} ratio spec-built / torchvision: "
              f"{row['ratio_spec_to_torchvision']:.4f}")
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    report = {"device": machine, "torch": torch.__version__, "amp_bf16": args.amp,
              "channels_last": args.channels_last, "compile": args.compile,
              "steps_per_repeat": args.steps, "results": rows}
    write_result(f"train_{args.device}", report, args.record,
                 Path(args.out).expanduser() if args.out else None)


if __name__ == "__main__":
    main()
