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
    "plan": ("archcalc.cli.cmd_plan",
             "Training memory (weights, gradients, optimizer, saved activations); max batch."),
    "verify": ("archcalc.cli.cmd_verify",
               "Build, run once, compare with fvcore, FlopCounterMode and hooks."),
    "build": ("archcalc.cli.cmd_build", "Build the spec as a PyTorch module; load/save weights."),
    "babysit": ("archcalc.cli.cmd_babysit", "The lecture's babysitting checks, before training."),
    "search": ("archcalc.cli.cmd_search",
               "Coarse-to-fine random hyperparameter search on an Optuna store."),
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so start-up stays fast;
    the one error boundary: an ArchcalcError is one message on stderr and exit status 2,
    and so is every other failure (cli/failures.py says which status each gets)."""

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

    def invoke(self, ctx):
        from archcalc.cli import console

        console.protect_streams()
        try:
            return super().invoke(ctx)
        except ArchcalcError as exc:
            _report(str(exc))
            ctx.exit(exc.exit_code)
        except click.exceptions.ClickException as exc:
            exc.message = console.safe(exc.message)  # click prints it: an option value
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            _report("interrupted")
            ctx.exit(130)
        # the last resort (cli/failures.py): no traceback, one line, a documented status
        except Exception as exc:  # noqa: BLE001
            ctx.exit(_foreign(exc))


def _report(message: str) -> None:
    """Print one message on stderr; a stderr that is gone must not raise again."""
    from archcalc.cli import console

    try:
        console.error(message)
    except OSError:
        pass


def _foreign(exc: BaseException) -> int:
    from archcalc.cli import failures

    if failures.is_broken_pipe(exc):
        failures.silence_stdout()
        return failures.BROKEN_PIPE_EXIT
    if failures.debugging():
        raise exc
    status, message = failures.describe(exc)
    _report(message)
    return status


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archcalc", message="archcalc %(version)s")
def main():
    """archcalc: the cost of a ConvNet, exactly, before you train it.

    NAME is a bundled spec (`archcalc list`) and PATH a YAML spec file.
    """
