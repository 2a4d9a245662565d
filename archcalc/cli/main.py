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
    turns every ArchcalcError into one message on stderr and exit status 2."""

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
        try:
            return super().invoke(ctx)
        except ArchcalcError as exc:
            from archcalc.cli.console import error

            error(str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            from archcalc.cli.console import error

            error("interrupted")
            ctx.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archcalc", message="archcalc %(version)s")
def main():
    """archcalc: the cost of a ConvNet, exactly, before you train it.

    NAME is a bundled spec (`archcalc list`) and PATH a YAML spec file.
    """
