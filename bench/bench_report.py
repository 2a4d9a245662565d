"""Time to generate the HTML report of the deepest zoo spec, preact_resnet1001 (1,348
rows), against a target of 1 s: `archcalc report` end to end (a fresh process, the page
written; wall and CPU time, with the machine's load average beside them), the in-process
split (reading the spec, the analyses with derivations and saved bytes, writing the page),
the page's size, and, where headless Chromium runs, the time from navigation to a
rendered page.

    .venv/bin/python bench/bench_report.py [--repeats 7]

Results are printed and written to bench/results/local/report.json
(with --record: the tracked bench/results/report.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from results_file import add_record_option, write_result
from timing import archcalc_command, command_times

HERE = Path(__file__).resolve().parent
TARGET_S = 1.0
DEEP = "preact_resnet1001"


def cli_median_s(folder: Path, repeats: int) -> tuple[float, float]:
    """Median seconds of `python -m archcalc report DEEP --out FILE --overwrite`: wall
    time, and the CPU time the process used (user + system), which other work on a
    shared machine inflates far less than the wall time."""
    times = command_times(archcalc_command("report", DEEP, "--out", folder / "deep.html",
                                           "--overwrite"), repeats)
    return statistics.median(w for w, _ in times), statistics.median(c for _, c in times)


def in_process_ms(repeats: int) -> dict:
    """Median milliseconds of each step inside one process (imports already done)."""
    from archcalc.render.html_report import report_html
    from archcalc.render.html_report.document import document
    from archcalc.render.html_report.pages import model_page
    from archcalc.spec.loader import load_spec

    report_html([load_spec(DEEP)])  # warm: first imports
    steps: dict[str, list] = {"load_spec": [], "analyses": [], "page": []}
    for _ in range(repeats):
        start = time.perf_counter()
        spec = load_spec(DEEP)
        steps["load_spec"].append(time.perf_counter() - start)
        start = time.perf_counter()
        data = model_page(spec)
        steps["analyses"].append(time.perf_counter() - start)
        start = time.perf_counter()
        document(DEEP, {"models": [data], "compare": None, "cost": "macs"})
        steps["page"].append(time.perf_counter() - start)
    return {step: round(statistics.median(times) * 1000, 1) for step, times in steps.items()}


def browser_ready_ms(page_file: Path, repeats: int):
    """Median milliseconds from navigation start to the page's script having drawn the
    graph, table and charts, in headless Chromium; None where it cannot run."""
    sys.path.insert(0, str(HERE.parent / "tests" / "helpers"))
    from chromium_page import BrowserUnavailable, Page

    try:
        with Page() as page:
            times = []
            for _ in range(repeats):
                page.open(page_file)
                times.append(page.evaluate("window.reportRenderMs"))
            return round(statistics.median(times), 1)
    except BrowserUnavailable as exc:
        print(f"browser figure skipped: {exc}")
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    add_record_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        cli, cpu = cli_median_s(folder, args.repeats)
        size = (folder / "deep.html").stat().st_size
        browser = browser_ready_ms(folder / "deep.html", args.repeats)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "target_s": TARGET_S,
        f"report_{DEEP}_median_s": round(cli, 3),
        f"report_{DEEP}_cpu_median_s": round(cpu, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        f"in_process_{DEEP}_ms": in_process_ms(args.repeats),
        "page_bytes": size,
        "browser_ready_median_ms": browser,
    }
    result["within_target"] = cli < TARGET_S
    result["within_target_cpu"] = cpu < TARGET_S
    print(json.dumps(result, indent=2))
    write_result("report", result, args.record)


if __name__ == "__main__":
    main()
