"""Wall time of `archcalc table` and `archcalc plan` on the deepest zoo spec,
preact_resnet1001 (1,001 layers, 1,348 table rows), against a target of 0.5 s each,
with the in-process split of the time (reading the spec, the analysis, the memory
walk, rendering the table) and the same commands on resnet50 for scale.

    .venv/bin/python bench/bench_depth.py [--repeats 7]

Results are printed and written to bench/results/local/depth.json
(with --record: the tracked bench/results/depth.json).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_file import add_record_option, write_result
from timing import archcalc_command, command_times

HERE = Path(__file__).resolve().parent
TARGET_S = 0.5
DEEP = "preact_resnet1001"


def wall(arguments, repeats: int) -> float:
    """Median seconds of `python -m archcalc ARGUMENTS`, output to a pipe at 160 columns."""
    return statistics.median(wall for wall, _ in
                             command_times(archcalc_command(*arguments), repeats))


def in_process_ms(name: str, repeats: int) -> dict:
    """Median milliseconds of each step inside one process (imports already done)."""
    from rich.console import Console

    from archcalc.analysis.analyze import analyze
    from archcalc.analysis.memory import plan
    from archcalc.render.tables import rich_table
    from archcalc.spec.loader import load_spec

    steps = {"load_spec": [], "analyze": [], "plan": [], "render_table": []}
    for _ in range(repeats):
        start = time.perf_counter()
        spec = load_spec(name)
        steps["load_spec"].append(time.perf_counter() - start)
        start = time.perf_counter()
        report = analyze(spec)
        steps["analyze"].append(time.perf_counter() - start)
        start = time.perf_counter()
        plan(spec)
        steps["plan"].append(time.perf_counter() - start)
        start = time.perf_counter()
        Console(file=io.StringIO(), width=160).print(rich_table(report))
        steps["render_table"].append(time.perf_counter() - start)
    return {step: round(statistics.median(times) * 1000, 1) for step, times in steps.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    add_record_option(parser)
    args = parser.parse_args()
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "target_s": TARGET_S,
        f"table_{DEEP}_median_s": round(wall(["table", DEEP], args.repeats), 3),
        f"plan_{DEEP}_median_s": round(wall(["plan", DEEP], args.repeats), 3),
        "table_resnet50_median_s": round(wall(["table", "resnet50"], args.repeats), 3),
        "plan_resnet50_median_s": round(wall(["plan", "resnet50"], args.repeats), 3),
        "python_startup_median_s": round(statistics.median(
            _startup() for _ in range(args.repeats)), 3),
        f"in_process_{DEEP}_ms": in_process_ms(DEEP, args.repeats),
    }
    result["within_target"] = all(result[f"{command}_{DEEP}_median_s"] < TARGET_S
                                  for command in ("table", "plan"))
    print(json.dumps(result, indent=2))
    write_result("depth", result, args.record)


def _startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
