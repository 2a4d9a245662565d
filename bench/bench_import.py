"""`archcalc import torchvision:NAME` against one torchinfo summary of the same
torchvision model, in the same process, alternating, after one warm-up of each (so
neither side pays the import of torch and torchvision, which both need).

The import builds the model on the meta device, traces it with torch.fx, maps it onto
archcalc's kinds, finds the templates, writes the YAML and loads it back through
archcalc's loader and analysis with its expect: facts checked; torchinfo builds the
model with real (random) weights and runs one forward pass with hooks. Figures are
printed and written to bench/results/local/import.json (--record: the tracked
bench/results/import.json). torchinfo is the `bench` extra.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import time

import torch
import torchinfo
import torchvision
from results_file import add_record_option, write_result

from archcalc.importer import import_source

MODELS = ("resnet50", "vit_b_16")


def seconds(action) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        action()
    return time.perf_counter() - start


def torchinfo_summary(name: str):
    return lambda: torchinfo.summary(torchvision.models.get_model(name, weights=None),
                                     input_size=(1, 3, 224, 224), verbose=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    add_record_option(parser)
    args = parser.parse_args()
    result = {"python": platform.python_version(), "torch": torch.__version__,
              "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "models": {}}
    for name in MODELS:
        ours_action = lambda name=name: import_source(f"torchvision:{name}")  # noqa: E731
        theirs_action = torchinfo_summary(name)
        seconds(ours_action), seconds(theirs_action)  # warm-up: caches, lazy imports
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(seconds(ours_action))
            theirs.append(seconds(theirs_action))
        figures = {"import_median_s": round(statistics.median(ours), 3),
                   "torchinfo_median_s": round(statistics.median(theirs), 3)}
        figures["torchinfo_over_import"] = round(
            figures["torchinfo_median_s"] / figures["import_median_s"], 1)
        result["models"][name] = figures
        print(f"{name}: archcalc import {figures['import_median_s']} s, torchinfo summary "
              f"{figures['torchinfo_median_s']} s: import {figures['torchinfo_over_import']}x "
              "faster")
    write_result("import", result, args.record)


if __name__ == "__main__":
    main()
