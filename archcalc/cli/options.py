"""Options shared by several commands, parsed the same way everywhere."""
from __future__ import annotations

import click

from archcalc.analysis.report import DTYPE_BYTES


def parse_input(text: str | None):
    """'3x224x224' -> (3, 224, 224); None stays None (analysis/shape_text.py's rule, with
    click's usage message)."""
    if text is None:
        return None
    from archcalc.analysis.shape_text import ShapeTextError, parse_numeric_shape

    try:
        return parse_numeric_shape(text)
    except ShapeTextError as exc:
        raise click.BadParameter(exc.message) from None


def parse_batch(text) -> int:
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a whole number", param_hint="--batch") \
            from None
    if value < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch")
    return value


def complete_spec(ctx, param, incomplete: str):
    """Shell completion for NAME|PATH: the bundled names and the current folder's .yaml
    files that start with what was typed; else (a path: ``specs/``, ``./``, ``~``, or
    nothing matched) the shell's own file completion. Never both at once: bash's script
    for click drops every other candidate when it falls back to file completion."""
    import os

    from click.shell_completion import CompletionItem

    from archcalc.spec.catalog import bundled

    if os.sep in incomplete or incomplete.startswith((".", "~")):
        return [CompletionItem(incomplete, type="file")]
    found = [CompletionItem(name, help="bundled spec") for name in bundled()
             if name.startswith(incomplete)]
    try:
        with os.scandir(".") as entries:
            found += [CompletionItem(entry.name, help="spec file") for entry in entries
                      if entry.name.startswith(incomplete)
                      and entry.name.endswith((".yaml", ".yml")) and entry.is_file()]
    except OSError:  # an unreadable current folder: the names alone
        pass
    return found or [CompletionItem(incomplete, type="file")]


spec_argument = click.argument("spec", metavar="NAME|PATH", shell_complete=complete_spec)
input_option = click.option("--input", "input_text", metavar="CxHxW",
                            help="analyse at this input size instead of the spec's")
batch_option = click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
                            help="images per batch (scales MACs, FLOPs and activation memory)")
dtype_option = click.option("--dtype", type=click.Choice(sorted(DTYPE_BYTES)), default="fp32",
                            show_default=True, help="element type for the byte figures")


def format_option(*choices: str):
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="output format")


def require_torch() -> None:
    """A clear message instead of an ImportError when the torch extra is missing."""
    import importlib.util

    from archcalc.errors import ArchcalcError

    missing = [name for name in ("torch", "torchvision")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ArchcalcError(f"this command needs {' and '.join(missing)}",
                            hint="pip install 'archcalc[torch]'")


def expand_path(text):
    """``~``, ``~user`` and ``$VAR``/``${VAR}`` expanded in a path option, as a shell would
    (it does not after ``cifar10:`` or ``--opt=``); None stays None. An unset variable is
    left as written, so the error names it."""
    import os

    if text is None:
        return None
    return os.path.expandvars(os.path.expanduser(str(text)))  # the shell's order
