"""Wall time of `archcalc table vgg16` against torchinfo's summary of torchvision's
vgg16, side by side in one run on the same machine; the symbolic
`table resnet50 --input 3xHxW`; `table` of the modern zoo (efficientnet_b0, vit_b_16,
convnext_tiny); and the in-process analysis time of the largest
zoo spec.

    .venv/bin/python bench/bench_table.py [--repeats 7]

torchinfo is the `bench` extra (`pip install -e '.[bench]'`). Results are printed
and written to bench/results/local/table.json
(with --record: the tracked bench/results/table.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from results_file import add_record_option, write_result
from timing import command_times

HERE = Path(__file__).resolve().parent
ARCHCALC = [sys.executable, "-m", "archcalc", "table", "vgg16"]
SYMBOLIC = [sys.executable, "-m", "archcalc", "table", "resnet50", "--input", "3xHxW"]
# issue 12's speed claim: the modern zoo analyses as fast as the lecture's VGG16
MODERN = ("efficientnet_b0", "vit_b_16", "convnext_tiny")
TORCHINFO = [sys.executable, "-c",
             "import torchvision, torchinfo; "
             "torchinfo.summary(torchvision.models.vgg16(), input_size=(1, 3, 224, 224))"]


def wall(command, repeats: int) -> list[float]:
    return [wall for wall, _ in command_times(command, repeats)]


def largest_spec_analysis_ms(repeats: int) -> tuple[str, float]:
    from archcalc import analyze, load_spec
    from archcalc.spec.catalog import bundled

    sizes = {name: len(analyze(load_spec(name)).rows) for name in bundled()}
    name = max(sizes, key=sizes.get)
    spec = load_spec(name)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        analyze(spec)
        times.append(time.perf_counter() - start)
    return name, statistics.median(times) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    add_record_option(parser)
    args = parser.parse_args()
    ours = wall(ARCHCALC, args.repeats)
    theirs = wall(TORCHINFO, max(3, args.repeats // 2))
    symbolic = wall(SYMBOLIC, max(3, args.repeats // 2))
    modern = {model: round(statistics.median(wall(ARCHCALC[:-1] + [model], args.repeats)), 4)
              for model in MODERN}
    name, analysis_ms = largest_spec_analysis_ms(20)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "archcalc_table_vgg16_median_s": round(statistics.median(ours), 4),
        "torchinfo_vgg16_median_s": round(statistics.median(theirs), 4),
        "speedup": round(statistics.median(theirs) / statistics.median(ours), 1),
        "archcalc_table_resnet50_symbolic_median_s": round(statistics.median(symbolic), 4),
        "archcalc_table_modern_median_s": modern,
        "largest_spec": name,
        "largest_spec_analysis_ms": round(analysis_ms, 2),
    }
    print(json.dumps(result, indent=2))
    write_result("table", result, args.record)


if __name__ == "__main__":
    main()
