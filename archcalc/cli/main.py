"""The `archcalc` command group: each command lives in its own module, loaded lazily."""
from __future__ import annotations

import importlib

import click

from archcalc.errors import ArchcalcError

COMMANDS = {
    "list": ("archcalc.cli.cmd_list", "List the bundled specs (the zoo) with their totals."),
    "table": ("archcalc.cli.cmd_table", "Per-layer table: shapes, memory, params, MACs, RF."),
    "explain": ("archcalc.cli.cmd_explain",
                "Each layer's arithmetic written out: (227 - 11)/4 + 1 = 55."),
    "check": ("archcalc.cli.cmd_check", "Validate specs and verify their expect: facts."),
    "kinds": ("archcalc.cli.cmd_kinds", "List the layer kinds a spec can use."),
    "expand": ("archcalc.cli.cmd_expand", "Print the spec with templates and repeats unrolled."),
    "compare": ("archcalc.cli.cmd_compare",
                "Totals of several models side by side, with ratios to the first in words."),
    "sweep": ("archcalc.cli.cmd_sweep",
              "Params, MACs and memory over input sizes; where a size collapses."),
    "plot": ("archcalc.cli.cmd_plot", "Per-layer bar charts of memory, params and MACs (PNG)."),
    "report": ("archcalc.cli.cmd_report",
               "One offline HTML page: graph, sortable table, derivations, charts."),
    "plan": ("archcalc.cli.cmd_plan",
             "Training memory (weights, gradients, optimizer, saved activations); max batch."),
    "roofline": ("archcalc.cli.cmd_roofline",
                 "Roofline estimate of a training step per layer on a device; its plot."),
    "calibrate": ("archcalc.cli.cmd_calibrate",
                  "Measure this machine's FLOP/s and memory bandwidth; save a profile."),
    "verify": ("archcalc.cli.cmd_verify",
               "Build, run once, compare with fvcore, FlopCounterMode and hooks."),
    "build": ("archcalc.cli.cmd_build", "Build the spec as a PyTorch module; load/save weights."),
    "import": ("archcalc.cli.cmd_import",
               "Import a PyTorch module (torchvision, module:attr, file.py:attr) as a spec."),
    "babysit": ("archcalc.cli.cmd_babysit", "The lecture's babysitting checks, before training."),
    "search": ("archcalc.cli.cmd_search",
               "Coarse-to-fine random hyperparameter search on an Optuna store."),
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so start-up stays fast;
    the one error boundary: an ArchcalcError is one message on stderr and exit status 2,
    and so is every other failure (cli/failures.py says which status each gets); under
    --format json that message is one JSON object with the text's parts (cli/problems.py)."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx, formatter):
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx, args):
        # Under --format json every error is a JSON object on stderr (cli/problems.py),
        # those in parsing the command's own options included: so it is read here.
        from archcalc.cli.problems import asks_for_json

        ctx.meta[JSON_ERRORS] = asks_for_json(list(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        from archcalc.cli import console

        console.protect_streams()
        as_json = ctx.meta.get(JSON_ERRORS, False)
        try:
            return super().invoke(ctx)
        except ArchcalcError as exc:
            _report(str(exc), _parts(exc) if as_json else None, exc.exit_code)
            ctx.exit(exc.exit_code)
        except click.exceptions.ClickException as exc:
            if as_json:
                ctx.exit(_report_click(exc))
            exc.message = console.safe(exc.message)  # click prints it: an option value
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            _report("interrupted", _text_parts("interrupted") if as_json else None, 130)
            ctx.exit(130)
        # the last resort (cli/failures.py): no traceback, one line, a documented status
        except Exception as exc:  # noqa: BLE001
            ctx.exit(_foreign(exc, as_json))


JSON_ERRORS = "archcalc.json_errors"  # ctx.meta: errors as JSON on stderr


def _parts(exc: ArchcalcError) -> dict:
    from archcalc.cli.problems import problem

    return problem(exc)


def _text_parts(message: str) -> dict:
    from archcalc.cli.problems import problem_from_text

    return problem_from_text(message)


def _report(message: str, parts: dict | None = None, status: int = 2) -> None:
    """Print one message on stderr (as JSON when ``parts`` are given); a stderr that is
    gone must not raise again."""
    from archcalc.cli import console
    from archcalc.cli.problems import error_document

    try:
        if parts is None:
            console.error(message)
        else:
            console.error_json(error_document(parts, status))
    except OSError:
        pass


def _report_click(exc: click.exceptions.ClickException) -> int:
    """A usage error (bad option, missing argument) as JSON; its hint names the help."""
    parts = _text_parts(exc.format_message())
    context = getattr(exc, "ctx", None)
    if context is not None:
        parts["hint"] = f"see `{context.command_path} --help`"
    _report(exc.format_message(), parts, exc.exit_code)
    return exc.exit_code


def _foreign(exc: BaseException, as_json: bool = False) -> int:
    from archcalc.cli import failures

    if failures.is_broken_pipe(exc):
        failures.silence_stdout()
        return failures.BROKEN_PIPE_EXIT
    if failures.debugging():
        raise exc
    status, message = failures.describe(exc)
    _report(message, _text_parts(message) if as_json else None, status)
    return status


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archcalc", message="archcalc %(version)s")
@click.option("-q", "--quiet", is_flag=True,
              help="results and errors only: no notes or progress on stderr")
def main(quiet):
    """archcalc: the cost of a ConvNet, exactly, before you train it.

    NAME is a bundled spec (`archcalc list`), PATH a YAML spec file, and - a spec read
    from standard input. Errors are JSON on stderr with --format json.

    Shell completion of commands, options and spec names (zsh_source and fish_source
    alike; see the README):

    \b
    eval "$(_ARCHCALC_COMPLETE=bash_source archcalc)"
    """
    from archcalc.cli import console

    console.set_quiet(quiet)
