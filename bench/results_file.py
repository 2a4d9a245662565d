"""Where a benchmark writes its figures, so that running one never overwrites the
committed results by accident.

By default a run writes ``bench/results/local/NAME.json`` (ignored by git); ``--record``
writes the tracked ``bench/results/NAME.json`` that the README quotes. Both are
written atomically (a temporary file in the same folder, then ``os.replace``).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def add_record_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", action="store_true",
                        help="write the tracked bench/results/NAME.json that the README "
                             "quotes [default: bench/results/local/NAME.json]")


def result_path(name: str, record: bool) -> Path:
    return (RESULTS if record else RESULTS / "local") / f"{name}.json"


def write_result(name: str, result: dict, record: bool, path: Path | None = None) -> Path:
    """Write ``result`` as JSON to ``path`` (or the default place for ``name``)."""
    target = path if path is not None else result_path(name, record)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(result, indent=2) + "\n")
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    print(f"wrote {target}")
    return target
