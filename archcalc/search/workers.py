"""`search --workers N`: N local processes filling one stage, the cores divided among them.

Each process would otherwise start a full intra-op thread pool: N pools on the same
cores slow each other down many times over (two LeNet-5 trainings on two cores fell
from 9,228 to 320 images/s). Each worker gets cores // N threads (train/threads.py),
unless the user set OMP_NUM_THREADS, which is theirs to choose.

A worker reports a bad input or a failing store as the CLI does (one message, exit
status 2) and a Ctrl-C with exit status 130; the parent turns those into one
ArchcalcError or a KeyboardInterrupt.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time

INTERRUPTED = 130
FORWARD_AFTER_SECONDS = 5  # a worker not stopped by then never saw the Ctrl-C


def run_workers(url: str, stage, make_run_trial, workers: int, seed: int | None) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(url, stage, make_run_trial, seed,
                                                       workers), name=f"search-worker-{i}")
                 for i in range(workers)]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        # Ctrl-C at a terminal reaches every worker, which closes its trial as failed
        # within a training step; a signal sent to this process alone is passed on.
        deadline = time.monotonic() + FORWARD_AFTER_SECONDS
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGINT)
        for process in processes:
            process.join()
        raise
    codes = [process.exitcode for process in processes]
    if INTERRUPTED in codes or -signal.SIGINT in codes:
        raise KeyboardInterrupt
    failed = [code for code in codes if code != 0]
    if failed:
        from archcalc.errors import ArchcalcError

        raise ArchcalcError(f"{len(failed)} of {workers} search worker(s) failed (exit "
                            f"status {', '.join(map(str, failed))}); their messages are above",
                            hint="trials they left are failed and rerun by the next search "
                                 "with the same --study")


def _worker(url, stage, make_run_trial, seed, workers):
    from archcalc.errors import ArchcalcError
    from archcalc.search.study import fill_stage, open_study
    from archcalc.train.threads import share_cores

    share_cores(workers)  # before the first trial builds its model
    try:
        study = open_study(url, stage.study, seed)
        fill_stage(study, stage, make_run_trial(), url)
    except ArchcalcError as error:
        sys.stderr.write(f"{error}\n")
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
