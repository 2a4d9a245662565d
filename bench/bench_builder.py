"""Issue 4 figures: `archcalc verify --all` wall time, and training-step speed of the
spec-built resnet50 against torchvision's resnet50, side by side in one run.

    .venv/bin/python bench/bench_builder.py [--repeats 10] [--batch 8] [--threads 2]

The two models are timed alternately (A B A B ...) on the same random batch so
drift on the machine hits both; the ratio is spec-built / torchvision median.
Results go to bench/results/local/builder.json
(with --record: the tracked bench/results/builder.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_file import add_record_option, write_result

HERE = Path(__file__).resolve().parent


def verify_all_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "archcalc", "verify", "--all"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def step_times(batch: int, repeats: int) -> dict:
    import torch
    import torchvision

    import archcalc

    torch.manual_seed(0)
    models = {"archcalc resnet50": archcalc.build_module("resnet50"),
              "torchvision resnet50": torchvision.models.resnet50(weights=None)}
    images = torch.randn(batch, 3, 224, 224)
    labels = torch.randint(0, 1000, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()
    times = {name: [] for name in models}

    def step(model):
        model.zero_grad(set_to_none=True)
        loss_fn(model(images), labels).backward()

    for model in models.values():  # warm-up
        model.train()
        step(model)
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            step(model)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--skip-verify", action="store_true")
    add_record_option(parser)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    medians = step_times(args.batch, args.repeats)
    ours, theirs = medians["archcalc resnet50"], medians["torchvision resnet50"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU, torch "
                   f"{torch.__version__}, {args.threads} threads",
        "batch": args.batch, "repeats": args.repeats,
        "forward_backward_s": {k: round(v, 4) for k, v in medians.items()},
        "ratio_archcalc_over_torchvision": round(ours / theirs, 4),
    }
    if not args.skip_verify:
        result["verify_all_s"] = round(verify_all_seconds(), 1)
    print(json.dumps(result, indent=2))
    write_result("builder", result, args.record)


if __name__ == "__main__":
    main()
