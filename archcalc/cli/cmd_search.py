"""`archcalc search`: the lecture's coarse-to-fine random search, stored in Optuna."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click

from archcalc.cli import console
from archcalc.cli.options import complete_spec, format_option, require_torch


@dataclass(frozen=True)
class SearchOptions:
    """The command line of `archcalc search`, as click parsed it."""

    spec: str | None
    trials: int
    epochs: int
    coarse_epochs: int | None
    params: tuple
    stage: str
    storage: str | None
    study: str | None
    workers: int
    data: str
    input_text: str | None
    out: str | None
    seed: int
    show: bool
    fmt: str


@click.command("search")
@click.argument("spec", metavar="NAME|PATH", required=False, shell_complete=complete_spec)
@click.option("--trials", type=click.IntRange(min=1), default=12, show_default=True,
              help="trials per stage")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="epochs per trial (the fine stage's, with --stage auto; the coarse stage "
                   "runs a third of it)")
@click.option("--coarse-epochs", type=click.IntRange(min=1), default=None,
              help="epochs per coarse trial with --stage auto [default: a third of --epochs, "
                   "at least 1]")
@click.option("--param", "params", multiple=True, metavar="NAME=LOW:HIGH[:log]",
              help="a searched range (lr, weight_decay, momentum, dropout, batch_size); "
                   "repeat for several [default: lr and weight_decay over log ranges]")
@click.option("--stage", type=click.Choice(["coarse", "fine", "auto"]), default="auto",
              show_default=True, help="one stage, or coarse then fine around the best")
@click.option("--storage", default=None, metavar="URL",
              help="SQLAlchemy URL of the study store; processes and machines given one "
                   "URL share its studies, e.g. postgresql+psycopg://user@host/db (pip "
                   "install 'archcalc[postgres]') [default: sqlite in --out]")
@click.option("--study", default=None, help="study name; the same name (in the same store) "
                                             "resumes a search and says so [default: the "
                                             "spec's name; --stage auto adds -coarse and "
                                             "-fine]")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="local processes sharing the study, the CPU cores divided among them "
                   "(unless OMP_NUM_THREADS is set)")
@click.option("--data", default="digits", show_default=True,
              help="training data of every trial: digits | cifar10:DIR | folder:DIR | "
                   "synthetic")
@click.option("--input", "input_text", metavar="CxHxW",
              help="training input size [default: the data's own size]")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="run folder for the default store (search.db) and the plot (search.png) "
                   "[default: runs/search-<study>]")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the draws (each follows from the seed, the study and the "
                   "trial's number) and of every trial's training")
@click.option("--show", is_flag=True, help="print an existing study (with --storage/--study) "
                                           "and plot it, without training")
@format_option("rich", "json")
def command(spec, trials, epochs, coarse_epochs, params, stage, storage, study, workers, data,
            input_text, out, seed, show, fmt):
    """Random search of NAME|PATH's hyperparameters in log space where asked, never a
    grid; with --stage auto, the lecture's procedure: a coarse stage of short runs,
    ranges narrowed around the best trials, then a fine stage of longer runs.

    Trials whose cost passes 3x its start or goes non-finite are recorded as
    exploded; weak trials are pruned by Optuna's median pruner. The results table
    is sorted by validation accuracy, with a warning when a best value sits at the
    edge of its range.
    """
    options = SearchOptions(**locals())  # click passes one parameter per option
    result = _show(options) if options.show else _search(options)
    if options.fmt == "json":
        console.print_text(json.dumps(result, indent=2, default=str))
    else:
        _print(result)


def _show(options: SearchOptions) -> dict:
    from archcalc.search.run import show_study

    if not options.study:
        raise click.UsageError("--show needs --study (and --storage unless the default "
                               "store in --out holds it)")
    out_dir = Path(options.out or f"runs/search-{options.study}")
    return show_study(options.storage, options.study, out_dir)


def _search(options: SearchOptions) -> dict:
    from archcalc.search.run import SearchJob, SearchPlan, run_search
    from archcalc.search.space import default_space, parse_params

    if not options.spec:
        raise click.UsageError("give NAME|PATH to search (or --show)")
    require_torch()
    space = parse_params(options.params) or default_space()
    from archcalc.spec.loader import load_spec

    spec = str(options.spec)
    load_spec(spec)  # a spec that cannot load is refused before a store is made
    study = options.study or Path(spec).stem
    plan = SearchPlan(tuple(space), study, Path(options.out or f"runs/search-{study}"),
                      stage=options.stage, trials=options.trials, epochs=options.epochs,
                      coarse_epochs=options.coarse_epochs, storage=options.storage,
                      workers=options.workers)
    job = SearchJob(spec=spec, data=options.data, input_text=options.input_text,
                    seed=options.seed)
    return run_search(job, plan, say=None if options.fmt == "json" else _say)


def _say(text: str) -> None:
    # Plain text: no markup, no emoji codes (":100:" in a range is a number, not a symbol).
    console.out().print(text, markup=False, emoji=False, highlight=False)


def _print(result: dict) -> None:
    """The stages' tables, warnings and best trial. Every value a user or the store
    supplied (study names, states, warnings that quote ``--param lr=...:100:log``) goes
    through Text, which rich never reads as markup or emoji codes."""
    from rich.text import Text

    from archcalc.render import units
    from archcalc.render.rich_table import Table

    for stage in result["stages"]:
        epochs = stage["epochs"] if stage["epochs"] is not None else "?"
        table = Table(title=Text(f"{stage['name']} stage: {stage['study']} "
                                 f"({epochs} epoch(s) per trial)"), header_style="bold")
        names = [r["name"] for r in stage["ranges"]]
        for header in ["trial", "state", "val acc"] + names:
            table.add_column(Text(header), justify="right")
        for row in stage["rows"]:
            acc = "" if row["val_acc"] is None else f"{row['val_acc']:.4f}"
            cells = [str(row["trial"]), row["state"], acc] + [
                units.si(row["params"].get(n), 3) if n in row["params"] else "" for n in names]
            table.add_row(*[Text(cell) for cell in cells])
        console.out().print(table)
    for warning in result.get("warnings", []):
        console.out().print(Text.assemble(("warning:", "yellow"), " ", warning))
    if result.get("best"):
        best = result["best"]
        _say(f"best: val acc {best['val_acc']:.4f} with "
             + ", ".join(f"{k}={v:.4g}" for k, v in best["params"].items()))
    if result.get("plot"):
        _say(f"plot: {result['plot']}  store: {result['storage']}")
